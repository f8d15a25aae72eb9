"""Client API: payments (BL-4), pay by QR (BL-7), balance top-up (BL-8) and invoices (BL-9).

Every payment answers with the provider's hosted page (``confirmation_url``) where the customer
types the card; the payment is settled by the provider's callback (``app/api/payment_callbacks.py``).
A request is identified by its ``Idempotency-Key`` header (or ``idempotency_key`` in the body):
repeated, it returns the payment it opened (200 instead of 201).
"""
from flask import g, request
from flask_appbuilder.api import expose

from ...services import invoices, payments
from . import accounts_messages, payments_messages  # noqa: F401  (register the error codes)
from .base import ClientApi, customer_required
from .payments_schemas import (
    InvoiceListSchema,
    InvoiceSchema,
    PaymentCreateSchema,
    PaymentListSchema,
    PaymentSchema,
    QrDecodedSchema,
    QrDecodeSchema,
    QrPaySchema,
    TopUpSchema,
)

_payment = PaymentSchema()


def _key(body):
    return request.headers.get("Idempotency-Key") or body.get("idempotency_key")


def _opened(opened):
    payment, created = opened
    return 201 if created else 200, _payment.dump(payment)


class ClientPaymentsApi(ClientApi):
    resource_name = "client/payments"
    route_base = "/api/v1/client/payments"
    openapi_spec_tag = "Client: payments"
    # Nested schemas before the ones that hold them: apispec would otherwise add them twice.
    openapi_spec_component_schemas = (InvoiceSchema, PaymentCreateSchema, PaymentSchema, PaymentListSchema,
                                      QrDecodeSchema, QrDecodedSchema, QrPaySchema, TopUpSchema, InvoiceListSchema)

    @expose("", methods=["POST"])
    @customer_required
    def create(self):
        """Pay several accounts and invoices at once, or everything due (``pay_all``, optionally
        a fixed ``amount`` spread over the accounts by due date). The total is computed here.
        ---
        post:
          summary: Open a payment
          security: [{customer: []}]
          parameters:
          - {in: header, name: Idempotency-Key, schema: {type: string}, description: 'Required here or in the body'}
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/PaymentCreateSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/PaymentSchema'}}}
            200: {description: The payment this idempotency key opened before}
            401: {description: Not signed in}
            403: {description: The account is not verified (account_unverified)}
            404: {description: Not your account (account_not_found) or invoice (invoice_not_found)}
            409: {description: 'Key reused for another request (idempotency_key_reused), invoice paid or
              cancelled (invoice_not_open), nothing due (payment_nothing_due)'}
            422: {description: 'No consent, bad amounts, services not adding up, total differs, key missing'}
        """
        body = self.json_body()
        status, answer = _opened(payments.pay(g.customer, PaymentCreateSchema().load(body), _key(body)))
        return self.response(status, **answer)

    @expose("", methods=["GET"])
    @customer_required
    def list(self):
        """The customer's payments, newest first, and the open invoices to pay.
        ---
        get:
          summary: Payments
          security: [{customer: []}]
          parameters:
          - {in: query, name: page, schema: {type: integer, minimum: 0}}
          - {in: query, name: page_size, schema: {type: integer, minimum: 1, maximum: 100}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/PaymentListSchema'}}}
            401: {description: Not signed in}
        """
        page, page_size = self.page_args()
        total, rows = payments.for_customer(g.customer.id, page, page_size)
        return self.response(200, count=total, page=page, page_size=page_size,
                             result=PaymentSchema(many=True).dump(rows),
                             open_invoices=InvoiceSchema(many=True).dump(invoices.open_for_customer(g.customer.id)))

    @expose("/<string:payment_id>", methods=["GET"])
    @customer_required
    def get(self, payment_id):
        """One of the customer's payments with its items.
        ---
        get:
          summary: A payment
          security: [{customer: []}]
          parameters:
          - {in: path, name: payment_id, required: true, schema: {type: string}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/PaymentSchema'}}}
            401: {description: Not signed in}
            404: {description: Not the customer's payment (payment_not_found)}
        """
        return self.response(200, **_payment.dump(payments.get(g.customer.id, payment_id)))

    @expose("/qr/decode", methods=["POST"])
    @customer_required
    def decode_qr(self):
        """Read a bill's ST00012 payment QR code: the payee's fields, the sum, the account; and,
        when the supplier and account are known and the sum is their bill's, its services to
        choose from.
        ---
        post:
          summary: Decode a payment QR code
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/QrDecodeSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/QrDecodedSchema'}}}
            401: {description: Not signed in}
            422: {description: Not an ST00012 payload (the field errors say what is wrong)}
        """
        body = QrDecodeSchema().load(self.json_body())
        return self.response(200, **QrDecodedSchema().dump(payments.decode_qr(body["payload"])))

    @expose("/qr", methods=["POST"])
    @customer_required
    def pay_qr(self):
        """Pay by a QR code's payload, or its fields typed by hand: any account, linked or not
        (a grandson paying his grandmother's bill); the whole sum or chosen services.
        ---
        post:
          summary: Pay by QR code
          security: [{customer: []}]
          parameters:
          - {in: header, name: Idempotency-Key, schema: {type: string}}
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/QrPaySchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/PaymentSchema'}}}
            200: {description: The payment this idempotency key opened before}
            401: {description: Not signed in}
            409: {description: Key reused for another request (idempotency_key_reused)}
            422: {description: 'Bad payload or fields, no amount, no consent, services of an unknown account'}
        """
        body = self.json_body()
        status, answer = _opened(payments.pay_qr(g.customer, QrPaySchema().load(body), _key(body)))
        return self.response(status, **answer)


class ClientTopUpApi(ClientApi):
    resource_name = "client/top-up"
    route_base = "/api/v1/client/accounts"
    openapi_spec_tag = "Client: payments"

    @expose("/<int:account_id>/top-up", methods=["POST"])
    @customer_required
    def top_up(self, account_id):
        """Put money on a prepaid account in advance.
        ---
        post:
          summary: Top up a prepaid account
          security: [{customer: []}]
          parameters:
          - {in: path, name: account_id, required: true, schema: {type: integer}}
          - {in: header, name: Idempotency-Key, schema: {type: string}}
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/TopUpSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/PaymentSchema'}}}
            200: {description: The payment this idempotency key opened before}
            401: {description: Not signed in}
            403: {description: The account is not verified (account_unverified)}
            404: {description: Not your account (account_not_found)}
            409: {description: 'Not a prepaid account (account_not_prepaid), key reused (idempotency_key_reused)'}
            422: {description: 'Bad amount, no consent, key missing'}
        """
        body = self.json_body()
        status, answer = _opened(payments.top_up(g.customer, account_id, TopUpSchema().load(body), _key(body)))
        return self.response(status, **answer)


class ClientInvoicesApi(ClientApi):
    resource_name = "client/invoices"
    route_base = "/api/v1/client/invoices"
    openapi_spec_tag = "Client: payments"

    @expose("", methods=["GET"])
    @customer_required
    def list(self):
        """Invoices for paid services, open ones first; pay one with an ``{invoice_id}`` item.
        ---
        get:
          summary: Invoices
          security: [{customer: []}]
          parameters:
          - {in: query, name: page, schema: {type: integer, minimum: 0}}
          - {in: query, name: page_size, schema: {type: integer, minimum: 1, maximum: 100}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/InvoiceListSchema'}}}
            401: {description: Not signed in}
        """
        page, page_size = self.page_args()
        total, rows = invoices.for_customer(g.customer.id, page, page_size)
        return self.response(200, count=total, page=page, page_size=page_size,
                             result=InvoiceSchema(many=True).dump(rows))
