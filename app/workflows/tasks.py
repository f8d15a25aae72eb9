"""Human tasks: the inbox query, claim, unclaim and complete."""
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import or_, select
from SpiffWorkflow.util.task import TaskState

from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..extensions import db
from ..models.workflow import HumanTask, utcnow
from . import processor


class Worker:
    """Who acts on a task: a staff user name with roles, or a customer (later issues)."""

    def __init__(self, name, roles, is_admin=False):
        self.name = name
        self.roles = set(roles)
        self.is_admin = is_admin


def inbox(worker, mine=False, unassigned=False, process_key=None, overdue=False, page=0, page_size=50):
    """Open staff tasks the worker may take: their roles' tasks (all, for admins)."""
    query = select(HumanTask).where(HumanTask.status == "open", HumanTask.for_customer.is_(False))
    if not worker.is_admin:
        query = query.where(or_(HumanTask.candidate_role.in_(worker.roles), HumanTask.assignee == worker.name))
    if mine:
        query = query.where(HumanTask.assignee == worker.name)
    if unassigned:
        query = query.where(HumanTask.assignee.is_(None))
    if process_key:
        query = query.where(HumanTask.process_key == process_key)
    if overdue:
        query = query.where(HumanTask.due_at < utcnow())
    total = db.session.execute(query.with_only_columns(db.func.count())).scalar()
    rows = db.session.execute(
        query.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
        .offset(page * page_size).limit(page_size)
    ).scalars().all()
    return rows, total


def get(task_id, worker):
    task = db.session.get(HumanTask, task_id)
    if task is None or not _may_see(task, worker):
        # Someone else's task is answered as missing: no probing of ids.
        raise NotFound("task_not_found", id=task_id)
    return task


def _may_see(task, worker):
    if task.for_customer:
        return worker.is_admin
    return worker.is_admin or task.candidate_role in worker.roles or task.assignee == worker.name


def _locked_task(run, task_id, worker):
    task = db.session.execute(
        select(HumanTask).where(HumanTask.id == task_id).execution_options(populate_existing=True)
    ).scalar_one()
    if task.status != "open":
        raise Conflict("task_not_open", id=task_id, status=task.status)
    return task


def claim(task_id, worker):
    task = get(task_id, worker)
    with processor.change(task.instance_id, worker.name) as run:
        task = _locked_task(run, task_id, worker)
        if task.assignee and task.assignee != worker.name:
            raise Conflict("task_claimed", id=task_id, assignee=task.assignee)
        task.assignee = worker.name
        run.event("task_claimed", task_name=task.title)
    return task


def unclaim(task_id, worker):
    task = get(task_id, worker)
    with processor.change(task.instance_id, worker.name) as run:
        task = _locked_task(run, task_id, worker)
        if task.assignee is None:
            raise Conflict("task_not_claimed", id=task_id)
        if task.assignee != worker.name and not worker.is_admin:
            raise Conflict("task_claimed", id=task_id, assignee=task.assignee)
        task.assignee = None
        run.event("task_unclaimed", task_name=task.title)
    return task


def validate_form(schema, data):
    if not isinstance(data, dict):
        raise Invalid(fields={"data": ["must be an object"]})
    if not schema:
        return
    errors = {}
    for error in Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(data):
        path = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path = ".".join(filter(None, [path, missing]))
        errors.setdefault(path or "data", []).append(error.message)
    if errors:
        raise Invalid("form_invalid", fields=errors)


def complete(task_id, worker, data):
    task = get(task_id, worker)
    if task.for_customer:
        raise Forbidden("customer_task", id=task_id)
    validate_form(task.form_schema, data)
    with processor.change(task.instance_id, worker.name) as run:
        task = _locked_task(run, task_id, worker)
        if task.assignee and task.assignee != worker.name:
            raise Conflict("task_claimed", id=task_id, assignee=task.assignee)
        spiff_task = processor.task_by_guid(run.workflow, task.task_guid)
        if spiff_task is None or not spiff_task.has_state(TaskState.READY):
            raise Conflict("task_not_open", id=task_id, status="moved on")
        spiff_task.task_spec.add_data_from_form(spiff_task, data)
        spiff_task.run()
        task.status, task.assignee = "completed", worker.name
        task.completed_at, task.completed_by = utcnow(), worker.name
        run.event("task_completed", task_name=task.title, data=data)
        run.run_engine()
    return task
