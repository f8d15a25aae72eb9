"""Closing an account (ID-8) erases the person from their service requests and the processes
behind them, keeping the company's record (number, kind, dates, status history)."""
import os

from sqlalchemy import select

from app.extensions import db
from app.models.requests import RequestAttachment, ServiceRequest
from app.models.workflow import ProcessEvent, ProcessInstance, ServiceJob
from app.services import service_requests, uploads
from app.workflows import instances
from tests.support.customers import PASSWORD, Person
from tests.test_client_requests import draft, settle, submitted, upload

PDF = b"%PDF-1.4\n" + b"0" * 64


def test_closing_the_account_erases_the_person_from_requests_and_processes(app):
    person = Person(app)
    email = person.confirm_email()
    body = submitted(app, person)
    rid = body["id"]
    assert person.call("POST", f"/requests/{rid}/messages", json={"text": "Звоните на +79990001122"}).status_code == 201
    attachment = upload(person, rid, PDF).get_json()
    kept = draft(person, comment="Черновик с телефоном")
    with app.app_context():
        path = db.session.get(RequestAttachment, attachment["id"]).path
        assert os.path.exists(uploads.absolute_path(path))
        instance_id = db.session.get(ServiceRequest, rid).process_instance_id
        assert person.phone in db.session.get(ProcessInstance, instance_id).state
        db.session.remove()

    assert person.call("POST", "/profile/close", {"password": PASSWORD}).status_code == 204

    with app.app_context():
        req = db.session.get(ServiceRequest, rid)
        assert req.number == body["number"] and req.type == "meter_verification"
        assert req.status == "closed" and req.closed_at is not None and req.form_data == {}
        assert [m.text for m in service_requests.messages(rid)] == ["[удалено]"]
        assert db.session.execute(select(RequestAttachment).where(RequestAttachment.request_id == rid)).first() is None
        assert not os.path.exists(uploads.absolute_path(path))
        assert db.session.get(ServiceRequest, kept["id"]).form_data == {}

        instance = db.session.get(ProcessInstance, instance_id)
        assert instance.status == "cancelled"
        for text in (person.phone, email, "Иванова Мария Петровна"):
            assert text not in instance.state
            for event in db.session.execute(select(ProcessEvent).where(ProcessEvent.instance_id == instance_id)).scalars():
                assert text not in str(event.data)
            for job in db.session.execute(select(ServiceJob).where(ServiceJob.instance_id == instance_id)).scalars():
                assert text not in str(job.params) and text not in str(job.result)
        data = instances.data_of(instance)
        assert "form" not in data and data["customer_phone"] == "[удалено]"
        assert data["request_number"] == body["number"] and data["meter_kind"]  # the record stays
        db.session.remove()
    settle(app, rid)  # nothing left running: the cancel stopped the jobs


def test_a_finished_request_keeps_its_status_when_the_account_closes(app):
    from tests.test_client_requests import process_sets

    person = Person(app)
    body = submitted(app, person)
    process_sets(app, body["number"], "completed")
    assert person.call("POST", "/profile/close", {"password": PASSWORD}).status_code == 204
    with app.app_context():
        req = db.session.get(ServiceRequest, body["id"])
        assert req.status == "completed" and req.form_data == {}
        assert person.phone not in db.session.get(ProcessInstance, req.process_instance_id).state
        db.session.remove()
