"""Appeals (SPEC PR-6): the topics staff keep for the customer's list, and the answers a
process posted into a request's chat."""
from flask_appbuilder import Model
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String

from .workflow import utcnow


class AppealTopic(Model):
    """A topic a customer picks for an appeal or a callback; "Другое" is not a row (it is always
    offered, with the customer's own words), so it cannot be switched off by mistake."""

    __tablename__ = "appeal_topic"

    id = Column(Integer, primary_key=True)
    title = Column(String(128), nullable=False, unique=True)
    title_en = Column(String(128))
    # An inactive topic leaves the customer's list; appeals already filed keep their title.
    active = Column(Boolean, nullable=False, default=True)
    sort_order = Column(Integer, nullable=False, default=100)

    def __repr__(self):
        return self.title


class RequestAnswer(Model):
    """An answer the ``request.post_answer`` service task posted as a staff chat message: keyed on
    the job, so a retried job finds its row and posts nothing twice."""

    __tablename__ = "request_answer"

    id = Column(Integer, primary_key=True)
    job_id = Column(Integer, nullable=False, unique=True)
    request_id = Column(Integer, ForeignKey("service_request.id", ondelete="CASCADE"), nullable=False, index=True)
    message_id = Column(Integer, ForeignKey("request_message.id", ondelete="SET NULL"))
    created_at = Column(DateTime, nullable=False, default=utcnow)
