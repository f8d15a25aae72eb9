"""Office appointments (SPEC CT-3, PR-10) on SQLite and PostgreSQL: offices and free slots in
TIME_ZONE, booking as an ``office_appointment`` request holding the slot (one winner when two
customers race for it), the process's confirmation, reminder and operator task, and
cancellation freeing the slot."""
import threading
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.notifications import OutboxMessage
from app.models.offices import Appointment, Office
from app.models.requests import ServiceRequest
from app.services import offices, periods, service_requests
from app.workflows import jobs, timers
from tests.support.customers import Person

HOURS = "mon-sun 09:00-18:00"
EN = "en"


@pytest.fixture
def person(app):
    return Person(app)


def make_office(app, **values):
    with app.app_context():
        office = Office(name=values.pop("name", f"Офис {uuid.uuid4().hex[:6]}"),
                        address=values.pop("address", "г. Москва, ул. Тверская, д. 5"),
                        latitude=55.76, longitude=37.61, phone="+74950000000",
                        opening_hours=values.pop("opening_hours", HOURS), slot_minutes=values.pop("slot_minutes", 30),
                        services=values.pop("services", "consultation,documents"), active=values.pop("active", True))
        db.session.add(office)
        db.session.commit()
        return office.id


def local_day(app, days):
    with app.test_request_context():
        return periods.local_today() + timedelta(days=days)


def slot(app, day, hhmm):
    with app.test_request_context():
        return datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), offices.zone()).isoformat()


def free(person, office_id, day, service="consultation", lang="ru"):
    return person.call("GET", f"/appointments/slots?office_id={office_id}&service={service}&date={day.isoformat()}",
                       lang=lang)


def book(person, office_id, start, service="consultation", lang="ru"):
    return person.call("POST", "/appointments", json={"office_id": office_id, "service": service, "slot": start},
                       lang=lang)


def error(response):
    return response.get_json()["error"]


def settle(app, request_id):
    with app.app_context():
        instance_id = db.session.get(ServiceRequest, request_id).process_instance_id
        assert jobs.wait_for_jobs(instance_id), "service jobs did not finish"
        db.session.remove()
        return instance_id


def operator_tasks(api, instance_id):
    return [t for t in api("operator").get("/api/v1/tasks/?page_size=100").get_json()["result"]
            if t["instance_id"] == instance_id]


def templates_to(app, phone):
    with app.app_context():
        return [m.template for m in db.session.execute(
            select(OutboxMessage).where(OutboxMessage.recipient == phone).order_by(OutboxMessage.id)).scalars()]


# --- offices and slots --------------------------------------------------------------------------

def test_offices_list_hours_services_and_coordinates(app, person):
    office_id = make_office(app, opening_hours="mon-fri 09:00-18:00; sat 10:00-14:00")
    hidden = make_office(app, active=False)
    listed = person.call("GET", "/appointments/offices", lang=EN).get_json()["result"]
    ids = [o["id"] for o in listed]
    assert office_id in ids and hidden not in ids
    office = next(o for o in listed if o["id"] == office_id)
    assert office["opening_hours"]["mon"] == {"opens": "09:00", "closes": "18:00"}
    assert office["opening_hours"]["sat"] == {"opens": "10:00", "closes": "14:00"}
    assert "sun" not in office["opening_hours"]
    assert office["services"] == [{"code": "consultation", "title": "Consultation"},
                                  {"code": "documents", "title": "Documents"}]
    assert (office["latitude"], office["longitude"], office["slot_minutes"]) == (55.76, 37.61, 30)


def test_free_slots_follow_hours_and_bookings(app, person):
    office_id = make_office(app, slot_minutes=45)
    day = local_day(app, 2)
    response = free(person, office_id, day)
    assert response.status_code == 200, response.get_json()
    slots = response.get_json()["slots"]
    # 09:00 … 17:15 every 45 minutes, the last one ending by 18:00, with the zone's offset
    assert slots[0] == slot(app, day, "09:00") and slots[-1] == slot(app, day, "17:15") and len(slots) == 12
    assert book(person, office_id, slots[1]).status_code == 201
    assert free(person, office_id, day).get_json()["slots"] == slots[:1] + slots[2:]


def test_slot_refusals(app, person):
    office_id = make_office(app)
    closed = make_office(app, active=False)
    day = local_day(app, 1)
    cases = [
        (free(person, office_id, day, service="meters", lang=EN), 422, "service"),
        (free(person, office_id, local_day(app, -1), lang=EN), 422, "date"),
        (free(person, office_id, local_day(app, offices.BOOKING_DAYS_AHEAD + 1), lang=EN), 422, "date"),
        (person.call("GET", f"/appointments/slots?office_id={office_id}&service=consultation"), 422, "date"),
    ]
    for response, status, field in cases:
        assert response.status_code == status, response.get_json()
        assert field in error(response)["fields"], response.get_json()
    for office in (closed, 999999999):
        response = free(person, office, day)
        assert response.status_code == 404 and error(response)["code"] == "office_not_found"


# --- booking ------------------------------------------------------------------------------------

def test_booking_files_a_request_and_confirms(app, api, person):
    office_id = make_office(app, name="Офис на Тверской")
    start = slot(app, local_day(app, 3), "10:30")
    response = book(person, office_id, start)
    assert response.status_code == 201, response.get_json()
    booked = response.get_json()
    assert booked["appointment"]["starts_at"] == start and booked["appointment"]["active"] is True
    # the confirming job may already have run (in-process jobs start at the commit)
    assert booked["request"]["type"] == "office_appointment" and booked["request"]["status"] in ("submitted",
                                                                                               "scheduled")
    request_id = booked["request"]["id"]
    instance_id = settle(app, request_id)
    detail = person.call("GET", f"/requests/{request_id}").get_json()
    assert detail["status"] == "scheduled"
    assert "Офис на Тверской" in detail["history"][-1]["note"]
    assert "request_status" in templates_to(app, person.phone)  # the confirmation
    # the reminder waits for its time (a day before the visit): no reminder, no operator task yet
    with app.app_context():
        timers.fire_due()
    settle(app, request_id)
    assert "appointment_reminder" not in templates_to(app, person.phone)
    assert operator_tasks(api, instance_id) == []
    mine = person.call("GET", "/appointments").get_json()["result"]
    assert [(a["id"], a["request_number"], a["request_status"]) for a in mine] == [
        (booked["appointment"]["id"], booked["request"]["number"], "scheduled")]


def test_taken_past_and_off_grid_slots_are_refused_without_a_draft(app, person):
    office_id = make_office(app)
    other = Person(app)
    start = slot(app, local_day(app, 1), "11:00")
    assert book(person, office_id, start).status_code == 201
    taken = book(other, office_id, start, lang=EN)
    assert taken.status_code == 409 and error(taken)["code"] == "appointment_slot_taken"
    cases = [
        (slot(app, local_day(app, -1), "11:00"), "appointment_slot_past", "This time has passed."),
        (slot(app, local_day(app, 1), "11:10"), "appointment_slot_invalid", None),
        (slot(app, local_day(app, 1), "18:00"), "appointment_slot_invalid", None),
        ("tomorrow at noon", "appointment_slot_invalid", None),
        (slot(app, local_day(app, offices.BOOKING_DAYS_AHEAD + 1), "11:00"), "appointment_date_out_of_range",
         f"Bookings are for today and up to {offices.BOOKING_DAYS_AHEAD} days ahead."),
    ]
    for sent, _code, text in cases:
        response = book(other, office_id, sent, lang=EN)
        assert response.status_code == 422, response.get_json()
        assert "slot" in error(response)["fields"], response.get_json()
        assert text is None or error(response)["fields"]["slot"] == [text]
    response = book(other, office_id, slot(app, local_day(app, 1), "12:00"), service="meters")
    assert response.status_code == 422 and "service" in error(response)["fields"]
    # none of the refusals left a request behind
    assert other.call("GET", "/requests/").get_json()["result"] == []
    assert other.call("GET", "/appointments").get_json()["result"] == []


def test_cancelling_frees_the_slot_and_stops_the_process(app, person):
    office_id = make_office(app)
    other = Person(app)
    day = local_day(app, 4)
    start = slot(app, day, "15:00")
    booked = book(person, office_id, start).get_json()
    settle(app, booked["request"]["id"])
    # another customer can neither see nor cancel it
    response = other.call("DELETE", f"/appointments/{booked['appointment']['id']}")
    assert response.status_code == 404 and error(response)["code"] == "appointment_not_found"
    assert other.call("POST", f"/requests/{booked['request']['id']}/close", json={}).status_code == 404
    closed = person.call("POST", f"/requests/{booked['request']['id']}/close", json={"note": "Не успеваю"})
    assert closed.status_code == 200, closed.get_json()
    assert start in free(person, office_id, day).get_json()["slots"]
    with app.app_context():
        found = db.session.get(Appointment, booked["appointment"]["id"])
        assert found.active is False and found.cancelled_at is not None
        instance = db.session.get(ServiceRequest, booked["request"]["id"]).process_instance_id
        from app.models.workflow import ProcessInstance
        assert db.session.get(ProcessInstance, instance).status == "cancelled"
    # the freed slot is someone else's now; cancelling through the appointments API works too
    again = book(other, office_id, start)
    assert again.status_code == 201, again.get_json()
    cancelled = other.call("DELETE", f"/appointments/{again.get_json()['appointment']['id']}")
    assert cancelled.status_code == 200 and cancelled.get_json()["active"] is False
    assert cancelled.get_json()["request_status"] == "closed"
    assert other.call("DELETE", f"/appointments/{again.get_json()['appointment']['id']}").status_code == 409


@pytest.mark.parametrize("visited, status", [(True, "completed"), (False, "cancelled")])
def test_reminder_then_the_operator_receives_the_visitor(app, api, person, monkeypatch, visited, status):
    monkeypatch.setitem(app.config["PROCESS_DEADLINES"], "office_appointment.reminder", "PT0S")
    office_id = make_office(app)
    booked = book(person, office_id, slot(app, local_day(app, 5), "09:30")).get_json()
    request_id = booked["request"]["id"]
    instance_id = settle(app, request_id)
    with app.app_context():
        timers.fire_due()
    settle(app, request_id)
    assert "appointment_reminder" in templates_to(app, person.phone)
    tasks = operator_tasks(api, instance_id)
    assert [(t["title"], t["candidate_role"]) for t in tasks] == [("Принять посетителя", "Operator")]
    response = api("operator").post(f"/api/v1/tasks/{tasks[0]['id']}/complete", json={"data": {"visited": visited}})
    assert response.status_code == 200, response.get_json()
    settle(app, request_id)
    assert person.call("GET", f"/requests/{request_id}").get_json()["status"] == status


def test_two_customers_racing_for_a_slot_one_wins(pg_app):
    office_id = make_office(pg_app)
    start = slot(pg_app, local_day(pg_app, 6), "16:00")
    people = [Person(pg_app) for _ in range(2)]
    barrier, statuses = threading.Barrier(2), []

    def take(someone):
        barrier.wait()
        statuses.append(book(someone, office_id, start).status_code)

    threads = [threading.Thread(target=take, args=(someone,)) for someone in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409]
    with pg_app.app_context():
        held = db.session.execute(select(Appointment).where(Appointment.office_id == office_id)).scalars().all()
        assert len(held) == 1 and held[0].active
        assert db.session.execute(select(ServiceRequest).where(
            ServiceRequest.customer_id.in_([p.id for p in people]))).scalars().all() == [held[0].request]


# --- the back office ----------------------------------------------------------------------------

def sign_in(app, username):
    from tests.conftest import PASSWORD
    client = app.test_client()
    assert client.post("/login/", data={"username": username, "password": PASSWORD}).status_code == 302
    return client


def test_editors_keep_offices_operators_read_them_and_the_bookings(app, person):
    import html
    editor = sign_in(app, "contenteditor")
    name = f"Офис {uuid.uuid4().hex[:6]}"
    good = {"name": name, "address": "г. Химки, ул. Ленина, д. 1", "latitude": "55.89", "longitude": "37.44",
            "phone": "+74950001122", "opening_hours": "mon-fri 09:00-18:00; sat 10:00-14:00", "slot_minutes": "20",
            "services": "consultation, meters", "active": "y"}
    for field, value, message in (("opening_hours", "пн-пт с 9 до 18", "нужно вида"),
                                  ("opening_hours", "mon 18:00-09:00", "закрывается позже"),
                                  ("services", "consultation, massage", "Неизвестные услуги: massage"),
                                  ("slot_minutes", "0", "Интервал"), ("name", "", "Обязательное поле")):
        refused = editor.post("/content/offices/add", data={**good, field: value})
        assert refused.status_code == 200 and message in html.unescape(refused.get_data(as_text=True)), field
    assert editor.post("/content/offices/add", data=good).status_code == 302
    with app.app_context():
        office = db.session.execute(select(Office).where(Office.name == name)).scalar_one()
        office_id = office.id
        db.session.remove()
    # the new office is bookable at once, for the services it lists
    listed = person.call("GET", "/appointments/offices").get_json()["result"]
    found = next(o for o in listed if o["id"] == office_id)
    assert [s["code"] for s in found["services"]] == ["consultation", "meters"] and found["slot_minutes"] == 20
    start = slot(app, local_day(app, 1), "09:20")
    assert book(person, office_id, start, service="meters").status_code == 201

    operator = sign_in(app, "operator")
    assert name in html.unescape(operator.get("/content/offices/list/").get_data(as_text=True))
    bookings = html.unescape(operator.get("/content/appointments/list/").get_data(as_text=True))
    assert name in bookings and "Приборы учёта" in bookings
    for url in ("/content/offices/add", f"/content/offices/edit/{office_id}"):
        assert operator.get(url).status_code in (302, 403), url
    technician = sign_in(app, "technician")
    assert technician.get("/content/offices/list/").status_code in (302, 403)
    assert technician.get("/content/appointments/list/").status_code in (302, 403)


def test_openapi_documents_subscriptions_and_appointments(app, api):
    spec = api("admin").get("/api/v1/_openapi").get_json()
    for path, methods in (("/client/subscriptions", {"get", "post"}), ("/client/subscriptions/{subscription_id}",
                                                                        {"delete"}),
                          ("/client/appointments", {"get", "post"}), ("/client/appointments/offices", {"get"}),
                          ("/client/appointments/slots", {"get"}),
                          ("/client/appointments/{appointment_id}", {"delete"})):
        assert methods <= set(spec["paths"][f"/api/v1{path}"]), path
    for name in ("SubscriptionCreateSchema", "SubscriptionSchema", "BookSchema", "SlotsSchema", "OfficeListSchema"):
        assert name in spec["components"]["schemas"], name


def test_the_database_holds_one_active_booking_per_slot(app, person):
    """The constraint itself: a second active booking of a slot fails; a cancelled one does not count."""
    from sqlalchemy.exc import IntegrityError
    office_id = make_office(app)
    booked = book(person, office_id, slot(app, local_day(app, 7), "13:00")).get_json()
    with app.app_context():
        first = db.session.get(Appointment, booked["appointment"]["id"])
        other = service_requests.create_draft(person.id, "office_appointment", {}, listed_only=False)
        copy = dict(office_id=office_id, starts_at=first.starts_at, ends_at=first.ends_at, service="consultation",
                    request_id=other.id, customer_id=person.id)
        db.session.add(Appointment(**copy, active=True))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        db.session.add(Appointment(**copy, active=False))
        db.session.commit()
        db.session.remove()
