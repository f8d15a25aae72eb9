"""Schemas of registration by bill and by contract (ID-2, ID-3)."""
from marshmallow import RAISE, Schema, fields, validate

from .accounts_schemas import BillAmount, Period, SupplierBriefSchema
from .profile_schemas import EmailAddress, StrictBoolean

_PHONE = fields.String(required=True, validate=validate.Length(max=32, error="phone_invalid"))
_EMAIL = EmailAddress(required=True, validate=validate.Length(max=254, error="email_too_long"))


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ByBillStartSchema(_Strict):
    """One of: ``{qr}``; ``{number, period, amount}``; ``{number, skip_amount: true}``."""

    qr = fields.String(load_default=None, validate=validate.Length(min=1, max=2000),
                       metadata={"description": "the bill's ST00012 QR payload as scanned"})
    number = fields.String(load_default=None, validate=validate.Length(min=1, max=64),
                           metadata={"description": "account number from the bill"})
    supplier = fields.String(load_default=None, validate=validate.Length(max=32),
                             metadata={"description": "supplier code, when the number exists at several"})
    period = Period(load_default=None, metadata={"type": "string", "example": "2026-11"})
    amount = BillAmount(load_default=None, metadata={"description": "the amount due on that bill"})
    skip_amount = StrictBoolean(load_default=False, metadata={
        "description": "register without the bill check: the customer starts unverified"})


class ByBillTicketSchema(Schema):
    ticket = fields.String(metadata={"description": "carries the registration on; expires after "
                                                    "REGISTRATION_TICKET_SECONDS"})
    expires_in = fields.Integer()
    number = fields.String()
    supplier = fields.Nested(SupplierBriefSchema)
    address = fields.String(metadata={"description": "the address to confirm"})
    holder = fields.String(metadata={"description": "masked holder name"})
    verified = fields.Boolean(metadata={"description": "the bill matched: the account will be linked verified"})


class NotMyAddressSchema(_Strict):
    phone = _PHONE
    comment = fields.String(load_default=None, validate=validate.Length(max=1000))
    full_name = fields.String(load_default=None, validate=validate.Length(max=256))
    email = EmailAddress(load_default=None, validate=validate.Length(max=254, error="email_too_long"))


class ByBillPersonSchema(_Strict):
    address_confirmed = StrictBoolean(required=True, metadata={"description": "must be true"})
    surname = fields.String(required=True, validate=validate.Length(min=1, max=80, error="surname_required"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=80, error="name_required"))
    patronymic = fields.String(load_default=None, validate=validate.Length(max=80))
    birth_date = fields.Date(load_default=None)
    email = _EMAIL
    phone = _PHONE
    consent = StrictBoolean(required=True, metadata={"description": "consent to personal-data processing; "
                                                                    "must be true"})


class ByBillCompleteSchema(_Strict):
    challenge_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(max=256))
    password_confirm = fields.String(required=True, validate=validate.Length(max=256))


class ByContractSchema(_Strict):
    contract_number = fields.String(required=True, validate=validate.Length(min=1, max=64, error="contract_unknown"))
    supplier = fields.String(load_default=None, validate=validate.Length(max=32))
    email = _EMAIL
    phone = _PHONE
    consent = StrictBoolean(required=True)
