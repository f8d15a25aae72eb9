"""PR-4 electrician call-out: the customer gives the address, the problem, the urgency and a
phone, and may attach photos to the request; the price of the visit for that urgency is known
in advance (``paid_services.callout_prices``) and goes to the process ``electrician_callout``,
which schedules the visit, issues the completion act and bills the final amount."""
from sqlalchemy import func, select

from ...extensions import db
from ...models.requests import RequestAttachment
from .. import paid_services
from . import RequestType, base_data, register

URGENCY_LABELS = {"normal": "в течение суток", "urgent": "срочно, в течение 2 часов"}


def _process_data(req, customer):
    form = req.form_data
    price = paid_services.callout_prices()[form["urgency"]]
    photos = db.session.execute(
        select(func.count()).select_from(RequestAttachment).where(RequestAttachment.request_id == req.id)
    ).scalar()
    data = base_data(req, customer)
    if form.get("phone"):
        data["customer_phone"] = form["phone"]  # the number the electrician calls before coming
    return {**data, "address": form["address"], "problem": form["problem"], "urgency": form["urgency"],
            "urgency_label": URGENCY_LABELS[form["urgency"]], "callout_price": f"{price:.2f}", "photos": photos,
            "materials": ""}  # the electrician's form may leave it out; the act reads it


register(RequestType(
    key="electrician_callout",
    process_key="electrician_callout",
    titles={"ru": "Вызов электрика", "en": "Electrician call-out"},
    schema={
        "type": "object",
        "required": ["address", "problem", "urgency"],
        "additionalProperties": False,
        "properties": {
            "address": {"type": "string", "minLength": 5, "maxLength": 300, "title": "Адрес"},
            "problem": {"type": "string", "minLength": 3, "maxLength": 2000, "title": "Что случилось"},
            "urgency": {"type": "string", "enum": list(paid_services.URGENCIES), "title": "Срочность",
                        "description": "normal — в течение суток, urgent — в течение 2 часов (дороже); "
                                       "цены: GET /api/v1/public/paid-services/electrician-callout"},
            "phone": {"type": "string", "pattern": r"^\+7\d{10}$", "title": "Телефон для связи",
                      "description": "если не тот, что в профиле"},
        },
    },
    process_data=_process_data,
    # Billed to the customer's account in Kabinet: not for office walk-ins without one.
    office=False,
))
