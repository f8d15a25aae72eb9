"""Schemas of the client saved-cards API (BL-5): a card shows only what the provider reported
(masked number, brand, expiry), never a token or a number."""
from marshmallow import RAISE, Schema, fields


class CardAddSchema(Schema):
    class Meta:
        unknown = RAISE

    return_url = fields.String(load_default=None, allow_none=True, metadata={
        "description": "where the provider's page sends the browser back (the app's own scheme allowed)"})


class CardSchema(Schema):
    id = fields.String(attribute="public_id")
    masked_number = fields.String(metadata={"example": "•••• 4242"})
    brand = fields.String(metadata={"example": "visa"})
    expires = fields.String(metadata={"example": "12/29"})
    status = fields.String(metadata={"enum": ["pending", "active", "failed"],
                                     "description": "pending until the check charge's outcome is known"})
    created_at = fields.DateTime()


class CardStartedSchema(Schema):
    card = fields.Nested(CardSchema)
    confirmation_url = fields.String(metadata={
        "description": "the provider's page for the 10-rouble check charge (refunded at once)"})


class CardDeletedSchema(Schema):
    id = fields.String()
    cancelled_autopays = fields.List(fields.String(), metadata={
        "description": "ids of the autopays that used the card and were cancelled with it"})
