"""Submitting meter readings (MT-2) and their history.

A submission gives a value for every tariff zone of a meter for the current period (the month
of "today" in ``TIME_ZONE``). It is refused, in this order, when:

* the customer's link to the account is not verified (403 ``account_unverified``);
* today is outside the supplier's window, day ``start``..``end`` inclusive, clamped to the
  month's length (409 ``reading_window_closed``, with the next window's dates);
* a zone is missing, unknown or repeated, a value is negative, too large or has more decimals
  than the meter shows (422, codes per field);
* a value is lower than the zone's previous reading, the latest of an earlier period (422
  ``reading_below_previous``: the customer is told to file an appeal);
* the consumption is abnormal, above ``supplier.abnormal_consumption_factor`` × the zone's
  average monthly consumption × the months since the previous reading, and the customer did not
  confirm it (409 ``reading_abnormal``; nothing saved). The average is taken over the last six
  intervals between readings of earlier periods; with fewer than two readings there is none and
  nothing is abnormal.

One row per meter, zone and period: submitting again inside the window edits the rows (and
clears ``exported_at`` so the billing export sends them again). Two submissions racing for the
same new rows meet at the unique constraint; the loser retries once and edits what the winner wrote.
"""
import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models.meters import Reading
from ..models.workflow import utcnow
from . import meters, uploads
from .periods import add_months, local_today, month_start

MAX_VALUE = Decimal(10) ** 9
# Intervals between earlier readings that make the average (six months of a monthly reader).
AVERAGE_INTERVALS = 6


@dataclass(frozen=True)
class Window:
    period: date
    opens: date
    closes: date

    def contains(self, day):
        return self.opens <= day <= self.closes


@dataclass
class Submission:
    meter_id: int
    period: date
    # Per zone: zone, value, previous_value, consumption, abnormal, submitted_at, updated_at, photo
    readings: list
    created: bool  # False when the submission edited the period's readings


def window(supplier, period):
    """The supplier's submission window in ``period``'s month (days past the month's end clamp to it)."""
    last = calendar.monthrange(period.year, period.month)[1]
    return Window(period, period.replace(day=min(supplier.reading_window_start_day, last)),
                  period.replace(day=min(supplier.reading_window_end_day, last)))


def next_window(supplier, today):
    """The window of today's month, or of the next month once today's has closed."""
    current = window(supplier, month_start(today))
    return current if today <= current.closes else window(supplier, add_months(current.period, 1))


def _months_between(earlier, later):
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def _check_values(meter, values):
    """``{zone: (index, value)}`` from the parsed ``[{zone, value}]``, or 422 with codes per entry."""
    entries, given, problems = {}, set(), {}
    step = Decimal(1).scaleb(-meter.decimals)
    for index, entry in enumerate(values):
        zone, value, codes = entry["zone"], entry["value"], {}
        if not 1 <= zone <= meter.zones:
            codes["zone"] = ["zone_invalid"]
        elif zone in given:
            codes["zone"] = ["zone_duplicate"]
        given.add(zone)
        if value < 0:
            codes["value"] = ["value_negative"]
        elif value >= MAX_VALUE:
            codes["value"] = ["value_too_large"]
        elif value != value.quantize(step):
            codes["value"] = ["value_decimals"]
        if codes:
            problems[str(index)] = codes
        else:
            entries[zone] = (index, value)
    missing = [zone for zone in range(1, meter.zones + 1) if zone not in given]
    if missing and not any("zone" in codes for codes in problems.values()):
        problems["_schema"] = ["zones_missing"]
    if problems:
        raise Invalid(fields={"values": problems}, zones=meter.zones, decimals=meter.decimals,
                      missing=", ".join(map(str, missing)))
    return entries


# Built once (see customer_sessions for why); enough rows for the average in every zone.
_READING = Reading.__table__  # Core statements on the table skip the ORM's execution path
_RECENT = (select(_READING.c.id, _READING.c.period, _READING.c.zone, _READING.c.value, _READING.c.source,
                  _READING.c.photo_path, _READING.c.submitted_at, _READING.c.updated_at)
           .where(_READING.c.meter_id == bindparam("meter_id"), _READING.c.period <= bindparam("period"))
           .order_by(_READING.c.period.desc()).limit(bindparam("rows")))
_CHANGED = ("value", "previous_value", "consumption", "abnormal", "source", "customer_id", "updated_at",
            "exported_at")
_INSERT = _READING.insert().values(
    {name: bindparam(name) for name in ("meter_id", "period", "zone", "submitted_at", "photo_path") + _CHANGED})
_UPDATE = _READING.update().where(_READING.c.id == bindparam("row_id")).values(
    {name: bindparam(name) for name in _CHANGED})
_UPDATE_WITH_PHOTO = _READING.update().where(_READING.c.id == bindparam("row_id")).values(
    {name: bindparam(name) for name in _CHANGED + ("photo_path",)})


def _earlier_and_current(meter, period):
    """Per zone: the readings of earlier periods (newest first, enough for the average) and the
    period's own row if there is one, in one query."""
    rows = db.session.execute(
        _RECENT, {"meter_id": meter.id, "period": period, "rows": (AVERAGE_INTERVALS + 2) * meter.zones})
    earlier, current = {}, {}
    for reading in rows:
        if reading.period == period:
            current[reading.zone] = reading
        else:
            earlier.setdefault(reading.zone, []).append(reading)
    return earlier, current


def average_monthly(earlier):
    """The average monthly consumption over the last six intervals of ``earlier`` (newest
    first), or None with fewer than two readings or a meter that ran backwards (replaced)."""
    if len(earlier) < 2:
        return None
    newest, oldest = earlier[0], earlier[min(AVERAGE_INTERVALS, len(earlier) - 1)]
    months = _months_between(oldest.period, newest.period)
    used = newest.value - oldest.value
    return used / months if months > 0 and used >= 0 else None


def _fmt(value, decimals):
    return f"{value:.{decimals}f}"


def _assess(meter, period, entries, earlier, confirm_abnormal):
    """Per zone ``(previous, consumption, abnormal)``; refuses readings below the previous and
    unconfirmed abnormal consumption."""
    factor = meter.abnormal_consumption_factor
    assessed, below, abnormal = {}, [], []
    for zone, (index, value) in sorted(entries.items()):
        history = earlier.get(zone, [])
        previous = history[0] if history else None
        if previous is None:
            assessed[zone] = (None, None, False)
            continue
        if value < previous.value:
            below.append((index, zone, value, previous.value))
            continue
        consumption = value - previous.value
        average = average_monthly(history)
        is_abnormal = average is not None and consumption > factor * average * _months_between(previous.period, period)
        if is_abnormal:
            abnormal.append((index, zone, consumption, average))
        assessed[zone] = (previous.value, consumption, is_abnormal)
    if below:
        index, zone, value, previous = below[0]
        raise Invalid("reading_below_previous",
                      fields={"values": {str(i): {"value": ["value_below_previous"]} for i, *_ in below}},
                      zone=zone, value=_fmt(value, meter.decimals), previous=_fmt(previous, meter.decimals),
                      zones=[{"zone": z, "previous": _fmt(p, meter.decimals)} for _i, z, _v, p in below])
    if abnormal and not confirm_abnormal:
        _index, zone, consumption, average = abnormal[0]
        raise Conflict("reading_abnormal",
                       fields={"values": {str(i): {"value": ["value_abnormal"]} for i, *_ in abnormal}},
                       zone=zone, consumption=_fmt(consumption, 3), average=_fmt(average, 3),
                       zones=[{"zone": z, "consumption": _fmt(c, 3), "average": _fmt(a, 3)}
                              for _i, z, c, a in abnormal])
    return assessed


def _write(meter, period, customer_id, entries, assessed, current, photo_path):
    """Insert or edit the period's rows; returns ``(the readings as shown, created, replaced photo
    paths)``. A row another submission inserted first raises IntegrityError (the caller retries)."""
    now, shown, replaced, created = utcnow(), [], set(), False
    for zone, (_index, value) in sorted(entries.items()):
        previous, consumption, abnormal = assessed[zone]
        row = current.get(zone)
        values = {"value": value, "previous_value": previous, "consumption": consumption, "abnormal": abnormal,
                  "source": "customer", "customer_id": customer_id, "updated_at": now, "exported_at": None}
        if row is None:
            db.session.execute(_INSERT, {"meter_id": meter.id, "period": period, "zone": zone, "submitted_at": now,
                                         "photo_path": photo_path, **values})
            created, submitted_at, photo = True, now, photo_path
        elif row.value == value and row.source == "customer" and not photo_path:
            # The same reading again (a double tap): nothing to export again.
            shown.append({"zone": zone, "value": row.value, "previous_value": previous, "consumption": consumption,
                          "abnormal": abnormal, "submitted_at": row.submitted_at, "updated_at": row.updated_at,
                          "photo": row.photo_path is not None})
            continue
        else:
            if photo_path and row.photo_path:
                replaced.add(row.photo_path)
            db.session.execute(_UPDATE_WITH_PHOTO if photo_path else _UPDATE,
                               {"row_id": row.id, **values, **({"photo_path": photo_path} if photo_path else {})})
            submitted_at, photo = row.submitted_at, photo_path or row.photo_path
        shown.append({"zone": zone, "value": value, "previous_value": previous, "consumption": consumption,
                      "abnormal": abnormal, "submitted_at": submitted_at, "updated_at": now, "photo": photo is not None})
    return shown, created, replaced


def submit(customer_id, meter_id, values, confirm_abnormal=False, photo=None, today=None):
    """Submit (or, inside the window, correct) the current period's readings of a meter.

    ``values``: ``[{"zone": int, "value": Decimal}]``; ``photo``: the bytes of a JPEG or PNG.
    Returns a :class:`Submission`.
    """
    today = today or local_today()
    stored = None
    try:
        for attempt in (1, 2):
            meter = meters.submittable_meter(customer_id, meter_id)
            span = window(meter, month_start(today))
            if not span.contains(today):
                upcoming = next_window(meter, today)
                raise Conflict("reading_window_closed", opens=upcoming.opens.isoformat(),
                               closes=upcoming.closes.isoformat())
            entries = _check_values(meter, values)
            earlier, current = _earlier_and_current(meter, span.period)
            assessed = _assess(meter, span.period, entries, earlier, confirm_abnormal)
            if photo is not None and stored is None:
                stored = uploads.store(photo, "readings", field="photo")
            try:
                shown, created, replaced = _write(meter, span.period, customer_id, entries, assessed, current,
                                                  stored and stored.path)
                db.session.commit()
                break
            except IntegrityError:
                # Another submission inserted the period's rows first: edit them instead.
                db.session.rollback()
                if attempt == 2:
                    raise
    except BaseException:
        db.session.rollback()
        if stored:
            uploads.delete(stored.path)
        raise
    for path in replaced - {stored and stored.path}:
        uploads.delete(path)
    return Submission(meter_id, span.period, shown, created)


def history(customer_id, meter_id, page=0, page_size=50):
    """``(count, [(period, [Reading by zone])])``: the meter's readings grouped by period, newest
    first, ``page_size`` periods per page (``page_size=3`` gives the last three submissions)."""
    meter, _link = meters.customer_meter(customer_id, meter_id)
    periods = select(Reading.period).where(Reading.meter_id == meter.id).group_by(Reading.period)
    count = db.session.execute(select(func.count()).select_from(periods.subquery())).scalar_one()
    chosen = list(db.session.execute(
        periods.order_by(Reading.period.desc()).offset(page * page_size).limit(page_size)).scalars())
    grouped = {period: [] for period in chosen}
    if chosen:
        for reading in db.session.execute(
                select(Reading).where(Reading.meter_id == meter.id, Reading.period.in_(chosen))
                .order_by(Reading.zone)).scalars():
            grouped[reading.period].append(reading)
    return meter, count, list(grouped.items())


def photo(customer_id, meter_id, period):
    """The stored path of the photo sent with the meter's readings of ``period`` (404 ``photo_not_found``)."""
    meter, _link = meters.customer_meter(customer_id, meter_id)
    path = db.session.execute(
        select(Reading.photo_path).where(Reading.meter_id == meter.id, Reading.period == period,
                                         Reading.photo_path.is_not(None)).limit(1)
    ).scalar_one_or_none()
    if path is None:
        raise NotFound("photo_not_found")
    return path
