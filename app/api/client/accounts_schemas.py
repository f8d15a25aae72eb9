"""Schemas of the client accounts and contracts API (AC-1..AC-4): money as strings "1234.56",
periods as "YYYY-MM". Request schemas parse types only; the rules live in
``services/accounts.py``."""
from decimal import Decimal, InvalidOperation

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from ...services import periods
from ..base import MAX_PAGE
from .profile_schemas import Moment, StrictBoolean

_NUMBER = fields.String(required=True, validate=validate.Length(min=1, max=64, error="account_number_unknown"),
                        metadata={"description": "as printed on the bill (spaces ignored)", "example": "50001234"})
_SUPPLIER = fields.String(load_default=None, validate=validate.Length(max=32), metadata={
    "description": "supplier code; needed only when the number exists at several suppliers"})


class Period(fields.Field):
    """ "YYYY-MM" ↔ the month's first day."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return periods.parse(value)
        except (TypeError, ValueError):
            raise ValidationError("period_format") from None

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else periods.label(value)


class BillAmount(fields.Decimal):
    """An amount from a bill: a number or string with at most two decimals (any sign: a bill
    may show an overpayment), never rounded."""

    def __init__(self, **kwargs):
        super().__init__(places=2, as_string=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValidationError("amount_format")
        try:
            amount = Decimal(str(value).strip().replace(",", "."))
        except InvalidOperation:
            raise ValidationError("amount_format") from None
        if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")) or abs(amount) >= 10**10:
            raise ValidationError("amount_format")
        return amount.quantize(Decimal("0.01"))


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class AccountLookupSchema(_Strict):
    number = _NUMBER
    supplier = _SUPPLIER


class AccountLinkSchema(_Strict):
    number = _NUMBER
    supplier = _SUPPLIER
    address_confirmed = StrictBoolean(required=True, metadata={"description": "must be true: the customer "
                                                                              "confirmed the address of /lookup"})
    period = Period(load_default=None, metadata={"type": "string", "example": "2026-11",
                                                 "description": "with amount: one of the last three bills"})
    amount = BillAmount(load_default=None, metadata={"description": "the bill's amount due (with or "
                                                                    "without the voluntary insurance)"})


class AccountVerifySchema(_Strict):
    period = Period(required=True, metadata={"type": "string", "example": "2026-11"})
    amount = BillAmount(required=True)


class AccountUpdateSchema(_Strict):
    alias = fields.String(required=True, allow_none=True, validate=validate.Length(max=64, error="alias_too_long"),
                          metadata={"description": "the customer's own name for the account; empty removes it"})


class AccountUnlinkSchema(_Strict):
    confirm = StrictBoolean(load_default=False, metadata={"description": "must be true"})


class SupplierBriefSchema(Schema):
    code = fields.String()
    name = fields.String()
    kind = fields.String()


class AccountLookupResultSchema(Schema):
    number = fields.String()
    supplier = fields.Nested(SupplierBriefSchema)
    address = fields.String(metadata={"description": "the address to confirm"})
    holder = fields.String(metadata={"description": "masked holder name, e.g. «Иванова М. П.»"})
    linked = fields.Boolean(metadata={"description": "already among the customer's accounts"})


class AccountSchema(Schema):
    """A linked account; ``id`` is the account's id in every /accounts/{id}… URL."""

    id = fields.Integer(attribute="account_id")
    number = fields.String(attribute="account.number")
    alias = fields.String(allow_none=True)
    address = fields.String(attribute="account.address")
    supplier = fields.Nested(SupplierBriefSchema, attribute="account.supplier")
    verified = fields.Function(lambda link: link.verified_at is not None, metadata={
        "type": "boolean", "description": "false: cannot pay or submit readings until verified"})
    verified_at = fields.DateTime(allow_none=True)
    ebill = fields.Boolean(metadata={"description": "e-bills by email asked for"})
    closed = fields.Boolean(attribute="account.closed")
    linked_at = fields.DateTime()


def Money(**kwargs):  # noqa: N802  (reads as a field class)
    return fields.Decimal(as_string=True, places=2, **kwargs)


class AccountSummarySchema(Schema):
    id = fields.Integer()
    number = fields.String()
    alias = fields.String(allow_none=True)
    address = fields.String()
    closed = fields.Boolean()
    supplier = fields.Nested(SupplierBriefSchema)
    verified = fields.Boolean()
    services = fields.List(fields.String(), metadata={"description": "services of the latest bill"})
    period = fields.String(allow_none=True, metadata={"description": "the latest bill's period (YYYY-MM)"})
    amount_due = Money(metadata={"description": "owed now: the latest bill less payments since it was issued"})
    overpayment = Money(metadata={"description": "paid beyond the latest bill"})
    all_paid = fields.Boolean(metadata={"description": "nothing is due"})
    ebill = fields.String(metadata={"enum": ["on", "off", "email_unconfirmed"]})


class SummaryTotalSchema(Schema):
    amount_due = Money()
    overpayment = Money()
    all_paid = fields.Boolean()
    accounts = fields.Integer()


class SummarySchema(Schema):
    accounts = fields.List(fields.Nested(AccountSummarySchema))
    total = fields.Nested(SummaryTotalSchema)


class ObjectEventQuerySchema(_Strict):
    since = Moment(data_key="from", load_default=None, metadata={"description": "ISO date or date-time, inclusive"})
    until = Moment(data_key="to", end=True, load_default=None,
                   metadata={"description": "ISO date-time, exclusive; a bare date includes that whole day"})
    page = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_PAGE, error="page_invalid"))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100, error="page_size_invalid"))


class ObjectEventSchema(Schema):
    id = fields.Integer()
    occurred_at = fields.DateTime()
    object_name = fields.String(metadata={"description": "the guarded object"})
    event = fields.String(metadata={"enum": ["armed", "alarm", "disarmed"]})
    details = fields.String()


class ContractNumberSchema(_Strict):
    """A contract by number: the search's query string and the body of adding one."""

    number = fields.String(required=True, validate=validate.Length(min=1, max=64, error="contract_unknown"))
    supplier = _SUPPLIER


class ContractReportSchema(_Strict):
    barcode = fields.String(required=True, validate=validate.Length(min=1, max=64, error="contract_barcode_unknown"),
                            metadata={"description": "the grid-connection contract's number as printed under "
                                                     "its barcode", "example": "TP-2026-000123"})


class ContractSchema(Schema):
    """A contract found by number or on the customer's list; ``id`` is the contract's id."""

    id = fields.Integer()
    number = fields.String()
    kind = fields.String(metadata={"enum": ["supply", "grid_connection"]})
    supplier = fields.Nested(SupplierBriefSchema)
    account = fields.Function(lambda contract: contract.account.number if contract.account else None,
                              metadata={"type": "string", "description": "the account number, if any"})
    concluded_on = fields.Date(allow_none=True)


class CustomerContractSchema(ContractSchema):
    id = fields.Integer(attribute="contract.id")
    number = fields.String(attribute="contract.number")
    kind = fields.String(attribute="contract.kind")
    supplier = fields.Nested(SupplierBriefSchema, attribute="contract.supplier")
    account = fields.Function(lambda entry: entry.contract.account.number if entry.contract.account else None,
                              metadata={"type": "string"})
    concluded_on = fields.Date(attribute="contract.concluded_on", allow_none=True)
    added_at = fields.DateTime()
    reported_concluded_at = fields.DateTime(allow_none=True)
