"""The power calculator (CL-1): public endpoints for anyone (a calculator is used before
registering), rate-limited per IP, and the signed-in extras of emailing the PDF to the customer
and of starting a grid connection request (PR-1) from the calculation.
"""
import io

from flask import current_app, g, send_file
from flask_appbuilder.api import expose

from ...services import power_calculator, power_calculator_pdf, rate_limits
from ..base import KabinetApi
from ..errors import message_for
from . import bills_messages, power_calculator_messages  # noqa: F401  (register the error codes)
from .base import ClientApi, customer_required, origin
from .power_calculator_schemas import (
    ApplianceListSchema,
    ApplianceSchema,
    CalculationInSchema,
    CalculationSchema,
    CalculationSentSchema,
)
from .requests import request_details  # the same answer as POST /api/v1/client/requests/

_body = CalculationInSchema()
_calculation = CalculationSchema()
_appliances = ApplianceListSchema()


def _calculate():
    body = _body.load(KabinetApi.json_body())
    return power_calculator.calculate(body["items"], body["phases"])


def _dump(calculation):
    return _calculation.dump({
        "items": calculation.items, "installed_kw": calculation.installed_kw, "demand_kw": calculation.demand_kw,
        "recommended_kw": calculation.recommended_kw, "limit_kw": calculation.limit_kw,
        "exceeds_limit": calculation.exceeds_limit, "phases": calculation.phases,
        "suggested_phases": calculation.suggested_phases,
        "notes": [{"code": code, "message": message_for(code)} for code in calculation.notes],
    })


class PublicPowerCalculatorApi(KabinetApi):
    resource_name = "public/power-calculator"
    route_base = "/api/v1/public/power-calculator"
    openapi_spec_tag = "Public: power calculator"
    openapi_spec_component_schemas = (ApplianceSchema, ApplianceListSchema, CalculationInSchema, CalculationSchema)

    @staticmethod
    def _count_ip():
        rate_limits.hit(current_app.config["POWER_CALCULATOR_LIMIT_PER_IP"], "power_calculator_ip",
                        origin()["ip"])

    @expose("/appliances", methods=["GET"])
    def appliances(self):
        """The catalogue of typical household appliances with their power and simultaneity.
        ---
        get:
          summary: Appliances for the power calculator
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/ApplianceListSchema'}}}
            429: {description: Too many requests from this IP (rate_limited); Retry-After}
        """
        self._count_ip()
        found = power_calculator.catalogue()
        return self.response(200, **_appliances.dump({"count": len(found), "result": found}))

    @expose("/calculate", methods=["POST"])
    def calculate(self):
        """The load per appliance, the demand and the connection capacity to ask for (PR-1 is up
        to 15 kW), with a single- or three-phase suggestion. No sign-in needed.
        ---
        post:
          summary: Calculate the required power
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/CalculationInSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/CalculationSchema'}}}
            400: {description: Not a JSON object (not_json)}
            422: {description: 'No lines or more than 100 (power_items_*); per items.N: appliance_unknown,
              appliance_name_required, power_required, power_out_of_range, power_decimals, count_out_of_range,
              simultaneity_out_of_range, simultaneity_decimals; phases_invalid'}
            429: {description: Too many requests from this IP (rate_limited); Retry-After}
        """
        self._count_ip()
        return self.response(200, **_dump(_calculate()))

    @expose("/pdf", methods=["POST"])
    def pdf(self):
        """The same calculation as an A4 PDF to download. No sign-in needed.
        ---
        post:
          summary: The calculation as a PDF
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/CalculationInSchema'}}}
          responses:
            200:
              description: 'attachment; filename="power-calculation-<YYYY-MM-DD>.pdf"'
              content: {application/pdf: {schema: {type: string, format: binary}}}
            400: {description: Not a JSON object (not_json)}
            422: {description: As for /calculate}
            429: {description: Too many requests from this IP (rate_limited); Retry-After}
        """
        self._count_ip()
        data = power_calculator_pdf.render(_calculate())
        return send_file(io.BytesIO(data), mimetype=power_calculator.PDF, as_attachment=True,
                         download_name=power_calculator.pdf_filename())


class ClientPowerCalculatorApi(ClientApi):
    resource_name = "client/power-calculator"
    route_base = "/api/v1/client/power-calculator"
    openapi_spec_tag = "Client: power calculator"
    openapi_spec_component_schemas = (CalculationSentSchema,)

    @expose("/email", methods=["POST"])
    @customer_required
    def email(self):
        """Email the calculation's PDF to the customer's confirmed address (a few per hour).
        ---
        post:
          summary: Send the calculation's PDF by email
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/CalculationInSchema'}}}
          responses:
            202:
              content: {application/json: {schema: {$ref: '#/components/schemas/CalculationSentSchema'}}}
            401: {description: Not signed in}
            409: {description: No confirmed email; confirm it in the profile (email_unconfirmed)}
            422: {description: As for /api/v1/public/power-calculator/calculate}
            429: {description: Too many calculation emails (power_email_limit); Retry-After}
        """
        return self.response(202, sent=True, email=power_calculator.send_pdf(g.customer, _calculate()))

    @expose("/draft", methods=["POST"])
    @customer_required
    def draft(self):
        """Start a grid connection request (PR-1) from the calculation: a draft with the recommended
        power, the phases (three when suggested or chosen) and the calculation filled in; the
        customer completes the object, address and documents and submits it as any draft.
        ---
        post:
          summary: Draft a grid connection request from the calculation
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/CalculationInSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/RequestDetailSchema'}}}
            400: {description: Not a JSON object (not_json)}
            401: {description: Not signed in}
            422: {description: 'As for /api/v1/public/power-calculator/calculate; the load is above 15 kW
              (power_over_pr1_limit)'}
        """
        req = power_calculator.grid_connection_draft(g.customer.id, _calculate())
        return self.response(201, **request_details(req))
