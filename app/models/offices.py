"""Customer offices (SPEC CT-3) and visits booked in them (PR-10)."""
from flask_appbuilder import Model
from sqlalchemy import Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import relationship

from .workflow import utcnow


class Office(Model):
    __tablename__ = "office"

    id = Column(Integer, primary_key=True)
    name = Column(String(160), nullable=False)
    address = Column(String(512), nullable=False)
    latitude = Column(Float)
    longitude = Column(Float)
    phone = Column(String(32))
    # "mon-fri 09:00-18:00; sat 10:00-15:00" (services/offices.parse_hours): typed by an editor,
    # read by the slot calculation; a day not named is closed.
    opening_hours = Column(String(256), nullable=False, default="")
    slot_minutes = Column(Integer, nullable=False, default=30)
    # Services booked here, comma-separated codes of services/offices.SERVICES.
    services = Column(String(512), nullable=False, default="")
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    def __repr__(self):
        return self.name


class Appointment(Model):
    """A booked visit: the slot held by an ``office_appointment`` request."""

    __tablename__ = "appointment"
    id = Column(Integer, primary_key=True)
    office_id = Column(Integer, ForeignKey("office.id"), nullable=False)
    office = relationship("Office")
    # UTC, naive (as every time column here); shown in TIME_ZONE.
    starts_at = Column(DateTime, nullable=False)
    ends_at = Column(DateTime, nullable=False)
    service = Column(String(32), nullable=False)
    request_id = Column(Integer, ForeignKey("service_request.id", ondelete="CASCADE"), nullable=False, unique=True)
    request = relationship("ServiceRequest")
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    customer = relationship("Customer")
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    cancelled_at = Column(DateTime)


# Two customers racing for one slot: the second insert fails here and gets a 409. Only active
# bookings hold a slot, so a cancelled one frees it for someone else.
Index("uq_appointment_slot", Appointment.office_id, Appointment.starts_at, unique=True,
      postgresql_where=Appointment.active, sqlite_where=Appointment.active)
