"""A customer's meters (MT-1): the list per account, the customer's own names, verification dates.

A meter is reached only through the customer's link to its account (``account_access``); a
meter of an account the customer has not linked is "not found", like an unknown id.
"""

from flask import current_app
from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import joinedload

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models.accounts import Account, CustomerAccount, Supplier
from ..models.meters import Meter, Reading
from . import account_access

NAME_MAX = 64


# Built once, and the customer's link in the same statement: reading submissions start here
# (see customer_sessions for why). A meter of an account not linked finds no row.
_METER = (select(Meter, CustomerAccount)
          .join(CustomerAccount, (CustomerAccount.account_id == Meter.account_id)
                & (CustomerAccount.customer_id == bindparam("customer_id")))
          .options(joinedload(Meter.account).joinedload(Account.supplier))
          .where(Meter.id == bindparam("meter_id")))


def customer_meter(customer_id, meter_id, verified=False):
    """``(meter, link)`` for the customer's meter, its account and supplier loaded; 404
    ``meter_not_found`` for unknown meters and meters of accounts the customer has not linked;
    with ``verified``, 403 ``account_unverified`` until the link is verified (ID-2)."""
    row = db.session.execute(_METER, {"meter_id": meter_id, "customer_id": customer_id}).one_or_none()
    if row is None:
        raise NotFound("meter_not_found", id=meter_id)
    meter, found = row
    if verified:
        account_access.require_verified(found, meter.account.number)
    return meter, found


# What a reading submission needs, as one row of plain columns: the hot path of MT-2 loads no
# ORM objects (docs/PERFORMANCE.md: the ORM's loading was half the endpoint's time).
def _submittable_statement():
    # Table columns, not ORM attributes: the statement then skips the ORM's execution path.
    meter, account, supplier, link = (Meter.__table__.c, Account.__table__.c, Supplier.__table__.c,
                                      CustomerAccount.__table__.c)
    return (select(meter.id, meter.zones, meter.decimals, meter.active, meter.serial, account.number,
                   supplier.reading_window_start_day, supplier.reading_window_end_day,
                   supplier.abnormal_consumption_factor, link.verified_at)
            .join_from(Meter.__table__, Account.__table__, account.id == meter.account_id)
            .join(Supplier.__table__, supplier.id == account.supplier_id)
            .join(CustomerAccount.__table__, (link.account_id == meter.account_id)
                  & (link.customer_id == bindparam("customer_id")))
            .where(meter.id == bindparam("meter_id")))


_SUBMITTABLE = _submittable_statement()


def submittable_meter(customer_id, meter_id):
    """The meter with its supplier's window and factor, for submitting: 404 ``meter_not_found``,
    403 ``account_unverified`` (ID-2), 409 ``meter_inactive`` for a removed meter."""
    meter = db.session.execute(_SUBMITTABLE, {"meter_id": meter_id, "customer_id": customer_id}).one_or_none()
    if meter is None:
        raise NotFound("meter_not_found", id=meter_id)
    account_access.require_verified(meter, meter.number)
    if not meter.active:
        raise Conflict("meter_inactive", serial=meter.serial)
    return meter


def next_verification(meter):
    """The due date of the next verification: as imported, else last verification + interval."""
    if meter.next_verification_on or not (meter.last_verified_on and meter.verification_interval_years):
        return meter.next_verification_on
    last = meter.last_verified_on
    year = last.year + meter.verification_interval_years
    return last.replace(year=year, day=28) if (last.month, last.day) == (2, 29) else last.replace(year=year)


def verification_due_soon(due, today):
    """Due within ``METER_VERIFICATION_REMINDER_DAYS`` (or overdue)."""
    return due is not None and (due - today).days <= current_app.config["METER_VERIFICATION_REMINDER_DAYS"]


def last_readings(meter_ids):
    """``{meter_id: [latest Reading of each zone, by zone]}`` in one query."""
    if not meter_ids:
        return {}
    latest = (select(Reading.meter_id, Reading.zone, func.max(Reading.period).label("period"))
              .where(Reading.meter_id.in_(meter_ids)).group_by(Reading.meter_id, Reading.zone).subquery())
    rows = db.session.execute(
        select(Reading).join(latest, and_(Reading.meter_id == latest.c.meter_id, Reading.zone == latest.c.zone,
                                          Reading.period == latest.c.period))
        .order_by(Reading.meter_id, Reading.zone)
    ).scalars()
    found = {meter_id: [] for meter_id in meter_ids}
    for reading in rows:
        found[reading.meter_id].append(reading)
    return found


def describe(meters, today):
    """What the client shows of each meter: its data, verification dates and last readings."""
    latest = last_readings([meter.id for meter in meters])
    described = []
    for meter in meters:
        due = next_verification(meter)
        described.append({
            "id": meter.id, "account_id": meter.account_id, "kind": meter.kind, "serial": meter.serial,
            "name": meter.custom_name, "location": meter.location, "zones": meter.zones, "decimals": meter.decimals,
            "active": meter.active, "last_verified_on": meter.last_verified_on,
            "verification_interval_years": meter.verification_interval_years, "next_verification_on": due,
            "verification_due_soon": verification_due_soon(due, today), "last_readings": latest[meter.id],
        })
    return described


def account_meters(customer_id, account_id):
    """``(link, active meters)`` of one of the customer's accounts (404 ``account_not_found``)."""
    found = account_access.link(customer_id, account_id)
    meters = db.session.execute(
        select(Meter).where(Meter.account_id == account_id, Meter.active.is_(True)).order_by(Meter.kind, Meter.serial)
    ).scalars().all()
    return found, meters


def rename(customer_id, meter_id, name):
    """Set the customer's own name for a meter: trimmed, at most 64 characters; empty or None
    clears it (the app shows the kind and serial again)."""
    meter, _link = customer_meter(customer_id, meter_id)
    name = (name or "").strip() or None
    if name is not None and len(name) > NAME_MAX:
        raise Invalid(fields={"name": ["meter_name_too_long"]}, max=NAME_MAX)
    meter.custom_name = name
    db.session.commit()
    return meter
