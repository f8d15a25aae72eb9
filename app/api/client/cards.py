"""Client API: saved cards (BL-5). A card is added by a 10-rouble check charge on the payment
provider's page (refunded at once); Kabinet keeps the provider's token, never the number.

Everything acts on ``g.customer``: another customer's card is 404 ``card_not_found``.
"""
from flask import g
from flask_appbuilder.api import expose

from ...services import cards
from . import cards_messages, payments_messages  # noqa: F401  (register the error codes)
from .base import ClientApi, customer_required
from .cards_schemas import CardAddSchema, CardDeletedSchema, CardSchema, CardStartedSchema


class ClientCardsApi(ClientApi):
    resource_name = "client/cards"
    route_base = "/api/v1/client/cards"
    openapi_spec_tag = "Client: cards and autopay"
    openapi_spec_component_schemas = (CardAddSchema, CardSchema, CardStartedSchema, CardDeletedSchema)

    @expose("", methods=["GET"])
    @customer_required
    def list(self):
        """The customer's saved (active) cards, oldest first.
        ---
        get:
          summary: Saved cards
          security: [{customer: []}]
          responses:
            200: {description: 'result: a list of CardSchema'}
            401: {description: Not signed in}
        """
        return self.response(200, result=CardSchema(many=True).dump(cards.active_cards(g.customer.id)))

    @expose("", methods=["POST"])
    @customer_required
    def add(self):
        """Add a card: the answer's confirmation_url opens the provider's page for a 10-rouble
        check charge. When the provider confirms, the card becomes active and the 10 roubles are
        refunded; a declined check leaves it failed (GET /cards/{id} tells which).
        ---
        post:
          summary: Add a card (10-rouble check charge, refunded)
          security: [{customer: []}]
          requestBody:
            content: {application/json: {schema: {$ref: '#/components/schemas/CardAddSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/CardStartedSchema'}}}
            401: {description: Not signed in}
            409: {description: As many cards as allowed (card_limit)}
            422: {description: 'Unknown field, bad return_url (payment_return_url_invalid)'}
        """
        body = CardAddSchema().load(self.json_body())
        card, url = cards.start_check(g.customer, body["return_url"])
        return self.response(201, **CardStartedSchema().dump({"card": card, "confirmation_url": url}))

    @expose("/<card_id>", methods=["GET"])
    @customer_required
    def get(self, card_id):
        """One card, any status: an app polls it after the provider's page to learn the check's outcome.
        ---
        get:
          summary: A card and its status
          security: [{customer: []}]
          parameters:
          - {in: path, name: card_id, required: true, schema: {type: string}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/CardSchema'}}}
            401: {description: Not signed in}
            404: {description: Not one of the customer's cards, or deleted (card_not_found)}
        """
        return self.response(200, **CardSchema().dump(cards.own(g.customer.id, card_id)))

    @expose("/<card_id>", methods=["DELETE"])
    @customer_required
    def delete(self, card_id):
        """Delete a card: its token is forgotten and the autopays using it are cancelled (listed
        in the answer).
        ---
        delete:
          summary: Delete a card (cancels its autopays)
          security: [{customer: []}]
          parameters:
          - {in: path, name: card_id, required: true, schema: {type: string}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/CardDeletedSchema'}}}
            401: {description: Not signed in}
            404: {description: Not one of the customer's cards, or already deleted (card_not_found)}
        """
        cancelled = cards.delete(g.customer.id, card_id)
        return self.response(200, **CardDeletedSchema().dump({"id": card_id, "cancelled_autopays": cancelled}))
