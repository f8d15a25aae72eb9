"""Client API: subscriptions (SPEC PR-7) — outage notifications, e-bills, SMS informing for a
security object. Everything acts on ``g.customer``: another customer's subscription is 404."""
from flask import g
from flask_appbuilder.api import expose

from ...services import subscriptions
from . import accounts_messages, bills_messages, requests_messages, subscriptions_messages  # noqa: F401
from .base import ClientApi, customer_required
from .subscriptions_schemas import SubscriptionCreateSchema, SubscriptionListSchema, SubscriptionSchema


class ClientSubscriptionsApi(ClientApi):
    resource_name = "client/subscriptions"
    route_base = "/api/v1/client/subscriptions"
    openapi_spec_tag = "Client: subscriptions"
    openapi_spec_component_schemas = (SubscriptionCreateSchema, SubscriptionSchema, SubscriptionListSchema)

    @expose("", methods=["GET"])
    @customer_required
    def list(self):
        """The customer's subscriptions: outage notifications, SMS informing (pending or active)
        and e-bills of their accounts.
        ---
        get:
          summary: Own subscriptions
          security: [{customer: []}]
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/SubscriptionListSchema'}}}
            401: {description: Not signed in}
        """
        return self.response(200, **SubscriptionListSchema().dump({"result": subscriptions.list_own(g.customer.id)}))

    @expose("", methods=["POST"])
    @customer_required
    def create(self):
        """Subscribe. ``outage``: a channel and either one of the customer's accounts or an
        address. ``ebill``: an account (turns its e-bills on, as the e-bills switch does).
        ``security_sms``: an account of a security supplier, a phone and a start date; this files
        a ``security_sms`` request and the subscription stays ``pending`` until a manager
        activates it.
        ---
        post:
          summary: Subscribe
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/SubscriptionCreateSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/SubscriptionSchema'}}}
            401: {description: Not signed in}
            404: {description: Not one of the customer's accounts (account_not_found)}
            409: {description: 'Duplicate (subscription_exists), email not confirmed (email_unconfirmed)'}
            422: {description: 'Bad kind, channel, address, phone or date; no target; not a security account'}
        """
        body = SubscriptionCreateSchema().load(self.json_body())
        return self.response(201, **SubscriptionSchema().dump(subscriptions.create(g.customer, body)))

    @expose("/<subscription_id>", methods=["DELETE"])
    @customer_required
    def delete(self, subscription_id):
        """Unsubscribe. ``ebill-<account>`` turns that account's e-bills off; a pending SMS
        informing closes its request.
        ---
        delete:
          summary: Unsubscribe
          security: [{customer: []}]
          parameters:
          - {in: path, name: subscription_id, required: true, schema: {type: string}}
          responses:
            204: {description: Deleted}
            401: {description: Not signed in}
            404: {description: Not one of the customer's subscriptions (subscription_not_found)}
        """
        subscriptions.delete(g.customer, subscription_id)
        return self.response(204)
