"""Bills, payments, saved cards, autopay and invoices (SPEC BL)."""
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
    text,
)
from sqlalchemy.orm import relationship

from .accounts import MONEY
from .workflow import utcnow


class Bill(Model):
    """An account's bill for one month, as the billing system computed it (BL-1)."""

    __tablename__ = "bill"
    __table_args__ = (UniqueConstraint("account_id", "period", name="uq_bill_account_period"),)

    id = Column(Integer, primary_key=True)
    account_id = Column(Integer, ForeignKey("account.id", ondelete="CASCADE"), nullable=False, index=True)
    account = relationship("Account")
    # The first day of the billed month.
    period = Column(Date, nullable=False)
    issued_on = Column(Date, nullable=False)
    due_on = Column(Date)
    debt_at_start = Column(MONEY, nullable=False, default=0)
    paid_in_period = Column(MONEY, nullable=False, default=0)
    charged = Column(MONEY, nullable=False, default=0)
    # What the customer owes by this bill (negative: overpaid), insurance not included.
    total_due = Column(MONEY, nullable=False)
    # The voluntary insurance line (absent when the account opted out).
    insurance_amount = Column(MONEY)
    # Set once the e-bill of this period went to the customers who asked (BL-2).
    ebill_sent_at = Column(DateTime)
    imported_at = Column(DateTime, nullable=False, default=utcnow)

    lines = relationship("BillLine", back_populates="bill", order_by="BillLine.position",
                         cascade="all, delete-orphan")


class BillLine(Model):
    """One service of a bill: tariff × volume = charge, minus benefit, plus recalculation."""

    __tablename__ = "bill_line"
    __table_args__ = (UniqueConstraint("bill_id", "service_code", "zone", name="uq_bill_line_service_zone"),)

    id = Column(Integer, primary_key=True)
    bill_id = Column(Integer, ForeignKey("bill.id", ondelete="CASCADE"), nullable=False, index=True)
    bill = relationship("Bill", back_populates="lines")
    position = Column(Integer, nullable=False, default=0)
    service_id = Column(Integer, ForeignKey("supplier_service.id", ondelete="SET NULL"))
    service = relationship("SupplierService")
    service_code = Column(String(32), nullable=False)
    service_name = Column(String(160), nullable=False)
    zone = Column(Integer, nullable=False, default=1)
    unit = Column(String(16), nullable=False, default="")
    tariff = Column(Numeric(12, 4))
    volume = Column(Numeric(14, 3))
    charge = Column(MONEY, nullable=False, default=0)
    benefit = Column(MONEY, nullable=False, default=0)
    recalculation = Column(MONEY, nullable=False, default=0)
    total = Column(MONEY, nullable=False)


class Invoice(Model):
    """An invoice for a paid service (PR-4, PR-5, grid connection fee), listed with the bills
    (BL-9). Its number correlates the engine's ``payment_confirmed`` message."""

    __tablename__ = "invoice"

    id = Column(Integer, primary_key=True)
    number = Column(String(32), nullable=False, unique=True)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    customer = relationship("Customer")
    account_id = Column(Integer, ForeignKey("account.id", ondelete="SET NULL"))
    description = Column(String(512), nullable=False)
    amount = Column(MONEY, nullable=False)
    # open | paid | cancelled
    status = Column(String(16), nullable=False, default="open")
    # The process instance waiting for the payment, if any.
    process_instance_id = Column(Integer, ForeignKey("process_instance.id", ondelete="SET NULL"))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    paid_at = Column(DateTime)
    # When the engine got ``payment_confirmed`` for it (or nobody could ever wait for it); a paid
    # invoice without it is retried by the daily task (services/payment_callbacks.py).
    message_sent_at = Column(DateTime)


class SavedCard(Model):
    """A card saved at the payment provider: its token only, never the number (BL-5)."""

    __tablename__ = "saved_card"
    __table_args__ = (UniqueConstraint("provider", "token", name="uq_saved_card_token"),)

    id = Column(Integer, primary_key=True)
    public_id = Column(String(32), nullable=False, unique=True)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    provider = Column(String(32), nullable=False)
    # Set when the check charge succeeds; cleared when the card is deleted (nothing can charge it then).
    token = Column(String(128))
    # "•••• 4242", brand and expiry as the provider reported them, for the list.
    masked_number = Column(String(32), nullable=False, default="")
    brand = Column(String(16), nullable=False, default="")
    expires = Column(String(7), nullable=False, default="")
    # pending (check charge under way) | active | failed | deleted
    status = Column(String(16), nullable=False, default="pending")
    created_at = Column(DateTime, nullable=False, default=utcnow)
    deleted_at = Column(DateTime)


class Payment(Model):
    """Money towards bills, invoices, top-ups or a card check; or a payment the billing system
    recorded elsewhere (``source`` billing)."""

    __tablename__ = "payment"
    __table_args__ = (UniqueConstraint("customer_id", "idempotency_key", name="uq_payment_idempotency"),
                      UniqueConstraint("provider", "provider_payment_id", name="uq_payment_provider_id"),
                      Index("ix_payment_export", "source", "status", "exported_at"))

    id = Column(Integer, primary_key=True)
    public_id = Column(String(32), nullable=False, unique=True)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="SET NULL"))
    customer = relationship("Customer")
    # bills | qr | topup | invoice | autopay | card_check
    purpose = Column(String(16), nullable=False)
    # kabinet | billing (imported: paid at a bank or another channel)
    source = Column(String(16), nullable=False, default="kabinet")
    # created | pending | succeeded | failed | cancelled | refunded
    status = Column(String(16), nullable=False, default="created")
    amount = Column(MONEY, nullable=False)
    currency = Column(String(3), nullable=False, default="RUB")
    # The key the app sent: a retried request returns the same payment instead of a second one.
    idempotency_key = Column(String(64))
    # A hash of the request the key came with: the same key with another request is refused.
    request_fingerprint = Column(String(64))
    provider = Column(String(32))
    provider_payment_id = Column(String(64))
    # The provider's hosted page for this payment (a retried request gets the same one back).
    confirmation_url = Column(String(2048))
    card_id = Column(Integer, ForeignKey("saved_card.id", ondelete="SET NULL"))
    receipt_email = Column(String(254))
    receipt_sent_at = Column(DateTime)
    failure_reason = Column(String(256))
    # Imported payments: the billing system's id and the day they were made.
    external_id = Column(String(64), unique=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    confirmed_at = Column(DateTime)
    exported_at = Column(DateTime)

    items = relationship("PaymentItem", back_populates="payment", cascade="all, delete-orphan",
                         order_by="PaymentItem.id")


class PaymentItem(Model):
    """What one part of a payment pays: an account (optionally one service of a bill), an
    invoice, or a payee decoded from a QR code (``payee``) for an account not in Kabinet."""

    __tablename__ = "payment_item"

    id = Column(Integer, primary_key=True)
    payment_id = Column(Integer, ForeignKey("payment.id", ondelete="CASCADE"), nullable=False, index=True)
    payment = relationship("Payment", back_populates="items")
    account_id = Column(Integer, ForeignKey("account.id", ondelete="SET NULL"), index=True)
    account = relationship("Account")
    bill_id = Column(Integer, ForeignKey("bill.id", ondelete="SET NULL"))
    service_code = Column(String(32))
    invoice_id = Column(Integer, ForeignKey("invoice.id", ondelete="SET NULL"), index=True)
    invoice = relationship("Invoice")
    amount = Column(MONEY, nullable=False)
    # ST00012 fields of a pay-by-QR payee (Name, PersonalAcc, BIC, persAcc, Purpose, …).
    payee = Column(JSON)


class PaymentCallback(Model):
    """Every provider callback as received; its event id makes a replay do nothing."""

    __tablename__ = "payment_callback"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="uq_payment_callback_event"),)

    id = Column(Integer, primary_key=True)
    provider = Column(String(32), nullable=False)
    event_id = Column(String(64), nullable=False)
    payment_id = Column(Integer, ForeignKey("payment.id", ondelete="SET NULL"), index=True)
    body = Column(Text, nullable=False)
    received_at = Column(DateTime, nullable=False, default=utcnow)


class Autopay(Model):
    """Monthly payment of an account from a saved card, from next month on the day it was set
    up (BL-6)."""

    __tablename__ = "autopay"
    # One active autopay per account, whoever set it up (two would pay the month twice).
    __table_args__ = (Index("uq_autopay_active_account", "account_id", unique=True,
                            postgresql_where=text("active"), sqlite_where=text("active")),)

    id = Column(Integer, primary_key=True)
    public_id = Column(String(32), nullable=False, unique=True)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    account_id = Column(Integer, ForeignKey("account.id", ondelete="CASCADE"), nullable=False)
    account = relationship("Account")
    card_id = Column(Integer, ForeignKey("saved_card.id", ondelete="CASCADE"), nullable=False)
    card = relationship("SavedCard")
    # A fixed amount; NULL pays what the latest bill says is due.
    amount = Column(MONEY)
    day_of_month = Column(Integer, nullable=False)
    starts_on = Column(Date, nullable=False)
    next_run_on = Column(Date, nullable=False, index=True)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    cancelled_at = Column(DateTime)


class AutopayRun(Model):
    """One month's attempt of an autopay: at most one per period, whatever the retries."""

    __tablename__ = "autopay_run"
    __table_args__ = (UniqueConstraint("autopay_id", "period", name="uq_autopay_run_period"),)

    id = Column(Integer, primary_key=True)
    autopay_id = Column(Integer, ForeignKey("autopay.id", ondelete="CASCADE"), nullable=False)
    autopay = relationship("Autopay")
    period = Column(Date, nullable=False)
    payment_id = Column(Integer, ForeignKey("payment.id", ondelete="SET NULL"))
    # started | succeeded | failed | skipped (nothing due)
    status = Column(String(16), nullable=False, default="started")
    error = Column(String(256))
    run_at = Column(DateTime, nullable=False, default=utcnow)
