"""Once-a-day tasks (app/services/daily.py): each task runs once per day however many tickers,
workers and `flask kabinet daily` calls race for it; one failing task does not stop the others."""
import threading
from datetime import date

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.schedule import DailyRun
from app.services import daily

CALLS = []


def counting_task(today):
    CALLS.append(today)
    return {"seen": today.isoformat()}


def failing_task(today):
    raise RuntimeError("billing system unreachable")


@pytest.fixture
def tasks(monkeypatch):
    CALLS.clear()
    monkeypatch.setattr(daily, "TASKS", {"test_counting": f"{__name__}:counting_task",
                                         "test_failing": f"{__name__}:failing_task"})


def _runs(app, day):
    with app.app_context():
        return {run.task: run.result for run in db.session.execute(
            select(DailyRun).where(DailyRun.day == day, DailyRun.task.like("test_%"))).scalars()}


def test_a_task_runs_once_a_day_and_a_failure_is_recorded_not_raised(app, tasks):
    day = date(2031, 1, 7)
    with app.app_context():
        first = daily.run_due(day)
        second = daily.run_due(day)
    assert first["test_counting"] == {"seen": day.isoformat()}
    assert first["test_failing"] == {"error": "RuntimeError: billing system unreachable"}
    assert second == {}
    assert CALLS == [day]
    assert _runs(app, day) == first


def test_only_runs_the_named_tasks(app, tasks):
    day = date(2031, 2, 3)
    with app.app_context():
        assert set(daily.run_due(day, only={"test_counting"})) == {"test_counting"}
        assert set(daily.run_due(day)) == {"test_failing"}


def test_concurrent_runners_run_a_task_once(pg_app, tasks):
    day = date(2031, 3, 9)
    barrier = threading.Barrier(4)

    def runner():
        with pg_app.app_context():
            barrier.wait()
            daily.run_due(day, only={"test_counting"})
            db.session.remove()

    threads = [threading.Thread(target=runner) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert CALLS == [day]


def test_cli_runs_the_day_given(app, tasks):
    day = date(2031, 4, 11)
    result = app.test_cli_runner().invoke(args=["kabinet", "daily", "--date", day.isoformat(),
                                                "--task", "test_counting"])
    assert result.exit_code == 0, result.output
    assert f"test_counting: {{'seen': '{day.isoformat()}'}}" in result.output
    assert CALLS == [day]


def test_the_ticker_looks_for_daily_tasks_once_per_interval(sqlite_app, tasks, monkeypatch):
    from app.workflows import jobs

    monkeypatch.setitem(sqlite_app.config, "DAILY_CHECK_SECONDS", 300)
    monkeypatch.setattr(daily, "TASKS", {"test_counting": f"{__name__}:counting_task"})
    monkeypatch.setitem(sqlite_app.extensions, "kabinet_daily_checked", {"at": None})
    ran = []
    monkeypatch.setattr(daily, "run_due", lambda: ran.append(1))
    with sqlite_app.app_context():
        jobs.tick()
        jobs.tick()
    assert ran == [1]
