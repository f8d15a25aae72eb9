"""Client API: autopay (BL-6): an account paid monthly from a saved card, from next month on the
day it was set up; its history of monthly runs; cancelling it.

Everything acts on ``g.customer``: another customer's autopay is 404 ``autopay_not_found``, an
account not linked 404 ``account_not_found``, an unverified one 403 ``account_unverified``.
"""
from flask import g
from flask_appbuilder.api import expose

from ...services import autopay
from . import accounts_messages, autopay_messages, cards_messages  # noqa: F401  (register the error codes)
from .autopay_schemas import (
    AutopayCreateSchema,
    AutopayHistorySchema,
    AutopayPaymentSchema,
    AutopayRunSchema,
    AutopaySchema,
)
from .base import ClientApi, customer_required


class ClientAutopayApi(ClientApi):
    resource_name = "client/autopay"
    route_base = "/api/v1/client/autopay"
    openapi_spec_tag = "Client: cards and autopay"
    openapi_spec_component_schemas = (
        AutopayCreateSchema, AutopaySchema, AutopayPaymentSchema, AutopayRunSchema, AutopayHistorySchema,
    )

    @expose("", methods=["GET"])
    @customer_required
    def list(self):
        """The customer's autopays, active first, then newest first.
        ---
        get:
          summary: Autopays
          security: [{customer: []}]
          parameters:
          - {in: query, name: page, schema: {type: integer, minimum: 0, default: 0}}
          - {in: query, name: page_size, schema: {type: integer, minimum: 1, maximum: 100, default: 50}}
          responses:
            200: {description: 'result: a list of AutopaySchema; count: all of the customer''s autopays'}
            401: {description: Not signed in}
            422: {description: Bad paging}
        """
        page, page_size = self.page_args()
        rows, count = autopay.of_customer(g.customer.id, page=page, page_size=page_size)
        return self.response(200, result=AutopaySchema(many=True).dump(rows), count=count,
                             page=page, page_size=page_size)

    @expose("", methods=["POST"])
    @customer_required
    def create(self):
        """Set up autopay of a linked, verified account from an active saved card: monthly from
        next month on today's day of the month (29–31: the last day of shorter months), a fixed
        amount or, without one, what the account owes on the day (nothing owed: that month is
        skipped).
        ---
        post:
          summary: Set up autopay
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/AutopayCreateSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/AutopaySchema'}}}
            401: {description: Not signed in}
            403: {description: The account is not verified (account_unverified)}
            404: {description: 'Not the customer''s account (account_not_found) or card (card_not_found)'}
            409: {description: 'The account has an active autopay (autopay_exists); the card is not active
              (card_not_active)'}
            422: {description: 'Missing or unknown field, bad amount (autopay_amount_invalid), no consent
              (autopay_consent_required)'}
        """
        body = AutopayCreateSchema().load(self.json_body())
        created = autopay.create(g.customer, body["account_id"], body["card_id"], amount=body["amount"])
        return self.response(201, **AutopaySchema().dump(created))

    @expose("/<autopay_id>/history", methods=["GET"])
    @customer_required
    def history(self, autopay_id):
        """The autopay and its monthly runs, newest first, each with its payment.
        ---
        get:
          summary: Autopay history
          security: [{customer: []}]
          parameters:
          - {in: path, name: autopay_id, required: true, schema: {type: string}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/AutopayHistorySchema'}}}
            401: {description: Not signed in}
            404: {description: Not one of the customer's autopays (autopay_not_found)}
        """
        found, runs = autopay.history(g.customer.id, autopay_id)
        rows = [{"period": run.period, "status": run.status, "error": run.error, "run_at": run.run_at,
                 "payment": payment} for run, payment in runs]
        return self.response(200, **AutopayHistorySchema().dump({"autopay": found, "runs": rows}))

    @expose("/<autopay_id>", methods=["DELETE"])
    @customer_required
    def cancel(self, autopay_id):
        """Cancel the autopay (its history stays).
        ---
        delete:
          summary: Cancel autopay
          security: [{customer: []}]
          parameters:
          - {in: path, name: autopay_id, required: true, schema: {type: string}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/AutopaySchema'}}}
            401: {description: Not signed in}
            404: {description: Not one of the customer's autopays (autopay_not_found)}
            409: {description: Already cancelled (autopay_cancelled)}
        """
        return self.response(200, **AutopaySchema().dump(autopay.cancel(g.customer.id, autopay_id)))
