"""The staff engine API refuses bad input and wrong actors clearly, and changes nothing."""
import uuid

from app.extensions import db
from app.models.workflow import ProcessInstance
from tests.conftest import PASSWORD, build_app
from tests.test_meter_verification_api import VISIT, open_task, settle, start_verification


def test_someone_elses_claimed_task(app, api):
    _number, instance = start_verification(api)
    settle(app, instance["id"])
    task = open_task(api, "dispatcher", instance["id"])
    assert api("dispatcher").post(f"/api/v1/tasks/{task['id']}/claim").get_json()["assignee"] == "dispatcher"
    # the admin sees it but cannot take or complete it from under the dispatcher
    for action, body in (("claim", None), ("complete", {"data": VISIT})):
        response = api("admin").post(f"/api/v1/tasks/{task['id']}/{action}", json=body)
        assert response.status_code == 409, response.get_json()
        assert response.get_json()["error"]["code"] == "task_claimed"
    assert api("admin").get(f"/api/v1/tasks/{task['id']}").get_json()["assignee"] == "dispatcher"
    # another role does not even see it
    assert api("technician").get(f"/api/v1/tasks/{task['id']}").status_code == 404
    assert api("technician").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": VISIT}).status_code == 404
    mine = api("dispatcher").get("/api/v1/tasks/?mine=true&page_size=100").get_json()["result"]
    assert task["id"] in [t["id"] for t in mine]
    unassigned = api("dispatcher").get("/api/v1/tasks/?unassigned=1&page_size=100").get_json()["result"]
    assert task["id"] not in [t["id"] for t in unassigned]
    # hand back, then a completed task cannot be completed again
    assert api("dispatcher").post(f"/api/v1/tasks/{task['id']}/unclaim").get_json()["assignee"] is None
    assert api("dispatcher").post(f"/api/v1/tasks/{task['id']}/unclaim").status_code == 409
    assert api("dispatcher").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": VISIT}).status_code == 200
    again = api("dispatcher").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": VISIT})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "task_not_open"


def test_suspend_resume_cancel_and_retry(app, api):
    _number, instance = start_verification(api)
    settle(app, instance["id"])
    task = open_task(api, "dispatcher", instance["id"])
    url = f"/api/v1/process-instances/{instance['id']}"
    assert api("dispatcher").post(f"{url}/suspend").get_json()["status"] == "suspended"
    refused = api("dispatcher").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": VISIT})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "instance_state"
    assert api("dispatcher").post(f"{url}/suspend").status_code == 409
    assert api("dispatcher").post(f"{url}/resume").get_json()["status"] == "waiting"
    assert api("dispatcher").post(f"{url}/retry").get_json()["error"]["code"] == "nothing_to_retry"
    cancelled = api("dispatcher").post(f"{url}/cancel").get_json()
    assert cancelled["status"] == "cancelled" and cancelled["open_tasks"] == [] and cancelled["current_activities"] == []
    assert api("dispatcher").post(f"{url}/cancel").status_code == 409
    assert api("technician").post(f"{url}/cancel").status_code == 403
    assert api().get("/api/v1/process-instances/999999").status_code == 404


def test_instance_search_filters(app, api):
    number, instance = start_verification(api)
    settle(app, instance["id"])
    found = api("operator").get(f"/api/v1/process-instances/?business_key={number}").get_json()
    assert found["count"] == 1 and found["result"][0]["id"] == instance["id"]
    by_activity = api("operator").get(
        "/api/v1/process-instances/?key=meter_verification&status=waiting&activity=Назначить визит техника&page_size=100"
    ).get_json()
    assert instance["id"] in [i["id"] for i in by_activity["result"]]
    start_verification(api)
    unfiltered = api("operator").get("/api/v1/process-instances/?page_size=1").get_json()
    with app.app_context():
        stored = db.session.query(ProcessInstance).count()
    assert stored >= 2 and unfiltered["count"] == stored and len(unfiltered["result"]) == 1
    assert api("operator").get("/api/v1/process-instances/?status=sleeping").status_code == 422
    assert api("operator").get("/api/v1/process-instances/?page_size=1000").status_code == 422
    assert api("operator").get("/api/v1/process-instances/?page=99999999999999999999").status_code == 422


def test_messages_refusals(app, api):
    send = api("technician").post
    missing = send("/api/v1/messages/verification_report", json={"payload": {}})
    assert missing.status_code == 422 and "correlation" in missing.get_json()["error"]["fields"]
    wrong_type = send("/api/v1/messages/verification_report", json={"correlation": {"request_number": ["x"]}})
    assert wrong_type.status_code == 422
    nobody = send("/api/v1/messages/verification_report", json={"correlation": {"request_number": "MV-none"}},
                  headers={"Accept-Language": "en"})
    assert nobody.status_code == 409
    assert nobody.get_json()["error"]["message"].startswith("No process is waiting for message 'verification_report'")
    unknown = send(f"/api/v1/messages/no_such_{uuid.uuid4().hex[:6]}", json={"correlation": {"business_key": "x"}})
    assert unknown.status_code == 409


def test_openapi_documents_every_engine_endpoint(app, api):
    spec = api().get("/api/v1/_openapi").get_json()
    paths = spec["paths"]
    for path in ("/process-definitions/", "/process-definitions/{key}", "/process-definitions/{key}/start",
                 "/process-instances/", "/process-instances/{instance_id}", "/process-instances/{instance_id}/cancel",
                 "/process-instances/{instance_id}/retry", "/tasks/", "/tasks/{task_id}/claim",
                 "/tasks/{task_id}/complete", "/messages/{name}", "/security/login"):
        assert "/api/v1" + path in paths, path
    assert "DeploySchema" in spec["components"]["schemas"]


def test_health_reports_database_and_queues(app):
    body = app.test_client().get("/health").get_json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["database"]["dialect"] in ("sqlite", "postgresql")
    assert "depths" in body["queues"]


def test_staff_api_login_has_its_own_rate_limit(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'limits.db'}", STAFF_API_LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [client.post("/api/v1/security/login",
                         json={"username": "admin", "password": "wrong", "provider": "db"}).status_code
             for _ in range(3)]
    assert codes == [401, 401, 401]
    limited = client.post("/api/v1/security/login", json={"username": "admin", "password": PASSWORD, "provider": "db"})
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0


def test_oversized_requests_are_refused_before_parsing(app, api, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    response = api("analyst").post("/api/v1/process-definitions/", json={"bpmn": "x" * 4096})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
