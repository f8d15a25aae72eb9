"""Service requests (SPEC PR): a customer's (or an office's) request run as a BPMN process,
with its status history, chat and attachments."""
from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import relationship

from .workflow import utcnow

STATUSES = ("draft", "submitted", "in_progress", "waiting_customer", "awaiting_payment", "scheduled", "completed",
            "rejected", "cancelled", "closed")
# No more changes, chat or attachments once a request is here.
FINAL_STATUSES = ("rejected", "cancelled", "closed")
# What the "closed" filter of the customer's list shows.
DONE_STATUSES = ("completed", "rejected", "cancelled", "closed")


class ServiceRequest(Model):
    __tablename__ = "service_request"
    __table_args__ = (Index("ix_service_request_customer_status", "customer_id", "status"),)

    id = Column(Integer, primary_key=True)
    # "KB-2026-000123-3" (services/request_numbers.py), set right after the insert from the id.
    number = Column(String(32), unique=True)
    # A key of services/service_requests.TYPES.
    type = Column(String(48), nullable=False)
    # Null for requests filed in an office for someone without an account in Kabinet.
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="SET NULL"))
    customer = relationship("Customer")
    account_id = Column(Integer, ForeignKey("account.id", ondelete="SET NULL"), index=True)
    account = relationship("Account")
    # One of STATUSES.
    status = Column(String(24), nullable=False, default="draft")
    form_data = Column(JSON, nullable=False, default=dict)
    process_instance_id = Column(Integer, ForeignKey("process_instance.id", ondelete="SET NULL"), index=True)
    filed_in_office = Column(Boolean, nullable=False, default=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    # The last change of status or form (not chat or files: the public status check shows it).
    updated_at = Column(DateTime, nullable=False, default=utcnow)
    submitted_at = Column(DateTime)
    closed_at = Column(DateTime)
    # 1..5 with optional feedback, once, after completion.
    rating = Column(Integer)
    feedback = Column(Text)
    rated_at = Column(DateTime)

    def __repr__(self):
        return f"{self.number or 'draft'} ({self.type})"


class RequestStatusChange(Model):
    """One row of a request's status history."""

    __tablename__ = "request_status_change"

    id = Column(Integer, primary_key=True)
    request_id = Column(Integer, ForeignKey("service_request.id", ondelete="CASCADE"), nullable=False, index=True)
    status = Column(String(24), nullable=False)
    note = Column(Text)
    at = Column(DateTime, nullable=False, default=utcnow)
    # customer | staff | process
    by_kind = Column(String(16), nullable=False)
    # The staff username or the process key; null for the customer.
    by_name = Column(String(128))
    # The service job that wrote it (request.set_status): a retried job finds its row and stops.
    job_id = Column(Integer, unique=True)


class RequestMessage(Model):
    """A chat message on a request, from the customer or from staff."""

    __tablename__ = "request_message"

    id = Column(Integer, primary_key=True)
    request_id = Column(Integer, ForeignKey("service_request.id", ondelete="CASCADE"), nullable=False, index=True)
    # customer | staff
    author_kind = Column(String(16), nullable=False)
    staff_username = Column(String(128))
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="SET NULL"))
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    # When the other side first saw it.
    read_at = Column(DateTime)
    attachments = relationship("RequestAttachment", back_populates="message", order_by="RequestAttachment.id")


class RequestAttachment(Model):
    """A file on a request (optionally sent with a chat message), kept by services/uploads.py."""

    __tablename__ = "request_attachment"

    id = Column(Integer, primary_key=True)
    request_id = Column(Integer, ForeignKey("service_request.id", ondelete="CASCADE"), nullable=False, index=True)
    message_id = Column(Integer, ForeignKey("request_message.id", ondelete="SET NULL"))
    message = relationship("RequestMessage", back_populates="attachments")
    # Relative to UPLOAD_DIR, a random name; the client's name is only display text.
    path = Column(String(256), nullable=False)
    filename = Column(String(128), nullable=False)
    content_type = Column(String(64), nullable=False)
    size = Column(Integer, nullable=False)
    # customer | staff (a person in the back office, or the process issuing a document)
    uploaded_by = Column(String(16), nullable=False)
    staff_username = Column(String(128))
    # The service job that issued it (request.issue_document): once per job.
    job_id = Column(Integer, index=True, unique=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
