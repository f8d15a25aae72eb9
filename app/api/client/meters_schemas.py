"""Schemas of the client meters API (MT-1..MT-2): readings as strings with three decimals
("123.450"), periods as "YYYY-MM".

Request schemas parse types only; the rules (zones, decimals, window, previous reading,
abnormal consumption) live in ``services/readings.py`` and answer with ``meters_messages.py``.
"""
from marshmallow import RAISE, Schema, fields, validate

from ...services import periods
from ..base import MAX_PAGE
from .profile_schemas import StrictBoolean


def ReadingValue(**kwargs):  # noqa: N802  (reads as a field class)
    return fields.Decimal(as_string=True, places=3, **kwargs)


class Period(fields.Field):
    """A billing period (the month's first day) written as "YYYY-MM"."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else periods.label(value)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ReadingValueInSchema(_Strict):
    zone = fields.Integer(strict=True, load_default=1, metadata={"description": "tariff zone, 1..meter.zones"})
    value = fields.Decimal(required=True, allow_nan=False, metadata={
        "description": "the meter's reading (a JSON number or a string); at most the meter's decimals",
        "example": "1234.5"})


class ReadingSubmitSchema(_Strict):
    values = fields.List(fields.Nested(ReadingValueInSchema), required=True,
                         validate=validate.Length(max=10, error="values_too_many"),
                         metadata={"description": "one value per tariff zone of the meter"})
    confirm_abnormal = StrictBoolean(load_default=False, metadata={
        "description": "true to submit a consumption the server called abnormal (reading_abnormal)"})
    photo = fields.String(load_default=None, allow_none=True, metadata={
        "description": "optional JPEG or PNG photo of the meter, base64 (a data: URL prefix is allowed), "
                       "at most UPLOAD_MAX_BYTES (5 MB)"})


class ReadingSchema(Schema):
    zone = fields.Integer()
    value = ReadingValue()
    previous_value = ReadingValue(allow_none=True, metadata={"description": "the latest reading of an earlier period"})
    consumption = ReadingValue(allow_none=True, metadata={"description": "value − previous_value"})
    abnormal = fields.Boolean(metadata={"description": "submitted with confirmation of an abnormal consumption"})
    source = fields.String(metadata={"enum": ["customer", "billing", "staff"]})
    submitted_at = fields.DateTime()
    updated_at = fields.DateTime()


class SubmissionSchema(Schema):
    meter_id = fields.Integer()
    period = Period(metadata={"type": "string", "example": "2026-11"})
    created = fields.Boolean(metadata={"description": "false when the submission corrected the period's readings"})
    readings = fields.List(fields.Nested(ReadingSchema))


class LastReadingSchema(Schema):
    zone = fields.Integer()
    period = Period(metadata={"type": "string", "example": "2026-10"})
    value = ReadingValue()
    consumption = ReadingValue(allow_none=True)
    source = fields.String()
    submitted_at = fields.DateTime()


class MeterSchema(Schema):
    id = fields.Integer()
    account_id = fields.Integer()
    kind = fields.String(metadata={"enum": ["cold_water", "hot_water", "electricity", "heat", "gas"]})
    serial = fields.String()
    name = fields.String(allow_none=True, metadata={"description": "the customer's own name (rename)"})
    location = fields.String()
    zones = fields.Integer(metadata={"description": "tariff zones (1 to 3)"})
    decimals = fields.Integer(metadata={"description": "digits after the decimal point the meter shows"})
    active = fields.Boolean()
    last_verified_on = fields.Date(allow_none=True)
    verification_interval_years = fields.Integer(allow_none=True)
    next_verification_on = fields.Date(allow_none=True)
    verification_due_soon = fields.Boolean(metadata={
        "description": "due within METER_VERIFICATION_REMINDER_DAYS (30) days, or overdue"})
    last_readings = fields.List(fields.Nested(LastReadingSchema), metadata={"description": "the latest per zone"})


class ReadingWindowSchema(Schema):
    period = Period(metadata={"type": "string", "description": "the period readings are taken for now"})
    opens = fields.Date()
    closes = fields.Date()
    open = fields.Boolean(metadata={"description": "readings are accepted today"})


class MeterListSchema(Schema):
    account_id = fields.Integer()
    reading_window = fields.Nested(ReadingWindowSchema, metadata={
        "description": "today's window, or the next one once this month's has closed"})
    count = fields.Integer()
    result = fields.List(fields.Nested(MeterSchema))


class MeterRenameSchema(_Strict):
    name = fields.String(required=True, allow_none=True, metadata={
        "description": "up to 64 characters, trimmed; empty or null removes the name"})


class HistoryQuerySchema(_Strict):
    limit = fields.Integer(validate=validate.Range(min=1, max=100, error="page_size_invalid"),
                           metadata={"description": "the latest N periods (e.g. 3); same as page=0&page_size=N"})
    page = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_PAGE, error="page_invalid"))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100, error="page_size_invalid"))


class HistoryItemSchema(Schema):
    period = Period(metadata={"type": "string", "example": "2026-11"})
    readings = fields.List(fields.Nested(ReadingSchema))
    photo = fields.Boolean(metadata={"description": "a photo came with it: GET …/readings/{period}/photo"})


class HistorySchema(Schema):
    count = fields.Integer(metadata={"description": "periods with readings in all"})
    result = fields.List(fields.Nested(HistoryItemSchema), metadata={"description": "newest first"})
