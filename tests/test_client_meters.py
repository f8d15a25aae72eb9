"""Meters and readings through the client API (MT-1, MT-2) on SQLite and PostgreSQL: the list,
rename, submit and correct, the error shapes, history, photos, and one customer never reaching
another's meters."""
import base64
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.meters import Meter, Reading
from app.services import periods
from app.services.periods import add_months
from tests.support.billing import link, make_account, make_meter, make_reading, make_supplier
from tests.support.customers import CLIENT as API, Person
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
EN = {"Accept-Language": "en"}


def setup(app, person, verified=True, window=(1, 31), **meter):
    """An account of a new supplier linked to ``person`` with an electricity meter; ids back."""
    with app.app_context():
        supplier = make_supplier(reading_window_start_day=window[0], reading_window_end_day=window[1])
        account = make_account(supplier)
        found = make_meter(account, **meter)
        link(person.id, account, verified=verified)
        db.session.commit()
        ids = account.id, found.id
        db.session.remove()
        return ids


def readings_of(app, meter_id):
    with app.app_context():
        found = db.session.execute(select(Reading.period, Reading.zone, Reading.value)
                                   .where(Reading.meter_id == meter_id).order_by(Reading.period)).all()
        db.session.remove()
        return found


def today(app):
    with app.app_context():
        return periods.local_today()


@pytest.fixture
def person(app):
    return Person(app)


def test_meters_of_an_account_with_verification_and_last_readings(app, person):
    account_id, meter_id = setup(app, person, zones=2, decimals=1, serial="E-001", location="Коридор",
                                 last_verified_on=date(2020, 3, 1), verification_interval_years=16,
                                 next_verification_on=today(app) + timedelta(days=10))
    with app.app_context():
        meter = db.session.get(Meter, meter_id)
        make_reading(meter, date(2026, 9, 1), 100, zone=1)
        make_reading(meter, date(2026, 10, 1), 120, zone=1, consumption=Decimal(20))
        make_reading(meter, date(2026, 10, 1), 40, zone=2)
        other = make_meter(meter.account, kind="cold_water", serial="W-1", next_verification_on=date(2040, 1, 1))
        make_meter(meter.account, serial="OLD", active=False)
        db.session.commit()
        other_id = other.id
        db.session.remove()

    answer = person.call("GET", f"/accounts/{account_id}/meters")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["count"] == 2 and [m["id"] for m in body["result"]] == [other_id, meter_id]  # by kind; no removed
    window = body["reading_window"]
    assert window["open"] is True and window["period"] == f"{today(app):%Y-%m}"
    shown = body["result"][1]
    assert {key: shown[key] for key in ("kind", "serial", "name", "location", "zones", "decimals",
                                        "last_verified_on", "verification_interval_years",
                                        "verification_due_soon")} == {
        "kind": "electricity", "serial": "E-001", "name": None, "location": "Коридор", "zones": 2, "decimals": 1,
        "last_verified_on": "2020-03-01", "verification_interval_years": 16, "verification_due_soon": True}
    assert [(r["zone"], r["period"], r["value"], r["consumption"]) for r in shown["last_readings"]] == [
        (1, "2026-10", "120.000", "20.000"), (2, "2026-10", "40.000", None)]
    assert body["result"][0]["verification_due_soon"] is False and body["result"][0]["last_readings"] == []


def test_next_verification_falls_back_to_last_plus_interval(app, person):
    account_id, _meter = setup(app, person, last_verified_on=date(2024, 2, 29), verification_interval_years=6)
    shown = person.call("GET", f"/accounts/{account_id}/meters").get_json()["result"][0]
    assert shown["next_verification_on"] == "2030-02-28"


def test_rename_trims_limits_and_clears(app, person):
    account_id, meter_id = setup(app, person)
    renamed = person.call("PATCH", f"/meters/{meter_id}", {"name": "  Кухня, день  "})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Кухня, день"
    too_long = person.call("PATCH", f"/meters/{meter_id}", {"name": "я" * 65}, headers=EN)
    assert too_long.status_code == 422
    assert too_long.get_json()["error"]["fields"] == {"name": ["The meter's name must be at most 64 characters."]}
    assert person.call("PATCH", f"/meters/{meter_id}", {"name": 5}).status_code == 422
    assert person.call("GET", f"/accounts/{account_id}/meters").get_json()["result"][0]["name"] == "Кухня, день"
    for empty in ("   ", None):
        cleared = person.call("PATCH", f"/meters/{meter_id}", {"name": empty})
        assert cleared.status_code == 200 and cleared.get_json()["name"] is None


def test_submit_then_correct_with_consumption(app, person):
    _account, meter_id = setup(app, person)
    with app.app_context():
        make_reading(db.session.get(Meter, meter_id), date(2000, 1, 1), "100.5")
        db.session.commit()
    first = person.call("POST", f"/meters/{meter_id}/readings", {"values": [{"zone": 1, "value": 110.25}]})
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["period"] == f"{today(app):%Y-%m}" and body["created"] is True
    assert [(r["zone"], r["value"], r["previous_value"], r["consumption"], r["abnormal"]) for r in body["readings"]] == [
        (1, "110.250", "100.500", "9.750", False)]
    again = person.call("POST", f"/meters/{meter_id}/readings", {"values": [{"value": "111"}]})
    assert again.status_code == 200 and again.get_json()["created"] is False
    assert again.get_json()["readings"][0]["consumption"] == "10.500"
    assert len(readings_of(app, meter_id)) == 2


def test_refusals_have_codes_and_change_nothing(app, person):
    _account, meter_id = setup(app, person, zones=2)
    post = lambda body, headers=None: person.call("POST", f"/meters/{meter_id}/readings", body, headers=headers)  # noqa: E731

    bad = post({"values": [{"zone": 1, "value": "1.234"}, {"zone": 5, "value": 1}]}, EN).get_json()["error"]
    assert bad["code"] == "validation_error"
    assert bad["fields"] == {"values": {
        "0": {"value": ["At most 2 digits after the decimal point: as many as the meter shows."]},
        "1": {"zone": ["The meter's tariff zone is 1 to 2."]}}}
    missing = post({"values": [{"zone": 1, "value": 1}]}).get_json()["error"]
    assert missing["fields"] == {"values": {"_schema": [
        "Укажите показания по всем тарифным зонам счётчика (нет зоны 2)."]}}
    for body in ({}, {"values": "12"}, {"values": [{"zone": 1, "value": "NaN"}]},
                 {"values": [{"zone": "1", "value": 1}, {"zone": 2, "value": 1}]},
                 {"values": [{"zone": 1, "value": 1}, {"zone": 2, "value": 1}], "confirm_abnormal": "yes"},
                 {"values": [{"zone": 1, "value": 1}, {"zone": 2, "value": 1}], "extra": 1},
                 {"values": [{"zone": 1, "value": 1}, {"zone": 2, "value": 1}], "photo": "not base64!"}):
        assert post(body).status_code == 422, body
    assert readings_of(app, meter_id) == []


def test_below_previous_says_to_file_an_appeal(app, person):
    _account, meter_id = setup(app, person)
    with app.app_context():
        make_reading(db.session.get(Meter, meter_id), date(2000, 1, 1), 500)
        db.session.commit()
    refused = person.call("POST", f"/meters/{meter_id}/readings", {"values": [{"value": 499}]}, headers=EN)
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "reading_below_previous" and "500.00" in error["message"]
    assert "file an appeal" in error["message"]
    assert error["fields"] == {"values": {"0": {"value": ["Lower than the previous reading."]}}}
    assert len(readings_of(app, meter_id)) == 1


def test_abnormal_needs_confirm_abnormal(app, person):
    _account, meter_id = setup(app, person)
    with app.app_context():
        meter = db.session.get(Meter, meter_id)
        current = today(app).replace(day=1)
        for back, value in ((3, 0), (2, 100), (1, 200)):
            make_reading(meter, add_months(current, -back), value)
        db.session.commit()
    body = {"values": [{"value": 10000}]}
    refused = person.call("POST", f"/meters/{meter_id}/readings", body)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "reading_abnormal"
    assert "100.000" in refused.get_json()["error"]["message"]
    assert len(readings_of(app, meter_id)) == 3
    confirmed = person.call("POST", f"/meters/{meter_id}/readings", {**body, "confirm_abnormal": True})
    assert confirmed.status_code == 201 and confirmed.get_json()["readings"][0]["abnormal"] is True


def test_window_closed_unverified_and_foreign(app, person):
    day = today(app).day % 28 + 1  # a window of one day that is not today
    _account, closed_meter = setup(app, person, window=(day, day))
    closed = person.call("POST", f"/meters/{closed_meter}/readings", {"values": [{"value": 1}]}, headers=EN)
    assert closed.status_code == 409 and closed.get_json()["error"]["code"] == "reading_window_closed"
    assert closed.get_json()["error"]["message"].startswith("Readings are not accepted now: the next window is")

    _account, unverified_meter = setup(app, person, verified=False)
    refused = person.call("POST", f"/meters/{unverified_meter}/readings", {"values": [{"value": 1}]})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "account_unverified"
    assert person.call("GET", f"/meters/{unverified_meter}/readings").status_code == 200  # looking is fine

    stranger = Person(app)
    account_id, meter_id = setup(app, person)
    for method, path, body in (("GET", f"/accounts/{account_id}/meters", None),
                               ("PATCH", f"/meters/{meter_id}", {"name": "чужой"}),
                               ("POST", f"/meters/{meter_id}/readings", {"values": [{"value": 1}]}),
                               ("GET", f"/meters/{meter_id}/readings", None),
                               ("GET", f"/meters/{meter_id}/readings/2026-11/photo", None)):
        answer = stranger.call(method, path, body)
        assert answer.status_code == 404, (method, path)
        assert answer.get_json()["error"]["code"] in ("account_not_found", "meter_not_found")
    assert readings_of(app, meter_id) == [] and readings_of(app, closed_meter) == []
    assert person.call("GET", f"/accounts/{account_id}/meters").get_json()["result"][0]["name"] is None
    assert app.test_client().get(f"{API}/accounts/{account_id}/meters").status_code == 401


def test_history_newest_first_with_limit_and_pages(app, person):
    _account, meter_id = setup(app, person, zones=2)
    with app.app_context():
        meter = db.session.get(Meter, meter_id)
        for month in range(1, 6):
            make_reading(meter, date(2001, month, 1), month * 10, zone=1)
            make_reading(meter, date(2001, month, 1), month, zone=2)
        db.session.commit()
    last3 = person.call("GET", f"/meters/{meter_id}/readings?limit=3").get_json()
    assert last3["count"] == 5 and [item["period"] for item in last3["result"]] == ["2001-05", "2001-04", "2001-03"]
    assert [(r["zone"], r["value"], r["source"]) for r in last3["result"][0]["readings"]] == [
        (1, "50.000", "billing"), (2, "5.000", "billing")]
    everything = person.call("GET", f"/meters/{meter_id}/readings").get_json()
    assert len(everything["result"]) == 5
    page = person.call("GET", f"/meters/{meter_id}/readings?page=1&page_size=2").get_json()
    assert [item["period"] for item in page["result"]] == ["2001-03", "2001-02"]
    for query in ("limit=0", "limit=x", "page_size=101", "what=1"):
        assert person.call("GET", f"/meters/{meter_id}/readings?{query}").status_code == 422, query


def test_photo_goes_with_the_reading_and_comes_back(app, person, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path))
    _account, meter_id = setup(app, person)
    photo = "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
    sent = person.call("POST", f"/meters/{meter_id}/readings", {"values": [{"value": 3}], "photo": photo})
    assert sent.status_code == 201, sent.get_json()
    period = sent.get_json()["period"]
    history = person.call("GET", f"/meters/{meter_id}/readings?limit=1").get_json()
    assert history["result"][0]["photo"] is True
    image = person.call("GET", f"/meters/{meter_id}/readings/{period}/photo")
    assert image.status_code == 200 and image.mimetype == "image/jpeg" and image.data == JPEG
    assert person.call("GET", f"/meters/{meter_id}/readings/2001-01/photo").status_code == 404
    no_photo = person.call("GET", f"/meters/{meter_id}/readings/2001-01/photo")
    assert no_photo.get_json()["error"]["code"] == "photo_not_found"
    assert person.call("GET", f"/meters/{meter_id}/readings/..%2F..%2Fx/photo").status_code in (404, 422)
    wrong_type = person.call("POST", f"/meters/{meter_id}/readings",
                             {"values": [{"value": 4}], "photo": base64.b64encode(b"GIF89a....").decode()}, headers=EN)
    assert wrong_type.status_code == 422
    assert wrong_type.get_json()["error"]["fields"] == {"photo": ["This file type is not accepted: use JPG, PNG."]}


def test_meter_endpoints_are_in_the_openapi_document(app, api):
    spec = api("admin").get("/api/v1/_openapi").get_json()
    for path, method in (("/accounts/{account_id}/meters", "get"), ("/meters/{meter_id}", "patch"),
                         ("/meters/{meter_id}/readings", "post"), ("/meters/{meter_id}/readings", "get"),
                         ("/meters/{meter_id}/readings/{period}/photo", "get")):
        assert method in spec["paths"][f"{API}{path}"], path
    assert {"MeterListSchema", "ReadingSubmitSchema", "SubmissionSchema", "HistorySchema"} <= set(
        spec["components"]["schemas"])
