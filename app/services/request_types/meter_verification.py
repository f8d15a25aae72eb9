"""PR-2 meter verification: the customer names one of their meters; the process
``meter_verification`` schedules, verifies and reports."""
from .. import meters, periods
from . import RequestType, base_data, register


def _process_data(req, customer):
    meter, _link = meters.customer_meter(customer.id, req.form_data["meter_id"])
    req.account_id = meter.account_id
    due = meters.next_verification(meter)
    return {**base_data(req, customer), "meter_serial": meter.serial, "meter_kind": meter.kind,
            "overdue": bool(due and due < periods.local_today()), "comment": req.form_data.get("comment", "")}


register(RequestType(
    key="meter_verification",
    process_key="meter_verification",
    titles={"ru": "Поверка прибора учёта", "en": "Meter verification"},
    schema={
        "type": "object",
        "required": ["meter_id"],
        "additionalProperties": False,
        "properties": {
            "meter_id": {"type": "integer", "minimum": 1, "title": "Прибор учёта"},
            "comment": {"type": "string", "maxLength": 1000, "title": "Комментарий"},
        },
    },
    process_data=_process_data,
    office=False,
))
