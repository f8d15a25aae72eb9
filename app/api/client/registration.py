"""Client API: registration by bill (ID-2) and by contract (ID-3), before sign-in.

By bill: ``POST /by-bill`` (the address to confirm and a ticket) → ``POST /by-bill/{ticket}/code``
(personal data, phone, consent: a code goes to the phone) → ID-1's ``POST /auth/register/verify``
(the code) → ``POST /by-bill/complete`` (password; signed in, account linked). "This is not my
address" is ``POST /by-bill/{ticket}/not-my-address``.
"""
from flask import current_app
from flask_appbuilder.api import expose

from ...services import phones, registration_by_bill, registration_by_contract
from ..errors import message_for
from . import accounts_messages, messages, profile_messages, registration_messages  # noqa: F401
from .accounts import lookup_result
from .accounts_schemas import AccountSchema
from .auth import challenge_response
from .base import ClientApi, origin
from .registration_schemas import (
    ByBillCompleteSchema,
    ByBillPersonSchema,
    ByBillStartSchema,
    ByBillTicketSchema,
    ByContractSchema,
    NotMyAddressSchema,
)
from .schemas import CustomerBriefSchema


class ClientRegistrationApi(ClientApi):
    resource_name = "client/registration"
    route_base = "/api/v1/client/registration"
    openapi_spec_tag = "Client: sign-in"
    openapi_spec_component_schemas = (ByBillStartSchema, ByBillTicketSchema, NotMyAddressSchema, ByBillPersonSchema,
                                      ByBillCompleteSchema, ByContractSchema)

    @expose("/by-bill", methods=["POST"])
    def by_bill(self):
        """Registration by bill, step 1: the account from the bill's QR code, or its number with the
        period and amount of one of its last three bills, or the number alone with skip_amount
        (the customer starts unverified). Answers the address to confirm and a ticket.
        ---
        post:
          summary: Start registration by bill
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/ByBillStartSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/ByBillTicketSchema'}}}
            404: {description: Unknown account number (account_number_unknown)}
            409: {description: The number exists at several suppliers (account_supplier_ambiguous)}
            422: {description: 'Bill does not match (bill_mismatch), broken QR payload (qr_*), period
              without amount (bill_proof_incomplete), neither or both of qr and number'}
            429: {description: Too many lookups from this IP, or wrong bills for this account (Retry-After)}
        """
        body = ByBillStartSchema().load(self.json_body())
        account, ticket, verified = registration_by_bill.start(
            body["number"], body["supplier"], body["period"], body["amount"], body["qr"], body["skip_amount"],
            ip=origin()["ip"])
        answer = {**lookup_result(account), "ticket": ticket, "verified": verified,
                  "expires_in": current_app.config["REGISTRATION_TICKET_SECONDS"]}
        answer.pop("linked")
        return self.response(200, **ByBillTicketSchema().dump(answer))

    @expose("/by-bill/<string:ticket>/not-my-address", methods=["POST"])
    def not_my_address(self, ticket):
        """The address shown is not the customer's: a service request (``address_mismatch``) goes to
        the contact centre, once per ticket; its number lets the person follow it without signing in
        (``GET /api/v1/public/requests/{number}``).
        ---
        post:
          summary: This is not my address
          parameters: [{in: path, name: ticket, required: true, schema: {type: string}}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/NotMyAddressSchema'}}}
          responses:
            202: {description: 'Passed on; message: the text to show, number: the request''s number'}
            422: {description: Bad phone, or the ticket expired or is not valid}
            429: {description: Too many requests from this IP}
        """
        body = NotMyAddressSchema().load(self.json_body())
        filed = registration_by_bill.not_my_address(ticket, body["phone"], body["comment"], body["full_name"],
                                                    body["email"], ip=origin()["ip"])
        return self.response(202, message=message_for("not_my_address_accepted"), number=filed.number)

    @expose("/by-bill/<string:ticket>/code", methods=["POST"])
    def by_bill_code(self, ticket):
        """Registration by bill, step 2: the address confirmed, personal data, phone and consent.
        A code goes to the phone; check it with /auth/register/verify, then finish with
        /registration/by-bill/complete.
        ---
        post:
          summary: Personal data and phone (a code is sent)
          parameters: [{in: path, name: ticket, required: true, schema: {type: string}}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/ByBillPersonSchema'}}}
          responses:
            202:
              content: {application/json: {schema: {$ref: '#/components/schemas/ChallengeSchema'}}}
            422: {description: 'Address not confirmed, no consent, bad phone, email or birth date; ticket
              expired or not valid'}
            429: {description: Cooldown or rate limit (Retry-After)}
        """
        body = ByBillPersonSchema().load(self.json_body())
        challenge = registration_by_bill.request_code(
            ticket, body["address_confirmed"], body["surname"], body["name"], body["patronymic"], body["birth_date"],
            body["email"], body["phone"], body["consent"], ip=origin()["ip"])
        return challenge_response(self, challenge)

    @expose("/by-bill/complete", methods=["POST"])
    def by_bill_complete(self):
        """Registration by bill, last step: the password. The customer is signed in with the
        account linked (verified when the bill matched) and a link to confirm the email is sent.
        ---
        post:
          summary: Set the password and sign in
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/ByBillCompleteSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/TokensSchema'}}}
            409: {description: Already registered (phone_registered) or the code was used}
            422: {description: Weak or mismatched password; code not verified or not from a registration by bill}
        """
        body = ByBillCompleteSchema().load(self.json_body())
        customer, tokens, link = registration_by_bill.complete(body["challenge_id"], body["password"],
                                                               body["password_confirm"], **origin())
        return self.response(201, customer=CustomerBriefSchema().dump(customer),
                             account=AccountSchema().dump(link) if link else None, **tokens)

    @expose("/by-contract", methods=["POST"])
    def by_contract(self):
        """Registration by contract: contract number, email, phone and consent. A password goes by
        SMS to the phone, which must be the contract's; the answer is the same whether or not the
        phone already has an account (its holder learns by SMS).
        ---
        post:
          summary: Register by contract number
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/ByContractSchema'}}}
          responses:
            202: {description: 'The SMS was sent; message: the text to show'}
            404: {description: Unknown contract (contract_unknown)}
            409: {description: At several suppliers (contract_supplier_ambiguous)}
            422: {description: 'Not the contract''s phone (contract_phone_mismatch: the contact centre updates
              it), no consent, bad phone or email'}
            429: {description: Too many attempts from this IP or for this phone (Retry-After)}
        """
        body = ByContractSchema().load(self.json_body())
        phone = registration_by_contract.register(body["contract_number"], body["email"], body["phone"],
                                                  body["consent"], body["supplier"], **origin())
        masked = phones.masked(phone)
        return self.response(202, sent=True, channel="sms", phone=masked,
                             message=message_for("contract_password_sent", {"phone": masked}))
