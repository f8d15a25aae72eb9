"""PR-5 a paid service from the catalogue: the customer picks an active service and describes
the job; the process ``paid_service`` has the provider agree the final price (not below the
service's minimum) in the chat, asks the customer to accept it, bills, and has it done."""
from .. import paid_services
from . import RequestType, base_data, register


def _process_data(req, customer):
    service = paid_services.orderable(req.form_data["service_id"])
    return {**base_data(req, customer), "service_id": service.id, "service_name": service.name,
            "service_unit": service.unit, "category_name": service.category.name,
            # a number, compared with the provider's price by the process; the text for notes
            "min_price": float(service.min_price), "min_price_text": f"{service.min_price:.2f}",
            "description": req.form_data.get("description", ""),
            # what the provider's form may leave out, and the count of prices sent back as too low
            "price_comment": "", "price_refused": "", "price_refusals": 0}


register(RequestType(
    key="paid_service",
    process_key="paid_service",
    titles={"ru": "Платная услуга", "en": "Paid service"},
    schema={
        "type": "object",
        "required": ["service_id"],
        "additionalProperties": False,
        "properties": {
            "service_id": {"type": "integer", "minimum": 1, "title": "Услуга",
                           "description": "из каталога GET /api/v1/public/paid-services"},
            "description": {"type": "string", "maxLength": 2000, "title": "Что нужно сделать"},
        },
    },
    process_data=_process_data,
    office=False,
))
