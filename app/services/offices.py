"""Customer offices (SPEC CT-3, PR-10): opening hours, services and the grid of visit slots.

Opening hours are kept as an editor types them, ``"mon-fri 09:00-18:00; sat 10:00-15:00"``, and
parsed here for the slot grid and the API. Slots are in the deployment's ``TIME_ZONE`` (the
customer's calendar), stored in UTC.
"""
import re
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from ..errors import NotFound
from ..extensions import db
from ..models.offices import Office

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# What a visit can be booked for; an office offers some of them (Office.services).
SERVICES = {
    "consultation": {"ru": "Консультация", "en": "Consultation"},
    "documents": {"ru": "Приём документов", "en": "Documents"},
    "contract": {"ru": "Заключение договора", "en": "Supply contract"},
    "payments": {"ru": "Сверка расчётов", "en": "Payments and debts"},
    "meters": {"ru": "Приборы учёта", "en": "Meters"},
}
# How far ahead a visit can be booked.
BOOKING_DAYS_AHEAD = 30

_PART = re.compile(r"^([a-z,-]+) (\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def _days(spec, part):
    """``"mon-fri"``, ``"sat"`` or ``"mon,wed-thu"`` → weekday numbers."""
    days = []
    for item in spec.split(","):
        first, _, last = item.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(f"«{part}»: дни недели — {', '.join(WEEKDAYS)}")
        days.extend(range(WEEKDAYS.index(first), WEEKDAYS.index(last or first) + 1))
    return days


def parse_hours(text):
    """``"mon-fri 09:00-18:00; sat 10:00-15:00"`` → ``{0: (time(9), time(18)), …, 5: (…)}``
    (Monday is 0). ValueError with a message an editor can act on."""
    hours = {}
    for part in filter(None, (p.strip().lower() for p in (text or "").split(";"))):
        found = _PART.match(re.sub(r"\s+", " ", part))
        if not found:
            raise ValueError(f"«{part}»: нужно вида «mon-fri 09:00-18:00»")
        spec, h1, m1, h2, m2 = found.groups()
        try:
            opens, closes = time(int(h1), int(m1)), time(int(h2), int(m2))
        except ValueError:
            raise ValueError(f"«{part}»: время — от 00:00 до 23:59") from None
        if opens >= closes:
            raise ValueError(f"«{part}»: офис закрывается позже, чем открывается")
        for day in _days(spec, part):
            if day in hours:
                raise ValueError(f"«{WEEKDAYS[day]}» указан дважды")
            hours[day] = (opens, closes)
    return hours


def parse_services(text):
    return [code.strip() for code in (text or "").split(",") if code.strip()]


def hours_by_weekday(office):
    """For the API: ``{"mon": {"opens": "09:00", "closes": "18:00"}, …}``, closed days absent."""
    return {WEEKDAYS[day]: {"opens": opens.strftime("%H:%M"), "closes": closes.strftime("%H:%M")}
            for day, (opens, closes) in sorted(parse_hours(office.opening_hours).items())}


def zone():
    return ZoneInfo(current_app.config["TIME_ZONE"])


def to_utc(local):
    """An aware datetime → naive UTC (how the database keeps times)."""
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def to_local(utc_naive):
    return utc_naive.replace(tzinfo=timezone.utc).astimezone(zone())


def active_offices():
    return db.session.execute(select(Office).where(Office.active.is_(True)).order_by(Office.name)).scalars().all()


def active_office(office_id):
    office = db.session.get(Office, office_id) if isinstance(office_id, int) else None
    if office is None or not office.active:
        raise NotFound("office_not_found", id=office_id)
    return office


def slot_grid(office, day):
    """Every slot start (aware, in TIME_ZONE) of ``day`` in the office's hours: from opening,
    one per ``slot_minutes``, the last one ending by closing time."""
    hours = parse_hours(office.opening_hours).get(day.weekday())
    if hours is None or office.slot_minutes <= 0:
        return []
    tz, length = zone(), timedelta(minutes=office.slot_minutes)
    start = datetime.combine(day, hours[0], tz)
    closes = datetime.combine(day, hours[1], tz)
    slots = []
    while start + length <= closes:
        slots.append(start)
        start += length
    return slots
