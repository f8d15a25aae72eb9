"""Schemas of the client appointments API (SPEC CT-3, PR-10)."""
from marshmallow import RAISE, Schema, fields

from ...services import offices
from .requests_schemas import RequestSchema


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class SlotsQuerySchema(_Strict):
    office_id = fields.Integer(required=True)
    service = fields.String(required=True, metadata={"enum": sorted(offices.SERVICES)})
    date = fields.Date(required=True, metadata={"description": "the day, in the office's time zone"})


class BookSchema(_Strict):
    office_id = fields.Integer(required=True, strict=True)
    service = fields.String(required=True, metadata={"enum": sorted(offices.SERVICES)})
    slot = fields.String(required=True, metadata={
        "description": "a start from /slots (office time, or with its offset)", "example": "2026-12-01T10:30:00+03:00"})


class CancelSchema(_Strict):
    note = fields.String(load_default=None, metadata={"description": "why, for the history (optional)"})


class HoursSchema(Schema):
    opens = fields.String(metadata={"example": "09:00"})
    closes = fields.String(metadata={"example": "18:00"})


class ServiceSchema(Schema):
    code = fields.String(metadata={"enum": sorted(offices.SERVICES)})
    title = fields.String()


class OfficeSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    address = fields.String()
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    phone = fields.String(allow_none=True)
    opening_hours = fields.Dict(keys=fields.String(), values=fields.Nested(HoursSchema), metadata={
        "description": "by weekday (mon … sun); a closed day is absent"})
    slot_minutes = fields.Integer()
    services = fields.List(fields.Nested(ServiceSchema))


class OfficeListSchema(Schema):
    result = fields.List(fields.Nested(OfficeSchema))


class SlotsSchema(Schema):
    office_id = fields.Integer()
    service = fields.String()
    date = fields.Date()
    slot_minutes = fields.Integer()
    slots = fields.List(fields.String(), metadata={"description": "free starts, ISO 8601 with the office's offset"})


class AppointmentSchema(Schema):
    id = fields.Integer()
    office_id = fields.Integer()
    office_name = fields.String()
    office_address = fields.String()
    service = fields.String()
    starts_at = fields.String(metadata={"description": "ISO 8601 with the office's offset"})
    ends_at = fields.String()
    active = fields.Boolean(metadata={"description": "false once cancelled"})
    request_id = fields.Integer()
    request_number = fields.String()
    request_status = fields.String()


class AppointmentListSchema(Schema):
    result = fields.List(fields.Nested(AppointmentSchema))


class BookedSchema(Schema):
    appointment = fields.Nested(AppointmentSchema)
    request = fields.Nested(RequestSchema)
