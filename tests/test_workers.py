"""Service tasks on real ``python worker.py`` processes, on PostgreSQL and Redis.

Each test gets its own database and Redis prefix (``rq_stack``); the workers it starts share
them, and are killed when the test ends. Nothing is mocked: jobs travel through RQ, the worker
claims the job row, runs the handler from tests/support/handlers.py and runs the engine on.
"""
import os
import uuid
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models.notifications import OutboxMessage
from app.workflows import jobs as engine_jobs
from tests.support import engine
from tests.support.workers import wait_for

VISIT = {"visit_date": "2026-12-01", "slot": "09:00-12:00", "technician": "technician"}
ESCALATED = "Срочно: назначить просроченный визит"


# --- helpers ------------------------------------------------------------------------------------

def settle(app, instance_id, timeout=30):
    with app.app_context():
        settled = engine_jobs.wait_for_jobs(instance_id, timeout=timeout)
        db.session.remove()
    assert settled, f"service jobs of instance {instance_id} did not finish: {engine.jobs(app, instance_id)}"


def start_verification(stack, **data):
    number = f"MV-{uuid.uuid4().hex[:8]}"
    body = {"business_key": number,
            "data": {"request_number": number, "customer_phone": "+79161234567", "meter_serial": "SN-1",
                     "meter_kind": "electricity", "overdue": False, **data}}
    response = stack.api("operator").post("/api/v1/process-definitions/meter_verification/start", json=body)
    assert response.status_code == 201, response.get_json()
    return number, response.get_json()["id"]


def open_task(stack, username, instance_id):
    tasks = stack.api(username).get("/api/v1/tasks/?page_size=100").get_json()["result"]
    mine = [t for t in tasks if t["instance_id"] == instance_id]
    assert len(mine) == 1, tasks
    return mine[0]


def complete(stack, username, task_id, data):
    response = stack.api(username).post(f"/api/v1/tasks/{task_id}/complete", json={"data": data})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def detail(stack, instance_id):
    response = stack.api().get(f"/api/v1/process-instances/{instance_id}")
    assert response.status_code == 200
    return response.get_json()


def report(stack, number, result):
    response = stack.api("technician").post(
        "/api/v1/messages/verification_report",
        json={"correlation": {"request_number": number}, "payload": {"result": result}})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def outbox(app, recipient="+79161234567"):
    with app.app_context():
        try:
            return [m.template for m in db.session.execute(
                select(OutboxMessage).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id)
            ).scalars()]
        finally:
            db.session.remove()


def wait_status(app, instance_id, wanted, timeout=20):
    return wait_for(lambda: engine.status(app, instance_id) == wanted, timeout,
                    message=lambda: f"instance {instance_id} did not reach '{wanted}' "
                                    f"(status {engine.status(app, instance_id)}, jobs {engine.jobs(app, instance_id)})")


def runs(run_dir, job_id):
    path = os.path.join(run_dir, f"job-{job_id}.runs")
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return handle.read().split()


# --- the shipped process -----------------------------------------------------------------------

def test_meter_verification_end_to_end_on_a_worker_process(rq_stack):
    stack = rq_stack()
    number, instance_id = start_verification(stack)

    # With no worker running the first notice waits, queued in the database and in RQ.
    [job] = engine.jobs(stack.app, instance_id)
    assert (job["operation"], job["status"], job["attempts"]) == ("notify_customer", "queued", 0)
    assert stack.workers.queue("high").count == 1
    assert outbox(stack.app) == []

    worker = stack.workers.start()
    settle(stack.app, instance_id)
    assert stack.workers.queue("high").count == 0
    task = open_task(stack, "dispatcher", instance_id)
    assert task["name"] == "schedule_visit" and task["due_at"] is not None
    complete(stack, "dispatcher", task["id"], VISIT)
    settle(stack.app, instance_id)
    task = open_task(stack, "technician", instance_id)
    assert task["name"] == "prepare_visit"
    complete(stack, "technician", task["id"], {"equipment_ready": True})
    assert detail(stack, instance_id)["current_activities"] == ["Отчёт техника"]
    assert [i["id"] for i in report(stack, number, "passed")["instances"]] == [instance_id]
    settle(stack.app, instance_id)

    result = detail(stack, instance_id)
    assert result["status"] == "completed"
    assert result["data"]["next_verification"] == "2042-12-01"
    kinds = [e["kind"] for e in result["events"]]
    assert kinds[0] == "started" and kinds[-1] == "completed"
    assert kinds.count("task_completed") == 2 and kinds.count("message") == 1
    service_events = [e for e in result["events"] if e["kind"] == "service_task"]
    assert [e["actor"] for e in service_events] == ["worker"] * 7  # 3 notices, 3 statuses, the registry
    jobs = engine.jobs(stack.app, instance_id)
    assert [(j["status"], j["attempts"]) for j in jobs] == [("done", 1)] * 7
    # each notice was delivered once, by the worker
    assert outbox(stack.app) == ["verification_accepted", "verification_scheduled", "verification_passed"]
    assert worker.alive()


def test_overdue_scheduling_escalates_on_the_worker_ticker(rq_stack):
    # The worker runs the engine after the first notice, so it evaluates the escalation timer:
    # it must see the shortened deadline too (the stack gives it the same settings).
    stack = rq_stack(PROCESS_DEADLINES={"meter_verification.schedule": "PT1S"})
    stack.workers.start()
    number, instance_id = start_verification(stack)

    def escalated():
        rows = engine.human_tasks(stack.app, instance_id)
        return rows if any(t["name"] == "schedule_visit_urgent" for t in rows) else None

    rows = wait_for(escalated, 20, message="the escalation did not happen")
    settle(stack.app, instance_id)
    rows = engine.human_tasks(stack.app, instance_id)
    assert [(t["name"], t["status"]) for t in rows] == [("schedule_visit", "cancelled"),
                                                       ("schedule_visit_urgent", "open")]
    original = rows[0]
    assert original["due_at"] - original["created_at"] < timedelta(seconds=5)  # PT1S, not the DMN's days
    events = engine.events(stack.app, instance_id)
    [timer] = [e for e in events if e["kind"] == "timer"]
    assert timer["actor"] == "timer" and timer["task_name"] == "Срок назначения истёк"
    assert timer["created_at"] >= original["due_at"]

    # the dispatcher now sees only the urgent task; the cancelled one cannot be completed
    task = open_task(stack, "dispatcher", instance_id)
    assert task["title"] == ESCALATED
    stale = stack.api("dispatcher").post(f"/api/v1/tasks/{original['id']}/complete", json={"data": VISIT})
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "task_not_open"

    complete(stack, "dispatcher", task["id"], VISIT)
    settle(stack.app, instance_id)
    task = open_task(stack, "technician", instance_id)
    complete(stack, "technician", task["id"], {"equipment_ready": True})
    report(stack, number, "passed")
    settle(stack.app, instance_id)
    result = detail(stack, instance_id)
    assert result["status"] == "completed"
    assert result["data"]["escalated"] is True
    assert outbox(stack.app) == ["verification_accepted", "verification_escalated", "verification_scheduled",
                                 "verification_passed"]


# --- crashes, retries and incidents ---------------------------------------------------------------

def test_a_job_of_a_killed_worker_is_taken_back_after_its_lease(rq_stack, tmp_path):
    run_dir = str(tmp_path / "runs")
    os.makedirs(run_dir)
    stack = rq_stack(SERVICE_TASK_LEASE_SECONDS=2)
    key = engine.deploy(stack.app, "record_job.bpmn")
    first = stack.workers.start("first")
    started = engine.start(stack.app, key, data={"run_dir": run_dir, "seconds": 3})
    instance_id = started["id"]

    def running():
        jobs = engine.jobs(stack.app, instance_id)
        return jobs[0] if jobs and jobs[0]["status"] == "running" and runs(run_dir, jobs[0]["id"]) else None

    job = wait_for(running, 20, message="the first worker did not start the job")
    first.kill()  # SIGKILL in the middle of the handler's three seconds
    assert first.proc.returncode == -9
    job = engine.jobs(stack.app, instance_id)[0]
    assert (job["status"], job["attempts"]) == ("running", 1)
    assert engine.status(stack.app, instance_id) != "completed"

    stack.workers.start("second")
    wait_status(stack.app, instance_id, "completed", timeout=30)
    [job] = engine.jobs(stack.app, instance_id)
    assert (job["status"], job["attempts"]) == ("done", 2)
    assert job["result"] == {"ran": True, "attempt": 2}
    assert runs(run_dir, job["id"]) == ["1", "2"]  # the killed run and the one that finished
    kinds = [e["kind"] for e in engine.events(stack.app, instance_id)]
    assert kinds.count("service_task") == 1 and kinds[-1] == "completed"


def test_a_flaky_operation_succeeds_on_its_third_attempt(rq_stack):
    stack = rq_stack(SERVICE_TASK_MAX_ATTEMPTS=3)
    key = engine.deploy(stack.app, "flaky_job.bpmn")
    stack.workers.start()
    started = engine.start(stack.app, key, data={"succeed_on": 3})
    wait_status(stack.app, started["id"], "completed")
    [job] = engine.jobs(stack.app, started["id"])
    assert (job["status"], job["attempts"], job["max_attempts"]) == ("done", 3, 3)
    assert job["result"] == {"attempt": 3}
    assert "attempt 2" in job["last_error"]  # the failures before it were recorded
    assert engine.incidents(stack.app, started["id"]) == []
    assert engine.instance(stack.app, started["id"])["data"]["call_result"] == {"attempt": 3}


def test_a_broken_operation_becomes_an_incident_and_staff_retry_runs_it_again(rq_stack):
    stack = rq_stack(SERVICE_TASK_MAX_ATTEMPTS=3)
    key = engine.deploy(stack.app, "broken_job.bpmn")
    stack.workers.start()
    started = engine.start(stack.app, key, data={"permanent": False})
    instance_id = started["id"]
    wait_status(stack.app, instance_id, "error")
    [job] = engine.jobs(stack.app, instance_id)
    assert (job["status"], job["attempts"]) == ("failed", 3)
    [incident] = engine.incidents(stack.app, instance_id)
    assert incident["kind"] == "service_task" and incident["resolved_at"] is None
    assert incident["task_name"] == "Call test_broken"
    assert "test_broken failed after 3 attempt(s)" in incident["message"]
    assert "RuntimeError: always fails" in incident["message"]
    shown = detail(stack, instance_id)
    assert shown["status"] == "error" and shown["incidents"][0]["message"] == incident["message"]

    response = stack.api().post(f"/api/v1/process-instances/{instance_id}/retry")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["incidents"][0]["resolved_by"] == "admin"
    # the job went back to the queue with fresh attempts and ran again: three more failures
    wait_for(lambda: len(engine.incidents(stack.app, instance_id)) == 2, 20,
             message="the retried job did not run again")
    [job] = engine.jobs(stack.app, instance_id)
    assert (job["status"], job["attempts"]) == ("failed", 3)
    first, second = engine.incidents(stack.app, instance_id)
    assert first["resolved_at"] is not None and second["resolved_at"] is None
    assert engine.status(stack.app, instance_id) == "error"
    kinds = [e["kind"] for e in engine.events(stack.app, instance_id)]
    assert kinds.count("retry") == 1 and kinds.count("error") == 2

    # a permanent failure is not retried at all
    permanent = engine.start(stack.app, key, data={"permanent": True})
    wait_status(stack.app, permanent["id"], "error")
    [job] = engine.jobs(stack.app, permanent["id"])
    assert (job["status"], job["attempts"]) == ("failed", 1)
    assert "PermanentFailure: bad parameters" in engine.incidents(stack.app, permanent["id"])[0]["message"]


def test_a_job_whose_last_attempt_kills_its_worker_becomes_an_incident(rq_stack, tmp_path):
    run_dir = str(tmp_path / "runs")
    os.makedirs(run_dir)
    stack = rq_stack(SERVICE_TASK_LEASE_SECONDS=2, SERVICE_TASK_MAX_ATTEMPTS=1)
    key = engine.deploy(stack.app, "record_job.bpmn")
    first = stack.workers.start("first")
    instance_id = engine.start(stack.app, key, data={"run_dir": run_dir, "seconds": 3})["id"]

    def running():
        jobs = engine.jobs(stack.app, instance_id)
        return jobs[0] if jobs and jobs[0]["status"] == "running" and runs(run_dir, jobs[0]["id"]) else None

    wait_for(running, 20, message="the worker did not start the job")
    first.kill()
    stack.workers.start("second")
    wait_status(stack.app, instance_id, "error", timeout=30)
    [job] = engine.jobs(stack.app, instance_id)
    assert (job["status"], job["attempts"]) == ("failed", 1)
    assert runs(run_dir, job["id"]) == ["1"]  # not run again: it could crash the next worker too
    assert any("lost" in i["message"] and i["resolved_at"] is None for i in engine.incidents(stack.app, instance_id))
