"""Schemas of the staff service-requests API (input checks and OpenAPI components).

The rules (statuses, kinds filed in an office, files) live in ``services/staff_requests.py``;
the shapes of history, chat and files are the client API's (one meaning, one schema).
"""
from marshmallow import RAISE, Schema, fields, validate

from ...models.requests import STATUSES
from ..base import MAX_PAGE
from ..client.requests_schemas import AttachmentSchema, MessageSchema, StatusChangeSchema


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class StaffListQuerySchema(_Strict):
    type = fields.String(load_default=None)
    status = fields.String(load_default=None, metadata={"enum": [s for s in STATUSES if s != "draft"]})
    number = fields.String(load_default=None, validate=validate.Length(max=32), metadata={
        "description": "a part of the number"})
    phone = fields.String(load_default=None, validate=validate.Length(max=32), metadata={
        "description": "the customer's phone (any spelling), or a walk-in's"})
    state = fields.String(load_default=None, validate=validate.OneOf(["open", "closed"]))
    filed_in_office = fields.Boolean(load_default=None, allow_none=True)
    page = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_PAGE, error="page_invalid"))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100, error="page_size_invalid"))


class StaffMessageInSchema(_Strict):
    text = fields.String(required=True)
    file = fields.String(load_default=None, allow_none=True, metadata={
        "description": "base64 of a JPEG, PNG or PDF (a data: URL prefix is allowed); or send multipart"})
    filename = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class NoteInSchema(_Strict):
    note = fields.String(required=True, metadata={"description": "1 to 1000 characters; the status stays"})


class OfficeFilingSchema(_Strict):
    type = fields.String(required=True, metadata={"description": "a kind that may be filed in an office"})
    form_data = fields.Dict(load_default=dict, metadata={"description": "checked against the kind's schema"})
    phone = fields.String(required=True, validate=validate.Length(max=32), metadata={
        "description": "an existing customer with this phone is linked; else a walk-in"})
    name = fields.String(load_default=None, allow_none=True, metadata={
        "description": "the walk-in's name (required when no customer has the phone)"})


class StaffRequestSchema(Schema):
    id = fields.Integer()
    number = fields.String(metadata={"example": "KB-2026-000123-3"})
    type = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    customer_id = fields.Integer(allow_none=True)
    account_id = fields.Integer(allow_none=True)
    filed_in_office = fields.Boolean()
    process_instance_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    rating = fields.Integer(allow_none=True)
    feedback = fields.String(allow_none=True)


class StaffRequestRowSchema(StaffRequestSchema):
    overdue = fields.Boolean(metadata={"description": "an open staff task of its process is past due"})
    open_tasks = fields.Integer(metadata={"description": "open staff tasks of its process"})


class StaffRequestListSchema(Schema):
    count = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    result = fields.List(fields.Nested(StaffRequestRowSchema), metadata={"description": "newest first"})


class ContactSchema(Schema):
    id = fields.Integer(allow_none=True, metadata={"description": "null for a walk-in"})
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True, metadata={"description": "only a confirmed one"})


class AccountBriefSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    address = fields.String()


class PositionTaskSchema(Schema):
    id = fields.Integer()
    name = fields.String(metadata={"description": "the BPMN task's id"})
    title = fields.String()
    lane = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    for_customer = fields.Boolean()
    assignee = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    created_at = fields.DateTime()


class PositionSchema(Schema):
    instance_id = fields.Integer(allow_none=True)
    process_key = fields.String(allow_none=True)
    version = fields.Integer(allow_none=True)
    status = fields.String(allow_none=True, metadata={"enum": ["running", "waiting", "completed", "error",
                                                               "cancelled", "suspended"]})
    current_activities = fields.List(fields.String(), metadata={"description": "names of the current steps"})
    tasks = fields.List(fields.Nested(PositionTaskSchema), metadata={"description": "open human tasks"})


class StaffAttachmentSchema(AttachmentSchema):
    staff_username = fields.String(allow_none=True)


class StaffMessageSchema(MessageSchema):
    staff_username = fields.String(allow_none=True)
    attachments = fields.List(fields.Nested(StaffAttachmentSchema))


class StaffStatusChangeSchema(StatusChangeSchema):
    by_name = fields.String(allow_none=True, metadata={"description": "the staff username, for staff changes"})


class StaffRequestCardSchema(StaffRequestSchema):
    type_title = fields.String()
    form_data = fields.Dict()
    customer = fields.Nested(ContactSchema)
    account = fields.Nested(AccountBriefSchema, allow_none=True)
    history = fields.List(fields.Nested(StaffStatusChangeSchema), metadata={"description": "oldest first"})
    messages = fields.List(fields.Nested(StaffMessageSchema), metadata={"description": "oldest first"})
    attachments = fields.List(fields.Nested(StaffAttachmentSchema))
    position = fields.Nested(PositionSchema)


class ReassignSchema(_Strict):
    to = fields.String(required=True, validate=validate.Length(min=1, max=128), metadata={
        "description": "username of a staff user holding the task's role"})
