"""Once-a-day tasks: reading-window and verification reminders, autopay, e-bills.

Each task is a function ``task(today) -> dict`` named in :data:`TASKS`; :func:`run_due` runs
every task not yet run today. A ``daily_run`` row claimed by insert makes that safe in any
number of tickers and workers at once: the loser of the insert skips the task.
"""
import importlib
import logging

from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models.schedule import DailyRun
from ..models.workflow import utcnow
from . import periods

log = logging.getLogger(__name__)

# name -> "module:function" (imported when run, so a task's module may import anything).
TASKS = {
    "reading_window_reminders": "app.services.reading_reminders:send_window_reminders",
    "meter_verification_reminders": "app.services.reading_reminders:send_verification_reminders",
    "ebills": "app.services.ebills:send_new_bills",
    "autopay": "app.services.autopay:run_due",
    "payment_confirmed_retry": "app.services.payment_callbacks:retry_engine_messages",
}


def _resolve(target):
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def _claim(task, day):
    try:
        with db.session.begin_nested():
            run = DailyRun(task=task, day=day)
            db.session.add(run)
        db.session.commit()
        return run
    except IntegrityError:
        db.session.rollback()
        return None


def run_due(today=None, only=None):
    """Run each task (or those named in ``only``) that has not run for ``today``; returns
    ``{task: result}`` of the tasks this call ran."""
    today = today or periods.local_today()
    ran = {}
    for name, target in TASKS.items():
        if only and name not in only:
            continue
        run = _claim(name, today)
        if run is None:
            continue
        try:
            result = _resolve(target)(today) or {}
        except Exception as failure:  # one broken task must not stop the others
            db.session.rollback()
            log.exception("daily task %s failed", name)
            result = {"error": f"{type(failure).__name__}: {failure}"}
        run = db.session.get(DailyRun, run.id)
        run.result, run.finished_at = result, utcnow()
        db.session.commit()
        ran[name] = result
    return ran
