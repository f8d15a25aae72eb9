"""Schemas of payments, pay-by-QR, top-ups and invoices (BL-4, BL-7, BL-8, BL-9).

Money is a string with two decimals both ways ("1234.56"); an amount with more decimals is
refused, never rounded."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ...errors import Invalid
from ...services import invoices, payments, periods


class Money(fields.Decimal):
    """A positive amount with at most two decimals (input), a "0.00" string (output)."""

    def __init__(self, **kwargs):
        super().__init__(places=2, as_string=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValidationError("payment_amount_invalid")
        try:
            return invoices.money(value)
        except Invalid:
            raise ValidationError("payment_amount_invalid") from None


class ServiceAmountSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    amount = Money(required=True)


class PaymentItemInputSchema(Schema):
    """An account (its amount, optionally split by service) or an invoice (its amount optional)."""

    account_id = fields.Integer(strict=True)
    invoice_id = fields.Integer(strict=True)
    amount = Money()
    services = fields.List(fields.Nested(ServiceAmountSchema), validate=validate.Length(min=1, max=50))

    @validates_schema
    def _one_target(self, data, **kwargs):
        if ("account_id" in data) == ("invoice_id" in data):
            raise ValidationError("payment_item_target", "_schema")
        if "account_id" in data and "amount" not in data:
            raise ValidationError("Missing data for required field.", "amount")
        if "invoice_id" in data and "services" in data:
            raise ValidationError("Unknown field.", "services")


class _PaymentRequest(Schema):
    consent = fields.Boolean(load_default=False)
    idempotency_key = fields.String()
    return_url = fields.String(validate=validate.Length(max=1024))
    save_card = fields.Boolean(load_default=False)


class PaymentCreateSchema(_PaymentRequest):
    items = fields.List(fields.Nested(PaymentItemInputSchema), validate=validate.Length(min=1, max=payments.ITEM_LIMIT))
    pay_all = fields.Boolean(load_default=False)
    # With pay_all: the sum to spread over the accounts with something due.
    amount = Money()
    # The total the app showed; compared with the server's.
    total = Money()

    @validates_schema
    def _items_or_all(self, data, **kwargs):
        if bool(data.get("items")) == bool(data.get("pay_all")):
            raise ValidationError("payment_items_or_all", "_schema")
        if "amount" in data and not data.get("pay_all"):
            raise ValidationError("Unknown field.", "amount")


class TopUpSchema(_PaymentRequest):
    amount = Money(required=True)


class QrDecodeSchema(Schema):
    payload = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class QrPaySchema(_PaymentRequest):
    payload = fields.String(validate=validate.Length(min=1, max=2000))
    # The ST00012 fields typed by hand (Name, PersonalAcc, BankName, BIC, CorrespAcc, PayeeINN, persAcc…).
    payee_fields = fields.Dict(keys=fields.String(), values=fields.String(), data_key="fields", attribute="fields")
    amount = Money()
    services = fields.List(fields.Nested(ServiceAmountSchema), validate=validate.Length(min=1, max=50))
    total = Money()

    @validates_schema
    def _payload_or_fields(self, data, **kwargs):
        if bool(data.get("payload")) == bool(data.get("fields")):
            raise ValidationError("payment_qr_source", "_schema")


class PaymentItemSchema(Schema):
    account_id = fields.Integer()
    account_number = fields.Function(lambda item: item.account.number if item.account else None)
    service_code = fields.String()
    invoice_id = fields.Integer()
    invoice_number = fields.Function(lambda item: item.invoice.number if item.invoice else None)
    payee = fields.Dict()
    amount = fields.Decimal(as_string=True, places=2)


class PaymentSchema(Schema):
    id = fields.String(attribute="public_id")
    purpose = fields.String()
    status = fields.String()
    amount = fields.Decimal(as_string=True, places=2)
    currency = fields.String()
    confirmation_url = fields.String()
    failure_reason = fields.String()
    receipt_email = fields.String()
    created_at = fields.DateTime()
    confirmed_at = fields.DateTime()
    items = fields.List(fields.Nested(PaymentItemSchema))


class InvoiceSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    description = fields.String()
    amount = fields.Decimal(as_string=True, places=2)
    status = fields.String()
    account_id = fields.Integer()
    created_at = fields.DateTime()
    paid_at = fields.DateTime()


class PaymentListSchema(Schema):
    count = fields.Integer()
    result = fields.List(fields.Nested(PaymentSchema))
    # Open invoices for paid services, listed with the payments to be paid (BL-9).
    open_invoices = fields.List(fields.Nested(InvoiceSchema))


class InvoiceListSchema(Schema):
    count = fields.Integer()
    result = fields.List(fields.Nested(InvoiceSchema))


def _period(value):
    return periods.label(value) if hasattr(value, "month") else value


class QrServiceSchema(Schema):
    code = fields.String()
    name = fields.String()
    amount = fields.Decimal(as_string=True, places=2)


class QrDecodedSchema(Schema):
    payee_fields = fields.Dict(keys=fields.String(), values=fields.String(), data_key="fields", attribute="fields")
    amount = fields.Decimal(as_string=True, places=2, allow_none=True)
    period = fields.Function(lambda data: _period(data.get("period")))
    account_number = fields.String(allow_none=True)
    supplier = fields.Dict(allow_none=True)
    account_known = fields.Boolean()
    services = fields.List(fields.Nested(QrServiceSchema))
