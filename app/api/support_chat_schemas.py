"""Schemas of the support-chat API (PR-11). They parse types only; the rules (lengths, topics,
contacts, tokens) live in ``services/support_chat.py`` and answer with ``support_chat_messages.py``."""
from marshmallow import RAISE, Schema, fields, validate

from ..services.request_types.support_chat import MESSAGE_MAX, TOPICS
from .base import MAX_PAGE


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class SupportChatCustomerOpenSchema(_Strict):
    text = fields.String(required=True, metadata={"description": f"the question, 1 to {MESSAGE_MAX} characters"})
    topic = fields.String(load_default=None, allow_none=True, metadata={"enum": list(TOPICS), "example": "bills"})


class SupportChatGuestOpenSchema(SupportChatCustomerOpenSchema):
    name = fields.String(load_default=None, allow_none=True, metadata={"description": "how to address the guest"})
    phone = fields.String(load_default=None, allow_none=True, metadata={"example": "+79161234567"})
    email = fields.String(load_default=None, allow_none=True, metadata={"example": "guest@example.ru"})


class SupportChatMessageInSchema(_Strict):
    text = fields.String(required=True, metadata={"description": f"1 to {MESSAGE_MAX} characters"})


class SupportChatAfterQuerySchema(_Strict):
    after = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0), metadata={
        "description": "only messages with a greater id (the last id the app has), for polling"})


class SupportChatPageQuerySchema(_Strict):
    page = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_PAGE, error="page_invalid"))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100, error="page_size_invalid"))


class SupportChatMessageSchema(Schema):
    id = fields.Integer()
    author = fields.String(attribute="author_kind", metadata={"enum": ["customer", "staff"]})
    text = fields.String()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True, metadata={"description": "when the other side saw it"})


class SupportChatSchema(Schema):
    id = fields.Integer()
    number = fields.String(metadata={"example": "KB-2026-000123-3", "description": "the chat's request number"})
    status = fields.String(metadata={"enum": ["open", "closed"], "description": (
        "closed: staff closed it; writing again reopens it")})
    topic = fields.String(metadata={"enum": list(TOPICS)})
    topic_title = fields.String()
    waiting = fields.Boolean(metadata={"description": "the customer's side wrote last: an answer is owed"})
    created_at = fields.DateTime()
    messages = fields.List(fields.Nested(SupportChatMessageSchema), metadata={
        "description": "oldest first; with ?after= only the newer ones"})


class SupportChatGuestChatSchema(Schema):
    chat = fields.Nested(SupportChatSchema)
    token = fields.String(metadata={"description": (
        "the chat's secret, shown only now: send it as X-Support-Chat-Token to read and write, "
        "and to claim the chat after signing in")})


class SupportChatListSchema(Schema):
    count = fields.Integer()
    result = fields.List(fields.Nested(SupportChatSchema), metadata={"description": "newest first, without messages"})
