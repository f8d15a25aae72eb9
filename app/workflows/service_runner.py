"""A worker's side of a service task: claim the job row, run the handler, complete the task."""
import logging
import threading
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update
from SpiffWorkflow.util.task import TaskState

from ..errors import Conflict, NotFound
from ..extensions import db
from ..models.workflow import ProcessInstance, ServiceJob, utcnow
from . import processor, service_tasks

log = logging.getLogger(__name__)


def _claim(job_id):
    """Take the job atomically and return what running it needs; None when someone else
    took it (or it is done)."""
    now = utcnow()
    lease = timedelta(seconds=current_app.config["SERVICE_TASK_LEASE_SECONDS"])
    claimed = db.session.execute(
        update(ServiceJob)
        .where(ServiceJob.id == job_id, ServiceJob.status == "queued",
               or_(ServiceJob.next_attempt_at.is_(None), ServiceJob.next_attempt_at <= now))
        .values(status="running", attempts=ServiceJob.attempts + 1, lease_until=now + lease, updated_at=now)
        .returning(ServiceJob.instance_id, ServiceJob.operation, ServiceJob.params, ServiceJob.attempts)
    ).first()
    db.session.commit()
    return claimed


def _keep_lease(job_id, attempt):
    """Renew the lease while this worker holds the job: only a dead worker's job (no renewal)
    is taken back, never one whose handler simply runs longer than the lease."""
    app = current_app._get_current_object()
    seconds = app.config["SERVICE_TASK_LEASE_SECONDS"]
    table = ServiceJob.__table__
    stop = threading.Event()

    def renew():
        while not stop.wait(seconds / 3):
            try:
                with app.app_context(), db.engine.begin() as conn:
                    conn.execute(
                        update(table)
                        .where(table.c.id == job_id, table.c.status == "running", table.c.attempts == attempt)
                        .values(lease_until=utcnow() + timedelta(seconds=seconds))
                    )
            except Exception:
                log.exception("could not renew the lease of service job %s", job_id)

    threading.Thread(target=renew, name=f"kabinet-lease-{job_id}", daemon=True).start()
    return stop


def run_job(job_id):
    job = _claim(job_id)
    if job is None:
        return
    business_key = db.session.execute(
        select(ProcessInstance.business_key).where(ProcessInstance.id == job.instance_id)
    ).scalar()
    context = service_tasks.JobContext(job_id, job.instance_id, business_key, job.attempts)
    lease = _keep_lease(job_id, job.attempts)
    try:
        try:
            func, _queue = service_tasks.get(job.operation)
            result = func(dict(job.params or {}), context)
            db.session.commit()
        except Exception as exc:  # the handler's failure is the job's, never the worker's
            db.session.rollback()
            permanent = isinstance(exc, (service_tasks.PermanentFailure, KeyError))
            _failed(job_id, f"{type(exc).__name__}: {exc}", permanent)
            return
        _complete(job_id, job.instance_id, result)
    finally:
        lease.set()


def _complete(job_id, instance_id, result, tries=5):
    for attempt in range(tries):
        try:
            return _complete_once(job_id, instance_id, result)
        except Conflict as exc:
            if exc.code != "concurrent_change" or attempt == tries - 1:
                _abandon(job_id, exc)
                return None
        except NotFound as exc:
            _abandon(job_id, exc)
            return None


def _abandon(job_id, exc):
    """The instance no longer takes the result (cancelled, completed, gone, or busy)."""
    log.info("service job %s: result not applied (%s)", job_id, exc.code)
    db.session.execute(
        update(ServiceJob).where(ServiceJob.id == job_id, ServiceJob.status == "running")
        .values(status="cancelled" if exc.code != "concurrent_change" else "queued", lease_until=None)
    )
    db.session.commit()


def _complete_once(job_id, instance_id, result):
    with processor.change(instance_id, actor="worker", allow=(*processor.ACTIVE, "suspended")) as run:
        job = db.session.get(ServiceJob, job_id, populate_existing=True)
        if job.status != "running":
            return  # cancelled or taken back meanwhile
        task = processor.task_by_guid(run.workflow, job.task_guid)
        if task is None or not task.has_state(TaskState.STARTED):
            job.status = "cancelled"
            return
        task.data[task.task_spec.result_variable] = result
        task.complete()
        job.status, job.result, job.lease_until = "done", result, None
        run.event("service_task", task_name=job.task_name, data={"operation": job.operation, "result": result})
        run.run_engine()


def _failed(job_id, error, permanent):
    job = db.session.get(ServiceJob, job_id)
    log.warning("service job %s (%s) failed on attempt %s: %s", job_id, job.operation, job.attempts, error)
    if not permanent and job.attempts < job.max_attempts:
        job.status, job.last_error = "retry", error
        job.next_attempt_at = utcnow() + processor.backoff(job.attempts)
        job.lease_until = None
        db.session.commit()
        return
    with processor.change(job.instance_id, actor="worker", allow=(*processor.ACTIVE, "suspended")) as run:
        _give_up(run, db.session.get(ServiceJob, job_id, populate_existing=True), error)


def fail_lost(job_id):
    """The worker holding the job's last attempt died (its lease expired): taking it back
    again could crash worker after worker, so the job fails with an incident instead."""
    job = db.session.get(ServiceJob, job_id)
    with processor.change(job.instance_id, actor="worker", allow=(*processor.ACTIVE, "suspended")) as run:
        job = db.session.get(ServiceJob, job_id, populate_existing=True)
        if job.status == "running" and job.lease_until is not None and job.lease_until < utcnow():
            _give_up(run, job, f"the worker running attempt {job.attempts} was lost (lease expired)")


def _give_up(run, job, error):
    job.status, job.last_error, job.lease_until = "failed", error, None
    run.incident("service_task", f"{job.operation} failed after {job.attempts} attempt(s): {error}",
                 task_guid=job.task_guid, task_name=job.task_name)
