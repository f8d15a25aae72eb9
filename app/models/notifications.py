"""The outbox: every message to a customer is a row first, delivered by a job after."""
from flask_appbuilder import Model
from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, String, Text

from .workflow import utcnow

# Context keys whose values must never be shown to staff or kept after delivery (one-time codes).
SECRET_CONTEXT_KEYS = frozenset({"code", "spoken_code", "token", "password", "secret"})
MASK = "••••••"


def mask_secrets(text, context):
    """``text`` with the values of the secret keys of ``context`` replaced by a mask."""
    if not text or not isinstance(context, dict):
        return text
    values = {str(context[key]) for key in SECRET_CONTEXT_KEYS if context.get(key) not in (None, "", MASK)}
    for value in sorted(values, key=len, reverse=True):  # "1, 2, 3" before "1"
        text = text.replace(value, MASK)
    return text


def masked_context(context):
    """``context`` with its secret values replaced by the mask (the keys stay, so the row is
    still known to have held a secret)."""
    return {key: MASK if key in SECRET_CONTEXT_KEYS else value for key, value in context.items()}


def has_secrets(context):
    return isinstance(context, dict) and any(key in context for key in SECRET_CONTEXT_KEYS)


class OutboxMessage(Model):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_status_next_attempt", "status", "next_attempt_at"),)

    id = Column(Integer, primary_key=True)
    # Makes delivery idempotent: a retried step finds its message instead of adding another.
    idempotency_key = Column(String(128), nullable=False, unique=True)
    channel = Column(String(16), nullable=False)  # sms | voice | email | push | log
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    # RQ queue: high for one-time codes (a customer is waiting), default for the rest.
    queue = Column(String(16), nullable=False, default="default")
    subject = Column(String(256))
    recipient = Column(String(256), nullable=False)
    template = Column(String(64), nullable=False)
    body = Column(Text, nullable=False)
    context = Column(JSON)
    # Files sent with an email: [{"filename", "content_type", "path"}], written before queueing.
    attachments = Column(JSON)
    # queued | sending | retry | sent | failed
    status = Column(String(16), nullable=False, default="queued")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime)
    last_error = Column(Text)
    provider = Column(String(32))
    provider_message_id = Column(String(128))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    sent_at = Column(DateTime)

    def masked_body(self):
        """The text as the staff screens show it: one-time codes masked."""
        return mask_secrets(self.body, self.context)

    def __repr__(self):
        return f"{self.channel} → {self.recipient}: {self.template}"
