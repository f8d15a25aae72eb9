"""The shipped meter-verification process, end to end through the staff REST API."""
import uuid

from app.extensions import db
from app.workflows import jobs

VISIT = {"visit_date": "2026-12-01", "slot": "09:00-12:00", "technician": "technician"}


def start_verification(api, **data):
    number = f"MV-{uuid.uuid4().hex[:8]}"
    body = {
        "business_key": number,
        "data": {"request_number": number, "customer_phone": "+79161234567", "meter_serial": "SN-1",
                 "meter_kind": "electricity", "overdue": False, **data},
    }
    response = api("operator").post("/api/v1/process-definitions/meter_verification/start", json=body)
    assert response.status_code == 201, response.get_json()
    return number, response.get_json()


def settle(app, instance_id):
    with app.app_context():
        assert jobs.wait_for_jobs(instance_id), "service jobs did not finish"
        db.session.remove()


def open_task(api, username, instance_id):
    tasks = api(username).get("/api/v1/tasks/?page_size=100").get_json()["result"]
    mine = [t for t in tasks if t["instance_id"] == instance_id]
    assert len(mine) == 1, tasks
    return mine[0]


def test_passed_verification_runs_to_the_end(app, api):
    number, instance = start_verification(api)
    settle(app, instance["id"])
    task = open_task(api, "dispatcher", instance["id"])
    assert task["title"] == "Назначить визит техника"
    assert task["candidate_role"] == "Dispatcher"
    assert task["due_at"] is not None  # from the escalation timer on its boundary
    assert task["form_schema"]["required"] == ["visit_date", "slot", "technician"]
    # the technician sees nothing yet: the task is in the dispatcher's lane
    assert all(t["instance_id"] != instance["id"] for t in api("technician").get("/api/v1/tasks/").get_json()["result"])

    response = api("dispatcher").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": VISIT})
    assert response.status_code == 200, response.get_json()
    settle(app, instance["id"])
    task = open_task(api, "technician", instance["id"])
    assert api("technician").post(f"/api/v1/tasks/{task['id']}/complete",
                                  json={"data": {"equipment_ready": True}}).status_code == 200

    detail = api().get(f"/api/v1/process-instances/{instance['id']}").get_json()
    assert detail["current_activities"] == ["Отчёт техника"]
    response = api("technician").post("/api/v1/messages/verification_report",
                                      json={"correlation": {"request_number": number}, "payload": {"result": "passed"}})
    assert response.status_code == 200, response.get_json()
    assert [i["id"] for i in response.get_json()["instances"]] == [instance["id"]]
    settle(app, instance["id"])

    detail = api().get(f"/api/v1/process-instances/{instance['id']}").get_json()
    assert detail["status"] == "completed"
    assert detail["data"]["next_verification"] == "2042-12-01"  # 16-year interval from the DMN table
    assert detail["data"]["priority"] == "normal"
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds[0] == "started" and kinds[-1] == "completed"
    assert kinds.count("task_completed") == 2 and kinds.count("message") == 1
    # accepted, scheduled, passed notices; in_progress, scheduled, completed statuses and the
    # registry update (these four skip: MV-… is not a request number)
    assert kinds.count("service_task") == 7
    skipped = [e["data"]["result"] for e in detail["events"]
               if e["kind"] == "service_task" and e["data"]["operation"] in ("request.set_status", "meter.record_work")]
    assert len(skipped) == 4 and all("skipped" in result for result in skipped)
    # the same report again finds nobody waiting
    again = api("technician").post("/api/v1/messages/verification_report",
                                   json={"correlation": {"request_number": number}, "payload": {"result": "passed"}})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "message_not_awaited"


def test_failed_verification_asks_dispatcher_for_a_replacement(app, api):
    number, instance = start_verification(api, meter_kind="cold_water")
    settle(app, instance["id"])
    task = open_task(api, "dispatcher", instance["id"])
    api("dispatcher").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": VISIT})
    settle(app, instance["id"])
    task = open_task(api, "technician", instance["id"])
    api("technician").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"equipment_ready": True}})
    api("technician").post("/api/v1/messages/verification_report",
                           json={"correlation": {"request_number": number}, "payload": {"result": "failed"}})
    settle(app, instance["id"])
    task = open_task(api, "dispatcher", instance["id"])
    assert task["name"] == "arrange_replacement"
    api("dispatcher").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"replacement_date": "2026-12-10"}})
    settle(app, instance["id"])
    detail = api().get(f"/api/v1/process-instances/{instance['id']}").get_json()
    assert detail["status"] == "completed"
    assert "next_verification" not in detail["data"]


def test_form_data_is_validated_and_nothing_changes(app, api):
    _number, instance = start_verification(api)
    settle(app, instance["id"])
    task = open_task(api, "dispatcher", instance["id"])
    bad = {"visit_date": "not a date", "slot": "midnight", "extra": 1}
    response = api("dispatcher").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": bad},
                                      headers={"Accept-Language": "en"})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "form_invalid"
    assert error["message"] == "The form data did not pass validation."
    assert set(error["fields"]) >= {"visit_date", "slot", "technician"}
    assert open_task(api, "dispatcher", instance["id"])["status"] == "open"
    ru = api("dispatcher").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": bad},
                                headers={"Accept-Language": "ru"})
    assert ru.get_json()["error"]["message"] == "Данные формы не прошли проверку."
