"""Client API: bills of the customer's accounts (BL-1), the smart bill (BL-3), the bill PDF, its
payment QR code and sending it by email (BL-2), and e-bills per account.

Everything acts on ``g.customer``: a bill of an account the customer has not linked is 404
``bill_not_found``, an account not linked 404 ``account_not_found``.
"""

from flask import Response, g, request
from flask_appbuilder.api import expose

from ...services import bills, ebills, periods
from . import accounts_messages, bills_messages, profile_messages  # noqa: F401  (register the error codes)
from .base import ClientApi, customer_required
from .bills_schemas import (
    BillDetailSchema,
    BillLineSchema,
    BillPaymentSchema,
    BillQuerySchema,
    BillSchema,
    BillSentSchema,
    EbillSchema,
    EbillUpdateSchema,
    SmartBillLineSchema,
    SmartBillSchema,
    TariffSchema,
)


def _dump(schema, rows):
    """Bills with their paid / unpaid status."""
    statuses = bills.statuses(rows)
    return [dict(schema.dump(bill), status=statuses[bill.id]) for bill in rows]


def _file(data, mimetype, filename=None):
    """A bill's file: never cached by shared caches (it is personal data)."""
    headers = {"Cache-Control": "private, no-store"}
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return Response(data, mimetype=mimetype, headers=headers)


class ClientBillsApi(ClientApi):
    resource_name = "client/bills"
    route_base = "/api/v1/client"
    openapi_spec_tag = "Client: bills"
    # Nested schemas before the ones holding them, or apispec adds them twice.
    openapi_spec_component_schemas = (
        BillLineSchema, TariffSchema, BillPaymentSchema, SmartBillLineSchema, BillSchema, BillDetailSchema,
        SmartBillSchema, BillSentSchema, EbillSchema, EbillUpdateSchema,
    )

    @expose("/accounts/<int:account_id>/bills", methods=["GET"])
    @customer_required
    def of_account(self, account_id):
        """The account's bills, newest period first (any linked account, verified or not).
        ---
        get:
          summary: Bills of an account
          security: [{customer: []}]
          parameters:
          - {in: path, name: account_id, required: true, schema: {type: integer}}
          - {in: query, name: page, schema: {type: integer, minimum: 0, default: 0}}
          - {in: query, name: page_size, schema: {type: integer, minimum: 1, maximum: 100, default: 12}}
          responses:
            200: {description: 'result: a list of BillSchema; count: all bills of the account'}
            401: {description: Not signed in}
            404: {description: Not one of the customer's accounts (account_not_found)}
            422: {description: Bad paging (page_invalid, page_size_invalid)}
        """
        args = BillQuerySchema().load(request.args.to_dict())
        rows, count = bills.of_account(g.customer.id, account_id, page=args["page"], page_size=args["page_size"])
        return self.response(200, result=_dump(BillSchema(), rows), count=count,
                             page=args["page"], page_size=args["page_size"])

    @expose("/bills/<int:bill_id>", methods=["GET"])
    @customer_required
    def get(self, bill_id):
        """One bill with its lines: service, unit, tariff, volume, charge, benefit, recalculation, total.
        ---
        get:
          summary: A bill with its lines
          security: [{customer: []}]
          parameters:
          - {in: path, name: bill_id, required: true, schema: {type: integer}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/BillDetailSchema'}}}
            401: {description: Not signed in}
            404: {description: Not a bill of the customer's accounts (bill_not_found)}
        """
        bill = bills.get(g.customer.id, bill_id)
        return self.response(200, **_dump(BillDetailSchema(), [bill])[0])

    @expose("/bills/<int:bill_id>/details", methods=["GET"])
    @customer_required
    def details(self, bill_id):
        """The smart bill: per line the calculation rule, its legal reference and the tariffs in
        force in the period; the account's payments of the last 12 months (Kabinet and elsewhere).
        ---
        get:
          summary: Smart bill (calculation rules, tariffs, payment history)
          security: [{customer: []}]
          parameters:
          - {in: path, name: bill_id, required: true, schema: {type: integer}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/SmartBillSchema'}}}
            401: {description: Not signed in}
            404: {description: Not a bill of the customer's accounts (bill_not_found)}
        """
        found = bills.details(g.customer.id, bill_id, periods.local_today())
        bill = found["bill"]
        lines = [dict(BillLineSchema().dump(item["line"]),
                      calculation_rule=item["service"].calculation_rule if item["service"] else "",
                      legal_reference=item["service"].legal_reference if item["service"] else "",
                      tariffs=TariffSchema(many=True).dump(item["tariffs"]))
                 for item in found["lines"]]
        return self.response(200, bill=_dump(BillDetailSchema(), [bill])[0], lines=lines,
                             payments=BillPaymentSchema(many=True).dump(found["payments"]))

    @expose("/bills/<int:bill_id>/pdf", methods=["GET"])
    @customer_required
    def pdf(self, bill_id):
        """The bill as a PDF with its payment QR code (any closed period: every bill there is).
        ---
        get:
          summary: The bill's PDF
          security: [{customer: []}]
          parameters:
          - {in: path, name: bill_id, required: true, schema: {type: integer}}
          responses:
            200:
              description: 'attachment; filename="bill-<account number>-<YYYY-MM>.pdf"'
              content: {application/pdf: {schema: {type: string, format: binary}}}
            401: {description: Not signed in}
            404: {description: Not a bill of the customer's accounts (bill_not_found)}
        """
        filename, data = bills.pdf(g.customer.id, bill_id)
        return _file(data, bills.PDF, filename)

    @expose("/bills/<int:bill_id>/qr", methods=["GET"])
    @customer_required
    def qr(self, bill_id):
        """The bill's payment QR code (ST00012, GOST R 56042-2014) as a PNG image.
        ---
        get:
          summary: The bill's payment QR code
          security: [{customer: []}]
          parameters:
          - {in: path, name: bill_id, required: true, schema: {type: integer}}
          responses:
            200:
              content: {image/png: {schema: {type: string, format: binary}}}
            401: {description: Not signed in}
            404: {description: Not a bill of the customer's accounts (bill_not_found)}
        """
        return _file(bills.qr_png(g.customer.id, bill_id), "image/png")

    @expose("/bills/<int:bill_id>/qr-payload", methods=["GET"])
    @customer_required
    def qr_payload(self, bill_id):
        """The text the payment QR code holds (``ST00012|Name=…|PersonalAcc=…|…``).
        ---
        get:
          summary: The bill's ST00012 payment payload
          security: [{customer: []}]
          parameters:
          - {in: path, name: bill_id, required: true, schema: {type: integer}}
          responses:
            200: {description: 'payload: the ST00012 text'}
            401: {description: Not signed in}
            404: {description: Not a bill of the customer's accounts (bill_not_found)}
        """
        return self.response(200, payload=bills.qr_payload(g.customer.id, bill_id))

    @expose("/bills/<int:bill_id>/send", methods=["POST"])
    @customer_required
    def send(self, bill_id):
        """Email the bill's PDF to the customer's confirmed address (a few per hour).
        ---
        post:
          summary: Send the bill's PDF by email
          security: [{customer: []}]
          parameters:
          - {in: path, name: bill_id, required: true, schema: {type: integer}}
          requestBody:
            content: {application/json: {schema: {type: object}}}
          responses:
            202:
              content: {application/json: {schema: {$ref: '#/components/schemas/BillSentSchema'}}}
            401: {description: Not signed in}
            404: {description: Not a bill of the customer's accounts (bill_not_found)}
            409: {description: No confirmed email; confirm it in the profile (email_unconfirmed)}
            429: {description: Too many bill emails (bill_email_limit); Retry-After}
        """
        return self.response(202, sent=True, email=bills.send_pdf(g.customer, bill_id))

    @expose("/accounts/<int:account_id>/ebill", methods=["PUT"])
    @customer_required
    def ebill(self, account_id):
        """Turn e-bills of an account on or off: each new bill's PDF goes to the confirmed email
        once. Turning on needs a confirmed email.
        ---
        put:
          summary: E-bills of an account
          security: [{customer: []}]
          parameters:
          - {in: path, name: account_id, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/EbillUpdateSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/EbillSchema'}}}
            401: {description: Not signed in}
            404: {description: Not one of the customer's accounts (account_not_found)}
            409: {description: No confirmed email; confirm it in the profile (email_unconfirmed)}
            422: {description: enabled is not true or false, or an unknown field}
        """
        body = EbillUpdateSchema().load(self.json_body())
        link = ebills.set_ebill(g.customer, account_id, body["enabled"])
        return self.response(200, **EbillSchema().dump({"account_id": link.account_id, "ebill": link.ebill,
                                                        "email": g.customer.email if link.ebill else None}))
