"""The one door to a running instance (gateway points 2-8).

Every change is one transaction: lock the instance row, load the workflow with its cached
spec, run the engine, then write the state and every derived row (human tasks, service jobs,
message subscriptions, next timer, history) and commit. Jobs are enqueued after the commit.
"""
import json
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from uuid import UUID

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.orm.exc import StaleDataError
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from ..errors import Conflict, NotFound
from ..extensions import db
from ..models.workflow import (
    HumanTask,
    Incident,
    MessageSubscription,
    ProcessEvent,
    ProcessInstance,
    ServiceJob,
    utcnow,
)
from . import jobs, scripting, service_tasks, spiff
from .deployment import form_filename
from .lanes import CUSTOMER, lane_role

ACTIVE = ("running", "waiting", "error")
OPEN_INCIDENT = Incident.resolved_at.is_(None)


class EngineLimit(Exception):
    """The loop guard: an instance made too many tasks or ran too long in one go."""


def script_engine():
    app = current_app
    engine = app.extensions.get("kabinet_script_engine")
    if engine is None:
        deadlines = app.config["PROCESS_DEADLINES"]

        def deadline(name, default):
            """A named deadline (ISO duration), overridable by configuration."""
            return deadlines.get(name, default)

        engine = scripting.script_engine({"deadline": deadline}, app.config["SCRIPT_TIME_LIMIT_SECONDS"])
        app.extensions["kabinet_script_engine"] = engine
    return engine


def specs(definition):
    return spiff.load_spec(definition.checksum, lambda: definition.spec_json)


def new_workflow(definition, data):
    spec, subprocess_specs = specs(definition)
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine())
    # Tasks copy their parent's data when they are created; the start task already exists.
    for task in [workflow.task_tree, *workflow.task_tree.children]:
        task.data.update(data)
    return workflow


def load_workflow(instance):
    spec, subprocess_specs = specs(instance.definition)
    workflow = spiff.load_state(instance.state, spec, subprocess_specs)
    workflow.script_engine = script_engine()  # the script engine is not serialised
    return workflow


def all_tasks(workflow):
    """Every task of the instance and its subprocesses, from the flat dicts (no iterator)."""
    tasks = list(workflow.tasks.values())
    for sub in workflow.subprocesses.values():
        tasks.extend(sub.tasks.values())
    return tasks


def task_by_guid(workflow, guid):
    try:
        return workflow.get_task_from_id(UUID(str(guid)))
    except (ValueError, KeyError, SpiffWorkflowException):
        return None


class Change:
    """What one locked transaction did: history rows and jobs to enqueue after commit."""

    def __init__(self, instance, workflow, actor, new=False):
        self.instance = instance
        self.workflow = workflow
        self.actor = actor
        self.new_jobs = []  # (id, queue) of service jobs to enqueue after commit
        self.new = new
        self.status_at_load = instance.status
        self.raised_incident = False
        # What the derived rows were made from when they were last written; sync rewrites only
        # the parts that differ (a migration clears it to force a full rewrite).
        self.baseline = None if new else _fingerprint(instance, _Derived(workflow))

    def event(self, kind, task_name=None, data=None, actor=None):
        db.session.add(ProcessEvent(
            instance_id=self.instance.id, kind=kind, task_name=task_name,
            actor=actor if actor is not None else self.actor, data=data,
        ))

    def run_engine(self):
        """``do_engine_steps`` with the loop guard; failures become an error state, not a 500."""
        if self.instance.status == "suspended":
            return
        workflow = self.workflow
        limit = current_app.config["ENGINE_MAX_TASKS"]
        until = time.monotonic() + current_app.config["ENGINE_RUN_SECONDS"]

        def guard(_task):
            if len(workflow.tasks) > limit:
                raise EngineLimit(f"the instance made more than {limit} tasks (endless loop?)")
            if time.monotonic() > until:
                raise EngineLimit("the engine ran too long in one step (endless loop?)")

        try:
            workflow.refresh_timers()
            workflow.do_engine_steps(did_complete_task=guard)
        except Exception as exc:
            # Anything raised here comes from the model (scripts, conditions, DMN, the loop
            # guard): it is the instance's incident, never the caller's 500.
            self.incident("engine", _describe(exc), task_name=getattr(getattr(exc, "task", None), "task_spec", None))

    def incident(self, kind, message, task_guid=None, task_name=None):
        if task_name is not None and not isinstance(task_name, str):
            task_name = task_name.bpmn_name or task_name.bpmn_id or task_name.name
        db.session.add(Incident(
            instance_id=self.instance.id, kind=kind, message=message, task_guid=task_guid, task_name=task_name,
        ))
        self.event("error", task_name=task_name, data={"message": message})
        self.raised_incident = True

    def sync(self):
        _sync(self)

    def enqueue_jobs(self):
        """After commit: the rows exist, so a worker that takes the job at once finds them."""
        for job_id, queue in self.new_jobs:
            jobs.enqueue_service_job(job_id, queue)


def _describe(exc):
    text = str(exc) or type(exc).__name__
    notes = getattr(exc, "__notes__", None)
    if notes:
        text += " (" + "; ".join(notes) + ")"
    return f"{type(exc).__name__}: {text}"[:2000]


def _lock(instance_id, skip_locked=False):
    query = select(ProcessInstance).where(ProcessInstance.id == instance_id).execution_options(populate_existing=True)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=skip_locked, of=ProcessInstance)
    return db.session.execute(query).unique().scalar_one_or_none()


@contextmanager
def change(instance_id, actor=None, allow=ACTIVE, skip_locked=False):
    """Lock an instance, yield a :class:`Change`, then sync, commit and enqueue.

    The version counter turns a lost race on SQLite into a Conflict; PostgreSQL serialises
    on the row lock. With ``skip_locked`` a busy instance yields None (for sweepers).
    """
    try:
        instance = _lock(instance_id, skip_locked)
        if instance is None:
            if skip_locked:
                yield None
                return
            raise NotFound("instance_not_found", id=instance_id)
        if instance.status not in allow:
            raise Conflict("instance_state", id=instance_id, status=instance.status)
        run = Change(instance, load_workflow(instance), actor)
        yield run
        run.sync()
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict("concurrent_change", id=instance_id) from None
    except BaseException:
        db.session.rollback()
        raise
    run.enqueue_jobs()


def create(definition, business_key, data, actor=None, subject=None):
    """A new instance, run to its first wait state, in one transaction."""
    instance = ProcessInstance(
        definition_id=definition.id, definition=definition, process_key=definition.key,
        business_key=business_key, status="running", started_by=actor,
        subject_type=(subject or {}).get("type"), subject_id=(subject or {}).get("id"),
    )
    db.session.add(instance)
    db.session.flush()
    run = Change(instance, new_workflow(definition, data), actor, new=True)
    run.event("started", data=data)
    return run


def commit_new(run):
    try:
        run.sync()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    run.enqueue_jobs()
    return run.instance


# --- deriving rows from the workflow ---------------------------------------------------------

def label(task_spec):
    return task_spec.bpmn_name or task_spec.bpmn_id or task_spec.name


def _parse_when(value):
    if not value:
        return None
    if isinstance(value, dict):  # cycle timers keep {"next": iso, ...}
        value = value.get("next")
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def waiting_timers(workflow):
    """``[(task, fire time)]`` for every waiting timer event."""
    result = []
    for task in workflow.event_manager.tasks.values():
        definition = task.task_spec.event_definition
        if isinstance(definition, TimerEventDefinition) and task.has_state(TaskState.WAITING):
            when = _parse_when(definition.details(task).value)
            if when is not None:
                result.append((task, when))
    return result


def _due_at(task, timers):
    """A user task's due date is the earliest timer on its boundary (the escalation)."""
    siblings = set(id(t) for t in (task.parent.children if task.parent else []))
    times = [when for timer, when in timers if id(timer) in siblings]
    return min(times) if times else None


def correlation_key(correlation):
    return json.dumps({k: None if v is None else str(v) for k, v in correlation.items()}, sort_keys=True)


def subscription_correlation(task, business_key):
    definition = task.task_spec.event_definition
    if definition.correlation_properties:
        return {p.name: task.data.get(p.retrieval_expression) for p in definition.correlation_properties}
    return {"business_key": business_key}


def _status(run, tasks):
    if any(t.has_state(TaskState.ERROR) for t in tasks):
        return "error"
    # Incidents are only looked up when this change could have one open.
    if run.raised_incident or run.status_at_load == "error":
        has_incident = db.session.execute(
            select(Incident.id).where(Incident.instance_id == run.instance.id, OPEN_INCIDENT).limit(1)
        ).first()
        if has_incident:
            return "error"
    if not any(t.has_state(TaskState.NOT_FINISHED_MASK) for t in tasks):
        return "completed"
    if any(t.has_state(TaskState.READY) and not t.task_spec.manual for t in tasks):
        return "running"
    return "waiting"


class _Derived:
    """The points of a workflow the derived rows are made from."""

    def __init__(self, workflow):
        self.tasks = all_tasks(workflow)
        self.timers = waiting_timers(workflow)
        self.ready_user = {
            str(t.id): t for t in self.tasks if t.has_state(TaskState.READY) and isinstance(t.task_spec, UserTask)
        }
        self.started_service = {
            str(t.id): t for t in self.tasks
            if t.has_state(TaskState.STARTED) and isinstance(t.task_spec, spiff.AsyncServiceTask)
        }
        self.waiting_messages = [
            t for t in workflow.event_manager.tasks.values()
            if isinstance(t.task_spec.event_definition, MessageEventDefinition) and t.has_state(TaskState.WAITING)
        ]

    def clear(self):
        self.ready_user, self.started_service, self.waiting_messages, self.timers = {}, {}, [], []


def _fingerprint(instance, derived):
    return {
        "human": (frozenset(derived.ready_user), frozenset((str(t.id), when) for t, when in derived.timers)),
        "service": frozenset(derived.started_service),
        "messages": frozenset(
            (str(t.id), correlation_key(subscription_correlation(t, instance.business_key)))
            for t in derived.waiting_messages
        ),
    }


def _sync(run):
    instance, workflow = run.instance, run.workflow
    # One flush, first: the caller's changes (a completed task row) before the reads below;
    # the instance's own fields are then written by one UPDATE at commit.
    db.session.flush()
    derived = _Derived(workflow)
    previous_status = instance.status
    if instance.status not in ("suspended", "cancelled"):
        instance.status = _status(run, derived.tasks)
    if instance.status == "completed" and previous_status != "completed":
        instance.completed_at = utcnow()
        run.event("completed")
    if instance.status == "cancelled":
        derived.clear()

    current = _fingerprint(instance, derived)
    with db.session.no_autoflush:
        if run.baseline is None or run.baseline["human"] != current["human"]:
            _sync_human_tasks(run, derived.ready_user, derived.timers)
        if run.baseline is None or run.baseline["service"] != current["service"]:
            _sync_service_jobs(run, derived.started_service)
        if run.baseline is None or run.baseline["messages"] != current["messages"]:
            _sync_subscriptions(run, derived.waiting_messages)
    instance.next_timer_at = min((when for _task, when in derived.timers), default=None)
    names = []
    for task in [*derived.ready_user.values(), *derived.started_service.values(), *derived.waiting_messages,
                 *(t for t, _ in derived.timers)]:
        name = label(task.task_spec)
        # Boundary events are not where an instance stands; the task they sit on is.
        on_boundary = isinstance(task.task_spec, CatchingEvent) and isinstance(task.parent.task_spec, BoundaryEventSplit)
        if name not in names and not on_boundary:
            names.append(name)
    instance.current_activities = "|" + "|".join(names) + "|" if names else ""
    instance.state = spiff.dump_state(workflow)
    instance.updated_at = utcnow()


def _sync_subscriptions(run, waiting_messages):
    instance = run.instance
    if not run.new:
        db.session.execute(delete(MessageSubscription).where(MessageSubscription.instance_id == instance.id))
    for task in waiting_messages:
        correlation = subscription_correlation(task, instance.business_key)
        db.session.add(MessageSubscription(
            instance_id=instance.id, message_name=task.task_spec.event_definition.name,
            correlation=correlation, correlation_key=correlation_key(correlation), task_guid=str(task.id),
        ))


def _sync_human_tasks(run, ready_user, timers):
    instance = run.instance
    rows = [] if run.new else db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == "open")
    ).scalars().all()
    known = set()
    for row in rows:
        known.add(row.task_guid)
        if row.task_guid in ready_user:
            # kept current: a migration may change the title, lane or form; timers the due date
            for field, value in _human_task_fields(instance, ready_user[row.task_guid], timers).items():
                setattr(row, field, value)
        else:
            row.status = "cancelled"  # moved on without a person: boundary timer, cancel
            row.completed_at = utcnow()
    for guid, task in ready_user.items():
        if guid not in known:
            db.session.add(HumanTask(instance_id=instance.id, process_key=instance.process_key, task_guid=guid,
                                     **_human_task_fields(instance, task, timers)))


def _human_task_fields(instance, task, timers):
    spec = task.task_spec
    role = lane_role(spec.lane)
    filename = form_filename(spec)
    return {
        "name": spec.bpmn_id or spec.name, "title": label(spec)[:256], "lane": spec.lane,
        "candidate_role": None if role == CUSTOMER else role, "for_customer": role == CUSTOMER,
        "form_schema": with_options(instance.definition.forms.get(filename), task.data) if filename else None,
        "due_at": _due_at(task, timers),
    }


def with_options(schema, data):
    """The form with the process's values filled in where it asks for them: each
    ``"x-options-from": "var"`` becomes an ``enum`` of the task's list ``var`` (slots a dispatcher
    offered, documents found missing), each ``"x-minimum-from"`` / ``"x-maximum-from"`` a
    ``minimum`` / ``maximum`` from the number ``var`` (a service's minimum price). The choices and
    bounds a form offers can come from the process, and validation then holds to them."""
    if isinstance(schema, list):
        return [with_options(item, data) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: with_options(value, data) for key, value in schema.items()}
    source = schema.get("x-options-from")
    if isinstance(source, str):
        options = data.get(source)
        result["enum"] = [o for o in options if isinstance(o, (str, int, float))] if isinstance(options, list) else []
    for keyword in ("minimum", "maximum"):
        source = schema.get(f"x-{keyword}-from")
        value = data.get(source) if isinstance(source, str) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            result[keyword] = value
    return result


def _sync_service_jobs(run, started_service):
    instance = run.instance
    rows = [] if run.new else db.session.execute(
        select(ServiceJob).where(ServiceJob.instance_id == instance.id)
    ).scalars().all()
    known = {row.task_guid for row in rows}  # task_guid is unique: never a second job for a task
    for row in rows:
        if row.task_guid not in started_service and row.status not in ("done", "cancelled"):
            row.status = "cancelled"
    config = current_app.config
    new_jobs = []
    for guid, task in started_service.items():
        if guid in known:
            continue
        operation = task.task_spec.operation_name
        _func, queue = service_tasks.get(operation) if service_tasks.is_registered(operation) else (None, "default")
        new_jobs.append(ServiceJob(
            instance_id=instance.id, task_guid=guid, task_name=label(task.task_spec), operation=operation,
            params=task.internal_data.get("operation_params", {}), queue=queue,
            max_attempts=task.task_spec.retries or config["SERVICE_TASK_MAX_ATTEMPTS"],
        ))
    if new_jobs:
        db.session.add_all(new_jobs)
        db.session.flush()
        run.new_jobs.extend((job.id, job.queue) for job in new_jobs)


def backoff(attempts):
    base = current_app.config["SERVICE_TASK_BACKOFF_SECONDS"]
    return timedelta(seconds=base * (2 ** max(attempts - 1, 0)))
