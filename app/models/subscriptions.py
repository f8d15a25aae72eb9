"""Subscriptions (SPEC PR-7): outage notifications by address or account, and SMS informing
for security objects. E-bill delivery is not here: it is ``customer_account.ebill`` (BL-2) and
the subscriptions API shows it as a kind of its own."""
from flask_appbuilder import Model
from sqlalchemy import Column, Date, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import relationship

from .workflow import utcnow

KINDS = ("outage", "security_sms")
CHANNELS = ("sms", "push", "email")
STATUSES = ("pending", "active")


class Subscription(Model):
    __tablename__ = "subscription"
    # One customer, one kind, one target, one channel: a second identical row would only send
    # every message twice, so the database refuses it (the API answers 409).
    __table_args__ = (UniqueConstraint("customer_id", "kind", "target", "channel", name="uq_subscription"),)

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    customer = relationship("Customer")
    # One of KINDS.
    kind = Column(String(16), nullable=False)
    # One of CHANNELS (security_sms: always sms).
    channel = Column(String(8), nullable=False)
    # What it watches: "account:<id>" or "address:<normalised address>" (the uniqueness key).
    target = Column(String(600), nullable=False)
    account_id = Column(Integer, ForeignKey("account.id", ondelete="CASCADE"), index=True)
    account = relationship("Account")
    # Normalised (services/subscriptions.normalise_address): lower case, single spaces.
    address = Column(String(512))
    # security_sms: the phone the object's events go to and the day informing starts.
    phone = Column(String(20))
    starts_on = Column(Date)
    # security_sms: the request that asked for it; "pending" until managers activate it.
    request_id = Column(Integer, ForeignKey("service_request.id", ondelete="CASCADE"), index=True)
    status = Column(String(16), nullable=False, default="active")
    created_at = Column(DateTime, nullable=False, default=utcnow)
    activated_at = Column(DateTime)

    def __repr__(self):
        return f"{self.kind} {self.target} ({self.channel})"
