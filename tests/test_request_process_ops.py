"""What a request's process asks of its customer (Customer-lane tasks in the client API, choices
filled from process data) and the request operations every process shares (status, document,
invoice), on SQLite and PostgreSQL."""
import io

import pytest
from pypdf import PdfReader

from app.extensions import db
from app.models.requests import RequestAttachment, ServiceRequest
from app.services.request_types import TYPES, RequestType, base_data
from app.workflows import deployment, jobs
from tests.support.customers import Person
from tests.support.engine import read_bpmn

SLOTS = ["2026-12-01 09:00-12:00", "2026-12-02 12:00-15:00"]
PICK_FORM = {"type": "object", "required": ["slot"], "additionalProperties": False,
             "properties": {"slot": {"type": "string", "title": "Время", "x-options-from": "offered"}}}


@pytest.fixture
def visit_kind(app, monkeypatch):
    with app.app_context():
        definition, _ = deployment.deploy(read_bpmn("customer_task.bpmn"), forms={"pick_slot.json": PICK_FORM},
                                          deployed_by="tests")
        key = definition.key
        db.session.remove()
    monkeypatch.setitem(TYPES, "test_visit", RequestType(
        key="test_visit", process_key=key, schema={"type": "object"},
        process_data=lambda req, customer: {**base_data(req, customer), "offered": SLOTS}))


def submitted_visit(app, person, **form):
    created = person.call("POST", "/requests/", json={"type": "test_visit", "form_data": form}).get_json()
    response = person.call("POST", f"/requests/{created['id']}/submit")
    assert response.status_code == 200, response.get_json()
    settle(app, created["id"])
    return person.call("GET", f"/requests/{created['id']}").get_json()


def settle(app, request_id):
    with app.app_context():
        assert jobs.wait_for_jobs(db.session.get(ServiceRequest, request_id).process_instance_id)
        db.session.remove()


def test_the_customer_answers_what_the_process_asks_with_a_choice_it_offered(app, visit_kind):
    person = Person(app)
    detail = submitted_visit(app, person, address="ул. Ленина, 1")
    assert detail["status"] == "waiting_customer"
    [task] = detail["tasks"]
    assert task["name"] == "pick_slot" and task["title"] == "Выберите время визита"
    assert task["form_schema"]["properties"]["slot"]["enum"] == SLOTS

    path = f"/requests/{detail['id']}/tasks/{task['id']}"
    refused = person.call("POST", path, json={"data": {"slot": "2026-12-24 09:00-12:00"}})
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "form_invalid"
    assert "slot" in refused.get_json()["error"]["fields"]
    assert person.call("POST", path, json={"data": {}}).status_code == 422
    assert person.call("POST", path, json={"slot": SLOTS[0]}).status_code == 422  # not wrapped in data

    answered = person.call("POST", path, json={"data": {"slot": SLOTS[1]}})
    assert answered.status_code == 200, answered.get_json()
    assert answered.get_json()["tasks"] == []
    again = person.call("POST", path, json={"data": {"slot": SLOTS[0]}})
    assert again.status_code == 409

    settle(app, detail["id"])
    detail = person.call("GET", f"/requests/{detail['id']}").get_json()
    [document] = [a for a in detail["attachments"] if a["uploaded_by"] == "staff"]
    assert document["filename"] == "Уведомление о визите.pdf" and document["content_type"] == "application/pdf"
    pdf = person.call("GET", f"/requests/{detail['id']}/attachments/{document['id']}")
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert detail["number"] in text and SLOTS[1] in text and "ул. Ленина, 1" in text

    invoices = person.call("GET", "/invoices").get_json()
    assert [(i["description"], i["amount"], i["status"]) for i in invoices["result"]] == [
        ("Выезд специалиста", "1500.00", "open")]


def test_another_customer_can_neither_see_nor_answer_the_task(app, visit_kind):
    owner, stranger = Person(app), Person(app)
    detail = submitted_visit(app, owner)
    [task] = detail["tasks"]
    assert stranger.call("GET", f"/requests/{detail['id']}").status_code == 404
    answer = {"data": {"slot": SLOTS[0]}}
    assert stranger.call("POST", f"/requests/{detail['id']}/tasks/{task['id']}", json=answer).status_code == 404
    # the stranger's own request does not open the owner's task either
    own = submitted_visit(app, stranger)
    assert stranger.call("POST", f"/requests/{own['id']}/tasks/{task['id']}", json=answer).status_code == 404
    assert owner.call("GET", f"/requests/{detail['id']}").get_json()["tasks"][0]["id"] == task["id"]


def test_a_closed_request_asks_nothing_and_takes_no_answer(app, visit_kind):
    person = Person(app)
    detail = submitted_visit(app, person)
    [task] = detail["tasks"]
    assert person.call("POST", f"/requests/{detail['id']}/close", json={}).status_code == 200
    assert person.call("GET", f"/requests/{detail['id']}").get_json()["tasks"] == []
    late = person.call("POST", f"/requests/{detail['id']}/tasks/{task['id']}", json={"data": {"slot": SLOTS[0]}})
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "request_closed"


def test_a_document_is_issued_once_per_job(app, visit_kind):
    from app.services import request_documents

    person = Person(app)
    detail = submitted_visit(app, person)
    with app.app_context():
        first = request_documents.issue(detail["number"], "Акт", [["Итог", "выполнено"]], None, 10**9 + 7)
        again = request_documents.issue(detail["number"], "Акт", [["Итог", "выполнено"]], None, 10**9 + 7)
        db.session.commit()
        assert again["attachment_id"] == first["attachment_id"] and again["repeated"]
        assert db.session.query(RequestAttachment).filter_by(job_id=10**9 + 7).count() == 1
        for title, lines in (("", []), ("x" * 201, []), ("Акт", "not a list")):
            with pytest.raises(ValueError):
                request_documents.issue(detail["number"], title, lines, None, 10**9 + 8)
        with pytest.raises(LookupError):
            request_documents.issue("KB-2026-999999-7", "Акт", [], None, 10**9 + 9)
        db.session.remove()


def test_form_choices_and_bounds_come_from_the_process_data():
    from app.workflows.processor import with_options

    form = {"type": "object", "properties": {
        "slot": {"type": "string", "x-options-from": "offered"},
        "price": {"type": "number", "x-minimum-from": "min_price", "x-maximum-from": "max_price"},
        "items": {"type": "array", "items": {"type": "string", "x-options-from": "missing"}}}}
    filled = with_options(form, {"offered": ["a", {"not": "scalar"}, 2], "min_price": 1000.5, "max_price": True,
                                 "missing": "not a list"})
    assert filled["properties"]["slot"]["enum"] == ["a", 2]
    assert filled["properties"]["price"]["minimum"] == 1000.5 and "maximum" not in filled["properties"]["price"]
    assert filled["properties"]["items"]["items"]["enum"] == []  # nothing offered: nothing valid
    assert "enum" not in form["properties"]["slot"]  # the deployed form is left as it was


def test_an_invoice_needs_a_request_with_a_customer_and_a_good_amount(app, visit_kind):
    from app.services import request_numbers
    from app.workflows.builtin_handlers import issue_invoice
    from app.workflows.service_tasks import JobContext, PermanentFailure

    person = Person(app)
    detail = submitted_visit(app, person)
    with app.app_context():
        walk_in = ServiceRequest(type="test_visit", status="submitted", form_data={}, filed_in_office=True)
        db.session.add(walk_in)
        db.session.flush()
        walk_in.number = request_numbers.make(2026, walk_in.id)
        db.session.commit()
        refusals = ((request_numbers.make(2026, 999999), "100.00"), (walk_in.number, "100.00"),
                    (detail["number"], "0"), (detail["number"], "12.345"), (detail["number"], "много"))
        for number, amount in refusals:
            with pytest.raises(PermanentFailure):
                issue_invoice({"amount": amount, "description": "Выезд"}, JobContext(10**9 + 11, 0, number, 1))
        db.session.rollback()
        db.session.remove()
    assert person.call("GET", "/invoices").get_json()["count"] == 0


def test_a_draft_asks_nothing_and_closing_cancels_the_processs_unpaid_invoice(app, visit_kind):
    person = Person(app)
    created = person.call("POST", "/requests/", json={"type": "test_visit", "form_data": {}}).get_json()
    assert created["tasks"] == []
    answered = person.call("POST", f"/requests/{created['id']}/tasks/1", json={"data": {"slot": SLOTS[0]}})
    assert answered.status_code == 404 and answered.get_json()["error"]["code"] == "task_not_found"

    detail = submitted_visit(app, person)
    [task] = detail["tasks"]
    person.call("POST", f"/requests/{detail['id']}/tasks/{task['id']}", json={"data": {"slot": SLOTS[0]}})
    settle(app, detail["id"])
    [invoice] = person.call("GET", "/invoices").get_json()["result"]
    assert invoice["status"] == "open"
    assert person.call("POST", f"/requests/{detail['id']}/close", json={}).status_code == 200
    [invoice] = person.call("GET", "/invoices").get_json()["result"]
    assert invoice["status"] == "cancelled"
