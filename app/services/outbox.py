"""Delivering the outbox (SPEC NT-3): one job per message, enqueued after its row is committed.

The ``outbox_message`` row is the source of truth; a queue entry only points at it (Redis keeps
nothing on disk here, so the ticker can always rebuild the queue from the table)::

    queued ──claim──▶ sending ──adapter ok──────────────────────────▶ sent
      ▲                  ├─ transient error, attempts left ──▶ retry ──(due: ticker)──▶ queued
      │                  └─ permanent error or last attempt ─▶ failed ──(staff retry)──▶ queued
      └──── lease expired (the worker died): ticker ───┘

* Writing a row (``notifications.send`` / ``queue_message``) registers it on the session; the
  session's ``after_commit`` enqueues it — on RQ queue ``{REDIS_PREFIX}:<queue>`` or on the
  in-process pool — and a rollback forgets it. A job never runs before its row is visible and
  nothing is sent for a transaction that rolled back.
* The job claims the row atomically (``queued``, or ``retry`` when due → ``sending``, attempts + 1,
  ``next_attempt_at`` = end of the lease), calls the channel's adapter outside any transaction and
  records the outcome only while it still holds the claim (still ``sending``, same attempt).
* The ticker (``jobs.tick`` → :func:`sweep`) promotes due retries, takes back messages whose
  lease expired (a killed worker: delivery is at-least-once; gateways get the same ``id`` on every
  attempt to deduplicate) and re-enqueues rows left ``queued`` by a lost queue entry.
* One-time codes and link tokens (context keys in ``SECRET_CONTEXT_KEYS``) are masked wherever
  staff see a message (the outbox screen, ``last_error``), and such messages are never re-sent by
  staff: the code has expired by then, the customer asks for a new one.
* An email's attachments are files in ``OUTBOX_FILES_DIR`` (written before the row is queued);
  they are removed once the message is final (sent, or failed for good), so a staff retry of a
  failed message with attachments fails again: the sender makes a new message instead.
"""
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import and_, event, func, or_, select, update
from sqlalchemy.orm import Session

from ..extensions import db
from ..models.notifications import OutboxMessage, has_secrets, mask_secrets, masked_context
from ..models.workflow import utcnow
from . import delivery

log = logging.getLogger(__name__)
QUEUES = ("high", "default", "bulk")
BACKLOG = ("queued", "sending", "retry")
_PENDING = "kabinet_outbox_pending"
_pool_lock = threading.Lock()


# --- enqueue after commit -----------------------------------------------------------------------

def schedule(message):
    """Deliver ``message`` (a flushed row) once the surrounding transaction commits."""
    session = db.session()
    entry = (current_app._get_current_object(), message.id, message.queue, session.get_nested_transaction())
    session.info.setdefault(_PENDING, []).append(entry)


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    if session.get_nested_transaction() is not None:
        return  # a savepoint was released: the rows become visible with the outer commit
    for app, message_id, queue, _savepoint in session.info.pop(_PENDING, None) or ():
        enqueue(app, message_id, queue)


@event.listens_for(Session, "after_soft_rollback")
def _after_soft_rollback(session, previous_transaction):
    pending = session.info.get(_PENDING)
    if not pending:
        return
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)
        return
    # A savepoint rolled back: forget only the rows written inside it.
    session.info[_PENDING] = [entry for entry in pending if not _inside(entry[3], previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session, transaction):
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_PENDING, None)  # ended without a commit (close(), a failed commit)


def _inside(savepoint, target):
    while savepoint is not None:
        if savepoint is target:
            return True
        savepoint = savepoint.parent
    return False


def enqueue(app, message_id, queue="default"):
    """Hand a message to the job backend. A failure is only logged: the row stays queued and
    the ticker enqueues it again after OUTBOX_REQUEUE_SECONDS."""
    from ..workflows import jobs  # jobs' ticker sweeps the outbox: imported here, not at the top

    queue = queue if queue in QUEUES else "default"
    try:
        if app.config["JOBS_BACKEND"] == "inprocess":
            _pool(app).submit(jobs.run_in_app, app, execute_delivery, message_id)
        else:
            jobs.rq_queue(app, queue).enqueue(execute_delivery, message_id, result_ttl=0, failure_ttl=3600)
    except Exception:
        log.exception("could not enqueue outbox message %s", message_id)


def _pool(app):
    """The embedded default's delivery threads, apart from the service-task pool so that a slow
    provider never holds up the engine's jobs."""
    pool = app.extensions.get("kabinet_outbox_pool")
    if pool is None:
        with _pool_lock:
            pool = app.extensions.get("kabinet_outbox_pool")
            if pool is None:
                pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kabinet-outbox")
                app.extensions["kabinet_outbox_pool"] = pool
    return pool


# --- the job ------------------------------------------------------------------------------------

def execute_delivery(message_id):
    """The job (RQ or in-process): deliver one message; safe to run any number of times."""
    try:
        return deliver(message_id)
    finally:
        db.session.remove()  # a worker process runs many jobs in one app context


def deliver(message_id):
    """Claim, send, record. Returns the status recorded (sent | retry | failed), or None when the
    message was not this call's to send (sent or failed already, held by another worker, a retry
    not yet due, or gone)."""
    claimed = _claim(message_id)
    if claimed is None:
        return None
    outgoing = delivery.Outgoing(
        id=claimed.id, channel=claimed.channel, recipient=claimed.recipient, subject=claimed.subject,
        body=claimed.body, key=claimed.idempotency_key, attempt=claimed.attempts,
        attachments=tuple(claimed.attachments or ()),
    )
    provider = None
    if _expired(claimed.context):
        # A one-time code whose time ran out while it waited (a retry, a queue outage): sending
        # it now would only confuse; the customer asks for a new one.
        return _failed(claimed, delivery.PermanentDeliveryError("expired before it could be delivered"), None)
    try:
        adapter = delivery.adapter_for(claimed.channel, current_app.config)
        provider = adapter.name
        delivery.check_recipient(claimed.channel, claimed.recipient)
        result = adapter.send(outgoing)
    except Exception as exc:  # the provider's failure is the message's, never the worker's
        return _failed(claimed, exc, provider)
    return _sent(claimed, result)


def _expired(context):
    """A message whose context says ``expires_at`` (naive UTC, ISO) and is past it. The context
    of a BPMN notice comes from process data: a value that is not such a time means no expiry."""
    value = (context or {}).get("expires_at") if isinstance(context, dict) else None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment <= utcnow()


def _claim(message_id):
    now = utcnow()
    lease = timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])
    m = OutboxMessage
    claimed = db.session.execute(
        update(m)
        .where(m.id == message_id,
               or_(m.status == "queued", and_(m.status == "retry", m.next_attempt_at <= now)))
        .values(status="sending", attempts=m.attempts + 1, next_attempt_at=now + lease, updated_at=now)
        .returning(m.id, m.channel, m.recipient, m.subject, m.body, m.idempotency_key, m.attempts, m.context,
                   m.attachments)
    ).first()
    db.session.commit()
    return claimed


def _record(claimed, values):
    """Write the outcome only while this attempt still holds the message."""
    m = OutboxMessage
    result = db.session.execute(
        update(m).where(m.id == claimed.id, m.status == "sending", m.attempts == claimed.attempts)
        .values(**values).execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


def _redacted(body, context):
    """Once a message is final its one-time code or link is no use to keep: the row keeps the
    text with the secret masked, as staff see it."""
    if not has_secrets(context):
        return {}
    return {"body": mask_secrets(body, context), "context": masked_context(context)}


def _sent(claimed, result):
    now = utcnow()
    values = {"status": "sent", "provider": (result.provider or "")[:32] or None,
              "provider_message_id": result.message_id[:128] if result.message_id else None,
              "sent_at": now, "updated_at": now, "next_attempt_at": None, **_redacted(claimed.body, claimed.context)}
    if _record(claimed, values):
        remove_attachments(claimed.attachments)
    else:
        log.warning("outbox message %s: attempt %s delivered after its lease was taken back",
                    claimed.id, claimed.attempts)
    return "sent"


def remove_attachments(attachments):
    """A final message (sent or failed) needs its files no more: they may hold a customer's
    bill, so they are not left lying in OUTBOX_FILES_DIR."""
    for attachment in attachments or ():
        try:
            os.remove(attachment["path"])
        except FileNotFoundError:
            pass
        except OSError:
            log.warning("cannot remove outbox attachment %s", attachment.get("path"), exc_info=True)


def describe_error(exc, body, context):
    """The error as stored and shown to staff: no message text, no codes."""
    text = f"{type(exc).__name__}: {exc}"
    if body and len(body) >= 8:
        text = text.replace(body, "<текст сообщения>")
    return mask_secrets(text, context)[:2000]


def backoff(attempts):
    seconds = current_app.config["OUTBOX_BACKOFF_SECONDS"] * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, 3600))


def _failed(claimed, exc, provider):
    now = utcnow()
    error = describe_error(exc, claimed.body, claimed.context)
    values = {"last_error": error, "provider": provider, "updated_at": now}
    if not getattr(exc, "permanent", False) and claimed.attempts < current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        status = "retry"
        values.update(status=status, next_attempt_at=now + backoff(claimed.attempts))
    else:
        status = "failed"
        values.update(status=status, next_attempt_at=None, **_redacted(claimed.body, claimed.context))
    log.warning("outbox message %s (%s) attempt %s → %s: %s", claimed.id, claimed.channel, claimed.attempts,
                status, error)
    if _record(claimed, values) and status == "failed":
        remove_attachments(claimed.attachments)
    return status


# --- the ticker's sweep -------------------------------------------------------------------------

def sweep(batch=50):
    """Due retries, expired leases, rows the queue lost; returns how many were enqueued again.
    Safe in many processes at once: every move is guarded by the status it expects."""
    return _promote_due_retries(batch) + _take_back_expired(batch) + _requeue_lost(batch)


def _promote_due_retries(batch):
    m = OutboxMessage
    due = db.session.execute(
        select(m.id, m.queue).where(m.status == "retry", m.next_attempt_at <= utcnow())
        .order_by(m.next_attempt_at).limit(batch)
    ).all()
    return _requeue(due, m.status == "retry")


def _take_back_expired(batch):
    """A worker killed mid-delivery leaves its message ``sending``; after the lease it is sent
    again, unless that was its last attempt (then it fails: it may or may not have gone out)."""
    m = OutboxMessage
    now = utcnow()
    expired = db.session.execute(
        select(m.id, m.queue, m.attempts, m.body, m.context, m.attachments)
        .where(m.status == "sending", m.next_attempt_at < now).limit(batch)
    ).all()
    if not expired:
        return 0
    log.warning("outbox: taking back %d messages with expired leases", len(expired))
    limit = current_app.config["OUTBOX_MAX_ATTEMPTS"]
    for row in expired:
        if row.attempts >= limit:
            failed = db.session.execute(
                update(m).where(m.id == row.id, m.status == "sending", m.next_attempt_at < now)
                .values(status="failed", next_attempt_at=None, updated_at=now,
                        last_error=f"the worker delivering attempt {row.attempts} was lost (lease expired); "
                                   "the message may not have gone out", **_redacted(row.body, row.context))
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
            if failed.rowcount:
                remove_attachments(row.attachments)
    return _requeue([(r.id, r.queue) for r in expired if r.attempts < limit],
                    m.status == "sending", m.next_attempt_at < now)


def _requeue_lost(batch):
    m = OutboxMessage
    cutoff = utcnow() - timedelta(seconds=current_app.config["OUTBOX_REQUEUE_SECONDS"])
    lost = db.session.execute(
        select(m.id, m.queue).where(m.status == "queued", m.updated_at < cutoff).limit(batch)
    ).all()
    return _requeue(lost, m.status == "queued", m.updated_at < cutoff)


def _requeue(rows, *still):
    app = current_app._get_current_object()
    m = OutboxMessage
    moved = 0
    for message_id, queue in rows:
        result = db.session.execute(
            update(m).where(m.id == message_id, *still)
            .values(status="queued", next_attempt_at=None, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if result.rowcount:
            enqueue(app, message_id, queue)
            moved += 1
    return moved


# --- staff and monitoring -----------------------------------------------------------------------

def retry_failed(message_ids, actor=None):
    """Send failed messages again with fresh attempts. Returns ``(retried, refused)``: the ids
    queued again, and ``{id: reason}`` for the others (``not_failed``; ``secret`` for one-time
    codes, which are never re-sent)."""
    m = OutboxMessage
    retried, refused = [], {}
    rows = db.session.execute(
        select(m).where(m.id.in_(list(message_ids))).order_by(m.id)
        .with_for_update().execution_options(populate_existing=True)
    ).scalars().all()
    for message in rows:
        if message.status != "failed":
            refused[message.id] = "not_failed"
        elif has_secrets(message.context):
            refused[message.id] = "secret"
        else:
            message.status, message.attempts, message.next_attempt_at = "queued", 0, None
            message.updated_at = utcnow()
            schedule(message)
            retried.append(message.id)
    db.session.commit()
    if retried:
        log.info("outbox messages %s queued again by %s", retried, actor)
    return retried, refused


def backlog():
    """Messages not yet final, by status, and the age in seconds of the oldest (for /health)."""
    m = OutboxMessage
    rows = db.session.execute(
        select(m.status, func.count(), func.min(m.created_at)).where(m.status.in_(BACKLOG)).group_by(m.status)
    ).all()
    counts = {status: 0 for status in BACKLOG}
    oldest = None
    for status, count, first in rows:
        counts[status] = count
        oldest = first if oldest is None or (first is not None and first < oldest) else oldest
    counts["oldest_seconds"] = round((utcnow() - oldest).total_seconds(), 1) if oldest else 0
    return counts


def wait_for_delivery(timeout=10.0, ids=None, include_retries=False):
    """Wait until no message (of ``ids``, if given) is queued or sending — nor, with
    ``include_retries``, waiting for a retry; True if that happened in time. For the demo loader
    and tests, after the transaction that wrote the messages has committed. Polls on its own
    connection, so the caller's session is left alone."""
    m = OutboxMessage
    statuses = BACKLOG if include_retries else ("queued", "sending")
    query = select(m.id).where(m.status.in_(statuses))
    if ids is not None:
        query = query.where(m.id.in_(list(ids)))
    query = query.limit(1)
    deadline = time.monotonic() + timeout
    while True:
        with db.engine.connect() as conn:
            pending = conn.execute(query).first()
        if pending is None:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
