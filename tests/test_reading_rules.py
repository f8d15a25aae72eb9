"""The rules of submitting readings (MT-2), through the service with "today" given, on SQLite
and PostgreSQL: window, access, zones and decimals, never below the previous reading, abnormal
consumption, one row per period edited inside the window, photos, and a race on PostgreSQL."""
import os
import threading
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.models.customers import Customer
from app.models.meters import Meter, Reading
from app.models.workflow import utcnow
from app.services import readings
from app.services.periods import add_months
from tests.support.billing import link, make_account, make_meter, make_reading, make_supplier
from tests.support.customers import new_phone

NOV = date(2026, 11, 1)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def make_customer(**values):
    customer = Customer(phone=new_phone(), full_name="Петров Пётр Петрович", consent_at=utcnow(), **values)
    db.session.add(customer)
    db.session.flush()
    return customer


def setup_meter(verified=True, zones=1, decimals=2, history=(), **supplier):
    """A customer linked to an account with one meter; ``history``: (period, value[, zone]) readings."""
    supplier = make_supplier(**{"reading_window_start_day": 15, "reading_window_end_day": 25, **supplier})
    account = make_account(supplier)
    meter = make_meter(account, zones=zones, decimals=decimals)
    for period, value, *zone in history:
        make_reading(meter, period, value, zone=zone[0] if zone else 1)
    customer = make_customer()
    link(customer.id, account, verified=verified)
    db.session.commit()
    return customer.id, meter.id


def rows(meter_id):
    db.session.expire_all()
    return db.session.execute(select(Reading).where(Reading.meter_id == meter_id)
                              .order_by(Reading.period, Reading.zone)).scalars().all()


def submit(customer_id, meter_id, *values, today=date(2026, 11, 20), **options):
    entries = [{"zone": zone, "value": Decimal(str(value))} for zone, value in values]
    return readings.submit(customer_id, meter_id, entries, today=today, **options)


def monthly(start, values):
    """Readings of consecutive months from ``start``: [(period, value)]."""
    return [(add_months(start, index), value) for index, value in enumerate(values)]


# --- window ------------------------------------------------------------------------------------

@pytest.mark.parametrize("day, accepted", [(14, False), (15, True), (25, True), (26, False)])
def test_readings_only_inside_the_window_inclusive(ctx, day, accepted):
    customer_id, meter_id = setup_meter()
    if accepted:
        done = submit(customer_id, meter_id, (1, 10), today=date(2026, 11, day))
        assert done.created and done.period == NOV
        assert [(r.period, r.value) for r in rows(meter_id)] == [(NOV, Decimal("10.000"))]
        return
    with pytest.raises(Conflict) as refused:
        submit(customer_id, meter_id, (1, 10), today=date(2026, 11, day))
    assert refused.value.code == "reading_window_closed"
    # before the window: this month's; after it: next month's
    expected = ("2026-11-15", "2026-11-25") if day < 15 else ("2026-12-15", "2026-12-25")
    assert (refused.value.params["opens"], refused.value.params["closes"]) == expected
    assert rows(meter_id) == []


def test_window_days_past_the_month_end_clamp_to_it(ctx):
    customer_id, meter_id = setup_meter(reading_window_start_day=25, reading_window_end_day=31)
    submit(customer_id, meter_id, (1, 5), today=date(2026, 2, 28))
    with pytest.raises(Conflict) as refused:
        submit(customer_id, meter_id, (1, 6), today=date(2026, 2, 24))
    assert refused.value.params == {"opens": "2026-02-25", "closes": "2026-02-28"}


# --- access ------------------------------------------------------------------------------------

def test_unverified_link_cannot_submit(ctx):
    customer_id, meter_id = setup_meter(verified=False)
    with pytest.raises(Forbidden) as refused:
        submit(customer_id, meter_id, (1, 10))
    assert refused.value.code == "account_unverified"
    assert rows(meter_id) == []


def test_another_customers_meter_is_not_found(ctx):
    _owner, meter_id = setup_meter()
    stranger, _other = setup_meter()
    for meter in (meter_id, 10**9):
        with pytest.raises(NotFound) as refused:
            submit(stranger, meter, (1, 10))
        assert refused.value.code == "meter_not_found"
    assert rows(meter_id) == []


def test_removed_meter_takes_no_readings(ctx):
    customer_id, meter_id = setup_meter()
    db.session.get(Meter, meter_id).active = False
    db.session.commit()
    with pytest.raises(Conflict) as refused:
        submit(customer_id, meter_id, (1, 10))
    assert refused.value.code == "meter_inactive"


# --- values ------------------------------------------------------------------------------------

@pytest.mark.parametrize("values, fields", [
    ([(1, 10)], {"_schema": ["zones_missing"]}),
    ([(1, 10), (3, 5)], {"1": {"zone": ["zone_invalid"]}}),
    ([(1, 10), (1, 11), (2, 3)], {"1": {"zone": ["zone_duplicate"]}}),
    ([(1, "10.125"), (2, 3)], {"0": {"value": ["value_decimals"]}}),
    ([(1, -1), (2, 3)], {"0": {"value": ["value_negative"]}}),
    ([(1, 10**9), (2, 3)], {"0": {"value": ["value_too_large"]}}),
    ([(0, 1), (1, 10), (2, 3)], {"0": {"zone": ["zone_invalid"]}}),
])
def test_values_are_checked_per_zone(ctx, values, fields):
    customer_id, meter_id = setup_meter(zones=2)
    with pytest.raises(Invalid) as refused:
        submit(customer_id, meter_id, *values)
    assert refused.value.code == "validation_error"
    assert refused.value.fields == {"values": fields}
    assert rows(meter_id) == []


def test_trailing_zeros_within_the_meters_decimals_are_fine(ctx):
    customer_id, meter_id = setup_meter(decimals=1)
    done = submit(customer_id, meter_id, (1, "12.50"))
    assert done.readings[0]["value"] == Decimal("12.50")
    assert rows(meter_id)[0].value == Decimal("12.5")


def test_multi_zone_meter_takes_a_value_per_zone(ctx):
    customer_id, meter_id = setup_meter(zones=3, decimals=0,
                                        history=[(date(2026, 10, 1), 100, 1), (date(2026, 10, 1), 50, 2),
                                                 (date(2026, 10, 1), 70, 3)])
    done = submit(customer_id, meter_id, (3, 75), (1, 120), (2, 50))
    assert [(r["zone"], r["previous_value"], r["consumption"]) for r in done.readings] == [
        (1, Decimal("100"), Decimal("20")), (2, Decimal("50"), Decimal("0")), (3, Decimal("70"), Decimal("5"))]


# --- previous and abnormal ---------------------------------------------------------------------

def test_never_lower_than_the_previous_reading(ctx):
    customer_id, meter_id = setup_meter(history=[(date(2026, 9, 1), 100), (date(2026, 10, 1), "120.5")])
    with pytest.raises(Invalid) as refused:
        submit(customer_id, meter_id, (1, "120.49"))
    assert refused.value.code == "reading_below_previous"
    assert refused.value.params["previous"] == "120.50" and refused.value.params["zone"] == 1
    assert refused.value.fields == {"values": {"0": {"value": ["value_below_previous"]}}}
    assert len(rows(meter_id)) == 2
    done = submit(customer_id, meter_id, (1, "120.5"))  # equal is fine: nothing used
    assert done.readings[0]["consumption"] == 0


def test_abnormal_consumption_needs_confirmation(ctx):
    # 10 a month for six months; factor 3 → above 30 is abnormal
    history = monthly(date(2026, 4, 1), [100, 110, 120, 130, 140, 150, 160])
    customer_id, meter_id = setup_meter(history=history)
    assert submit(customer_id, meter_id, (1, 190)).readings[0]["abnormal"] is False  # 30: not above
    with pytest.raises(Conflict) as refused:
        submit(customer_id, meter_id, (1, "190.01"))
    assert refused.value.code == "reading_abnormal"
    assert (refused.value.params["consumption"], refused.value.params["average"]) == ("30.010", "10.000")
    assert refused.value.fields == {"values": {"0": {"value": ["value_abnormal"]}}}
    assert rows(meter_id)[-1].value == Decimal("190")  # the refused one changed nothing
    done = submit(customer_id, meter_id, (1, "190.01"), confirm_abnormal=True)
    saved = rows(meter_id)[-1]
    assert done.readings[0]["abnormal"] is True and saved.abnormal is True and saved.consumption == Decimal("30.01")


def test_average_uses_the_last_six_intervals_and_spreads_gaps(ctx):
    # an old huge month falls out of the last six; a two-month gap since the last reading doubles the allowance
    history = monthly(date(2025, 12, 1), [0, 1000, 1010, 1020, 1030, 1040, 1050, 1060])  # up to 2026-07
    customer_id, meter_id = setup_meter(history=history)
    with pytest.raises(Conflict) as refused:
        submit(customer_id, meter_id, (1, 1200), today=date(2026, 9, 20))
    assert refused.value.params["average"] == "10.000"
    done = submit(customer_id, meter_id, (1, 1120), today=date(2026, 9, 20))  # 60 over 2 months: 3 × 10 × 2
    assert done.readings[0]["abnormal"] is False


def test_no_average_yet_is_never_abnormal(ctx):
    customer_id, meter_id = setup_meter(history=[(date(2026, 10, 1), 5)])
    done = submit(customer_id, meter_id, (1, 50000))
    assert done.readings[0]["abnormal"] is False and done.readings[0]["consumption"] == Decimal("49995")
    first_ever_id, first_meter = setup_meter()
    done = submit(first_ever_id, first_meter, (1, 7))
    assert done.readings[0]["previous_value"] is None and done.readings[0]["consumption"] is None


# --- one per period, edits ---------------------------------------------------------------------

def test_resubmission_inside_the_window_edits_and_is_exported_again(ctx):
    customer_id, meter_id = setup_meter(history=[(date(2026, 10, 1), 100)])
    first = submit(customer_id, meter_id, (1, 110), today=date(2026, 11, 16))
    row = rows(meter_id)[-1]
    row_id, submitted_at, updated_at = row.id, row.submitted_at, row.updated_at
    row.exported_at = datetime(2026, 11, 17, 3, 0)
    db.session.commit()

    again = submit(customer_id, meter_id, (1, 112), today=date(2026, 11, 18))
    assert first.created and not again.created
    current = [r for r in rows(meter_id) if r.period == NOV]
    assert [(r.id, r.value, r.consumption) for r in current] == [(row_id, Decimal("112.000"), Decimal("12.000"))]
    assert current[0].submitted_at == submitted_at and current[0].updated_at >= updated_at
    assert current[0].exported_at is None

    with pytest.raises(Conflict) as refused:  # read-only once the window closed
        submit(customer_id, meter_id, (1, 115), today=date(2026, 11, 26))
    assert refused.value.code == "reading_window_closed"
    assert rows(meter_id)[-1].value == Decimal("112")


def test_the_same_reading_again_is_not_exported_again(ctx):
    customer_id, meter_id = setup_meter()
    submit(customer_id, meter_id, (1, 110))
    rows(meter_id)[-1].exported_at = datetime(2026, 11, 20, 3, 0)
    db.session.commit()
    submit(customer_id, meter_id, (1, 110))
    assert rows(meter_id)[-1].exported_at == datetime(2026, 11, 20, 3, 0)


# --- photos ------------------------------------------------------------------------------------

@pytest.fixture
def upload_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


def stored_files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _s, files in os.walk(root) for f in files)


def test_photo_is_stored_under_a_random_name_and_replaced_on_edit(ctx, upload_dir):
    customer_id, meter_id = setup_meter(zones=2)
    submit(customer_id, meter_id, (1, 10), (2, 5), photo=JPEG)
    first = stored_files(upload_dir)
    assert len(first) == 1 and first[0].startswith("readings/") and first[0].endswith(".jpg")
    assert {r.photo_path for r in rows(meter_id)} == {first[0]}
    assert (upload_dir / first[0]).read_bytes() == JPEG

    submit(customer_id, meter_id, (1, 11), (2, 5))  # no new photo: the old one stays
    assert stored_files(upload_dir) == first
    submit(customer_id, meter_id, (1, 12), (2, 6), photo=PNG)
    second = stored_files(upload_dir)
    assert len(second) == 1 and second[0].endswith(".png") and second != first
    assert {r.photo_path for r in rows(meter_id)} == {second[0]}


@pytest.mark.parametrize("data, code", [(b"GIF89a" + b"\x00" * 10, "upload_type"), (b"%PDF-1.7 ...", "upload_type"),
                                        (b"", "upload_empty"), (JPEG + b"\x00" * 2000, "upload_too_large")])
def test_bad_photos_are_refused_and_nothing_saved(ctx, upload_dir, monkeypatch, data, code):
    monkeypatch.setitem(ctx.config, "UPLOAD_MAX_BYTES", 1024)
    customer_id, meter_id = setup_meter()
    with pytest.raises(Invalid) as refused:
        submit(customer_id, meter_id, (1, 10), photo=data)
    assert refused.value.fields == {"photo": [code]}
    assert rows(meter_id) == [] and stored_files(upload_dir) == []


def test_a_refused_reading_stores_no_photo(ctx, upload_dir):
    customer_id, meter_id = setup_meter(history=[(date(2026, 10, 1), 100)])
    with pytest.raises(Invalid):
        submit(customer_id, meter_id, (1, 50), photo=JPEG)
    assert stored_files(upload_dir) == []


# --- concurrency -------------------------------------------------------------------------------

def test_concurrent_first_submissions_make_one_row_per_zone(pg_app, monkeypatch):
    """Both read "no rows yet" before either writes: the loser hits the unique constraint and
    edits the winner's rows."""
    with pg_app.app_context():
        customer_id, meter_id = setup_meter(zones=2)
        db.session.remove()
    both_read = threading.Barrier(2, timeout=10)
    original = readings._earlier_and_current
    first_pass = set()

    def racing(meter, period):
        found = original(meter, period)
        if threading.get_ident() not in first_pass:
            first_pass.add(threading.get_ident())
            both_read.wait()
        return found

    monkeypatch.setattr(readings, "_earlier_and_current", racing)
    results, errors = [], []

    def run(value):
        with pg_app.app_context():
            try:
                results.append(submit(customer_id, meter_id, (1, value), (2, 1)).created)
            except Exception as failure:  # reported below
                errors.append(failure)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(value,)) for value in (10, 11)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and sorted(results) == [False, True]
    with pg_app.app_context():
        saved = rows(meter_id)
        assert [(r.period, r.zone) for r in saved] == [(NOV, 1), (NOV, 2)]
        assert saved[0].value in (Decimal("10"), Decimal("11"))
        db.session.remove()
