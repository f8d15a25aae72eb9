"""Client API: registration by phone, sign-in, tokens, recovery, password change (ID-1, ID-4, ID-6)."""
from flask import current_app, g
from flask_appbuilder.api import expose

from ...services import customer_sessions, customers, one_time_codes
from . import messages  # noqa: F401  (registers the error codes)
from .base import ClientApi, customer_required, origin
from .schemas import (
    ChallengeSchema,
    ChangePasswordSchema,
    CodeRequestSchema,
    CodeSignInSchema,
    CodeVerifySchema,
    CustomerBriefSchema,
    NewPasswordSchema,
    PasswordSignInSchema,
    RefreshSchema,
    RegistrationCodeSchema,
    SessionSchema,
    TokensSchema,
)

_brief = CustomerBriefSchema()


def challenge_response(api, challenge):
    return api.response(202, challenge_id=challenge.public_id, channel=challenge.channel,
                        expires_in=one_time_codes.expires_in(challenge),
                        resend_after=current_app.config["OTP_RESEND_SECONDS"])


def tokens_response(api, customer, tokens, status=200):
    return api.response(status, customer=_brief.dump(customer), **tokens)


class ClientAuthApi(ClientApi):
    resource_name = "client/auth"
    route_base = "/api/v1/client/auth"
    openapi_spec_tag = "Client: sign-in"
    openapi_spec_component_schemas = (
        RegistrationCodeSchema, CodeRequestSchema, CodeVerifySchema, NewPasswordSchema, PasswordSignInSchema,
        CodeSignInSchema, RefreshSchema, ChangePasswordSchema, ChallengeSchema, TokensSchema, SessionSchema,
    )

    @expose("/register", methods=["POST"])
    def register_code(self):
        """Registration, step 1: phone, full name and consent; a code goes to the phone.
        ---
        post:
          summary: Start registration (a code is sent by SMS or voice call)
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/RegistrationCodeSchema'}}}
          responses:
            202:
              content: {application/json: {schema: {$ref: '#/components/schemas/ChallengeSchema'}}}
            422: {description: Bad phone, no name or no consent}
            429: {description: Cooldown or rate limit (Retry-After)}
        """
        body = RegistrationCodeSchema().load(self.json_body())
        challenge = customers.request_code("register", body["phone"], origin()["ip"],
                                           full_name=body["full_name"], consent=body["consent"])
        return challenge_response(self, challenge)

    @expose("/register/verify", methods=["POST"])
    def register_verify(self):
        """Registration, step 2: the code from the SMS.
        ---
        post:
          summary: Check the registration code
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/CodeVerifySchema'}}}
          responses:
            200: {description: The code is right; go on with the password}
            409: {description: The phone already has an account (phone_registered) or the code was used}
            422: {description: Wrong or expired code}
            429: {description: No attempts left}
        """
        body = CodeVerifySchema().load(self.json_body())
        challenge = customers.verify_code("register", body["challenge_id"], body["code"])
        return self.response(200, challenge_id=challenge.public_id, verified=True)

    @expose("/register/complete", methods=["POST"])
    def register_complete(self):
        """Registration, step 3: password and confirmation; the customer is signed in.
        ---
        post:
          summary: Set the password and sign in
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/NewPasswordSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/TokensSchema'}}}
            409: {description: Already registered or the code was used}
            422: {description: Weak or mismatched password, or the code is not verified}
        """
        body = NewPasswordSchema().load(self.json_body())
        customer, tokens = customers.register(body["challenge_id"], body["password"], body["password_confirm"],
                                              **origin())
        return tokens_response(self, customer, tokens, 201)

    @expose("/codes", methods=["POST"])
    def request_code(self):
        """A one-time code for sign-in or password recovery. The answer is the same whether or
        not the phone is registered.
        ---
        post:
          summary: Send a sign-in or recovery code
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/CodeRequestSchema'}}}
          responses:
            202:
              content: {application/json: {schema: {$ref: '#/components/schemas/ChallengeSchema'}}}
            422: {description: Bad phone or purpose}
            429: {description: Cooldown (60 s) or rate limit per phone / IP (Retry-After)}
        """
        body = CodeRequestSchema().load(self.json_body())
        return challenge_response(self, customers.request_code(body["purpose"], body["phone"], origin()["ip"]))

    @expose("/sign-in", methods=["POST"])
    def sign_in(self):
        """Sign in with phone and password.
        ---
        post:
          summary: Sign in with a password
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/PasswordSignInSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/TokensSchema'}}}
            401: {description: Wrong phone or password (the same answer for both)}
            429: {description: Phone locked after repeated failures, or IP rate limit (Retry-After)}
        """
        body = PasswordSignInSchema().load(self.json_body())
        customer, tokens = customers.sign_in_with_password(body["phone"], body["password"],
                                                           persistent=body["keep_signed_in"], **origin())
        return tokens_response(self, customer, tokens)

    @expose("/sign-in/code", methods=["POST"])
    def sign_in_code(self):
        """Sign in with phone and a one-time code (request it from /codes with purpose login).
        ---
        post:
          summary: Sign in with an SMS code
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/CodeSignInSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/TokensSchema'}}}
            401: {description: Wrong or expired code, or a code of another phone (the same answer)}
            409: {description: The code was used already}
            429: {description: Phone locked or no attempts left for the code (Retry-After)}
        """
        body = CodeSignInSchema().load(self.json_body())
        customer, tokens = customers.sign_in_with_code(body["phone"], body["challenge_id"], body["code"],
                                                       persistent=body["keep_signed_in"], **origin())
        return tokens_response(self, customer, tokens)

    @expose("/recover/verify", methods=["POST"])
    def recover_verify(self):
        """Password recovery, step 2: the code (step 1 is /codes with purpose recover).
        ---
        post:
          summary: Check the recovery code
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/CodeVerifySchema'}}}
          responses:
            200: {description: The code is right; set the new password}
            422: {description: Wrong or expired code}
            429: {description: No attempts left}
        """
        body = CodeVerifySchema().load(self.json_body())
        challenge = customers.verify_code("recover", body["challenge_id"], body["code"])
        return self.response(200, challenge_id=challenge.public_id, verified=True)

    @expose("/recover/complete", methods=["POST"])
    def recover_complete(self):
        """Password recovery, step 3: the new password. Every other session and device ends.
        ---
        post:
          summary: Set a new password
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/NewPasswordSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/TokensSchema'}}}
            422: {description: Weak password or unverified code}
        """
        body = NewPasswordSchema().load(self.json_body())
        customer, tokens = customers.recover(body["challenge_id"], body["password"], body["password_confirm"],
                                             **origin())
        return tokens_response(self, customer, tokens)

    @expose("/refresh", methods=["POST"])
    def refresh(self):
        """Trade a refresh token for a new pair. A refresh token works once; presenting a used
        one ends the whole session.
        ---
        post:
          summary: Refresh the tokens
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/RefreshSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/TokensSchema'}}}
            401: {description: Unknown, reused or ended}
        """
        body = RefreshSchema().load(self.json_body())
        return self.response(200, **customer_sessions.refresh(body["refresh_token"]))

    @expose("/sign-out", methods=["POST"])
    @customer_required
    def sign_out(self):
        """End this session (its tokens stop working at once).
        ---
        post:
          summary: Sign out
          security: [{customer: []}]
          responses:
            204: {description: Signed out}
            401: {description: Not signed in}
        """
        customer_sessions.sign_out(g.customer_session)
        return self.response(204)

    @expose("/sign-out-everywhere", methods=["POST"])
    @customer_required
    def sign_out_everywhere(self):
        """End every session of the account, on every device.
        ---
        post:
          summary: Sign out everywhere
          security: [{customer: []}]
          responses:
            204: {description: Every session ended}
            401: {description: Not signed in}
        """
        customer_sessions.sign_out(g.customer_session, everywhere=True)
        return self.response(204)

    @expose("/sessions", methods=["GET"])
    @customer_required
    def sessions(self):
        """The account's live sessions.
        ---
        get:
          summary: Live sessions
          security: [{customer: []}]
          responses:
            200: {description: 'result: a list of SessionSchema'}
        """
        rows = customer_sessions.live_sessions(g.customer.id)
        for row in rows:
            row.current = row.id == g.customer_session.id
        return self.response(200, result=SessionSchema(many=True).dump(rows), count=len(rows))

    @expose("/password", methods=["PUT"])
    @customer_required
    def change_password(self):
        """Change the password (the current one is required). Other sessions end and other
        devices lose PIN and biometric sign-in.
        ---
        put:
          summary: Change the password
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/ChangePasswordSchema'}}}
          responses:
            204: {description: Changed}
            422: {description: Wrong current password, or a weak or mismatched new one}
        """
        body = ChangePasswordSchema().load(self.json_body())
        customers.change_password(g.customer, g.customer_session, body["old_password"], body["password"],
                                  body["password_confirm"], **origin())
        return self.response(204)
