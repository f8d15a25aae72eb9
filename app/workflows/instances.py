"""Starting instances and the staff actions on them: cancel, suspend, resume, retry."""
from sqlalchemy import select, update
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models.workflow import (
    HumanTask,
    Incident,
    ProcessDefinition,
    ProcessEvent,
    ProcessInstance,
    ServiceJob,
    utcnow,
)
from . import jobs, processor, spiff
from .deployment import latest_definition


def get_definition(key, version=None):
    if version is None:
        definition = latest_definition(key)
    else:
        definition = db.session.execute(
            select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == version)
        ).scalar_one_or_none()
    if definition is None:
        raise NotFound("definition_not_found", key=key)
    return definition


def start(key, business_key=None, data=None, actor=None, version=None, subject=None):
    definition = get_definition(key, version)
    if data is not None and not isinstance(data, dict):
        raise Invalid(fields={"data": ["must be an object"]})
    run = processor.create(definition, business_key, dict(data or {}), actor=actor, subject=subject)
    run.run_engine()
    return processor.commit_new(run)


def get(instance_id):
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound("instance_not_found", id=instance_id)
    return instance


def data_of(instance):
    """The instance's current data: the data of its most recently changed task."""
    if not instance.state:
        return {}
    workflow = processor.load_workflow(instance)
    tasks = processor.all_tasks(workflow)
    latest = max(tasks, key=lambda t: t.last_state_change, default=None)
    data = dict(latest.data) if latest is not None else {}
    data.update(workflow.data)
    data.pop("data_objects", None)
    return data


def history(instance_id):
    return db.session.execute(
        select(ProcessEvent).where(ProcessEvent.instance_id == instance_id).order_by(ProcessEvent.id)
    ).scalars().all()


def open_tasks(instance_id):
    return db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == "open").order_by(HumanTask.id)
    ).scalars().all()


def incidents(instance_id, open_only=False):
    query = select(Incident).where(Incident.instance_id == instance_id)
    if open_only:
        query = query.where(processor.OPEN_INCIDENT)
    return db.session.execute(query.order_by(Incident.id)).scalars().all()


def search(key=None, status=None, business_key=None, activity=None, page=0, page_size=50):
    query = select(ProcessInstance)
    if key:
        query = query.where(ProcessInstance.process_key == key)
    if status:
        query = query.where(ProcessInstance.status == status)
    if business_key:
        query = query.where(ProcessInstance.business_key == business_key)
    if activity:
        query = query.where(ProcessInstance.current_activities.contains(f"|{activity}|", autoescape=True))
    # select_from keeps the FROM when no filter names a column (else it is `SELECT count(*)` = 1).
    total = db.session.execute(
        query.with_only_columns(db.func.count()).select_from(ProcessInstance)
    ).scalar()
    rows = db.session.execute(
        query.order_by(ProcessInstance.id.desc()).offset(page * page_size).limit(page_size)
    ).scalars().all()
    return rows, total


def cancel(instance_id, actor):
    with processor.change(instance_id, actor, allow=(*processor.ACTIVE, "suspended")) as run:
        run.workflow.cancel()
        run.instance.status = "cancelled"
        db.session.execute(
            update(Incident).where(Incident.instance_id == instance_id, processor.OPEN_INCIDENT)
            .values(resolved_at=utcnow(), resolved_by=actor)
        )
        run.event("cancelled")
    return run.instance


def suspend(instance_id, actor):
    with processor.change(instance_id, actor) as run:
        run.instance.status = "suspended"
        run.event("suspended")
    return run.instance


def resume(instance_id, actor):
    with processor.change(instance_id, actor, allow=("suspended",)) as run:
        run.instance.status = "running"
        run.event("resumed")
        run.run_engine()
    return run.instance


def retry(instance_id, actor):
    """Resolve open incidents: failed service jobs go back to the queue with fresh attempts,
    tasks in error run again."""
    requeue = []
    with processor.change(instance_id, actor) as run:
        open_incidents = incidents(instance_id, open_only=True)
        errored = [t for t in processor.all_tasks(run.workflow) if t.has_state(TaskState.ERROR)]
        if not open_incidents and not errored:
            raise Conflict("nothing_to_retry", id=instance_id)
        for incident in open_incidents:
            incident.resolved_at = utcnow()
            incident.resolved_by = actor
        failed = db.session.execute(
            select(ServiceJob).where(ServiceJob.instance_id == instance_id, ServiceJob.status == "failed")
        ).scalars().all()
        for job in failed:
            job.status, job.attempts, job.next_attempt_at, job.last_error = "queued", 0, None, None
            requeue.append(job)
        for task in errored:
            task._set_state(TaskState.READY)
        run.event("retry", data={"jobs": [j.id for j in requeue], "tasks": [t.task_spec.name for t in errored]})
        db.session.flush()
        run.run_engine()
    for job in requeue:
        jobs.enqueue_service_job(job.id, job.queue)
    return run.instance


def migrate(instance_id, version, actor):
    """Move a running instance to another version of its process (SpiffWorkflow's
    diff_workflow / migrate_workflow). Refused when a task the instance stands at, or a
    subprocess it runs, does not exist in the target version."""
    with processor.change(instance_id, actor, allow=(*processor.ACTIVE, "suspended")) as run:
        source = run.instance.definition
        target = get_definition(source.key, version)
        if target.id == source.id:
            raise Conflict("same_version", id=instance_id, version=version)
        spec, subprocess_specs = processor.specs(target)
        workflow = run.workflow
        top_diff, sub_diffs = diff_workflow(spiff.REGISTRY, workflow, spec, subprocess_specs)
        blocking = [processor.label(t.task_spec) for t in top_diff.removed if not t.has_state(TaskState.FINISHED_MASK)]
        if blocking or any(diff is None for diff in sub_diffs.values()):
            raise Conflict("migration_blocked", id=instance_id, version=version,
                           tasks=", ".join(blocking) or "subprocess")
        migrate_workflow(top_diff, workflow, spec)
        for sub_id, diff in sub_diffs.items():
            sub = workflow.subprocesses[sub_id]
            migrate_workflow(diff, sub, subprocess_specs[sub.spec.name])
        workflow.subprocess_specs = subprocess_specs
        run.instance.definition = target
        run.baseline = None  # task specs changed under the same task ids: rewrite every derived row
        run.event("migrated", data={"from_version": source.version, "to_version": target.version})
        run.run_engine()
    return run.instance


REDACTED = "[удалено]"
EVERY_STATE = (*processor.ACTIVE, "suspended", "completed", "cancelled")


def redact(instance_id, values, drop=(), actor="system"):
    """Erase a person's data from an instance in any state (their account was closed): every
    string in the process data (each task's, the workflow's), the history's data and the service
    jobs' parameters and results that contains one of ``values`` becomes ``REDACTED``, and the
    variables named in ``drop`` are removed. The instance keeps its shape, so it still loads."""
    values = [v for v in values if isinstance(v, str) and len(v) >= 3]

    def scrub(value):
        if isinstance(value, str):
            return REDACTED if any(v in value for v in values) else value
        if isinstance(value, dict):
            return {key: scrub(item) for key, item in value.items() if key not in drop}
        if isinstance(value, list):
            return [scrub(item) for item in value]
        return value

    with processor.change(instance_id, actor, allow=EVERY_STATE) as run:
        for task in processor.all_tasks(run.workflow):
            # internal_data holds a service task's evaluated parameters (a recipient's phone)
            task.data, task.internal_data = scrub(task.data), scrub(task.internal_data)
        run.workflow.data = scrub(run.workflow.data)
        for event in db.session.execute(select(ProcessEvent).where(ProcessEvent.instance_id == instance_id)).scalars():
            event.data = scrub(event.data)
        for job in db.session.execute(select(ServiceJob).where(ServiceJob.instance_id == instance_id)).scalars():
            job.params, job.result = scrub(job.params), scrub(job.result)
        run.event("redacted")
    return run.instance
