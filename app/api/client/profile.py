"""Client API: the customer's profile and settings, email confirmation, phone change, closing
the account, and the security log (ID-7, ID-8).

Everything here acts on ``g.customer`` (the bearer of the access token); nothing takes a
customer id from the URL or the body.
"""
from flask import g, request
from flask_appbuilder.api import expose
from marshmallow import ValidationError

from ...errors import Invalid
from ...services import account_closure, email_confirmation, profile, security_events
from . import messages, profile_messages  # noqa: F401  (register the error codes)
from .auth import challenge_response
from .base import ClientApi, customer_required, origin
from .profile_schemas import (
    ProfileCloseSchema,
    ProfileCodeSchema,
    ProfileEmailConfirmSchema,
    ProfileEmailSchema,
    ProfileEmailSentSchema,
    ProfilePhoneSchema,
    ProfileSchema,
    ProfileUpdateSchema,
    SecurityEventQuerySchema,
    SecurityEventSchema,
)

_profile = ProfileSchema()
# Fields a PATCH may not change, and where they are changed instead.
_ELSEWHERE = {"phone": "phone_change_by_code", "email": "email_change_by_link", "pending_email": "email_change_by_link"}


def _load_update(body):
    misplaced = {name: [code] for name, code in _ELSEWHERE.items() if name in body}
    try:
        data = ProfileUpdateSchema().load({key: value for key, value in body.items() if key not in misplaced})
    except ValidationError as refused:
        raise Invalid(fields={**refused.normalized_messages(), **misplaced}) from None
    if misplaced:
        raise Invalid(fields=misplaced)
    return data


class ClientProfileApi(ClientApi):
    resource_name = "client/profile"
    route_base = "/api/v1/client/profile"
    openapi_spec_tag = "Client: profile"
    openapi_spec_component_schemas = (
        ProfileSchema, ProfileUpdateSchema, ProfileEmailSchema, ProfileEmailConfirmSchema, ProfileEmailSentSchema,
        ProfilePhoneSchema, ProfileCodeSchema, ProfileCloseSchema, SecurityEventSchema,
    )

    def _profile_response(self, status=200):
        return self.response(status, **_profile.dump(g.customer))

    @expose("", methods=["GET"])
    @customer_required
    def get(self):
        """The profile: name, phone, birth date, email and whether it is confirmed, settings.
        ---
        get:
          summary: The profile
          security: [{customer: []}]
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/ProfileSchema'}}}
            401: {description: Not signed in}
        """
        return self._profile_response()

    @expose("", methods=["PATCH"])
    @customer_required
    def patch(self):
        """Change any of: full name, birth date, theme, "keep me signed in", notification
        preferences. All or nothing: one refused field changes nothing. The phone and the email
        have endpoints of their own (they need a code or a link).
        ---
        patch:
          summary: Change the profile and settings
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/ProfileUpdateSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/ProfileSchema'}}}
            401: {description: Not signed in}
            422: {description: 'Unknown field, wrong type, future or implausible birth date, unknown theme,
              unknown preference category or channel, email notifications without a confirmed email'}
        """
        changes = _load_update(self.json_body())
        profile.update(g.customer, changes, **origin())
        return self._profile_response()

    @expose("/email", methods=["PUT"])
    @customer_required
    def change_email(self):
        """Set or change the email: a confirmation link goes to the new address; the confirmed
        address stays in use (and is told of the request) until the link is followed. Giving the
        confirmed address again cancels a pending change.
        ---
        put:
          summary: Change the email (confirmed by a link)
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/ProfileEmailSchema'}}}
          responses:
            202:
              content: {application/json: {schema: {$ref: '#/components/schemas/ProfileEmailSentSchema'}}}
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/ProfileEmailSentSchema'}}}
            401: {description: Not signed in}
            422: {description: Not an email address}
            429: {description: 'Cooldown per address (email_cooldown) or the daily cap (email_send_limit);
              Retry-After'}
        """
        body = ProfileEmailSchema().load(self.json_body())
        sent = profile.request_email_change(g.customer, body["email"], **origin())
        return self.response(202 if sent else 200, email=email_confirmation.normalise(body["email"]), sent=sent,
                             resend_after=email_confirmation.cooldown_seconds() if sent else 0)

    @expose("/email/resend", methods=["POST"])
    @customer_required
    def resend_email(self):
        """Send the confirmation link again to the address awaiting confirmation.
        ---
        post:
          summary: Resend the email confirmation link
          security: [{customer: []}]
          responses:
            202:
              content: {application/json: {schema: {$ref: '#/components/schemas/ProfileEmailSentSchema'}}}
            401: {description: Not signed in}
            409: {description: No address awaits confirmation (email_nothing_to_confirm)}
            429: {description: 'Cooldown (email_cooldown) or the daily cap (email_send_limit); Retry-After'}
        """
        address = email_confirmation.resend(g.customer, **origin())
        return self.response(202, email=address, sent=True, resend_after=email_confirmation.cooldown_seconds())

    @expose("/email/confirm", methods=["POST"])
    @customer_required
    def confirm_email(self):
        """Confirm the email with the token of the link (for apps that open the link themselves;
        the link also works in a browser without signing in, at /confirm-email/<token>).
        ---
        post:
          summary: Confirm the email
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/ProfileEmailConfirmSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/ProfileSchema'}}}
            401: {description: Not signed in}
            403: {description: The link belongs to another account (email_link_foreign)}
            409: {description: 'The address no longer awaits confirmation (email_link_superseded) or the
              link was used (email_already_confirmed)'}
            422: {description: 'Expired (email_link_expired) or damaged (email_link_invalid) link'}
        """
        body = ProfileEmailConfirmSchema().load(self.json_body())
        email_confirmation.confirm(body["token"], customer=g.customer, **origin())
        return self._profile_response()

    @expose("/phone", methods=["POST"])
    @customer_required
    def change_phone(self):
        """Change the phone, step 1: a code goes to the new phone. The answer does not say
        whether the new phone has an account.
        ---
        post:
          summary: Send a code to the new phone
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/ProfilePhoneSchema'}}}
          responses:
            202:
              content: {application/json: {schema: {$ref: '#/components/schemas/ChallengeSchema'}}}
            401: {description: Not signed in}
            422: {description: Not a phone number, or the current one (phone_same)}
            429: {description: Cooldown (60 s) or rate limit per phone / IP (Retry-After)}
        """
        body = ProfilePhoneSchema().load(self.json_body())
        return challenge_response(self, profile.request_phone_change(g.customer, body["phone"], origin()["ip"]))

    @expose("/phone/confirm", methods=["POST"])
    @customer_required
    def confirm_phone(self):
        """Change the phone, step 2: the code from the new phone. The old phone is told by SMS.
        ---
        post:
          summary: Confirm the new phone
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/ProfileCodeSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/ProfileSchema'}}}
            401: {description: Not signed in}
            409: {description: The new phone belongs to another account (phone_registered) or the code was used}
            422: {description: Wrong, expired or unknown code}
            429: {description: No attempts left}
        """
        body = ProfileCodeSchema().load(self.json_body())
        profile.confirm_phone_change(g.customer, body["challenge_id"], body["code"], **origin())
        return self._profile_response()

    @expose("/close/code", methods=["POST"])
    @customer_required
    def close_code(self):
        """A code to the account's phone, to close the account without the password.
        ---
        post:
          summary: Send a code for closing the account
          security: [{customer: []}]
          responses:
            202:
              content: {application/json: {schema: {$ref: '#/components/schemas/ChallengeSchema'}}}
            401: {description: Not signed in}
            429: {description: Cooldown or rate limit (Retry-After)}
        """
        return challenge_response(self, account_closure.request_code(g.customer, origin()["ip"]))

    @expose("/close", methods=["POST"])
    @customer_required
    def close(self):
        """Withdraw consent to personal-data processing: the account is closed at once, every
        session and device ends, personal data is erased. Proved by the password, or by
        challenge_id + code from /close/code. Irreversible; the phone may register anew.
        ---
        post:
          summary: Withdraw consent and close the account
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/ProfileCloseSchema'}}}
          responses:
            204: {description: Closed; the tokens no longer work}
            401: {description: Not signed in}
            422: {description: 'Wrong password (password_wrong), wrong code, or neither (close_proof_required)'}
            429: {description: Too many wrong passwords (phone_locked) or no code attempts left}
        """
        body = ProfileCloseSchema().load(self.json_body())
        account_closure.close(g.customer, password=body["password"], challenge_id=body["challenge_id"],
                              code=body["code"], **origin())
        return self.response(204)

    @expose("/security-events", methods=["GET"])
    @customer_required
    def security_events(self):
        """The account's security log, newest first: sign-ins, failures and changes.
        ---
        get:
          summary: Security events
          security: [{customer: []}]
          parameters:
          - {in: query, name: since, schema: {type: string}, description: 'ISO date or date-time (UTC), inclusive'}
          - {in: query, name: until, schema: {type: string},
             description: 'ISO date-time (UTC), exclusive; a bare date includes that whole day'}
          - {in: query, name: page, schema: {type: integer, minimum: 0, default: 0}}
          - {in: query, name: page_size, schema: {type: integer, minimum: 1, maximum: 100, default: 50}}
          responses:
            200: {description: 'result: a list of SecurityEventSchema; count: all events in the period'}
            401: {description: Not signed in}
            422: {description: 'Bad date (period_invalid), since not before until (period_order), bad paging'}
        """
        args = SecurityEventQuerySchema().load(request.args.to_dict())
        if args["since"] and args["until"] and args["since"] >= args["until"]:
            raise Invalid(fields={"until": ["period_order"]})
        rows, total = security_events.of_customer(g.customer.id, since=args["since"], until=args["until"],
                                                  page=args["page"], page_size=args["page_size"])
        return self.response(200, result=SecurityEventSchema(many=True).dump(rows), count=total,
                             page=args["page"], page_size=args["page_size"])
