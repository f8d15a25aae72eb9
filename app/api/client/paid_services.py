"""The paid services catalogue for customers' apps (SPEC PR-5, PR-4), without signing in: the
catalogue is shown before ordering, and the order itself is a service request
(``paid_service`` or ``electrician_callout``, see ``requests.py``)."""
from flask_appbuilder.api import expose

from ...services import paid_services
from ..base import KabinetApi
from . import paid_services_messages  # noqa: F401  (register the error codes the request kinds raise)
from .paid_services_schemas import (
    CalloutPricesSchema,
    PaidServiceCatalogueSchema,
    PaidServiceCategorySchema,
    PaidServiceSchema,
)

_catalogue = PaidServiceCatalogueSchema()
_prices = CalloutPricesSchema()


class PublicPaidServicesApi(KabinetApi):
    resource_name = "public/paid-services"
    route_base = "/api/v1/public/paid-services"
    openapi_spec_tag = "Public: paid services"
    openapi_spec_component_schemas = (PaidServiceSchema, PaidServiceCategorySchema, PaidServiceCatalogueSchema,
                                      CalloutPricesSchema)
    allow_browser_login = False

    @expose("/", methods=["GET"])
    def catalogue(self):
        """The active paid services grouped by category, in display order; each category with
        its lowest price. Order one with a `paid_service` request (`form_data.service_id`).
        ---
        get:
          summary: Paid services catalogue
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/PaidServiceCatalogueSchema'}}}
        """
        result = [{"id": category.id, "name": category.name, "description": category.description,
                   "min_price": lowest, "services": services}
                  for category, services, lowest in paid_services.catalogue()]
        return self.response(200, **_catalogue.dump({"count": len(result), "result": result}))

    @expose("/electrician-callout", methods=["GET"])
    def callout_prices(self):
        """What an electrician's visit costs for each urgency, shown before the customer orders
        an `electrician_callout` request.
        ---
        get:
          summary: Electrician call-out prices
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/CalloutPricesSchema'}}}
        """
        return self.response(200, **_prices.dump({**paid_services.callout_prices(), "currency": "RUB"}))
