"""PR-8 callback order: the contact centre calls the customer back on a topic within the window
they chose (a day and a time range, in the deployment's time zone). The process ``callback``
gives an operator the task "call back", due when the window ends; past it, an administrator
gets it. The result (reached or not, with a note) completes the request."""
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app

from ...errors import Invalid
from .. import appeal_topics, periods, phones
from . import RequestType, base_data, register
from .appeal import TOPIC_PROPERTIES

MAX_DAYS_AHEAD = 30
_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _refuse(field, code, **params):
    raise Invalid("request_form_invalid", fields={f"form_data.{field}": [code]}, **params)


def _window(form):
    """(start, end) of the window as aware datetimes; 422 when it is not a future range."""
    try:
        day = date.fromisoformat(form["date"])
    except ValueError:
        _refuse("date", "request_field_invalid")
    start_time, end_time = time.fromisoformat(form["time_from"]), time.fromisoformat(form["time_to"])
    if end_time <= start_time:
        _refuse("time_to", "callback_window_invalid")
    zone = ZoneInfo(current_app.config["TIME_ZONE"])
    start, end = datetime.combine(day, start_time, zone), datetime.combine(day, end_time, zone)
    if end <= datetime.now(zone):
        _refuse("date", "callback_window_past")
    if day > periods.local_today() + timedelta(days=MAX_DAYS_AHEAD):
        _refuse("date", "callback_window_too_far", days=MAX_DAYS_AHEAD)
    return start, end


def _process_data(req, customer):
    form = req.form_data
    topic = appeal_topics.resolve(form)
    phone = phones.normalise(form["phone"], field="form_data.phone") if form.get("phone") else customer.phone
    start, end = _window(form)
    # Seconds from now to the window's end: the call task's due time, as a named deadline a
    # deployment (or a test) may shorten.
    seconds = max(1, int((end - datetime.now(end.tzinfo)).total_seconds()))
    return {**base_data(req, customer), **topic, "callback_phone": phone, "comment": form.get("comment", ""),
            "window": f"{start:%d.%m.%Y} {start:%H:%M}–{end:%H:%M}",
            "window_start": start.isoformat(), "window_end": end.isoformat(), "call_within": f"PT{seconds}S"}


register(RequestType(
    key="callback",
    process_key="callback",
    titles={"ru": "Обратный звонок", "en": "Callback"},
    schema={
        "type": "object",
        "required": ["date", "time_from", "time_to"],
        "additionalProperties": False,
        "properties": {
            "phone": {"type": "string", "maxLength": 32, "title": "Телефон",
                      "description": "by default the customer's own"},
            **TOPIC_PROPERTIES,
            "date": {"type": "string", "format": "date", "title": "Дата звонка"},
            "time_from": {"type": "string", "pattern": _HHMM, "title": "Удобно с (ЧЧ:ММ)"},
            "time_to": {"type": "string", "pattern": _HHMM, "title": "Удобно до (ЧЧ:ММ)"},
            "comment": {"type": "string", "maxLength": 500, "title": "Комментарий"},
        },
    },
    process_data=_process_data,
    office=False,
))
