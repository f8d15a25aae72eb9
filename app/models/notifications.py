"""The outbox: every message to a customer is a row first, delivered by a job after."""
from flask_appbuilder import Model
from sqlalchemy import JSON, Column, DateTime, Integer, String, Text

from .workflow import utcnow


class OutboxMessage(Model):
    __tablename__ = "outbox_message"

    id = Column(Integer, primary_key=True)
    # Makes delivery idempotent: a retried step finds its message instead of adding another.
    idempotency_key = Column(String(128), nullable=False, unique=True)
    channel = Column(String(16), nullable=False)  # sms | email | push | log
    recipient = Column(String(256), nullable=False)
    template = Column(String(64), nullable=False)
    body = Column(Text, nullable=False)
    context = Column(JSON)
    # queued | sent | failed
    status = Column(String(16), nullable=False, default="queued")
    created_at = Column(DateTime, nullable=False, default=utcnow)
    sent_at = Column(DateTime)

    def __repr__(self):
        return f"{self.channel} → {self.recipient}: {self.template}"
