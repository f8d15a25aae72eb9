"""Schemas of the client subscriptions API (SPEC PR-7). They parse types only; the rules
(linked account, confirmed email, duplicates) live in services/subscriptions.py."""
from marshmallow import RAISE, Schema, fields, validate

from ...models import subscriptions

# The stored kinds, and e-bills (a consent kept on the account link, shown as a subscription).
KINDS = (*subscriptions.KINDS, "ebill")
CHANNELS = subscriptions.CHANNELS


class SubscriptionCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.OneOf(KINDS, error="subscription_kind_invalid"),
                         metadata={"enum": list(KINDS), "description": "outage: outage notifications; ebill: "
                                   "bills by email; security_sms: SMS about a security object (a request)"})
    channel = fields.String(load_default=None, metadata={
        "enum": list(CHANNELS), "description": "outage only; email needs a confirmed address"})
    account_id = fields.Integer(load_default=None, strict=True, metadata={
        "description": "one of the customer's accounts (outage: this or address; ebill, security_sms: required)"})
    address = fields.String(load_default=None, metadata={
        "description": "outage: the address to watch (stored normalised: case, spaces, commas)"})
    phone = fields.String(load_default=None, metadata={"description": "security_sms: the phone for the SMS"})
    starts_on = fields.Date(load_default=None, metadata={"description": "security_sms: the first day"})
    comment = fields.String(load_default=None, validate=validate.Length(max=1000),
                            metadata={"description": "security_sms: for the manager"})


class SubscriptionSchema(Schema):
    id = fields.String(metadata={"description": "a number, or ebill-<account id> for e-bills",
                                 "example": "12"})
    kind = fields.String(metadata={"enum": list(KINDS)})
    channel = fields.String(metadata={"enum": list(CHANNELS)})
    status = fields.String(metadata={"enum": list(subscriptions.STATUSES),
                                     "description": "security_sms: pending until managers activate it"})
    account_id = fields.Integer(allow_none=True)
    account_number = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    starts_on = fields.Date(allow_none=True)
    request_id = fields.Integer(allow_none=True, metadata={"description": "security_sms: its request"})
    created_at = fields.DateTime()


class SubscriptionListSchema(Schema):
    result = fields.List(fields.Nested(SubscriptionSchema))
