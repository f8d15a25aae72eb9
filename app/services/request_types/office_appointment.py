"""PR-10 a visit to an office: the form names the office, the service and the slot; submitting
holds the slot (services/appointments.py) and the process ``office_appointment`` confirms,
reminds before the visit and has an operator receive the visitor. Closing frees the slot."""
from .. import appointments, offices
from . import RequestType, base_data, register


def _process_data(req, customer):
    form = req.form_data
    office, appointment, start = appointments.hold(req, customer.id, form["office_id"], form["service"], form["slot"])
    return {**base_data(req, customer), "office_id": office.id, "office_name": office.name,
            "office_address": office.address, "service": appointment.service,
            "service_title": offices.SERVICES.get(appointment.service, {}).get("ru", appointment.service),
            "visit_at": start.strftime("%d.%m.%Y %H:%M"), "visit_starts": start.isoformat(),
            "reminder_in": appointments.reminder_in(appointment.starts_at)}


def _on_close(req):
    # Looked up when called: appointments imports service_requests, which imports this package.
    appointments.release(req)


register(RequestType(
    key="office_appointment",
    process_key="office_appointment",
    titles={"ru": "Запись на приём в офис", "en": "Office appointment"},
    schema={
        "type": "object",
        "required": ["office_id", "service", "slot"],
        "additionalProperties": False,
        "properties": {
            "office_id": {"type": "integer", "minimum": 1, "title": "Офис"},
            "service": {"type": "string", "enum": sorted(offices.SERVICES), "title": "Услуга"},
            "slot": {"type": "string", "maxLength": 40, "title": "Время приёма",
                     "description": "начало свободного интервала из /api/v1/client/appointments/slots"},
        },
    },
    process_data=_process_data,
    office=False,
    listed=False,
    on_close=_on_close,
))
