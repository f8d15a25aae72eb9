"""Request and response schemas of the client identity API."""
from marshmallow import Schema, fields, validate

_CODE = fields.String(required=True, validate=validate.Length(min=1, max=12))
_CHALLENGE = fields.String(required=True, validate=validate.Length(min=1, max=64))
_PASSWORD = fields.String(required=True, validate=validate.Length(max=256))


class RegistrationCodeSchema(Schema):
    phone = fields.String(required=True, validate=validate.Length(max=32))
    full_name = fields.String(required=True, validate=validate.Length(max=256))
    consent = fields.Boolean(required=True, metadata={"description": "consent to personal-data processing; must be true"})


class CodeRequestSchema(Schema):
    phone = fields.String(required=True, validate=validate.Length(max=32))
    purpose = fields.String(required=True, validate=validate.OneOf(["login", "recover"]))


class CodeVerifySchema(Schema):
    challenge_id = _CHALLENGE
    code = _CODE


class NewPasswordSchema(Schema):
    challenge_id = _CHALLENGE
    password = _PASSWORD
    password_confirm = _PASSWORD


class PasswordSignInSchema(Schema):
    phone = fields.String(required=True, validate=validate.Length(max=32))
    password = _PASSWORD
    keep_signed_in = fields.Boolean(load_default=None)


class CodeSignInSchema(Schema):
    phone = fields.String(required=True, validate=validate.Length(max=32))
    challenge_id = _CHALLENGE
    code = _CODE
    keep_signed_in = fields.Boolean(load_default=None)


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(max=256))


class ChangePasswordSchema(Schema):
    old_password = _PASSWORD
    password = _PASSWORD
    password_confirm = _PASSWORD


class ChallengeSchema(Schema):
    challenge_id = fields.String()
    channel = fields.String(metadata={"description": "sms or voice"})
    expires_in = fields.Integer(metadata={"description": "seconds until the code expires"})
    resend_after = fields.Integer(metadata={"description": "seconds until a new code may be requested"})


class TokensSchema(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    session_id = fields.String()
    refresh_expires_at = fields.String()
    customer = fields.Dict()


class SessionSchema(Schema):
    id = fields.String(attribute="public_id")
    method = fields.String()
    persistent = fields.Boolean()
    ip = fields.String()
    user_agent = fields.String()
    created_at = fields.DateTime()
    last_used_at = fields.DateTime()
    expires_at = fields.DateTime()
    current = fields.Boolean()


class DeviceRegisterSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=128))
    platform = fields.String(load_default="unknown", validate=validate.OneOf(["android", "ios", "web", "unknown"]))
    pin = fields.String(load_default=None, validate=validate.Length(max=6))
    public_key = fields.String(load_default=None, validate=validate.Length(max=1024))


class DeviceSchema(Schema):
    id = fields.String(attribute="public_id")
    name = fields.String()
    platform = fields.String()
    pin = fields.Boolean(attribute="has_pin")
    biometric = fields.Boolean(attribute="has_key")
    created_at = fields.DateTime()
    last_used_at = fields.DateTime()


class PinChangeSchema(Schema):
    pin = fields.String(required=True, validate=validate.Length(max=6))
    old_pin = fields.String(load_default=None, validate=validate.Length(max=6))
    password = fields.String(load_default=None, validate=validate.Length(max=256))


class BiometricKeySchema(Schema):
    public_key = fields.String(required=True, allow_none=True, validate=validate.Length(max=1024))


class DeviceCredentialsSchema(Schema):
    device_id = fields.String(required=True, validate=validate.Length(max=64))
    device_secret = fields.String(required=True, validate=validate.Length(max=128))


class PinSignInSchema(DeviceCredentialsSchema):
    pin = fields.String(required=True, validate=validate.Length(max=6))


class BiometricSignInSchema(DeviceCredentialsSchema):
    challenge = fields.String(required=True, validate=validate.Length(max=128))
    signature = fields.String(required=True, validate=validate.Length(max=512))


class CustomerBriefSchema(Schema):
    id = fields.Integer()
    phone = fields.String()
    full_name = fields.String()
