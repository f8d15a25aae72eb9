"""PR-2 meter installation and replacement: the customer names the account (and the kind of
meter) or the meter to replace, the reason and when suits them; the process ``meter_works``
offers slots, sends a technician and updates the meter registry from the result."""
# meter_works registers the service task meter.record_work these processes call
from .. import account_access, meter_works, meters, periods  # noqa: F401
from . import RequestType, base_data, register

KINDS = ["electricity", "cold_water", "hot_water", "heat", "gas"]
TIMES = ["09:00-12:00", "12:00-15:00", "15:00-18:00"]
DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
# What the customer may say about when suits them: up to three dates and a time of day.
PREFERENCES = {
    "preferred_dates": {"type": "array", "items": DATE, "minItems": 1, "maxItems": 3, "uniqueItems": True,
                        "title": "Удобные даты"},
    "preferred_time": {"type": "string", "enum": TIMES, "title": "Удобное время"},
    "comment": {"type": "string", "maxLength": 1000, "title": "Комментарий"},
}


def _preferences(form):
    return {"preferred_dates": form.get("preferred_dates", []), "preferred_time": form.get("preferred_time", ""),
            "comment": form.get("comment", "")}


def _installation_data(req, customer):
    found = account_access.link(customer.id, req.form_data["account_id"])
    req.account_id = found.account_id
    return {**base_data(req, customer), **_preferences(req.form_data), "work": "installation",
            "account_number": found.account.number, "address": found.account.address,
            "meter_kind": req.form_data["meter_kind"], "meter_serial": "", "overdue": False,
            "reason": req.form_data.get("reason", "")}


def _replacement_data(req, customer):
    meter, found = meters.customer_meter(customer.id, req.form_data["meter_id"])
    req.account_id = meter.account_id
    due = meters.next_verification(meter)
    return {**base_data(req, customer), **_preferences(req.form_data), "work": "replacement",
            "account_number": meter.account.number, "address": meter.account.address,
            "meter_kind": meter.kind, "meter_serial": meter.serial,
            "overdue": bool(due and due < periods.local_today()), "reason": req.form_data["reason"]}


register(RequestType(
    key="meter_installation",
    process_key="meter_works",
    titles={"ru": "Установка прибора учёта", "en": "Meter installation"},
    schema={
        "type": "object",
        "required": ["account_id", "meter_kind"],
        "additionalProperties": False,
        "properties": {
            "account_id": {"type": "integer", "minimum": 1, "title": "Лицевой счёт"},
            "meter_kind": {"type": "string", "enum": KINDS, "title": "Вид прибора"},
            "zones": {"type": "integer", "minimum": 1, "maximum": 3, "title": "Тарифных зон"},
            "location": {"type": "string", "maxLength": 128, "title": "Место установки"},
            "reason": {"type": "string", "enum": ["new_connection", "no_meter", "other"], "title": "Причина"},
            **PREFERENCES,
        },
        # Only an electricity meter counts by zones of the day.
        "if": {"required": ["meter_kind"], "properties": {"meter_kind": {"not": {"const": "electricity"}}}},
        "then": {"properties": {"zones": {"const": 1}}},
    },
    process_data=_installation_data,
    office=False,
))

register(RequestType(
    key="meter_replacement",
    process_key="meter_works",
    titles={"ru": "Замена прибора учёта", "en": "Meter replacement"},
    schema={
        "type": "object",
        "required": ["meter_id", "reason"],
        "additionalProperties": False,
        "properties": {
            "meter_id": {"type": "integer", "minimum": 1, "title": "Прибор учёта"},
            "reason": {"type": "string", "title": "Причина",
                       "enum": ["broken", "verification_failed", "verification_expired", "upgrade", "other"]},
            **PREFERENCES,
        },
    },
    process_data=_replacement_data,
    office=False,
))
