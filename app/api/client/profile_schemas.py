"""Request and response schemas of the client profile API (ID-7, ID-8).

The request schemas parse types only (unknown fields are refused, booleans must be JSON
booleans); the rules (birth date range, themes, preference keys) live in ``services/profile.py``
and answer with the codes of ``profile_messages.py``.
"""
import re
from datetime import date, datetime, time, timedelta, timezone

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from ..base import MAX_PAGE

from ...services import email_confirmation, profile

_CODE = fields.String(required=True, validate=validate.Length(min=1, max=12, error="code_invalid"))
_CHALLENGE = fields.String(required=True, validate=validate.Length(min=1, max=64, error="code_invalid"))


class StrictBoolean(fields.Boolean):
    """true or false only: no "yes", 1 or "on"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean.")
        return value


class Moment(fields.Field):
    """An ISO date or date-time as a naive UTC datetime; with ``end``, a bare date means its end
    (the next midnight), so ``until=2026-03-01`` includes the 1st of March."""

    def __init__(self, end=False, **kwargs):
        super().__init__(**kwargs)
        self.end = end

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("period_invalid")
        text = value.strip()
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                return datetime.combine(day + timedelta(days=1) if self.end else day, time())
            # An unencoded "+03:00" arrives as " 03:00".
            text = re.sub(r"(T.*) (\d{2}:?\d{2})$", r"\1+\2", text)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError("period_invalid") from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        return moment


class EmailAddress(fields.Email):
    """An email address, surrounding spaces ignored (they come with pasted text)."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        return value.strip()


class _Strict(Schema):
    class Meta:
        unknown = RAISE


_PREFERENCES_DOC = {
    "description": "categories (" + ", ".join(profile.CATEGORIES) + ") × channels ("
                   + ", ".join(profile.CHANNELS) + ") of booleans; a PATCH changes only the keys it names",
    "example": {"bills": {"email": True, "sms": False}, "news": {"push": False}},
}


class ProfileUpdateSchema(_Strict):
    full_name = fields.String(metadata={"description": "1 to 256 characters"})
    birth_date = fields.Date(allow_none=True, metadata={"description": "YYYY-MM-DD; not in the future; "
                                                                       "the customer is at least PROFILE_MIN_AGE"})
    theme = fields.String(metadata={"enum": list(profile.THEMES)})
    keep_signed_in = StrictBoolean(metadata={"description": "false: new sessions last "
                                                            "CUSTOMER_SHORT_SESSION_HOURS, not 30 days"})
    notification_preferences = fields.Dict(metadata=_PREFERENCES_DOC)


class ProfileSchema(Schema):
    id = fields.Integer()
    phone = fields.String()
    full_name = fields.String()
    birth_date = fields.Date(allow_none=True)
    email = fields.String(allow_none=True, metadata={"description": "the address in use (confirmed or not)"})
    email_confirmed = fields.Function(email_confirmation.is_confirmed, metadata={
        "type": "boolean", "description": "false: no e-bills and no receipts by email"})
    pending_email = fields.String(allow_none=True, metadata={"description": "a new address awaiting its link"})
    theme = fields.String()
    keep_signed_in = fields.Boolean()
    notification_preferences = fields.Function(profile.preferences, metadata={
        "type": "object", "description": "the full matrix in effect (defaults filled in; email off "
                                         "while the email is not confirmed)"})
    consent_at = fields.DateTime()
    created_at = fields.DateTime()


class ProfileEmailSchema(_Strict):
    email = EmailAddress(required=True, validate=validate.Length(max=254, error="email_too_long"))


class ProfileEmailConfirmSchema(_Strict):
    token = fields.String(required=True, validate=validate.Length(min=1, max=512, error="email_link_invalid"))


class ProfileEmailSentSchema(Schema):
    email = fields.String(metadata={"description": "where the link went"})
    sent = fields.Boolean(metadata={"description": "false when the address is already the confirmed one"})
    resend_after = fields.Integer(metadata={"description": "seconds until the link may be sent again"})


class ProfilePhoneSchema(_Strict):
    phone = fields.String(required=True, validate=validate.Length(max=32, error="phone_invalid"))


class ProfileCodeSchema(_Strict):
    challenge_id = _CHALLENGE
    code = _CODE


class ProfileCloseSchema(_Strict):
    password = fields.String(load_default=None, validate=validate.Length(max=256, error="password_wrong"))
    challenge_id = fields.String(load_default=None, validate=validate.Length(max=64, error="code_invalid"))
    code = fields.String(load_default=None, validate=validate.Length(max=12, error="code_invalid"))


class SecurityEventSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    at = fields.DateTime()
    ip = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    details = fields.Dict()


class SecurityEventQuerySchema(_Strict):
    since = Moment(load_default=None, metadata={"description": "ISO date or date-time (UTC), inclusive"})
    until = Moment(load_default=None, end=True, metadata={"description": "ISO date-time (UTC), exclusive; "
                                                                        "a bare date includes that whole day"})
    page = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_PAGE, error="page_invalid"))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100, error="page_size_invalid"))
