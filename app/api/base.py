"""The base of Kabinet's REST resources: FAB security, the one error shape, JSON parsing."""
from flask import g, request
from flask_appbuilder.api import BaseApi

from ..errors import DomainError, Invalid
from .errors import error_response


# Deeper pages are refused: an offset past any real list would only overflow the database's integer.
MAX_PAGE = 100_000


class KabinetApi(BaseApi):
    allow_browser_login = True

    def response_400(self, message=None):
        return error_response(400, "bad_request", message=message if isinstance(message, str) else None)

    def response_401(self):
        return error_response(401, "unauthorized")

    def response_403(self):
        return error_response(403, "forbidden")

    def response_404(self):
        return error_response(404, "not_found")

    def response_422(self, message=None):
        return error_response(422, "validation_error")

    @staticmethod
    def json_body():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise DomainError("not_json")
        return body

    @staticmethod
    def page_args():
        fields = {}
        try:
            page = int(request.args.get("page", 0))
            page_size = int(request.args.get("page_size", 50))
        except ValueError:
            raise Invalid(fields={"page": ["page and page_size must be integers"]}) from None
        if not 0 <= page <= MAX_PAGE:
            fields["page"] = [f"must be between 0 and {MAX_PAGE}"]
        if not 1 <= page_size <= 100:
            fields["page_size"] = ["must be between 1 and 100"]
        if fields:
            raise Invalid(fields=fields)
        return page, page_size

    @staticmethod
    def response_error(status, fields):
        return error_response(status, "validation_error", fields)

    @staticmethod
    def actor():
        return g.user.username
