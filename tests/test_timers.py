"""Timers fire within about a second of their due time, by the ticker of a worker process
(PostgreSQL + Redis) and by the in-process ticker of the embedded default (SQLite).

The due time is the instance's ``next_timer_at`` written at start; the firing time is the
``timer`` history event the ticker writes. Both come from the same clock.
"""
from datetime import datetime, timedelta

from app.workflows import jobs
from tests.conftest import build_app
from tests.support import engine
from tests.support.workers import wait_for

# Generous for a loaded machine, yet far below what a broken ticker would show: the ticker
# sweeps every TICK_SECONDS (0.2 s by default).
LATE = timedelta(seconds=2)


def assert_fired_on_time(app, started):
    due = started["next_timer_at"]
    assert due is not None and started["status"] == "waiting"
    wait_for(lambda: engine.status(app, started["id"]) == "completed", 15,
             message=lambda: f"the timer did not fire (status {engine.status(app, started['id'])})")
    [fired] = [e for e in engine.events(app, started["id"]) if e["kind"] == "timer"]
    assert fired["task_name"] == "One second" and fired["actor"] == "timer"
    assert due <= fired["created_at"] <= due + LATE, (due, fired["created_at"])
    detail = engine.instance(app, started["id"])
    assert detail["data"]["fired"] is True and detail["next_timer_at"] is None


def test_a_short_timer_fires_on_time_in_a_worker_process(rq_stack):
    stack = rq_stack()
    key = engine.deploy(stack.app, "short_timer.bpmn")
    stack.workers.start()
    response = stack.api("operator").post(f"/api/v1/process-definitions/{key}/start", json={"data": {}})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    first = {"id": body["id"], "status": body["status"],
             "next_timer_at": datetime.fromisoformat(body["next_timer_at"])}
    # PT1S from the start: due about a second after the instance was created
    created = datetime.fromisoformat(body["created_at"])
    assert timedelta(seconds=0.9) <= first["next_timer_at"] - created <= timedelta(seconds=1.5)
    second = engine.start(stack.app, key)  # one more through the Python API, due a moment later
    assert_fired_on_time(stack.app, first)
    assert_fired_on_time(stack.app, second)


def test_a_short_timer_fires_on_time_with_the_in_process_ticker(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'timers.db'}")
    key = engine.deploy(app, "short_timer.bpmn")
    started = engine.start(app, key)
    assert "kabinet_ticker_stop" not in app.extensions  # START_TICKER is off in tests
    jobs.start_ticker(app)
    try:
        assert_fired_on_time(app, started)
    finally:
        app.extensions["kabinet_ticker_stop"].set()
