"""PR-3 CT/VT verification: the current or voltage transformers (ТТ / ТН) of one of the
customer's accounts; the process ``ct_vt_verification`` schedules the visit, records the
result and issues the protocol as a PDF."""
from .. import account_access
from . import RequestType, base_data, register
from .meter_works import DATE, PREFERENCES

LABELS = {"current": "трансформаторы тока (ТТ)", "voltage": "трансформаторы напряжения (ТН)"}


def _process_data(req, customer):
    form = req.form_data
    found = account_access.link(customer.id, form["account_id"])
    req.account_id = found.account_id
    return {**base_data(req, customer), "account_number": found.account.number, "address": found.account.address,
            "transformer_kind": form["transformer_kind"], "transformer_label": LABELS[form["transformer_kind"]],
            "count": form["count"], "model": form.get("model", ""), "ratio": form["ratio"],
            "last_verified_on": form.get("last_verified_on", ""),
            "preferred_dates": form.get("preferred_dates", []), "preferred_time": form.get("preferred_time", ""),
            "comment": form.get("comment", "")}


register(RequestType(
    key="ct_vt_verification",
    process_key="ct_vt_verification",
    titles={"ru": "Поверка трансформаторов тока и напряжения", "en": "CT/VT verification"},
    schema={
        "type": "object",
        "required": ["account_id", "transformer_kind", "count", "ratio"],
        "additionalProperties": False,
        "properties": {
            "account_id": {"type": "integer", "minimum": 1, "title": "Лицевой счёт"},
            "transformer_kind": {"type": "string", "enum": list(LABELS), "title": "Трансформаторы"},
            "count": {"type": "integer", "minimum": 1, "maximum": 12, "title": "Количество"},
            "model": {"type": "string", "maxLength": 64, "title": "Тип (марка)"},
            # primary / secondary, e.g. 200/5 (A) or 10000/100 (V)
            "ratio": {"type": "string", "pattern": r"^\d{1,6}(\.\d{1,3})?/\d{1,6}(\.\d{1,3})?$", "maxLength": 32,
                      "title": "Коэффициент трансформации"},
            "last_verified_on": {**DATE, "title": "Дата последней поверки"},
            **PREFERENCES,
        },
    },
    process_data=_process_data,
    office=False,
))
