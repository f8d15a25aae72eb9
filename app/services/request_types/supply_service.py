"""PR-7 additional supply services: the customer orders one from a short list for one of their
accounts; the process ``supply_service`` gives it to an operator, who reports it done."""
from .. import account_access
from . import RequestType, base_data, register

SERVICES = {
    "meter_replacement": "Замена прибора учёта",
    "meter_sealing": "Опломбирование прибора учёта",
    "reconnection": "Возобновление подачи электроэнергии",
    "no_debt_certificate": "Справка об отсутствии задолженности",
    "power_increase": "Консультация по увеличению мощности",
}


def _process_data(req, customer):
    form = req.form_data
    link = account_access.link(customer.id, form["account_id"])
    req.account_id = link.account_id
    return {**base_data(req, customer), "service": form["service"], "service_title": SERVICES[form["service"]],
            "account_number": link.account.number, "account_address": link.account.address,
            "comment": form.get("comment", "")}


register(RequestType(
    key="supply_service",
    process_key="supply_service",
    titles={"ru": "Дополнительные услуги энергоснабжения", "en": "Additional supply services"},
    schema={
        "type": "object",
        "required": ["service", "account_id"],
        "additionalProperties": False,
        "properties": {
            "service": {"type": "string", "enum": list(SERVICES), "title": "Услуга"},
            "account_id": {"type": "integer", "minimum": 1, "title": "Лицевой счёт"},
            "comment": {"type": "string", "maxLength": 1000, "title": "Комментарий"},
        },
    },
    process_data=_process_data,
    office=False,
))
