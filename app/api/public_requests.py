"""The public status check of a service request (PR-9): GET /api/v1/public/requests/<number>.

No sign-in: anyone holding the number (typed, or read from the printed QR code / barcode, whose
payload is the number) sees the status and when it changed, nothing else, so office-filed
requests can be checked too. Limited per IP against walking the number space; a number whose
check digit is wrong is refused before any lookup.
"""
from flask import current_app, request
from flask_appbuilder.api import expose

from ..services import rate_limits, service_requests
from .base import KabinetApi
from .client import requests_messages  # noqa: F401  (the refusals' texts)
from .client.requests_schemas import PublicStatusSchema

_status = PublicStatusSchema()


class PublicRequestStatusApi(KabinetApi):
    resource_name = "public/requests"
    route_base = "/api/v1/public/requests"
    openapi_spec_tag = "Public: request status"
    openapi_spec_component_schemas = (PublicStatusSchema,)
    allow_browser_login = False

    @expose("/<string:number>", methods=["GET"])
    def status(self, number):
        """The status of a request by its number, without signing in.
        ---
        get:
          summary: Request status by number
          parameters:
          - {in: path, name: number, required: true, schema: {type: string, example: KB-2026-000123-3}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/PublicStatusSchema'}}}
            404: {description: No such request (request_not_found)}
            422: {description: Malformed or a wrong check digit (request_number_invalid)}
            429: {description: Too many checks from this address (rate_limited, Retry-After)}
        """
        rate_limits.hit(current_app.config["REQUEST_STATUS_LIMIT_PER_IP"], "request_status_ip", request.remote_addr)
        found = service_requests.public_status(number)
        return self.response(200, **_status.dump(found._asdict()))
