"""The electrician call-out (SPEC PR-4) end to end on SQLite and PostgreSQL: the price known in
advance, photos on the request, the dispatcher's assignment, the electrician's visit record, the
completion act (PDF), the invoice paid through the payments API, completion, rating; a free
visit; and the refusals (bad form, bad amount, another customer's request, rating too early)."""
import io

import pytest

from app.extensions import db
from app.models.workflow import ProcessInstance
from app.workflows import timers
from tests.support.paid_flow import (
    complete_staff_task,
    detail,
    error,
    file_request,
    instance_of,
    open_invoices,
    pay_invoice,
    settle,
    staff_tasks,
    submit,
)
from tests.test_client_payments import Person

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FORM = {"address": "г. Москва, ул. Лесная, д. 5, кв. 12", "problem": "Выбивает автомат на кухне",
        "urgency": "urgent"}
ASSIGN = {"technician": "technician", "visit_date": "2026-12-02", "slot": "10:00-12:00"}
VISIT = {"visited_on": "2026-12-02", "work_done": "Заменён автомат 16 А, проверена проводка",
         "materials": "Автомат ABB 16 А", "amount": 2500.5}


@pytest.fixture
def person(app):
    return Person(app)


def upload(person, request_id, data, filename):
    return person.http.post(f"/api/v1/client/requests/{request_id}/attachments", headers=person.headers,
                            data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def notes(request):
    return [(h["status"], h["note"]) for h in request["history"]]


def test_prices_are_public_and_known_before_ordering(app):
    response = app.test_client().get("/api/v1/public/paid-services/electrician-callout")
    assert response.status_code == 200
    prices = response.get_json()
    assert prices["currency"] == "RUB"
    assert float(prices["urgent"]) > float(prices["normal"]) > 0


def test_call_out_scheduled_visited_billed_paid_and_rated(app, api, person):
    stranger = Person(app)
    urgent_price = app.test_client().get("/api/v1/public/paid-services/electrician-callout").get_json()["urgent"]
    request_id = file_request(person, "electrician_callout", FORM)
    assert upload(person, request_id, PNG, "щиток.png").status_code == 201
    number = submit(app, person, request_id)["number"]

    request = detail(person, request_id)
    assert request["status"] == "in_progress"
    assert f"Стоимость вызова {urgent_price} ₽" in request["history"][-1]["note"]
    assert request["tasks"] == []  # nothing asked of the customer: the dispatcher acts next

    (task,) = staff_tasks(api, "dispatcher", app, request_id)
    assert task["name"] == "assign_electrician" and task["candidate_role"] == "Dispatcher"
    assert task["due_at"] is not None  # two hours for an urgent call (non-interrupting timer)
    assert staff_tasks(api, "technician", app, request_id) == []
    assert complete_staff_task(api, "dispatcher", app, request_id, ASSIGN).status_code == 200
    request = detail(person, request_id)
    assert request["status"] == "scheduled"
    assert notes(request)[-1] == ("scheduled", "Электрик приедет 2026-12-02, 10:00-12:00.")

    # a negative amount is refused by the form, and the task stays open
    refused = complete_staff_task(api, "technician", app, request_id, {**VISIT, "amount": -1})
    assert error(refused) == (422, "form_invalid") and "amount" in refused.get_json()["error"]["fields"]
    assert complete_staff_task(api, "technician", app, request_id, VISIT).status_code == 200

    request = detail(person, request_id)
    assert request["status"] == "awaiting_payment"
    (act,) = [a for a in request["attachments"] if a["uploaded_by"] == "staff"]
    assert act["filename"].endswith(".pdf")
    download = person.call("GET", f"/requests/{request_id}/attachments/{act['id']}")
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    (invoice,) = [i for i in open_invoices(person) if number in i["description"]]
    assert invoice["amount"] == "2500.50"
    assert invoice["number"] in request["history"][-1]["note"]
    assert error(person.call("POST", f"/requests/{request_id}/rating", {"rating": 5})) == (409, "request_not_rateable")
    # another customer reaches neither the request, its act nor its invoice
    assert error(stranger.call("GET", f"/requests/{request_id}")) == (404, "request_not_found")
    assert error(stranger.call("GET", f"/requests/{request_id}/attachments/{act['id']}")) == (404, "request_not_found")
    assert error(stranger.pay({"items": [{"invoice_id": invoice["id"]}]})) == (404, "invoice_not_found")

    pay_invoice(app, person, invoice["id"])
    settle(app, request_id)
    request = detail(person, request_id)
    assert request["status"] == "completed"
    assert [s for s, _ in notes(request)] == ["draft", "submitted", "in_progress", "scheduled", "awaiting_payment",
                                             "completed"]
    with app.app_context():
        assert db.session.get(ProcessInstance, instance_of(app, request_id)).status == "completed"
        db.session.remove()
    rated = person.call("POST", f"/requests/{request_id}/rating", {"rating": 5, "feedback": "Быстро и аккуратно"})
    assert rated.status_code == 200, rated.get_json()
    assert error(person.call("POST", f"/requests/{request_id}/rating", {"rating": 4})) == (409, "request_already_rated")


def test_a_free_visit_completes_without_an_invoice(app, api, person):
    request_id = file_request(person, "electrician_callout", {**FORM, "urgency": "normal", "phone": "+79990001122"})
    submit(app, person, request_id)
    complete_staff_task(api, "dispatcher", app, request_id, ASSIGN)
    free = {key: value for key, value in VISIT.items() if key != "materials"}
    assert complete_staff_task(api, "technician", app, request_id, {**free, "amount": 0}).status_code == 200
    request = detail(person, request_id)
    assert request["status"] == "completed"
    assert "оплата не требуется" in request["history"][-1]["note"]
    assert [a for a in request["attachments"] if a["uploaded_by"] == "staff"]  # the act, still
    assert not [i for i in open_invoices(person) if request["number"] in i["description"]]


@pytest.mark.parametrize("form, field", [
    ({**FORM, "urgency": "asap"}, "form_data.urgency"),
    ({key: value for key, value in FORM.items() if key != "address"}, "form_data.address"),
    ({**FORM, "phone": "8-916-000"}, "form_data.phone"),
    ({**FORM, "photos": 3}, "form_data.photos"),
])
def test_an_incomplete_call_out_is_refused_and_stays_a_draft(app, person, form, field):
    request_id = file_request(person, "electrician_callout", form)
    response = person.call("POST", f"/requests/{request_id}/submit")
    assert error(response) == (422, "request_form_invalid")
    assert field in response.get_json()["error"]["fields"]
    assert detail(person, request_id)["status"] == "draft"


def test_an_overdue_assignment_stays_with_the_dispatcher(app, api, person, monkeypatch):
    # Due at once: the timer is due when the instance is created (no waiting on the clock).
    monkeypatch.setitem(app.config["PROCESS_DEADLINES"], "electrician_callout.assign", "PT0S")
    request_id = file_request(person, "electrician_callout", {**FORM, "urgency": "normal"})
    submit(app, person, request_id)
    instance_id = instance_of(app, request_id)
    with app.app_context():
        assert timers._fire(instance_id) == 1
        instance = db.session.get(ProcessInstance, instance_id)
        assert instance.status == "waiting" and instance.next_timer_at is None
        db.session.remove()
    (task,) = staff_tasks(api, "dispatcher", app, request_id)
    assert task["name"] == "assign_electrician" and task["status"] == "open"
    assert complete_staff_task(api, "dispatcher", app, request_id, ASSIGN).status_code == 200
    assert detail(person, request_id)["status"] == "scheduled"


def test_closing_an_unpaid_call_out_cancels_its_invoice(app, api, person):
    request_id = file_request(person, "electrician_callout", FORM)
    number = submit(app, person, request_id)["number"]
    complete_staff_task(api, "dispatcher", app, request_id, ASSIGN)
    complete_staff_task(api, "technician", app, request_id, VISIT)
    (invoice,) = [i for i in open_invoices(person) if number in i["description"]]
    closed = person.call("POST", f"/requests/{request_id}/close", {"note": "Починили сами"})
    assert closed.status_code == 200, closed.get_json()
    assert detail(person, request_id)["status"] == "closed"
    assert not [i for i in open_invoices(person) if number in i["description"]]
    assert error(person.pay({"items": [{"invoice_id": invoice["id"]}]})) == (409, "invoice_not_open")
    with app.app_context():
        assert db.session.get(ProcessInstance, instance_of(app, request_id)).status == "cancelled"
        db.session.remove()
