"""PR-11 support chat: the part of a ``support_chat`` service request that a request does not
already have — the guest's secret. The chat's messages are the request's RequestMessage rows,
its state is the request's status and its process is the request's instance."""
from flask_appbuilder import Model
from sqlalchemy import Column, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import relationship

from .workflow import utcnow


class SupportChat(Model):
    __tablename__ = "support_chat"

    id = Column(Integer, primary_key=True)
    request_id = Column(Integer, ForeignKey("service_request.id", ondelete="CASCADE"), nullable=False, unique=True)
    request = relationship("ServiceRequest")
    # HMAC of the guest's token (services/secrets.py); null for a signed-in customer's chat and
    # once a customer has claimed the guest chat, so the token stops opening it.
    guest_token_hash = Column(String(64))
    claimed_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)
