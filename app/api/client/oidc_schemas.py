"""Request and response schemas of federated sign-in (OpenID Connect)."""
from marshmallow import Schema, fields, validate

from ...services.oidc import APP_CHALLENGE, APP_VERIFIER


class OidcProviderSchema(Schema):
    name = fields.String(metadata={"description": "the provider's name in /oidc/<provider>/…"})
    title = fields.String(metadata={"description": "the button's label, in the Accept-Language"})


class OidcStartSchema(Schema):
    redirect_uri = fields.String(required=True, validate=validate.Length(min=1, max=512),
                                 metadata={"description": "the app's return address; one of the provider's allowed ones"})
    consent = fields.Boolean(load_default=False, metadata={
        "description": "consent to personal-data processing: an account may be opened if none matches"})
    app_challenge = fields.String(
        required=True, validate=validate.Regexp(APP_CHALLENGE.pattern + r"\Z", error="oidc_app_challenge_invalid"),
        metadata={"description": "BASE64URL(SHA256(app_verifier)) without padding (43 characters), where "
                                 "app_verifier is 43-128 random characters of [A-Za-z0-9-._~] the app keeps in "
                                 "memory for /complete (binds the flow to this app, like PKCE)",
                  "example": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"})


class OidcStartedSchema(Schema):
    authorization_url = fields.String(metadata={"description": "open it in the browser / custom tab"})
    state = fields.String(metadata={"description": "comes back with the code; compare, then send both to /complete"})
    expires_in = fields.Integer(metadata={"description": "seconds to complete the sign-in"})


class OidcCompleteSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=2048))
    state = fields.String(required=True, validate=validate.Length(min=1, max=128))
    app_verifier = fields.String(
        required=True, validate=validate.Regexp(APP_VERIFIER.pattern + r"\Z", error="oidc_app_verifier_invalid"),
        metadata={"description": "the verifier whose S256 was app_challenge at /start; never sent anywhere else"})
    keep_signed_in = fields.Boolean(load_default=None)
