"""PR-2 meter installation / replacement / verification and PR-3 CT/VT verification as shipped
BPMN processes, end to end through the client API and the staff task API on SQLite and
PostgreSQL: slots offered and picked, the meter registry updated from the technician's result,
documents issued, escalation, and the refusals (slots not offered, other customers' meters,
accounts and tasks)."""
import io
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.models.meters import Meter, Reading
from app.models.requests import ServiceRequest
from app.services import meter_works, service_requests
from app.workflows import jobs, messages, timers
from app.workflows.service_tasks import JobContext, PermanentFailure
from tests.support.billing import link, make_account, make_meter, make_supplier
from tests.support.customers import Person

SLOTS = ["2026-12-07 09:00-12:00", "2026-12-08 12:00-15:00", "2026-12-09 15:00-18:00"]
_JOBS = iter(range(3 * 10**9, 4 * 10**9))  # job ids no real service job of the session reaches


@pytest.fixture
def person(app):
    return Person(app)


def own_account(app, person, **meter):
    """A new account linked to ``person`` with one meter; returns (account id, meter id)."""
    with app.app_context():
        account = make_account(make_supplier())
        found = make_meter(account, serial=f"OLD-{account.number}", **meter)
        link(person.id, account)
        db.session.commit()
        return account.id, found.id


def file(person, kind, **form):
    created = person.call("POST", "/requests/", json={"type": kind, "form_data": form})
    assert created.status_code == 201, created.get_json()
    return person.call("POST", f"/requests/{created.get_json()['id']}/submit")


def filed(app, person, kind, **form):
    response = file(person, kind, **form)
    assert response.status_code == 200, response.get_json()
    request_id = response.get_json()["id"]
    settle(app, request_id)
    return request_id


def instance_of(app, request_id):
    with app.app_context():
        found = db.session.get(ServiceRequest, request_id).process_instance_id
        db.session.remove()
        return found


def settle(app, request_id):
    with app.app_context():
        assert jobs.wait_for_jobs(db.session.get(ServiceRequest, request_id).process_instance_id)
        db.session.remove()


def detail(person, request_id):
    return person.call("GET", f"/requests/{request_id}").get_json()


def staff_task(api, username, app, request_id):
    instance_id = instance_of(app, request_id)
    rows = api(username).get("/api/v1/tasks/?page_size=100").get_json()["result"]
    [task] = [t for t in rows if t["instance_id"] == instance_id]
    return task


def staff_does(api, username, app, request_id, name, data):
    task = staff_task(api, username, app, request_id)
    assert task["name"] == name, task
    response = api(username).post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
    assert response.status_code == 200, response.get_json()
    settle(app, request_id)


def pick(person, request_id, slot):
    [task] = detail(person, request_id)["tasks"]
    return person.call("POST", f"/requests/{request_id}/tasks/{task['id']}", json={"data": {"slot": slot}})


def statuses(person, request_id):
    return [h["status"] for h in detail(person, request_id)["history"]]


def pdf_text(person, request_id, attachment):
    data = person.call("GET", f"/requests/{request_id}/attachments/{attachment['id']}").data
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def meters_of(app, account_id):
    with app.app_context():
        rows = db.session.execute(
            select(Meter).where(Meter.account_id == account_id).order_by(Meter.id)).scalars().all()
        db.session.expunge_all()
        return rows


RESULT = {"done": True, "serial": "NEW-0001", "model": "Меркурий 201.8", "initial_reading": 0,
          "verified_on": "2026-10-15", "seal_number": "PL-778899"}


# --- replacement: slots, pick, technician, registry --------------------------------------------

def test_a_replacement_runs_from_slots_to_the_new_meter_in_the_registry(app, api, person):
    account_id, old_id = own_account(app, person, last_verified_on=date(2010, 5, 1), verification_interval_years=16)
    request_id = filed(app, person, "meter_replacement", meter_id=old_id, reason="broken",
                       preferred_dates=["2026-12-07"], preferred_time="09:00-12:00")
    shown = detail(person, request_id)
    assert shown["status"] == "in_progress" and shown["tasks"] == []

    task = staff_task(api, "dispatcher", app, request_id)
    assert task["name"] == "propose_slots" and task["due_at"] is not None  # the escalation timer
    assert task["candidate_role"] == "Dispatcher"
    too_few = api("dispatcher").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"slots": SLOTS[:1]}})
    assert too_few.status_code == 422 and too_few.get_json()["error"]["code"] == "form_invalid"
    badly_written = api("dispatcher").post(f"/api/v1/tasks/{task['id']}/complete",
                                           json={"data": {"slots": ["завтра утром", "послезавтра"]}})
    assert badly_written.status_code == 422
    staff_does(api, "dispatcher", app, request_id, "propose_slots", {"slots": SLOTS})

    shown = detail(person, request_id)
    assert shown["status"] == "waiting_customer"
    [task] = shown["tasks"]
    assert task["name"] == "pick_slot" and task["form_schema"]["properties"]["slot"]["enum"] == SLOTS
    refused = pick(person, request_id, "2026-12-31 09:00-12:00")  # not one of the offered
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "form_invalid"
    assert "slot" in refused.get_json()["error"]["fields"]
    answered = pick(person, request_id, SLOTS[1])
    assert answered.status_code == 200, answered.get_json()
    settle(app, request_id)
    shown = detail(person, request_id)
    assert shown["status"] == "scheduled" and shown["tasks"] == []
    assert shown["history"][-1]["note"] == f"Визит техника: {SLOTS[1]}."

    staff_does(api, "dispatcher", app, request_id, "assign_technician", {"technician": "technician"})
    task = staff_task(api, "technician", app, request_id)
    incomplete = api("technician").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"done": True}})
    assert incomplete.status_code == 422  # done needs the new meter's serial, reading, verification, seal
    assert {"serial", "initial_reading", "verified_on", "seal_number"} <= set(incomplete.get_json()["error"]["fields"])
    staff_does(api, "technician", app, request_id, "record_result", RESULT)

    shown = detail(person, request_id)
    assert shown["status"] == "completed"
    assert statuses(person, request_id) == ["draft", "submitted", "in_progress", "waiting_customer", "scheduled",
                                            "completed"]
    old, new = meters_of(app, account_id)
    assert (old.id, old.active) == (old_id, False)
    assert (new.serial, new.active, new.kind, new.installed_on) == ("NEW-0001", True, old.kind, date(2026, 12, 8))
    assert (new.last_verified_on, new.next_verification_on) == (date(2026, 10, 15), date(2042, 10, 15))
    with app.app_context():
        [reading] = db.session.execute(select(Reading).where(Reading.meter_id == new.id)).scalars().all()
        assert (reading.period, reading.value, reading.source) == (date(2026, 12, 1), 0, "staff")
        db.session.remove()
    # the customer's app shows the new meter only, with its verification dates
    [shown_meter] = person.call("GET", f"/accounts/{account_id}/meters").get_json()["result"]
    assert (shown_meter["serial"], shown_meter["next_verification_on"]) == ("NEW-0001", "2042-10-15")
    [act] = [a for a in shown["attachments"] if a["uploaded_by"] == "staff"]
    assert act["filename"] == "Акт замены прибора учёта.pdf"
    text = pdf_text(person, request_id, act)
    assert shown["number"] in text and "NEW-0001" in text and "PL-778899" in text and "OLD-" in text


def test_an_installation_that_missed_its_visit_is_offered_new_slots(app, api, person):
    account_id, _meter = own_account(app, person)
    request_id = filed(app, person, "meter_installation", account_id=account_id, meter_kind="cold_water",
                       location="Ванная", reason="no_meter")
    staff_does(api, "dispatcher", app, request_id, "propose_slots", {"slots": SLOTS[:2]})
    assert pick(person, request_id, SLOTS[0]).status_code == 200
    settle(app, request_id)
    staff_does(api, "dispatcher", app, request_id, "assign_technician", {"technician": "technician"})
    staff_does(api, "technician", app, request_id, "record_result", {"done": False, "note": "Никого не было дома."})

    shown = detail(person, request_id)
    assert shown["status"] == "in_progress"
    assert shown["history"][-1]["note"] == "Визит не состоялся, предложим новое время. Никого не было дома."
    assert len(meters_of(app, account_id)) == 1  # nothing installed
    staff_does(api, "dispatcher", app, request_id, "propose_slots_again", {"slots": SLOTS[1:]})
    [task] = detail(person, request_id)["tasks"]
    assert task["form_schema"]["properties"]["slot"]["enum"] == SLOTS[1:]
    assert pick(person, request_id, SLOTS[0]).status_code == 422  # offered last time, not now
    assert pick(person, request_id, SLOTS[2]).status_code == 200
    settle(app, request_id)
    staff_does(api, "dispatcher", app, request_id, "assign_technician", {"technician": "technician"})
    staff_does(api, "technician", app, request_id, "record_result",
               {**RESULT, "serial": "CW-42", "initial_reading": 1.5})

    assert detail(person, request_id)["status"] == "completed"
    _existing, new = meters_of(app, account_id)
    assert (new.serial, new.kind, new.location, new.zones, new.active) == ("CW-42", "cold_water", "Ванная", 1, True)
    # cold water: a 6-year interval (verification_priority.dmn)
    assert (new.last_verified_on, new.next_verification_on) == (date(2026, 10, 15), date(2032, 10, 15))
    assert new.service_id is not None  # priced by the supplier's cold-water service


def test_a_missed_scheduling_deadline_escalates(app, api, person, monkeypatch):
    monkeypatch.setitem(app.config["PROCESS_DEADLINES"], "meter_works.propose", "PT0S")
    _account, meter_id = own_account(app, person)
    request_id = filed(app, person, "meter_replacement", meter_id=meter_id, reason="verification_expired")
    with app.app_context():
        timers.fire_due()
        db.session.remove()
    settle(app, request_id)
    task = staff_task(api, "dispatcher", app, request_id)
    assert task["name"] == "propose_slots_urgent" and task["title"].startswith("Срочно")
    staff_does(api, "dispatcher", app, request_id, "propose_slots_urgent", {"slots": SLOTS[:2]})
    assert detail(person, request_id)["status"] == "waiting_customer"
    data = api().get(f"/api/v1/process-instances/{instance_of(app, request_id)}").get_json()["data"]
    assert data["escalated"] is True and data["priority"] == "high"


# --- refusals -----------------------------------------------------------------------------------

def test_other_customers_meters_accounts_and_tasks_are_refused(app, api, person):
    stranger = Person(app)
    their_account, their_meter = own_account(app, stranger)
    refused = file(person, "meter_replacement", meter_id=their_meter, reason="broken")
    assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "meter_not_found"
    refused = file(person, "meter_installation", account_id=their_account, meter_kind="electricity")
    assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "account_not_found"
    refused = file(person, "ct_vt_verification", account_id=their_account, transformer_kind="current", count=3,
                   ratio="200/5")
    assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "account_not_found"

    account_id, _meter = own_account(app, person)
    zoned_water = file(person, "meter_installation", account_id=account_id, meter_kind="cold_water", zones=2)
    assert zoned_water.status_code == 422 and set(zoned_water.get_json()["error"]["fields"]) == {"form_data.zones"}
    bad_dates = file(person, "meter_installation", account_id=account_id, meter_kind="gas",
                     preferred_dates=["7 декабря"])
    assert set(bad_dates.get_json()["error"]["fields"]) == {"form_data.preferred_dates.0"}

    # the stranger's waiting slot pick is not the person's to see or answer
    their_request = filed(app, stranger, "meter_replacement", meter_id=their_meter, reason="upgrade")
    staff_does(api, "dispatcher", app, their_request, "propose_slots", {"slots": SLOTS[:2]})
    [task] = detail(stranger, their_request)["tasks"]
    assert person.call("GET", f"/requests/{their_request}").status_code == 404
    answered = person.call("POST", f"/requests/{their_request}/tasks/{task['id']}", json={"data": {"slot": SLOTS[0]}})
    assert answered.status_code == 404
    # nor through a request of their own
    mine = filed(app, person, "meter_replacement", meter_id=_meter, reason="upgrade")
    answered = person.call("POST", f"/requests/{mine}/tasks/{task['id']}", json={"data": {"slot": SLOTS[0]}})
    assert answered.status_code == 404 and answered.get_json()["error"]["code"] == "task_not_found"
    assert detail(stranger, their_request)["status"] == "waiting_customer"
    # staff cannot answer for the customer through the staff API either: not in their inbox
    assert api("dispatcher").post(f"/api/v1/tasks/{task['id']}/complete",
                                  json={"data": {"slot": SLOTS[0]}}).status_code == 404


# --- the registry operation itself ------------------------------------------------------------

def test_recording_a_work_is_once_per_job_and_refuses_what_it_cannot_apply(app, person):
    account_id, meter_id = own_account(app, person)
    request_id = filed(app, person, "meter_replacement", meter_id=meter_id, reason="broken")
    number = detail(person, request_id)["number"]
    params = {"work": "replacement", "serial": "R-1", "verified_on": "2026-11-01", "interval_years": 16,
              "initial_reading": 12.5, "done_on": "2026-11-20"}
    job = JobContext(next(_JOBS), 0, number, 1)
    with app.app_context():
        first = meter_works.record_work(params, job)
        db.session.commit()
        again = meter_works.record_work(params, job)  # a retried job
        db.session.commit()
        assert again == {**first, "repeated": True}
        assert first["replaced_meter_id"] == meter_id
        assert db.session.execute(select(Reading).where(Reading.meter_id == first["meter_id"])).scalars().all()
        for bad in ({"work": "painting"}, {**params, "serial": ""}, {**params, "verified_on": "вчера"},
                    {**params, "interval_years": 0}, {**params, "serial": "R-2", "initial_reading": "много"}):
            with pytest.raises(PermanentFailure):
                meter_works.record_work(bad, JobContext(next(_JOBS), 0, number, 1))
            db.session.rollback()
        # a process started by hand (business key not a request number) has no meter to update
        assert "skipped" in meter_works.record_work(params, JobContext(next(_JOBS), 0, "MV-1", 1))
        db.session.remove()
    assert [m.serial for m in meters_of(app, account_id) if m.active] == ["R-1"]


# --- meter verification filed by a customer -----------------------------------------------------

VISIT = {"visit_date": "2026-12-01", "slot": "09:00-12:00", "technician": "technician"}


def test_a_verification_request_moves_and_updates_the_meter(app, api, person):
    account_id, meter_id = own_account(app, person, last_verified_on=date(2010, 12, 1), verification_interval_years=16)
    request_id = filed(app, person, "meter_verification", meter_id=meter_id)
    assert detail(person, request_id)["status"] == "in_progress"
    staff_does(api, "dispatcher", app, request_id, "schedule_visit", VISIT)
    shown = detail(person, request_id)
    assert shown["status"] == "scheduled" and shown["history"][-1]["note"] == "Визит техника: 2026-12-01, 09:00-12:00."
    staff_does(api, "technician", app, request_id, "prepare_visit", {"equipment_ready": True})
    with app.app_context():
        messages.send("verification_report", {"request_number": shown["number"]}, {"result": "passed"}, actor="test")
        db.session.remove()
    settle(app, request_id)

    shown = detail(person, request_id)
    assert statuses(person, request_id) == ["draft", "submitted", "in_progress", "scheduled", "completed"]
    assert shown["history"][-1]["note"] == "Поверка пройдена, следующая поверка: 2042-12-01."
    [meter] = meters_of(app, account_id)
    assert (meter.last_verified_on, meter.next_verification_on, meter.active) == (
        date(2026, 12, 1), date(2042, 12, 1), True)


# --- PR-3 CT/VT verification ------------------------------------------------------------------

def test_ct_vt_verification_issues_the_protocol(app, api, person):
    account_id, _meter = own_account(app, person)
    bad_ratio = file(person, "ct_vt_verification", account_id=account_id, transformer_kind="current", count=3,
                     ratio="двести")
    assert bad_ratio.status_code == 422 and set(bad_ratio.get_json()["error"]["fields"]) == {"form_data.ratio"}
    request_id = filed(app, person, "ct_vt_verification", account_id=account_id, transformer_kind="current",
                       count=3, model="ТОП-0,66", ratio="200/5", last_verified_on="2018-06-01")
    assert detail(person, request_id)["status"] == "in_progress"
    task = staff_task(api, "dispatcher", app, request_id)
    assert task["name"] == "schedule_visit" and task["due_at"] is not None
    staff_does(api, "dispatcher", app, request_id, "schedule_visit", VISIT)
    assert detail(person, request_id)["status"] == "scheduled"
    task = staff_task(api, "technician", app, request_id)
    no_next = api("technician").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {
        "result": "passed", "verified_on": "2026-12-01", "protocol_number": "П-17"}})
    assert no_next.status_code == 422 and "next_verification_on" in no_next.get_json()["error"]["fields"]
    staff_does(api, "technician", app, request_id, "record_result", {
        "result": "passed", "verified_on": "2026-12-01", "protocol_number": "П-17",
        "next_verification_on": "2034-12-01", "seal_numbers": "ТТ-1, ТТ-2, ТТ-3"})

    shown = detail(person, request_id)
    assert statuses(person, request_id) == ["draft", "submitted", "in_progress", "scheduled", "completed"]
    assert shown["history"][-1]["note"] == "Трансформаторы прошли поверку, протокол № П-17 в файлах заявки."
    [protocol] = [a for a in shown["attachments"] if a["uploaded_by"] == "staff"]
    assert protocol["filename"] == "Протокол поверки ТТ-ТН.pdf"
    text = pdf_text(person, request_id, protocol)
    for expected in ("Протокол поверки № П-17", shown["number"], "трансформаторы тока (ТТ)", "200/5", "ТОП-0,66",
                     "2034-12-01", "годен"):
        assert expected in text
    stranger = Person(app)
    assert stranger.call("GET", f"/requests/{request_id}/attachments/{protocol['id']}").status_code == 404


def test_ct_vt_scheduling_escalates_and_a_failed_result_says_so(app, api, person, monkeypatch):
    monkeypatch.setitem(app.config["PROCESS_DEADLINES"], "ct_vt_verification.schedule", "PT0S")
    account_id, _meter = own_account(app, person)
    request_id = filed(app, person, "ct_vt_verification", account_id=account_id, transformer_kind="voltage",
                       count=2, ratio="10000/100")
    with app.app_context():
        timers.fire_due()
        db.session.remove()
    settle(app, request_id)
    staff_does(api, "dispatcher", app, request_id, "schedule_visit_urgent", VISIT)
    staff_does(api, "technician", app, request_id, "record_result", {
        "result": "failed", "verified_on": "2026-12-01", "protocol_number": "П-18"})
    shown = detail(person, request_id)
    assert shown["status"] == "completed"
    assert shown["history"][-1]["note"] == ("Трансформаторы не прошли поверку, требуется замена, протокол № П-18 "
                                            "в файлах заявки.")
    [protocol] = [a for a in shown["attachments"] if a["uploaded_by"] == "staff"]
    text = pdf_text(person, request_id, protocol)
    assert "трансформаторы напряжения (ТН)" in text and "не годен" in text

# --- demo ---------------------------------------------------------------------------------------

def test_demo_meter_works_leave_maria_a_slot_to_pick(tmp_path):
    from flask_migrate import upgrade

    from app import create_app
    from app.demo import load_demo
    from app.demo_meter_works import load_demo_meter_works
    from app.models.customers import Customer
    from tests.conftest import BASE_CONFIG

    app = create_app(dict(BASE_CONFIG, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'demo.db'}",
                          OUTBOX_LOG_PATH=str(tmp_path / "outbox.log")))
    with app.app_context():
        upgrade()
        assert "waiting for Мария to pick a slot" in load_demo()
        assert load_demo_meter_works() == "demo meter works already present"
        maria = db.session.execute(select(Customer).where(Customer.phone == "+79161234567")).scalar_one()
        found = {r.type: r for r in db.session.execute(select(ServiceRequest).where(
            ServiceRequest.customer_id == maria.id, ServiceRequest.type.in_(("meter_replacement", "ct_vt_verification"))
        )).scalars()}
        assert (found["meter_replacement"].status, found["ct_vt_verification"].status) == (
            "waiting_customer", "in_progress")
        [task] = service_requests.customer_tasks(found["meter_replacement"])
        assert task.name == "pick_slot" and len(task.form_schema["properties"]["slot"]["enum"]) == 3
        db.session.remove()
