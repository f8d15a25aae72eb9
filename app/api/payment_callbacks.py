"""The payment provider's callback: POST /api/v1/payments/callback/<provider>.

No customer or staff token: the provider's signature over the raw body is the authentication
(``services/payment_callbacks.py``). Answers 200 for an applied, already settled or replayed
event, so the provider stops retrying; 403 forged, 404 unknown payment, 409 amount mismatch.
"""
from flask import request
from flask_appbuilder.api import expose

from ..services import payment_callbacks
from .base import KabinetApi
from .client import payments_messages  # noqa: F401  (the refusals' texts)


class PaymentCallbackApi(KabinetApi):
    resource_name = "payments"
    route_base = "/api/v1/payments"
    openapi_spec_tag = "Payment provider"
    allow_browser_login = False

    @expose("/callback/<string:provider>", methods=["POST"])
    def callback(self, provider):
        """The provider reports a payment's outcome (signed).
        ---
        post:
          summary: Payment provider callback
          parameters:
          - {in: path, name: provider, required: true, schema: {type: string}}
          requestBody:
            required: true
            content: {application/json: {schema: {type: object}}}
          responses:
            200: {description: 'Applied, already settled, or a replayed event (nothing changed)'}
            403: {description: Signature wrong or stale (payment_callback_forged)}
            404: {description: Unknown provider or payment}
            409: {description: The amount differs from the payment's (payment_amount_mismatch)}
            422: {description: The event is malformed}
        """
        outcome = payment_callbacks.handle(provider, request.get_data(cache=False), request.headers,
                                           ip=request.remote_addr)
        return self.response(200, status=outcome)
