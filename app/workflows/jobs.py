"""Running service-task jobs and the ticker (gateway points 5 and 6).

The ``service_job`` row is the source of truth; a queue entry only points at it. Production
uses RQ on Redis (``python worker.py``); the embedded default runs jobs on a thread pool in the
web process. Either way a ticker fires due timers, promotes due retries, takes back jobs whose
worker died (expired lease) and re-enqueues jobs the queue lost.
"""
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from ..extensions import db, redis_connection
from ..models.workflow import ProcessInstance, ServiceJob, utcnow

log = logging.getLogger(__name__)
QUEUES = ("high", "default", "bulk")


def init_app(app):
    from . import service_tasks

    service_tasks.load_handler_modules(app.config["SERVICE_HANDLER_MODULES"])
    if app.config["JOBS_BACKEND"] == "inprocess":
        app.extensions["kabinet_pool"] = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kabinet-job")
    if app.config["START_TICKER"]:
        start_ticker(app)


def queue_name(app, queue):
    return f"{app.config['REDIS_PREFIX']}:{queue}"


def rq_queue(app, queue):
    from rq import Queue

    return Queue(queue_name(app, queue), connection=redis_connection(app))


def enqueue_service_job(job_id, queue="default"):
    app = current_app._get_current_object()
    if app.config["JOBS_BACKEND"] == "inprocess":
        app.extensions["kabinet_pool"].submit(run_in_app, app, execute_service_job, job_id)
        return
    try:
        rq_queue(app, queue).enqueue(execute_service_job, job_id, result_ttl=0, failure_ttl=3600)
    except Exception:  # Redis down: the row stays queued and the ticker enqueues it again
        log.exception("could not enqueue service job %s", job_id)


def run_in_app(app, job, *args):
    """An in-process job on a pool thread: in the app's context, a crash logged, not lost."""
    with app.app_context():
        try:
            job(*args)
        except Exception:
            log.exception("in-process job %s%s crashed", job.__name__, args)


def execute_service_job(job_id):
    """The RQ job: run the handler outside the instance lock, then complete the task."""
    from .service_runner import run_job

    try:
        run_job(job_id)
    finally:
        db.session.remove()  # a worker process runs many jobs in one app context


# --- the ticker ---------------------------------------------------------------------------------

def tick(batch=50):
    """One sweep; returns how many things it moved. Safe to run in many processes at once."""
    from . import timers

    moved = timers.fire_due(batch)
    moved += _promote_due_retries(batch)
    moved += _take_back_expired_leases(batch)
    moved += _requeue_lost(batch)
    moved += _outbox_sweep(batch)
    _daily_tasks()
    return moved


def _daily_tasks():
    """Once-a-day work (app/services/daily.py), looked at every DAILY_CHECK_SECONDS per process."""
    from ..services import daily

    every = current_app.config["DAILY_CHECK_SECONDS"]
    state = current_app.extensions.setdefault("kabinet_daily_checked", {"at": None})
    if not every or (state["at"] is not None and time.monotonic() - state["at"] < every):
        return
    state["at"] = time.monotonic()
    daily.run_due()


def _outbox_sweep(batch):
    """Outbound messages: due retries, expired leases, rows the queue lost (app/services/outbox.py)."""
    from ..services import outbox

    return outbox.sweep(batch)


def _promote_due_retries(batch):
    now = utcnow()
    due = db.session.execute(
        select(ServiceJob.id, ServiceJob.queue)
        .where(ServiceJob.status == "retry", ServiceJob.next_attempt_at <= now).limit(batch)
    ).all()
    return _requeue(due, ServiceJob.status == "retry")


def _take_back_expired_leases(batch):
    """A worker killed mid-job leaves it running; after the lease it is taken again, unless
    that was its last attempt."""
    from .service_runner import fail_lost

    now = utcnow()
    expired = db.session.execute(
        select(ServiceJob.id, ServiceJob.queue, ServiceJob.attempts >= ServiceJob.max_attempts)
        .where(ServiceJob.status == "running", ServiceJob.lease_until < now).limit(batch)
    ).all()
    if expired:
        log.warning("taking back %d service jobs with expired leases", len(expired))
    for job_id, _queue, exhausted in expired:
        if exhausted:
            fail_lost(job_id)
    return _requeue([(i, q) for i, q, exhausted in expired if not exhausted], ServiceJob.status == "running")


def _requeue_lost(batch):
    cutoff = utcnow() - timedelta(seconds=current_app.config["SERVICE_TASK_REQUEUE_SECONDS"])
    lost = db.session.execute(
        select(ServiceJob.id, ServiceJob.queue)
        .where(ServiceJob.status == "queued", ServiceJob.updated_at < cutoff).limit(batch)
    ).all()
    return _requeue(lost, ServiceJob.status == "queued")


def _requeue(rows, still):
    moved = 0
    for job_id, queue in rows:
        # The guard on the old status makes two tickers racing for one job harmless.
        result = db.session.execute(
            update(ServiceJob).where(ServiceJob.id == job_id, still)
            .values(status="queued", updated_at=utcnow(), lease_until=None)
        )
        db.session.commit()
        if result.rowcount:
            enqueue_service_job(job_id, queue)
            moved += 1
    return moved


def start_ticker(app):
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                with app.app_context():
                    tick()
                    db.session.remove()
            except Exception:
                log.exception("ticker sweep failed")
            stop.wait(app.config["TICK_SECONDS"])

    thread = threading.Thread(target=loop, name="kabinet-ticker", daemon=True)
    thread.start()
    app.extensions["kabinet_ticker_stop"] = stop
    return stop


def queue_depths(app):
    if app.config["JOBS_BACKEND"] == "inprocess":
        pool = app.extensions.get("kabinet_pool")
        return {"inprocess": pool._work_queue.qsize() if pool else 0}
    return {queue: rq_queue(app, queue).count for queue in QUEUES}


def due_instances_count():
    return db.session.execute(
        select(db.func.count()).select_from(ProcessInstance).where(ProcessInstance.next_timer_at <= utcnow())
    ).scalar()


def wait_for_jobs(instance_id, timeout=10.0):
    """Wait until the instance has no service job in flight; True if it settled in time.

    For the demo loader and tests, whose next step follows a service task run elsewhere.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = db.session.execute(
            select(ServiceJob.id).where(ServiceJob.instance_id == instance_id,
                                        ServiceJob.status.in_(("queued", "running", "retry"))).limit(1)
        ).first()
        db.session.rollback()
        if pending is None:
            return True
        time.sleep(0.02)
    return False
