"""Meters of an account and their readings (SPEC MT)."""
from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from .workflow import utcnow

READING = Numeric(14, 3)


class Meter(Model):
    __tablename__ = "meter"
    __table_args__ = (UniqueConstraint("account_id", "serial", name="uq_meter_account_serial"),)

    id = Column(Integer, primary_key=True)
    account_id = Column(Integer, ForeignKey("account.id", ondelete="CASCADE"), nullable=False, index=True)
    account = relationship("Account")
    # cold_water | hot_water | electricity | heat | gas
    kind = Column(String(16), nullable=False)
    serial = Column(String(64), nullable=False)
    # The service whose tariff prices this meter's consumption.
    service_id = Column(Integer, ForeignKey("supplier_service.id", ondelete="SET NULL"))
    service = relationship("SupplierService")
    # 1 (single rate) to 3 (peak / half-peak / night) tariff zones; one reading per zone.
    zones = Column(Integer, nullable=False, default=1)
    # Digits after the decimal point the meter shows (0 to 3).
    decimals = Column(Integer, nullable=False, default=2)
    # The customer's own name for it ("Кухня, холодная"), set by rename (MT-1).
    custom_name = Column(String(64))
    location = Column(String(128), nullable=False, default="")
    installed_on = Column(Date)
    last_verified_on = Column(Date)
    verification_interval_years = Column(Integer)
    # Due date of the next verification; the reminder goes out before it.
    next_verification_on = Column(Date, index=True)
    active = Column(Boolean, nullable=False, default=True)
    imported_at = Column(DateTime, nullable=False, default=utcnow)

    def __repr__(self):
        return f"{self.serial} ({self.kind})"


class Reading(Model):
    """A meter's value for one tariff zone in one billing period (month).

    One per meter, zone and period: a customer's resubmission inside the window edits it.
    """

    __tablename__ = "reading"
    __table_args__ = (UniqueConstraint("meter_id", "period", "zone", name="uq_reading_meter_period_zone"),
                      Index("ix_reading_abnormal", "abnormal", "period"),
                      Index("ix_reading_export", "source", "exported_at"))

    id = Column(Integer, primary_key=True)
    meter_id = Column(Integer, ForeignKey("meter.id", ondelete="CASCADE"), nullable=False)
    meter = relationship("Meter")
    # The first day of the billing month.
    period = Column(Date, nullable=False)
    zone = Column(Integer, nullable=False, default=1)
    value = Column(READING, nullable=False)
    # The reading it is compared with, and the difference (kept: the history shows them).
    previous_value = Column(READING)
    consumption = Column(READING)
    # customer | billing | staff
    source = Column(String(16), nullable=False, default="customer")
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    # Above the supplier's factor × the meter's average; submitted only with confirmation.
    abnormal = Column(Boolean, nullable=False, default=False)
    photo_path = Column(String(256))
    submitted_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)
    # Set when the reading went to the billing system; an edit clears it (sent again).
    exported_at = Column(DateTime)


class Reminder(Model):
    """A reminder sent once: ``key`` names what it was for (window opens for an account in a
    period, window closes, verification due of a meter), so a second sweep sends nothing."""

    __tablename__ = "reminder"
    __table_args__ = (UniqueConstraint("customer_id", "key", name="uq_reminder_customer_key"),)

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False)
    key = Column(String(96), nullable=False)
    sent_at = Column(DateTime, nullable=False, default=utcnow)
