"""Callback orders (SPEC PR-8), contact-data change notices (PR-12) and "the account's address is
wrong" filed by a signed-in customer, end to end through the client and staff APIs on SQLite and
PostgreSQL, with their refusals."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.appeals import AppealTopic
from app.models.notifications import OutboxMessage
from app.models.requests import ServiceRequest
from app.workflows import jobs, timers
from tests.support.billing import link, make_account, make_supplier
from tests.support.customers import Person
from tests.test_process_appeals import human_tasks, open_task


@pytest.fixture
def person(app):
    return Person(app)


def local_today(app):
    return datetime.now(ZoneInfo(app.config["TIME_ZONE"])).date()


def own_account(app, person, address="г. Москва, ул. Ленина, д. 1, кв. 5"):
    with app.app_context():
        account = make_account(make_supplier(), address=address)
        link(person.id, account)
        db.session.commit()
        return account.id, account.number


def file(app, person, kind, form, lang="ru"):
    created = person.call("POST", "/requests/", json={"type": kind, "form_data": form})
    assert created.status_code == 201, created.get_json()
    response = person.call("POST", f"/requests/{created.get_json()['id']}/submit", lang=lang)
    if response.status_code == 200:
        settle(app, created.get_json()["id"])
    return created.get_json()["id"], response


def settle(app, request_id):
    with app.app_context():
        instance_id = db.session.get(ServiceRequest, request_id).process_instance_id
        assert jobs.wait_for_jobs(instance_id), "service jobs did not finish"
        db.session.remove()


def complete(api, username, task, data):
    response = api(username).post(f"/api/v1/tasks/{task.id}/complete", json={"data": data})
    assert response.status_code == 200, response.get_json()


def refused_fields(response):
    assert response.status_code == 422, response.get_json()
    return response.get_json()["error"]["fields"]


def status_notices(app, phone):
    with app.app_context():
        return db.session.execute(select(OutboxMessage.body).where(OutboxMessage.template == "request_status",
                                                                   OutboxMessage.recipient == phone)).scalars().all()


# --- callback (PR-8) -----------------------------------------------------------------------------

def window(app, days=1, time_from="10:00", time_to="12:00", **form):
    return {"date": (local_today(app) + timedelta(days=days)).isoformat(), "time_from": time_from,
            "time_to": time_to, **form}


def test_a_callback_is_due_at_the_window_and_its_result_completes_it(app, person, api):
    with app.app_context():
        topic_id = db.session.execute(select(AppealTopic.id).where(AppealTopic.title == "Оплата")).scalar_one()
    request_id, response = file(app, person, "callback", window(app, topic_id=topic_id, comment="После обеда"))
    assert response.status_code == 200, response.get_json()
    task = open_task(app, request_id)
    assert (task.name, task.candidate_role, task.title) == ("call_back", "Operator", "Перезвонить клиенту")
    day = local_today(app) + timedelta(days=1)
    end = datetime(day.year, day.month, day.day, 12, 0, tzinfo=ZoneInfo(app.config["TIME_ZONE"]))
    end_utc = end.astimezone(timezone.utc).replace(tzinfo=None)
    assert abs(task.due_at - end_utc) < timedelta(minutes=5)
    data = api("operator").get(f"/api/v1/process-instances/{task.instance_id}").get_json()["data"]
    assert data["callback_phone"] == person.phone  # the customer's own by default
    assert data["topic"] == "Оплата" and data["window"] == f"{day:%d.%m.%Y} 10:00–12:00"

    bad = api("operator").post(f"/api/v1/tasks/{task.id}/complete", json={"data": {"call_result": "maybe"}})
    assert bad.status_code == 422
    complete(api, "operator", task, {"call_result": "not_reached", "call_note": "Абонент недоступен"})
    settle(app, request_id)
    seen = person.call("GET", f"/requests/{request_id}").get_json()
    assert seen["status"] == "completed"
    assert f"Не удалось дозвониться по номеру {person.phone}" in seen["history"][-1]["note"]
    assert any("Не удалось дозвониться" in body for body in status_notices(app, person.phone))


def test_a_callback_to_another_phone_and_a_missed_window_goes_to_an_administrator(app, person, api, monkeypatch):
    monkeypatch.setitem(app.config["PROCESS_DEADLINES"], "callback.call", "PT0S")
    request_id, response = file(app, person, "callback",
                                window(app, phone="8 (916) 000-11-22", other_topic="Показания не приняты"))
    assert response.status_code == 200, response.get_json()
    with app.app_context():
        timers.fire_due()
        db.session.remove()
    settle(app, request_id)
    tasks = human_tasks(app, request_id)
    assert [(t.name, t.status) for t in tasks][-1] == ("call_back_overdue", "open")
    assert tasks[-1].candidate_role == "Admin"
    data = api("admin").get(f"/api/v1/process-instances/{tasks[-1].instance_id}").get_json()["data"]
    assert data["callback_phone"] == "+79160001122" and data["topic"] == "Показания не приняты"
    complete(api, "admin", tasks[-1], {"call_result": "reached"})
    settle(app, request_id)
    seen = person.call("GET", f"/requests/{request_id}").get_json()
    assert seen["status"] == "completed" and seen["history"][-1]["note"] == "Мы вам перезвонили."


def test_callback_refusals(app, person):
    today = local_today(app)
    cases = [
        (window(app, time_from="12:00", time_to="11:00", other_topic="x"), "form_data.time_to",
         'The "to" time must be later than the "from" time.'),
        (window(app, days=-1, other_topic="x"), "form_data.date", "This time has passed: choose another."),
        (window(app, days=60, other_topic="x"), "form_data.date", "A callback can be booked at most 30 days ahead."),
        (window(app, time_to="25:00", other_topic="x"), "form_data.time_to", "The value is not valid."),
        ({**window(app, other_topic="x"), "date": f"{today.year}-13-01"}, "form_data.date", "The value is not valid."),
        (window(app, phone="12345", other_topic="x"), "form_data.phone", None),
        (window(app), "form_data.other_topic", 'Choose a topic or describe it in your own words ("Other").'),
        (window(app, topic_id=10**8), "form_data.topic_id", "This topic is not on the list: choose the topic again."),
    ]
    for form, field, message in cases:
        request_id, response = file(app, person, "callback", form, lang="en")
        fields = refused_fields(response)
        assert list(fields) == [field], (form, fields)
        if message:
            assert fields[field] == [message], form
        assert person.call("GET", f"/requests/{request_id}").get_json()["status"] == "draft"


# --- contact-data change notice (PR-12) ----------------------------------------------------------

def test_a_contact_change_goes_to_an_operator_and_is_completed(app, person, api):
    first, first_number = own_account(app, person)
    second, second_number = own_account(app, person, address="г. Москва, ул. Мира, д. 3")
    form = {"changes": {"phone": "8 916 222-33-44", "postal_address": "г. Москва, ул. Мира, д. 3, кв. 1"},
            "account_ids": [first, second], "comment": "Переехали"}
    request_id, response = file(app, person, "contact_change", form)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["account_id"] == first
    task = open_task(app, request_id)
    assert (task.name, task.candidate_role) == ("update_billing", "Operator")
    data = api("operator").get(f"/api/v1/process-instances/{task.instance_id}").get_json()["data"]
    assert data["changes"] == {"phone": "+79162223344", "postal_address": "г. Москва, ул. Мира, д. 3, кв. 1"}
    assert first_number in data["summary"] and second_number in data["summary"]
    assert "Телефон: +79162223344" in data["summary"]
    complete(api, "operator", task, {"updated": True})
    settle(app, request_id)
    seen = person.call("GET", f"/requests/{request_id}").get_json()
    assert seen["status"] == "completed" and seen["history"][-1]["note"] == "Контактные данные обновлены."


def test_a_contact_change_the_operator_cannot_make_is_rejected_with_the_reason(app, person, api):
    account, _number = own_account(app, person)
    request_id, _response = file(app, person, "contact_change",
                                 {"changes": {"full_name": "Петрова Мария Ивановна"}, "account_ids": [account]})
    task = open_task(app, request_id)
    complete(api, "operator", task, {"updated": False, "update_note": "Нужна копия свидетельства о браке."})
    settle(app, request_id)
    seen = person.call("GET", f"/requests/{request_id}").get_json()
    assert seen["status"] == "rejected" and seen["history"][-1]["note"] == "Нужна копия свидетельства о браке."


def test_contact_change_refusals(app, person):
    account, _number = own_account(app, person)
    stranger = Person(app)
    foreign, _ = own_account(app, stranger)
    cases = [
        ({"changes": {}, "account_ids": [account]}, "form_data.changes"),
        ({"changes": {"email": "not-an-email"}, "account_ids": [account]}, "form_data.changes.email"),
        ({"changes": {"phone": "123"}, "account_ids": [account]}, "form_data.changes.phone"),
        ({"changes": {"nickname": "Маша"}, "account_ids": [account]}, "form_data.changes.nickname"),
        ({"changes": {"email": "a@b.ru"}, "account_ids": []}, "form_data.account_ids"),
    ]
    for form, field in cases:
        request_id, response = file(app, person, "contact_change", form)
        assert field in refused_fields(response), (form, response.get_json())
        assert person.call("GET", f"/requests/{request_id}").get_json()["status"] == "draft"
    request_id, response = file(app, person, "contact_change",
                                {"changes": {"email": "a@b.ru"}, "account_ids": [account, foreign]})
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "account_not_found"
    # and the stranger never sees the customer's notice
    assert stranger.call("GET", f"/requests/{request_id}").status_code == 404


# --- "the account's address is wrong", from the app ------------------------------------------

def test_a_customer_reports_a_wrong_address_of_their_account(app, person, api):
    account, number = own_account(app, person, address="г. Москва, ул. Чужая, д. 9")
    stranger = Person(app)
    foreign, _ = own_account(app, stranger)
    request_id, response = file(app, person, "address_mismatch", {"account_id": foreign})
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "account_not_found"

    request_id, response = file(app, person, "address_mismatch", {"account_id": account, "comment": "Живу на Мира, 3"})
    assert response.status_code == 200, response.get_json()
    task = open_task(app, request_id)
    assert (task.name, task.candidate_role) == ("check_address", "Operator")
    data = api("operator").get(f"/api/v1/process-instances/{task.instance_id}").get_json()["data"]
    assert (data["account_number"], data["account_address"]) == (number, "г. Москва, ул. Чужая, д. 9")
    complete(api, "operator", task, {"check_result": "address_corrected", "check_note": "Адрес исправлен."})
    settle(app, request_id)
    seen = person.call("GET", f"/requests/{request_id}").get_json()
    assert seen["status"] == "completed" and seen["history"][-1]["note"] == "Адрес исправлен."
    assert stranger.call("GET", f"/requests/{request_id}").status_code == 404
