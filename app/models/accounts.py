"""Suppliers, their services and tariffs, personal accounts, contracts and the customers'
links to accounts (SPEC AC, ID-2, ID-3).

Accounts, contracts and tariffs come from the billing system (``services/billing_import.py``);
natural keys (supplier + number) make a re-import idempotent.
"""
from flask_appbuilder import Model
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from .workflow import utcnow

MONEY = Numeric(12, 2)


class Supplier(Model):
    """A company whose bills the deployment shows: electricity, water, heat, housing, security."""

    __tablename__ = "supplier"

    id = Column(Integer, primary_key=True)
    code = Column(String(32), nullable=False, unique=True)
    name = Column(String(256), nullable=False)
    # electricity | water | heat | housing | security | gas
    kind = Column(String(16), nullable=False)
    inn = Column(String(12), nullable=False)
    kpp = Column(String(9))
    # Bank details printed in the ST00012 payment QR code (GOST R 56042-2014).
    bank_name = Column(String(160), nullable=False)
    bic = Column(String(9), nullable=False)
    correspondent_account = Column(String(20), nullable=False)
    settlement_account = Column(String(20), nullable=False)
    # Readings are accepted from day ``start`` to day ``end`` of a month, inclusive (MT-2).
    reading_window_start_day = Column(Integer, nullable=False, default=15)
    reading_window_end_day = Column(Integer, nullable=False, default=25)
    # A consumption above ``factor`` × the meter's average needs the customer's confirmation.
    abnormal_consumption_factor = Column(Numeric(6, 2), nullable=False, default=3)
    # Voluntary insurance offered on this supplier's bills (absent for who opted out).
    insurance_amount = Column(MONEY)
    phone = Column(String(32))
    email = Column(String(254))
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    services = relationship("SupplierService", back_populates="supplier", order_by="SupplierService.code")

    def __repr__(self):
        return self.name


class SupplierService(Model):
    """A billed service (electricity day zone, cold water, heating…) with its calculation rule."""

    __tablename__ = "supplier_service"
    __table_args__ = (UniqueConstraint("supplier_id", "code", name="uq_supplier_service_code"),)

    id = Column(Integer, primary_key=True)
    supplier_id = Column(Integer, ForeignKey("supplier.id", ondelete="CASCADE"), nullable=False)
    supplier = relationship("Supplier", back_populates="services")
    code = Column(String(32), nullable=False)
    name = Column(String(160), nullable=False)
    unit = Column(String(16), nullable=False, default="")
    # Smart bill (BL-3): how the charge is computed and the law that says so.
    calculation_rule = Column(Text, nullable=False, default="")
    legal_reference = Column(Text, nullable=False, default="")
    # cold_water | hot_water | electricity | heat | gas | None (no meter: housing, security…)
    meter_kind = Column(String(16))

    tariffs = relationship("Tariff", back_populates="service", order_by="Tariff.valid_from")

    def __repr__(self):
        return f"{self.supplier.code}: {self.name}" if self.supplier else self.name


class Tariff(Model):
    """A price per unit for one service and tariff zone from a date (zone 1 for single-rate)."""

    __tablename__ = "tariff"
    __table_args__ = (UniqueConstraint("service_id", "zone", "valid_from", name="uq_tariff_service_zone_from"),)

    id = Column(Integer, primary_key=True)
    service_id = Column(Integer, ForeignKey("supplier_service.id", ondelete="CASCADE"), nullable=False)
    service = relationship("SupplierService", back_populates="tariffs")
    zone = Column(Integer, nullable=False, default=1)
    price = Column(Numeric(12, 4), nullable=False)
    valid_from = Column(Date, nullable=False)
    valid_to = Column(Date)


class Account(Model):
    """A personal account (лицевой счёт) of a supplier at one address."""

    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("supplier_id", "number", name="uq_account_supplier_number"),
                      Index("ix_account_number", "number"))

    id = Column(Integer, primary_key=True)
    supplier_id = Column(Integer, ForeignKey("supplier.id"), nullable=False)
    supplier = relationship("Supplier")
    number = Column(String(32), nullable=False)
    address = Column(String(512), nullable=False)
    holder_name = Column(String(256), nullable=False, default="")
    # The phone on the supplier's contract (ID-3 sends the password only to it).
    phone = Column(String(20))
    # Prepaid services are topped up (BL-8); the bill's total is then a balance.
    prepaid = Column(Boolean, nullable=False, default=False)
    insurance_opt_out = Column(Boolean, nullable=False, default=False)
    closed = Column(Boolean, nullable=False, default=False)
    imported_at = Column(DateTime, nullable=False, default=utcnow)

    def __repr__(self):
        return f"{self.number} ({self.address})"


class Contract(Model):
    """A contract with a supplier: energy supply, or grid connection (its barcode reports it, AC-2)."""

    __tablename__ = "contract"
    __table_args__ = (UniqueConstraint("supplier_id", "number", name="uq_contract_supplier_number"),
                      Index("ix_contract_number", "number"))

    id = Column(Integer, primary_key=True)
    supplier_id = Column(Integer, ForeignKey("supplier.id"), nullable=False)
    supplier = relationship("Supplier")
    number = Column(String(32), nullable=False)
    # supply | grid_connection
    kind = Column(String(16), nullable=False, default="supply")
    account_id = Column(Integer, ForeignKey("account.id", ondelete="SET NULL"), index=True)
    account = relationship("Account")
    holder_name = Column(String(256), nullable=False, default="")
    phone = Column(String(20))
    email = Column(String(254))
    concluded_on = Column(Date)
    imported_at = Column(DateTime, nullable=False, default=utcnow)

    def __repr__(self):
        return self.number


class CustomerAccount(Model):
    """A customer's link to an account. ``verified_at`` is set once the customer proved they hold
    its bills (period and amount of one of the last three); unverified links can be looked at
    but cannot pay or submit readings (ID-2)."""

    __tablename__ = "customer_account"
    __table_args__ = (UniqueConstraint("customer_id", "account_id", name="uq_customer_account"),)

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    customer = relationship("Customer")
    account_id = Column(Integer, ForeignKey("account.id", ondelete="CASCADE"), nullable=False, index=True)
    account = relationship("Account")
    alias = Column(String(64))
    verified_at = Column(DateTime)
    # E-bill delivery by email for this account (needs a confirmed email, BL-2).
    ebill = Column(Boolean, nullable=False, default=False)
    linked_at = Column(DateTime, nullable=False, default=utcnow)


class CustomerContract(Model):
    """A contract the customer added (AC-2) or reported concluded by its barcode."""

    __tablename__ = "customer_contract"
    __table_args__ = (UniqueConstraint("customer_id", "contract_id", name="uq_customer_contract"),)

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    contract_id = Column(Integer, ForeignKey("contract.id", ondelete="CASCADE"), nullable=False, index=True)
    contract = relationship("Contract")
    reported_concluded_at = Column(DateTime)
    added_at = Column(DateTime, nullable=False, default=utcnow)


class ObjectEvent(Model):
    """A security-service event at a guarded object of an account (AC-4): armed, alarm, disarmed."""

    __tablename__ = "object_event"
    __table_args__ = (UniqueConstraint("account_id", "occurred_at", "object_name", "event",
                                       name="uq_object_event"),
                      Index("ix_object_event_account_time", "account_id", "occurred_at"))

    id = Column(Integer, primary_key=True)
    account_id = Column(Integer, ForeignKey("account.id", ondelete="CASCADE"), nullable=False)
    account = relationship("Account")
    occurred_at = Column(DateTime, nullable=False)
    object_name = Column(String(256), nullable=False)
    # armed | alarm | disarmed
    event = Column(String(16), nullable=False)
    details = Column(String(512), nullable=False, default="")


class ImportBatch(Model):
    """One run of the billing import or export: who, what file, what it changed (admin UI)."""

    __tablename__ = "import_batch"

    id = Column(Integer, primary_key=True)
    # import | export
    direction = Column(String(8), nullable=False, default="import")
    # accounts | meters | bills | payments | readings | ... (what the file held)
    kind = Column(String(32), nullable=False)
    filename = Column(String(256), nullable=False, default="")
    file_format = Column(String(8), nullable=False)  # csv | json
    checksum = Column(String(64), nullable=False, default="")
    # created / updated / unchanged counts, and per-row errors (row, field, message)
    stats = Column(JSON, nullable=False, default=dict)
    errors = Column(JSON, nullable=False, default=list)
    status = Column(String(16), nullable=False, default="done")  # done | failed
    started_by = Column(String(128), nullable=False, default="")
    started_at = Column(DateTime, nullable=False, default=utcnow)
    finished_at = Column(DateTime)
