"""Schemas of the client autopay API (BL-6): money as strings "1234.56", periods as "YYYY-MM"."""
from decimal import Decimal

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from ...services import periods
from .payments_schemas import Money
from .profile_schemas import StrictBoolean

MAX_AMOUNT = Decimal("1000000.00")


class AmountField(Money):
    """0.01 to 1,000,000 roubles with at most two decimals: never rounded silently."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            amount = super()._deserialize(value, attr, data, **kwargs)
        except ValidationError:
            raise ValidationError("autopay_amount_invalid") from None
        if amount > MAX_AMOUNT:
            raise ValidationError("autopay_amount_invalid")
        return amount


class AutopayCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    account_id = fields.Integer(required=True, strict=True)
    card_id = fields.String(required=True, validate=validate.Length(min=1, max=32))
    amount = AmountField(load_default=None, allow_none=True, metadata={
        "description": "a fixed monthly amount; absent or null pays what the account owes each month"})
    consent = StrictBoolean(required=True, validate=validate.Equal(True, error="autopay_consent_required"),
                            metadata={"description": "consent to the autopay terms (must be true)"})


class AutopaySchema(Schema):
    id = fields.String(attribute="public_id")
    account_id = fields.Integer()
    account_number = fields.String(attribute="account.number")
    card = fields.Function(lambda autopay: {"id": autopay.card.public_id,
                                            "masked_number": autopay.card.masked_number,
                                            "status": autopay.card.status},
                           metadata={"type": "object"})
    amount = fields.Decimal(as_string=True, places=2, allow_none=True, metadata={
        "description": "null: what the account owes on the day"})
    day_of_month = fields.Integer(metadata={"description": "29–31 run on the last day of shorter months"})
    starts_on = fields.Date()
    next_run_on = fields.Date()
    active = fields.Boolean()
    created_at = fields.DateTime()
    cancelled_at = fields.DateTime(allow_none=True)


class AutopayPaymentSchema(Schema):
    id = fields.String(attribute="public_id")
    amount = fields.Decimal(as_string=True, places=2)
    status = fields.String()
    failure_reason = fields.String(allow_none=True)
    confirmed_at = fields.DateTime(allow_none=True)


class AutopayRunSchema(Schema):
    period = fields.Function(lambda run: periods.label(run["period"]), metadata={"type": "string", "example": "2026-11"})
    status = fields.String(metadata={"enum": ["started", "succeeded", "failed", "skipped"]})
    error = fields.String(allow_none=True, metadata={
        "description": "why it failed or was skipped: the bank's reason, nothing_due, account_unlinked, card_deleted"})
    run_at = fields.DateTime()
    payment = fields.Nested(AutopayPaymentSchema, allow_none=True)


class AutopayHistorySchema(Schema):
    autopay = fields.Nested(AutopaySchema)
    runs = fields.List(fields.Nested(AutopayRunSchema))
