"""The staff screens: signed in through the HTML login, as people use them."""
import re
import uuid

import pytest

from app.extensions import db
from app.models.workflow import HumanTask, ProcessDefinition
from tests.conftest import PASSWORD
from tests.test_meter_verification_api import settle, start_verification


def signed_in(app, username):
    client = app.test_client()
    response = client.post("/login/", data={"username": username, "password": PASSWORD}, follow_redirects=True)
    assert response.status_code == 200
    assert "Войти" not in response.get_data(as_text=True) or username in response.get_data(as_text=True)
    return client


def text(response):
    return response.get_data(as_text=True)


def open_task_id(app, instance_id):
    with app.app_context():
        task = db.session.query(HumanTask).filter_by(instance_id=instance_id, status="open").one()
        db.session.remove()
        return task.id, task.status


@pytest.fixture
def verification(app, api):
    _number, instance = start_verification(api)
    settle(app, instance["id"])
    return instance["id"]


def test_inbox_shows_the_dispatchers_task_and_completes_it_through_the_rendered_form(app, verification):
    client = signed_in(app, "dispatcher")
    inbox = text(client.get("/work/inbox/"))
    assert "Назначить визит техника" in inbox
    task_id, _ = open_task_id(app, verification)
    form = text(client.get(f"/work/inbox/task/{task_id}"))
    # rendered from the JSON Schema: a date input, a select with the enum, required markers
    assert re.search(r'<input[^>]+type="date"[^>]+name="visit_date"|<input[^>]+name="visit_date"[^>]+type="date"', form)
    assert "09:00-12:00" in form and "<select" in form
    bad = client.post(f"/work/inbox/task/{task_id}", data={"visit_date": "not-a-date", "slot": "09:00-12:00"})
    assert bad.status_code == 422
    assert "не прошли проверку" in text(bad)
    assert open_task_id(app, verification) == (task_id, "open")
    good = client.post(f"/work/inbox/task/{task_id}", follow_redirects=True,
                       data={"visit_date": "2026-12-01", "slot": "09:00-12:00", "technician": "technician"})
    assert good.status_code == 200 and "выполнена" in text(good)
    with app.app_context():
        assert db.session.get(HumanTask, task_id).status == "completed"
        db.session.remove()


def test_claim_and_hand_back_from_the_inbox(app, verification):
    client = signed_in(app, "dispatcher")
    task_id, _ = open_task_id(app, verification)
    client.post(f"/work/inbox/claim/{task_id}", follow_redirects=True)
    with app.app_context():
        assert db.session.get(HumanTask, task_id).assignee == "dispatcher"
        db.session.remove()
    # someone else cannot take it: the screen says who has it and nothing changes
    admin = signed_in(app, "admin")
    refused = admin.post(f"/work/inbox/claim/{task_id}", follow_redirects=True)
    assert "dispatcher" in text(refused)
    client.post(f"/work/inbox/unclaim/{task_id}", follow_redirects=True)
    with app.app_context():
        assert db.session.get(HumanTask, task_id).assignee is None
        db.session.remove()


def test_instances_list_detail_and_cancel(app, verification):
    client = signed_in(app, "dispatcher")
    listing = text(client.get("/processes/instances/?key=meter_verification&status=waiting"))
    assert f"/processes/instances/show/{verification}" in listing
    detail = text(client.get(f"/processes/instances/show/{verification}"))
    assert "Назначить визит техника" in detail and "meter_verification" in detail
    client.post(f"/processes/instances/{verification}/cancel", follow_redirects=True)
    with app.app_context():
        from app.models.workflow import ProcessInstance

        assert db.session.get(ProcessInstance, verification).status == "cancelled"
        db.session.remove()


def test_broken_upload_names_the_fault_and_deploys_nothing(app):
    client = signed_in(app, "analyst")
    with app.app_context():
        before = db.session.query(ProcessDefinition).count()
        db.session.remove()
    import io

    response = client.post("/processes/definitions/upload", content_type="multipart/form-data",
                           data={"bpmn": (io.BytesIO(b"<bpmn:definitions"), "broken.bpmn")})
    assert response.status_code in (200, 422)
    assert "not well-formed XML" in text(response)
    with app.app_context():
        assert db.session.query(ProcessDefinition).count() == before
        db.session.remove()


def test_definitions_and_upload_are_for_analysts(app):
    assert "meter_verification" in text(signed_in(app, "analyst").get("/processes/definitions/"))
    technician = signed_in(app, "technician")
    for url in ("/processes/definitions/", "/processes/definitions/upload"):
        response = technician.get(url)
        assert response.status_code in (302, 403), url
        assert "meter_verification" not in text(response)


def test_incidents_screen_lists_and_retries(app, ctx):
    import os

    from app.workflows import deployment, instances

    template = open(os.path.join(os.path.dirname(__file__), "bpmn", "script_task.bpmn.tmpl"), encoding="utf-8").read()
    bpmn = template.replace("{key}", f"failing_{uuid.uuid4().hex[:6]}").replace("{script}", "x = 1 / zero")
    definition, _ = deployment.deploy(bpmn)
    instance = instances.start(definition.key, "incident-1", {"zero": 0})
    assert instance.status == "error"
    instance_id = instance.id
    db.session.remove()
    client = signed_in(app, "analyst")
    listing = text(client.get("/incidents/"))
    assert "ZeroDivisionError" in listing and f"/processes/instances/show/{instance_id}" in listing
    client.post(f"/incidents/retry/{instance_id}", follow_redirects=True)
    assert instances.incidents(instance_id)[0].resolved_by == "analyst"
    db.session.remove()
