"""Client API: federated sign-in with OpenID Connect providers (ID-9).

The app never holds the client secret or the PKCE verifier: it asks /start for the URL to open,
receives ``code`` and ``state`` on its redirect URI and posts them to /complete, which answers
with tokens exactly like /api/v1/client/auth/sign-in.

The flow is bound to the app instance that started it: /start takes ``app_challenge`` (S256 of a
random ``app_verifier`` the app keeps in memory), /complete needs ``app_verifier``. Another app
that caught the redirect (the same custom URL scheme) has the code and state, not the verifier.
"""
from flask_appbuilder.api import expose

from ...services import oidc
from ..errors import language
from . import messages  # noqa: F401  (registers the shared error codes)
from . import oidc_messages  # noqa: F401  (registers the error codes)
from .auth import tokens_response
from .base import ClientApi, origin
from .oidc_schemas import OidcCompleteSchema, OidcProviderSchema, OidcStartedSchema, OidcStartSchema


class ClientOidcApi(ClientApi):
    resource_name = "client/oidc"
    route_base = "/api/v1/client/oidc"
    openapi_spec_tag = "Client: federated sign-in"
    openapi_spec_component_schemas = (OidcProviderSchema, OidcStartSchema, OidcStartedSchema, OidcCompleteSchema)

    @expose("/providers", methods=["GET"])
    def providers(self):
        """The configured providers, for the buttons of the sign-in screen.
        ---
        get:
          summary: Federated sign-in providers
          responses:
            200: {description: 'result: a list of OidcProviderSchema'}
        """
        lang = language()
        rows = [{"name": p.name, "title": p.title.get(lang) or p.title.get("ru") or p.name} for p in oidc.providers()]
        return self.response(200, result=OidcProviderSchema(many=True).dump(rows), count=len(rows))

    @expose("/<provider>/start", methods=["POST"])
    def start(self, provider):
        """Start a sign-in: the URL to open at the provider (authorization code flow with PKCE).
        The app makes a fresh random ``app_verifier`` (43-128 characters of A-Z a-z 0-9 - . _ ~,
        at least 256 bits of entropy), keeps it in memory only and sends
        ``app_challenge`` = BASE64URL(SHA256(app_verifier)) without padding; /complete then needs
        the verifier, so a redirect caught by another app cannot be completed.
        ---
        post:
          summary: Start federated sign-in
          parameters:
          - {in: path, name: provider, required: true, schema: {type: string}}
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/OidcStartSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/OidcStartedSchema'}}}
            404: {description: No such provider (oidc_provider_unknown)}
            422: {description: 'The redirect URI is not one of the provider''s allowed ones
              (oidc_redirect_uri_not_allowed); app_challenge missing or not 43 characters of BASE64URL
              (field error oidc_app_challenge_invalid)'}
            429: {description: Rate limit per IP (Retry-After)}
            502: {description: The provider's discovery document could not be read (oidc_provider_error)}
        """
        body = OidcStartSchema().load(self.json_body())
        started = oidc.start(provider, body["redirect_uri"], body["app_challenge"], consent=body["consent"],
                             ip=origin()["ip"])
        return self.response(200, **started)

    @expose("/<provider>/complete", methods=["POST"])
    def complete(self, provider):
        """Finish a sign-in with the code and state the provider sent to the redirect URI. The
        customer is found by the provider account's link, else by the phone or email the
        provider verified; with consent given at /start a new account is opened from a verified
        phone. ``app_verifier`` must be the one whose S256 was ``app_challenge`` at /start; it is
        checked before the code goes to the provider, and a wrong one spends the flow.
        ---
        post:
          summary: Complete federated sign-in
          parameters:
          - {in: path, name: provider, required: true, schema: {type: string}}
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/OidcCompleteSchema'}}}
          responses:
            200:
              description: Signed in
              content: {application/json: {schema: {$ref: '#/components/schemas/TokensSchema'}}}
            201:
              description: A new account was opened and signed in
              content: {application/json: {schema: {$ref: '#/components/schemas/TokensSchema'}}}
            401: {description: 'Unknown, used or expired state (oidc_state_invalid, oidc_state_used,
              oidc_state_expired); app_verifier does not match the app_challenge of /start (oidc_app_mismatch:
              the flow is spent, start again); code refused by the provider (oidc_code_rejected); ID token
              not valid (oidc_token_invalid)'}
            404: {description: No such provider}
            409: {description: 'Verified phone and email match different accounts (oidc_match_conflict), or the
              account is linked to another account at this provider (oidc_already_linked)'}
            422: {description: 'No account: restart with consent (oidc_consent_required) or register by phone
              (oidc_no_account, oidc_claims_insufficient); a missing or malformed field (app_verifier:
              oidc_app_verifier_invalid) is a field error and leaves the flow as it was'}
            429: {description: Rate limit per IP (Retry-After)}
            502: {description: The provider failed (oidc_provider_error)}
        """
        body = OidcCompleteSchema().load(self.json_body())
        customer, tokens, created = oidc.complete(provider, body["code"], body["state"], body["app_verifier"],
                                                  persistent=body["keep_signed_in"], **origin())
        return tokens_response(self, customer, tokens, 201 if created else 200)
