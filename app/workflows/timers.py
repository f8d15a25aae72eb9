"""Firing due timers (gateway point 6): an indexed query, then one locked change each."""
from sqlalchemy import select

from ..errors import Conflict, NotFound
from ..extensions import db
from ..models.workflow import ProcessInstance, utcnow
from . import processor


def fire_due(batch=50):
    due = db.session.execute(
        select(ProcessInstance.id)
        .where(ProcessInstance.next_timer_at <= utcnow(), ProcessInstance.status.in_(("running", "waiting")))
        .order_by(ProcessInstance.next_timer_at).limit(batch)
    ).scalars().all()
    db.session.rollback()
    fired = 0
    for instance_id in due:
        try:
            fired += _fire(instance_id)
        except (Conflict, NotFound):
            pass  # suspended, cancelled or changed meanwhile: the next sweep sees the new state
    return fired


def _fire(instance_id):
    # skip_locked: another ticker (or a person) holds it; it will be seen on the next sweep.
    with processor.change(instance_id, actor="timer", allow=("running", "waiting"), skip_locked=True) as run:
        if run is None:
            return 0
        waiting = {t.id: processor.label(t.task_spec) for t, _ in processor.waiting_timers(run.workflow)}
        # refresh_timers() must come before do_engine_steps() (ARCHITECTURE.md trap 10)
        run.workflow.refresh_timers()
        still = {t.id for t, _ in processor.waiting_timers(run.workflow)}
        for task_id, name in waiting.items():
            if task_id not in still:
                run.event("timer", task_name=name)
        run.run_engine()
    return 1
