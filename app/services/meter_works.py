"""The meter registry updated from field works (SPEC PR-2, MT-1): a technician's result of an
installation, a replacement or a verification becomes the account's meters and their dates.

Run by the service task ``meter.record_work`` of the processes ``meter_works`` and
``meter_verification``. The meter and the account come from the request the instance serves (its
business key), never from the process's parameters: a process cannot touch another customer's
meter. Every update is written so that running it again (a retried job) changes nothing more.
"""
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from ..extensions import db
from ..models.accounts import Account, SupplierService
from ..models.meters import Meter, Reading
from ..models.requests import ServiceRequest
from ..workflows.service_tasks import PermanentFailure, handler
from . import meters, periods, request_numbers

WORKS = ("installation", "replacement", "verification")
SERIAL_MAX = 64


def record(business_key, work, result):
    """Apply ``result`` (``serial``, ``verified_on``, ``interval_years``, ``initial_reading``,
    ``done_on``) of ``work`` to the registry for the request numbered ``business_key``.
    ``LookupError`` / ``ValueError`` for what retrying cannot fix."""
    if work not in WORKS:
        raise ValueError(f"'work' must be one of {WORKS}")
    if not request_numbers.looks_like(business_key):
        # Started by hand or by a test, not from a request: there is no meter to update.
        return {"skipped": f"{business_key!r} is not a request number"}
    req = db.session.execute(select(ServiceRequest).where(ServiceRequest.number == business_key)).scalar_one_or_none()
    if req is None or req.account_id is None:
        raise LookupError(f"no service request numbered {business_key!r} with an account")
    verified_on = _date(result.get("verified_on"), "verified_on")
    interval = _interval(result.get("interval_years"))
    if work == "verification":
        meter = _request_meter(req)
        _verified(meter, verified_on, interval)
        db.session.flush()
        return {"meter_id": meter.id, "next_verification_on": meter.next_verification_on.isoformat()}
    serial = str(result.get("serial") or "").strip()
    if not serial or len(serial) > SERIAL_MAX:
        raise ValueError(f"'serial' must be 1 to {SERIAL_MAX} characters")
    done_on = _date(result.get("done_on"), "done_on")
    old = _request_meter(req) if work == "replacement" else None
    if old is not None and old.serial == serial:
        raise ValueError("the new meter's serial is the replaced meter's serial")
    new = db.session.execute(
        select(Meter).where(Meter.account_id == req.account_id, Meter.serial == serial)
    ).scalar_one_or_none()
    repeated = new is not None  # this job's earlier run (or the same meter recorded before)
    if new is None:
        new = _new_meter(req, old, serial, done_on)
        _verified(new, verified_on, interval)
        db.session.add(new)
        db.session.flush()
        _initial_reading(new, result.get("initial_reading"), done_on)
    if old is not None:
        old.active = False
    db.session.flush()
    found = {"meter_id": new.id, "serial": new.serial, "next_verification_on": new.next_verification_on.isoformat()}
    if old is not None:
        found["replaced_meter_id"] = old.id
    if repeated:
        found["repeated"] = True
    return found


def _request_meter(req):
    meter = db.session.get(Meter, req.form_data.get("meter_id") or 0)
    if meter is None or meter.account_id != req.account_id:
        raise LookupError(f"request {req.number} names no meter of its account")
    return meter


def _new_meter(req, old, serial, done_on):
    if old is not None:  # the new meter takes the old one's place and meaning
        return Meter(account_id=old.account_id, kind=old.kind, serial=serial, service_id=old.service_id,
                     zones=old.zones, decimals=old.decimals, custom_name=old.custom_name, location=old.location,
                     installed_on=done_on)
    form = req.form_data
    account = db.session.get(Account, req.account_id)
    service = db.session.execute(
        select(SupplierService.id).where(SupplierService.supplier_id == account.supplier_id,
                                         SupplierService.meter_kind == form["meter_kind"])
    ).scalars().first()
    # Water, heat and gas meters show litres (3 decimals); electricity meters tenths or hundredths.
    return Meter(account_id=account.id, kind=form["meter_kind"], serial=serial, service_id=service,
                 zones=form.get("zones", 1), decimals=2 if form["meter_kind"] == "electricity" else 3,
                 location=form.get("location", ""), installed_on=done_on)


def _verified(meter, verified_on, interval):
    meter.last_verified_on = verified_on
    meter.verification_interval_years = interval
    meter.next_verification_on = None
    meter.next_verification_on = meters.next_verification(meter)


def _initial_reading(meter, value, done_on):
    """The reading the new meter starts from, so the first submission is compared with it."""
    if value is None:
        return
    try:
        value = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("'initial_reading' must be a number") from None
    for zone in range(1, meter.zones + 1):
        db.session.add(Reading(meter_id=meter.id, period=periods.month_start(done_on), zone=zone, value=value,
                               source="staff"))


def _date(value, name):
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"'{name}' must be an ISO date") from None


def _interval(value):
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 25:
        raise ValueError("'interval_years' must be a whole number of years, 1 to 25")
    return value


@handler("meter.record_work")
def record_work(params, context):
    """``work`` (installation / replacement / verification) and the technician's result
    (``serial``, ``verified_on``, ``interval_years``, ``initial_reading``, ``done_on``)
    become the request's meter in the registry."""
    try:
        return record(context.business_key, params.get("work"), params)
    except (LookupError, ValueError) as exc:
        raise PermanentFailure(str(exc)) from None
