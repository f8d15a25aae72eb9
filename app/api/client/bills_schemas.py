"""Schemas of the client bills API (BL-1..BL-3) and e-bills: money as strings "1234.56",
periods as "YYYY-MM"."""
from marshmallow import RAISE, Schema, fields, post_dump, validate

from ...services import bills, periods
from ..base import MAX_PAGE
from .profile_schemas import StrictBoolean

def Money(**kwargs):  # noqa: N802  (reads as a field class)
    return fields.Decimal(as_string=True, places=2, **kwargs)


def _money(amount):
    return None if amount is None else f"{amount:.2f}"


class BillQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    page = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_PAGE, error="page_invalid"))
    page_size = fields.Integer(load_default=12, validate=validate.Range(min=1, max=100, error="page_size_invalid"))


class BillSchema(Schema):
    """A bill as listed; ``insurance_amount`` is absent when the account opted out of the
    voluntary insurance (or the supplier offers none). The API adds ``status`` (it needs the
    account's payments: ``bills.statuses``)."""

    id = fields.Integer()
    account_id = fields.Integer()
    period = fields.Function(lambda bill: periods.label(bill.period), metadata={"type": "string",
                                                                                "example": "2026-11"})
    issued_on = fields.Date()
    due_on = fields.Date(allow_none=True)
    debt_at_start = Money(metadata={"description": "debt at the start of the period (negative: overpaid)"})
    charged = Money(metadata={"description": "charged for the period"})
    paid_in_period = Money()
    total_due = Money(metadata={"description": "to pay by this bill, insurance not included"})
    insurance_amount = fields.Function(lambda bill: _money(bills.insurance(bill)), metadata={
        "type": "string", "description": "the optional voluntary insurance; absent when the account opted out"})
    status = fields.String(metadata={"enum": ["paid", "unpaid"]})

    @post_dump
    def _drop_absent_insurance(self, data, **kwargs):
        if data.get("insurance_amount") is None:
            data.pop("insurance_amount", None)
        return data


class BillLineSchema(Schema):
    service_code = fields.String()
    service_name = fields.String()
    zone = fields.Integer(metadata={"description": "tariff zone (1 for single-rate)"})
    unit = fields.String()
    tariff = fields.Decimal(as_string=True, allow_none=True)
    volume = fields.Decimal(as_string=True, allow_none=True)
    charge = Money()
    benefit = Money()
    recalculation = Money()
    total = Money()


class BillAccountSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    address = fields.String()
    supplier = fields.String(attribute="supplier.name")


class BillDetailSchema(BillSchema):
    account = fields.Nested(BillAccountSchema)
    lines = fields.List(fields.Nested(BillLineSchema))


class TariffSchema(Schema):
    zone = fields.Integer()
    price = fields.Decimal(as_string=True)
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)


class SmartBillLineSchema(BillLineSchema):
    calculation_rule = fields.String(metadata={"description": "how the charge is computed (formula text)"})
    legal_reference = fields.String(metadata={"description": "the law or regulation that says so"})
    tariffs = fields.List(fields.Nested(TariffSchema), metadata={"description": "tariffs in force in the period"})


class BillPaymentSchema(Schema):
    id = fields.String(attribute="public_id")
    paid_at = fields.DateTime()
    amount = Money(metadata={"description": "the part of the payment that went to this account"})
    source = fields.String(metadata={"enum": ["kabinet", "billing"],
                                     "description": "billing: paid elsewhere (a bank), as the billing system reports"})
    purpose = fields.String()


class SmartBillSchema(Schema):
    bill = fields.Nested(BillDetailSchema, metadata={"description": "the bill with its lines"})
    lines = fields.List(fields.Nested(SmartBillLineSchema))
    payments = fields.List(fields.Nested(BillPaymentSchema),
                           metadata={"description": "the account's payments of the last 12 months, newest first"})


class BillSentSchema(Schema):
    sent = fields.Boolean()
    email = fields.String(metadata={"description": "the confirmed address the PDF goes to"})


class EbillUpdateSchema(Schema):
    class Meta:
        unknown = RAISE

    enabled = StrictBoolean(required=True)


class EbillSchema(Schema):
    account_id = fields.Integer()
    enabled = fields.Boolean(attribute="ebill")
    email = fields.String(allow_none=True, metadata={"description": "where e-bills go"})
