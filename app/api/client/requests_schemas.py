"""Schemas of the client service-requests API (SPEC PR).

Request schemas parse types only; the rules (the type's form schema, statuses, files) live in
``services/service_requests.py`` and answer with ``requests_messages.py``.
"""
from marshmallow import RAISE, Schema, fields, validate

from ...models.requests import STATUSES
from ...services.service_requests import MESSAGE_MAX, TYPES
from ..base import MAX_PAGE

FEEDBACK_MAX = 2000


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class DraftCreateSchema(_Strict):
    type = fields.String(required=True, metadata={"enum": sorted(k for k, kind in TYPES.items() if kind.listed), "example": "meter_verification"})
    form_data = fields.Dict(load_default=dict, metadata={
        "description": "the form as filled so far; checked against the type's schema only at submission"})


class DraftUpdateSchema(_Strict):
    form_data = fields.Dict(required=True, metadata={"description": "replaces the draft's form"})


class ListQuerySchema(_Strict):
    state = fields.String(load_default=None, validate=validate.OneOf(["open", "closed"]), metadata={
        "description": "open: not yet completed; closed: completed, cancelled or closed"})
    page = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_PAGE, error="page_invalid"))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100, error="page_size_invalid"))


class MessageInSchema(_Strict):
    text = fields.String(required=True, metadata={"description": f"1 to {MESSAGE_MAX} characters"})
    attachment_id = fields.Integer(load_default=None, allow_none=True, metadata={
        "description": "a file uploaded to this request (POST …/attachments) and not yet sent with a message"})


class RateSchema(_Strict):
    rating = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5, error="rating_invalid"))
    feedback = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(max=FEEDBACK_MAX, error="feedback_too_long"))


class CloseSchema(_Strict):
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000),
                         metadata={"description": "why, for the history (optional)"})


class StatusChangeSchema(Schema):
    status = fields.String(metadata={"enum": list(STATUSES)})
    note = fields.String(allow_none=True)
    at = fields.DateTime()
    by = fields.String(attribute="by_kind", metadata={"enum": ["customer", "staff", "process"]})


class AttachmentSchema(Schema):
    id = fields.Integer()
    filename = fields.String(metadata={"description": "display name (sanitised); the stored name is random"})
    content_type = fields.String(metadata={"enum": ["image/jpeg", "image/png", "application/pdf"]})
    size = fields.Integer()
    uploaded_by = fields.String(metadata={"enum": ["customer", "staff"]})
    message_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class MessageSchema(Schema):
    id = fields.Integer()
    author = fields.String(attribute="author_kind", metadata={"enum": ["customer", "staff"]})
    text = fields.String()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True, metadata={"description": "when the other side saw it"})
    attachments = fields.List(fields.Nested(AttachmentSchema))


class RequestSchema(Schema):
    id = fields.Integer()
    number = fields.String(metadata={"example": "KB-2026-000123-3"})
    type = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    account_id = fields.Integer(allow_none=True)
    form_data = fields.Dict()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    rating = fields.Integer(allow_none=True)
    feedback = fields.String(allow_none=True)


class CustomerTaskSchema(Schema):
    id = fields.Integer()
    name = fields.String(metadata={"description": "the BPMN task's id, stable across versions", "example": "accept_offer"})
    title = fields.String(metadata={"example": "Примите договор и технические условия"})
    form_schema = fields.Dict(allow_none=True, metadata={
        "description": "JSON Schema (draft 2020-12) of the answer; choices offered by the process are in its enums"})
    due_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class TaskAnswerSchema(_Strict):
    data = fields.Dict(required=True, metadata={"description": "the answer, checked against the task's form_schema"})


class RequestDetailSchema(RequestSchema):
    tasks = fields.List(fields.Nested(CustomerTaskSchema), metadata={
        "description": "what the process waits for from the customer; answer with POST …/tasks/{task_id}"})
    history = fields.List(fields.Nested(StatusChangeSchema), metadata={"description": "oldest first"})
    messages = fields.List(fields.Nested(MessageSchema), metadata={"description": "oldest first"})
    attachments = fields.List(fields.Nested(AttachmentSchema))


class RequestListSchema(Schema):
    count = fields.Integer()
    result = fields.List(fields.Nested(RequestSchema), metadata={"description": "newest first"})


class PublicStatusSchema(Schema):
    number = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    updated_at = fields.DateTime()


class RequestTypeSchema(Schema):
    type = fields.String(metadata={"example": "meter_verification"})
    title = fields.String(metadata={"description": "in the language asked for (Accept-Language)"})
    form_schema = fields.Dict(metadata={"description": "JSON Schema (draft 2020-12) of form_data"})


class RequestTypeListSchema(Schema):
    result = fields.List(fields.Nested(RequestTypeSchema))
