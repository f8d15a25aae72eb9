"""Service requests through the client API (SPEC PR) on SQLite and PostgreSQL: drafts, submission
starting the BPMN process, status from the process, chat, attachments, rating, closing, and one
customer never reaching another's request or file."""
import dataclasses
import io

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.notifications import OutboxMessage
from app.models.requests import RequestStatusChange, ServiceRequest
from app.models.workflow import ProcessInstance
from app.services import request_numbers, service_requests
from app.workflows import jobs
from app.workflows.builtin_handlers import set_request_status
from app.workflows.service_tasks import JobContext, PermanentFailure
from tests.support.billing import link, make_account, make_meter, make_supplier
from tests.support.customers import Person
from tests.support.engine import deploy

PDF = b"%PDF-1.4\n" + b"0" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
EN = {"Accept-Language": "en"}
_JOBS = iter(range(10**9, 2 * 10**9))  # job ids no real service job of the session reaches


@pytest.fixture
def person(app):
    return Person(app)


def own_meter(app, person):
    with app.app_context():
        account = make_account(make_supplier())
        meter = make_meter(account, serial=f"SN-{account.number}")
        link(person.id, account)
        db.session.commit()
        return meter.id


def draft(person, **form):
    response = person.call("POST", "/requests/", json={"type": "meter_verification", "form_data": form})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def submitted(app, person):
    created = draft(person, meter_id=own_meter(app, person), comment="Пломба цела")
    response = person.call("POST", f"/requests/{created['id']}/submit")
    assert response.status_code == 200, response.get_json()
    settle(app, created["id"])
    return response.get_json()


def settle(app, request_id):
    with app.app_context():
        instance_id = db.session.get(ServiceRequest, request_id).process_instance_id
        assert jobs.wait_for_jobs(instance_id), "service jobs did not finish"
        db.session.remove()


def process_sets(app, number, status, note=None, job_id=None):
    """What the request.set_status service task does, as a worker would run it."""
    job_id = job_id or next(_JOBS)
    with app.app_context():
        result = set_request_status({"status": status, "note": note}, JobContext(job_id, 0, number, 1))
        db.session.commit()
        db.session.remove()
    return result


def upload(person, request_id, data, filename="скан.pdf"):
    return person.http.post(f"/api/v1/client/requests/{request_id}/attachments", headers=person.headers,
                            data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def test_display_names_are_made_safe():
    assert service_requests.display_name('..\\C:\\"акт"\r\n.exe', "application/pdf") == "акт.pdf"
    assert service_requests.display_name("", "image/png") == "file.png"
    assert service_requests.display_name("я" * 300 + ".jpg", "image/jpeg") == "я" * 90 + ".jpg"


def error(response):
    return response.get_json()["error"]


def test_a_draft_is_saved_resumed_and_numbered(app, person):
    created = draft(person, comment="Позвоните заранее")
    assert created["status"] == "draft" and created["form_data"] == {"comment": "Позвоните заранее"}
    assert request_numbers.parse(created["number"]) == created["number"]
    assert [h["status"] for h in created["history"]] == ["draft"]

    meter_id = own_meter(app, person)
    saved = person.call("PATCH", f"/requests/{created['id']}", json={"form_data": {"meter_id": meter_id}})
    assert saved.status_code == 200 and saved.get_json()["form_data"] == {"meter_id": meter_id}
    resumed = person.call("GET", f"/requests/{created['id']}").get_json()
    assert resumed["form_data"] == {"meter_id": meter_id} and resumed["status"] == "draft"

    listed = person.call("GET", "/requests/?state=open").get_json()
    assert [r["id"] for r in listed["result"]] == [created["id"]] and listed["count"] == 1
    assert person.call("GET", "/requests/?state=closed").get_json()["count"] == 0
    assert person.call("GET", "/requests/?state=all").status_code == 422


def test_types_come_with_their_form_schema(app, person):
    types = {t["type"]: t for t in person.call("GET", "/requests/types").get_json()["result"]}
    assert set(types) == {"address_mismatch", "appeal", "callback", "contact_change", "ct_vt_verification", "electrician_callout",
                          "grid_connection", "meter_installation", "meter_replacement", "meter_verification",
                          "paid_service", "supply_service"}
    assert types["meter_verification"]["form_schema"]["required"] == ["meter_id"]
    assert types["meter_verification"]["title"] == "Поверка прибора учёта"
    english = person.call("GET", "/requests/types", headers=EN).get_json()["result"]
    assert {t["type"]: t["title"] for t in english}["grid_connection"].startswith("Grid connection")
    # filed through their own endpoints (a booking, a chat) or by the system: not offered here
    for hidden in ("office_appointment", "security_sms", "support_chat"):
        refused = person.call("POST", "/requests/", json={"type": hidden, "form_data": {}}, headers=EN)
        assert refused.status_code == 422
        assert error(refused)["fields"] == {"type": ["This kind of request is not accepted."]}


def test_draft_refusals(app, person):
    unknown = person.call("POST", "/requests/", json={"type": "teleport", "form_data": {}}, headers=EN)
    assert unknown.status_code == 422
    assert error(unknown)["fields"] == {"type": ["This kind of request is not accepted."]}
    not_object = person.call("POST", "/requests/", json={"type": "meter_verification", "form_data": [1]})
    assert not_object.status_code == 422
    huge = person.call("POST", "/requests/", json={"type": "meter_verification", "form_data": {"x": "a" * 30_000}})
    assert huge.status_code == 422


def test_submit_validates_the_form_and_starts_the_process(app, person):
    created = draft(person, meter_id="seven", colour="red")
    refused = person.call("POST", f"/requests/{created['id']}/submit", headers=EN)
    assert refused.status_code == 422
    body = error(refused)
    assert body["code"] == "request_form_invalid"
    assert set(body["fields"]) == {"form_data.meter_id", "form_data.colour"}

    person.call("PATCH", f"/requests/{created['id']}", json={"form_data": {}})
    missing = person.call("POST", f"/requests/{created['id']}/submit")
    assert error(missing)["fields"] == {"form_data.meter_id": ["Обязательное поле."]}

    meter_id = own_meter(app, person)
    person.call("PATCH", f"/requests/{created['id']}", json={"form_data": {"meter_id": meter_id}})
    done = person.call("POST", f"/requests/{created['id']}/submit")
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["status"] == "submitted" and body["submitted_at"] is not None and body["account_id"] is not None
    assert [h["status"] for h in body["history"]] == ["draft", "submitted"]
    assert body["history"][-1]["by"] == "customer"
    settle(app, created["id"])
    with app.app_context():
        instance = db.session.execute(
            select(ProcessInstance).where(ProcessInstance.business_key == body["number"])).scalar_one()
        assert instance.process_key == "meter_verification"
        assert (instance.subject_type, instance.subject_id) == ("service_request", str(created["id"]))
        assert db.session.get(ServiceRequest, created["id"]).process_instance_id == instance.id
        db.session.remove()

    again = person.call("POST", f"/requests/{created['id']}/submit")
    assert again.status_code == 409 and error(again)["code"] == "request_not_draft"
    patched = person.call("PATCH", f"/requests/{created['id']}", json={"form_data": {}})
    assert patched.status_code == 409 and error(patched)["code"] == "request_not_draft"


def test_someone_elses_meter_and_a_failing_process_leave_the_draft_untouched(app, person, monkeypatch):
    stranger = Person(app)
    created = draft(person, meter_id=own_meter(app, stranger))
    refused = person.call("POST", f"/requests/{created['id']}/submit")
    assert refused.status_code == 404 and error(refused)["code"] == "meter_not_found"

    person.call("PATCH", f"/requests/{created['id']}", json={"form_data": {"meter_id": own_meter(app, person)}})
    kind = service_requests.TYPES["meter_verification"]
    monkeypatch.setitem(service_requests.TYPES, "meter_verification",
                        dataclasses.replace(kind, process_key="not_deployed"))
    failed = person.call("POST", f"/requests/{created['id']}/submit")
    assert failed.status_code == 404 and error(failed)["code"] == "definition_not_found"

    with app.app_context():
        req = db.session.get(ServiceRequest, created["id"])
        assert (req.status, req.submitted_at, req.process_instance_id, req.account_id) == ("draft", None, None, None)
        assert [h.status for h in service_requests.history(req.id)] == ["draft"]
        assert db.session.execute(select(ProcessInstance).where(
            ProcessInstance.business_key == req.number)).first() is None
        db.session.remove()


def test_status_from_the_process_is_history_once_per_job_and_told_to_the_customer(app, person):
    body = submitted(app, person)
    job_id = next(_JOBS)
    first = process_sets(app, body["number"], "in_progress", note="Техник назначен", job_id=job_id)
    repeated = process_sets(app, body["number"], "in_progress", note="Техник назначен", job_id=job_id)
    assert first["status"] == "in_progress" and repeated["repeated"] is True

    detail = person.call("GET", f"/requests/{body['id']}").get_json()
    assert detail["status"] == "in_progress"
    # the shipped process says "in progress" itself when it starts; the job above once more
    assert [(h["status"], h["by"], h["note"]) for h in detail["history"]] == [
        ("draft", "customer", None), ("submitted", "customer", None),
        ("in_progress", "process", "Диспетчер назначит визит техника."), ("in_progress", "process", "Техник назначен")]
    with app.app_context():
        sent = db.session.execute(select(OutboxMessage).where(
            OutboxMessage.template == "request_status", OutboxMessage.recipient == person.phone)
            .order_by(OutboxMessage.id)).scalars().all()
        assert [m.body for m in sent] == [f"Заявка {body['number']}: в работе. Диспетчер назначит визит техника.",
                                          f"Заявка {body['number']}: в работе. Техник назначен"]
        db.session.remove()

    with app.app_context(), pytest.raises(PermanentFailure):
        set_request_status({"status": "draft"}, JobContext(next(_JOBS), 0, body["number"], 1))
    with app.app_context(), pytest.raises(PermanentFailure):
        set_request_status({"status": "completed"}, JobContext(next(_JOBS), 0, request_numbers.make(2026, 999999), 1))
    with app.app_context():  # a process not started from a request (business key MV-…) has nothing to move
        assert "skipped" in set_request_status({"status": "completed"}, JobContext(next(_JOBS), 0, "MV-1", 1))


def test_a_process_moves_its_request_through_the_service_task(app, person, monkeypatch):
    kind = service_requests.TYPES["meter_verification"]
    monkeypatch.setitem(service_requests.TYPES, "meter_verification",
                        dataclasses.replace(kind, process_key=deploy(app, "request_status.bpmn")))
    body = submitted(app, person)
    detail = person.call("GET", f"/requests/{body['id']}").get_json()
    assert [(h["status"], h["by"], h["note"]) for h in detail["history"]] == [
        ("draft", "customer", None), ("submitted", "customer", None),
        ("in_progress", "process", "Техник назначен"), ("completed", "process", None)]
    assert detail["status"] == "completed" and detail["closed_at"] is not None
    with app.app_context():
        req = db.session.get(ServiceRequest, body["id"])
        assert db.session.get(ProcessInstance, req.process_instance_id).status == "completed"
        db.session.remove()


def test_chat_both_ways(app, person):
    created = draft(person)
    early = person.call("POST", f"/requests/{created['id']}/messages", json={"text": "Здравствуйте"})
    assert early.status_code == 409 and error(early)["code"] == "request_not_submitted"

    body = submitted(app, person)
    sent = person.call("POST", f"/requests/{body['id']}/messages", json={"text": "  Когда придёт техник?  "})
    assert sent.status_code == 201 and sent.get_json()["text"] == "Когда придёт техник?"
    with app.app_context():
        service_requests.staff_message(body["id"], "dispatcher", "Завтра с 9 до 12.")
        db.session.remove()

    chat = person.call("GET", f"/requests/{body['id']}").get_json()["messages"]
    assert [(m["author"], m["text"]) for m in chat] == [("customer", "Когда придёт техник?"),
                                                        ("staff", "Завтра с 9 до 12.")]
    assert chat[0]["read_at"] is None  # staff have not opened it
    assert chat[1]["read_at"] is not None  # the customer has seen the answer: this very visit

    for text, code in (("", "request_message_empty"), ("   ", "request_message_empty"),
                       ("я" * 4001, "request_message_too_long")):
        refused = person.call("POST", f"/requests/{body['id']}/messages", json={"text": text})
        assert refused.status_code == 422 and refused.get_json()["error"]["fields"]["text"], text
    assert person.call("POST", f"/requests/{body['id']}/messages", json={"text": "я" * 4000}).status_code == 201


def test_attachments_stored_downloaded_and_refused(app, person, monkeypatch):
    body = submitted(app, person)
    stored = upload(person, body["id"], PDF, filename="../../etc/акт;приёмки.exe")
    assert stored.status_code == 201, stored.get_json()
    attachment = stored.get_json()
    assert attachment["content_type"] == "application/pdf" and attachment["size"] == len(PDF)
    assert attachment["filename"] == "акт_приёмки.pdf"  # no path, no separator, the real type

    got = person.http.get(f"/api/v1/client/requests/{body['id']}/attachments/{attachment['id']}",
                          headers=person.headers)
    assert got.status_code == 200 and got.data == PDF and got.mimetype == "application/pdf"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%D0%B0%D0%BA%D1%82_" in got.headers["Content-Disposition"]

    with_file = person.call("POST", f"/requests/{body['id']}/messages",
                            json={"text": "Акт во вложении", "attachment_id": attachment["id"]})
    assert with_file.status_code == 201 and [a["id"] for a in with_file.get_json()["attachments"]] == [attachment["id"]]
    reused = person.call("POST", f"/requests/{body['id']}/messages",
                         json={"text": "Ещё раз", "attachment_id": attachment["id"]})
    assert reused.status_code == 404 and error(reused)["code"] == "attachment_not_found"

    wrong_type = upload(person, body["id"], b"MZ\x90\x00 not a document", filename="scan.pdf")
    assert wrong_type.status_code == 422 and error(wrong_type)["fields"]["file"]
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 100)
    too_large = upload(person, body["id"], PNG + b"\x00" * 100, filename="big.png")
    assert too_large.status_code == 422 and "0.0" in too_large.get_json()["error"]["fields"]["file"][0]
    assert upload(person, body["id"], PNG, filename="ok.png").status_code == 201
    monkeypatch.setitem(app.config, "REQUEST_MAX_ATTACHMENTS", 2)
    assert error(upload(person, body["id"], PNG))["code"] == "request_attachments_too_many"
    missing = person.http.post(f"/api/v1/client/requests/{body['id']}/attachments", headers=person.headers,
                               data={}, content_type="multipart/form-data")
    assert missing.status_code == 422
    assert len(person.call("GET", f"/requests/{body['id']}").get_json()["attachments"]) == 2


def test_rating_only_once_and_only_when_done(app, person):
    body = submitted(app, person)
    early = person.call("POST", f"/requests/{body['id']}/rating", json={"rating": 5})
    assert early.status_code == 409 and error(early)["code"] == "request_not_rateable"
    process_sets(app, body["number"], "completed")
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": "5"}, {"rating": 4, "feedback": "x" * 2001}, {}):
        assert person.call("POST", f"/requests/{body['id']}/rating", json=bad).status_code == 422, bad
    rated = person.call("POST", f"/requests/{body['id']}/rating", json={"rating": 5, "feedback": "Быстро"})
    assert rated.status_code == 200 and (rated.get_json()["rating"], rated.get_json()["feedback"]) == (5, "Быстро")
    again = person.call("POST", f"/requests/{body['id']}/rating", json={"rating": 1})
    assert again.status_code == 409 and error(again)["code"] == "request_already_rated"
    assert person.call("GET", "/requests/?state=closed").get_json()["count"] == 1


def test_closing_cancels_the_process_and_ends_the_request(app, person):
    body = submitted(app, person)
    closed = person.call("POST", f"/requests/{body['id']}/close", json={"note": "Передумал"})
    assert closed.status_code == 200, closed.get_json()
    detail = closed.get_json()
    assert detail["status"] == "closed" and detail["closed_at"] is not None
    assert (detail["history"][-1]["status"], detail["history"][-1]["note"]) == ("closed", "Передумал")
    with app.app_context():
        instance = db.session.execute(
            select(ProcessInstance).where(ProcessInstance.business_key == body["number"])).scalar_one()
        assert instance.status == "cancelled"
        db.session.remove()

    assert error(person.call("POST", f"/requests/{body['id']}/close"))["code"] == "request_closed"
    assert error(person.call("POST", f"/requests/{body['id']}/messages", json={"text": "?"}))["code"] == \
        "request_closed"
    assert error(upload(person, body["id"], PDF))["code"] == "request_closed"
    assert process_sets(app, body["number"], "in_progress")["ignored"] is True  # a late word of the process
    # closed by the customer counts as done: it may be rated
    assert person.call("POST", f"/requests/{body['id']}/rating", json={"rating": 3}).status_code == 200

    a_draft = draft(person)  # no process yet: closing a draft just closes it
    assert person.call("POST", f"/requests/{a_draft['id']}/close").get_json()["status"] == "closed"


def test_qr_code_of_the_number(app, person):
    created = draft(person)
    got = person.http.get(f"/api/v1/client/requests/{created['id']}/qr.png", headers=person.headers)
    assert got.status_code == 200 and got.mimetype == "image/png" and got.data.startswith(b"\x89PNG\r\n\x1a\n")


def test_another_customer_never_reaches_a_request_or_its_file(app, person):
    body = submitted(app, person)
    attachment = upload(person, body["id"], PDF).get_json()
    stranger = Person(app)
    rid = body["id"]
    calls = [("GET", f"/requests/{rid}", None), ("PATCH", f"/requests/{rid}", {"form_data": {}}),
             ("POST", f"/requests/{rid}/submit", None), ("POST", f"/requests/{rid}/messages", {"text": "hi"}),
             ("POST", f"/requests/{rid}/rating", {"rating": 5}), ("POST", f"/requests/{rid}/close", {}),
             ("GET", f"/requests/{rid}/qr.png", None),
             ("GET", f"/requests/{rid}/attachments/{attachment['id']}", None)]
    for method, path, json in calls:
        response = stranger.call(method, path, json=json)
        assert response.status_code == 404 and error(response)["code"] == "request_not_found", (method, path)
    assert upload(stranger, rid, PDF).status_code == 404
    assert stranger.call("GET", "/requests/").get_json()["count"] == 0
    # their own request does not open the first customer's file either
    theirs = draft(stranger)
    response = stranger.call("GET", f"/requests/{theirs['id']}/attachments/{attachment['id']}")
    assert response.status_code == 404 and error(response)["code"] == "attachment_not_found"
    detail = person.call("GET", f"/requests/{rid}").get_json()  # nothing changed: only the owner and the process
    assert detail["status"] == "in_progress" and detail["closed_at"] is None and detail["rating"] is None
    assert [(h["status"], h["by"]) for h in detail["history"]] == [
        ("draft", "customer"), ("submitted", "customer"), ("in_progress", "process")]
    assert [m["author"] for m in detail["messages"]] == []
    assert person.call("GET", f"/requests/{rid}").status_code == 200
    assert stranger.call("GET", "/requests/").status_code == 200


def test_signed_out_is_refused(app):
    assert app.test_client().get("/api/v1/client/requests/").status_code == 401


def test_request_endpoints_are_in_the_openapi_document(app, api):
    spec = api("admin").get("/api/v1/_openapi").get_json()
    base = "/api/v1/client/requests"
    for path, method in (("/", "post"), ("/", "get"), ("/types", "get"), ("/{request_id}", "get"),
                         ("/{request_id}", "patch"), ("/{request_id}/submit", "post"),
                         ("/{request_id}/messages", "post"), ("/{request_id}/attachments", "post"),
                         ("/{request_id}/attachments/{attachment_id}", "get"), ("/{request_id}/rating", "post"),
                         ("/{request_id}/close", "post"), ("/{request_id}/qr.png", "get")):
        assert method in spec["paths"][f"{base}{path}"], path
    assert "get" in spec["paths"]["/api/v1/public/requests/{number}"]
    assert {"RequestDetailSchema", "RequestListSchema", "PublicStatusSchema", "MessageInSchema"} <= set(
        spec["components"]["schemas"])


def test_form_errors_name_nested_fields_and_each_once():
    schema = {"type": "object", "required": ["a"], "additionalProperties": False,
              "properties": {"a": {"type": "object", "required": ["b"], "additionalProperties": False,
                                   "properties": {"b": {"type": "string"}}}},
              "allOf": [{"required": ["a"]}, {"if": {"required": ["c"]}, "then": {"required": ["a"]}}]}
    assert service_requests._form_errors(schema, {}) == {"a": ["request_field_required"]}
    assert service_requests._form_errors(schema, {"a": {"x": 1}}) == {
        "a.b": ["request_field_required"], "a.x": ["request_field_unknown"]}
    assert service_requests._form_errors(schema, {"a": {"b": 5}}) == {"a.b": ["request_field_invalid"]}
