"""Reassigning a staff task (SPEC AD-2) on SQLite and PostgreSQL: the assignee or an admin hands
it to another user of the task's role; everyone else, users without the role, unknown or
inactive users are refused with clear codes; handing back is unclaim. API and the task page."""
import pytest

from app.bootstrap import ensure_staff
from app.extensions import db
from tests.conftest import PASSWORD
from tests.support.engine import deploy, events, start

EN = {"Accept-Language": "en"}


@pytest.fixture
def task_id(app, api):
    """An open Dispatcher task (tests/bpmn/approval.bpmn), plus a second dispatcher and an
    inactive one to hand it to."""
    with app.app_context():
        ensure_staff(app, [("dispatcher2", "Dispatcher", "Second", "Dispatcher"),
                           ("dispatcher_gone", "Dispatcher", "Former", "Dispatcher")], PASSWORD, "test.local")
        gone = app.appbuilder.sm.find_user(username="dispatcher_gone")
        gone.active = False
        app.appbuilder.sm.update_user(gone)
        db.session.remove()
    instance = start(app, deploy(app, "approval.bpmn"), data={"passes": 0})
    tasks = api("dispatcher").get("/api/v1/tasks/?page_size=100&unassigned=1").get_json()["result"]
    return next(t["id"] for t in tasks if t["instance_id"] == instance["id"])


def reassign(api, username, task_id, to, headers=None):
    return api(username).post(f"/api/v1/tasks/{task_id}/reassign", json={"to": to}, headers=headers or {})


def code(response):
    return response.get_json()["error"]["code"]


def test_the_assignee_hands_the_task_to_a_colleague_of_the_role(app, api, task_id):
    refused = reassign(api, "dispatcher", task_id, "dispatcher2", EN)  # not claimed by them
    assert refused.status_code == 403 and code(refused) == "task_reassign_forbidden"
    assert refused.get_json()["error"]["message"] == \
        f"Only the task's assignee or an administrator can reassign task {task_id}."
    assert api("dispatcher").post(f"/api/v1/tasks/{task_id}/claim").status_code == 200

    done = reassign(api, "dispatcher", task_id, "dispatcher2")
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["assignee"] == "dispatcher2"
    mine = api("dispatcher2").get("/api/v1/tasks/?mine=1&page_size=100").get_json()["result"]
    assert task_id in [t["id"] for t in mine]
    reassigned = [e for e in events(app, done.get_json()["instance_id"]) if e["kind"] == "task_reassigned"]
    assert [(e["actor"], e["data"]) for e in reassigned] == [("dispatcher", {"from": "dispatcher", "to": "dispatcher2"})]

    # the former assignee can neither complete it nor pass it on any more
    assert code(api("dispatcher").post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}})) == "task_claimed"
    assert code(reassign(api, "dispatcher", task_id, "dispatcher")) == "task_reassign_forbidden"
    # handing back is unclaim
    back = api("dispatcher2").post(f"/api/v1/tasks/{task_id}/unclaim")
    assert back.status_code == 200 and back.get_json()["assignee"] is None


def test_targets_are_checked(app, api, task_id):
    api("dispatcher").post(f"/api/v1/tasks/{task_id}/claim")
    no_role = reassign(api, "dispatcher", task_id, "technician", EN)
    assert no_role.status_code == 409 and code(no_role) == "task_reassign_role"
    assert no_role.get_json()["error"]["message"] == \
        f"technician does not have the role Dispatcher: task {task_id} cannot go to them."
    ru = reassign(api, "dispatcher", task_id, "technician")
    assert ru.get_json()["error"]["message"] == \
        f"У сотрудника technician нет роли Dispatcher: задачу {task_id} передать ему нельзя."
    for unknown in ("nobody-here", "dispatcher_gone"):
        response = reassign(api, "dispatcher", task_id, unknown)
        assert response.status_code == 409 and code(response) == "task_reassign_unknown_user", unknown
    same = reassign(api, "dispatcher", task_id, "dispatcher")
    assert same.status_code == 409 and code(same) == "task_reassign_same"
    missing = api("dispatcher").post(f"/api/v1/tasks/{task_id}/reassign", json={})
    assert missing.status_code == 422
    # a role that cannot see the task does not learn it exists
    assert reassign(api, "operator", task_id, "dispatcher2").status_code == 404
    assert api("dispatcher").get(f"/api/v1/tasks/{task_id}").get_json()["assignee"] == "dispatcher"


def test_an_admin_reassigns_any_task(app, api, task_id):
    assert reassign(api, "admin", task_id, "dispatcher2").get_json()["assignee"] == "dispatcher2"
    assert reassign(api, "admin", task_id, "dispatcher").get_json()["assignee"] == "dispatcher"
    assert code(reassign(api, "admin", task_id, "admin")) == "task_reassign_role"  # not a dispatcher


def test_the_task_page_offers_the_role_colleagues(app, api, task_id):
    client = app.test_client()
    assert client.post("/login/", data={"username": "dispatcher", "password": PASSWORD}).status_code == 302
    page = client.get(f"/work/inbox/task/{task_id}").get_data(as_text=True)
    assert 'id="reassign-form"' not in page  # not theirs yet: claim first
    client.post(f"/work/inbox/claim/{task_id}")
    page = client.get(f"/work/inbox/task/{task_id}").get_data(as_text=True)
    assert 'id="reassign-form"' in page and '<option value="dispatcher2">' in page
    assert '<option value="technician">' not in page and '<option value="dispatcher_gone">' not in page
    done = client.post(f"/work/inbox/reassign/{task_id}", data={"to": "dispatcher2"}, follow_redirects=True)
    assert "передана пользователю dispatcher2" in done.get_data(as_text=True)
    refused = client.post(f"/work/inbox/reassign/{task_id}", data={"to": "dispatcher"}, follow_redirects=True)
    assert "может только её исполнитель или администратор" in refused.get_data(as_text=True)
    assert api("dispatcher").get(f"/api/v1/tasks/{task_id}").get_json()["assignee"] == "dispatcher2"
