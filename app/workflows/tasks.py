"""Human tasks: the inbox query, claim, unclaim and complete."""
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import and_, func, or_, select, text, union_all
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


# Written out so that it matches the partial indexes' predicate (bound parameters would not).
OPEN_STAFF_TASK = text("human_task.status = 'open' AND NOT human_task.for_customer")
INBOX_ORDER = (HumanTask.due_at.asc().nulls_last(), HumanTask.id)


def inbox(worker, mine=False, unassigned=False, process_key=None, overdue=False, page=0, page_size=50):
    """Open staff tasks the worker may take, earliest due first: ``(rows, total)``.

    Each source (one role's queue, the tasks assigned to the worker outside those roles, or
    every open task for an admin) is an ordered range of a partial index; the page is merged
    from the first ``(page + 1) * page_size`` rows of each, so no query sorts the whole table.
    The sources are disjoint, so their counts add up.
    """
    filters = [OPEN_STAFF_TASK]
    if mine:
        filters.append(HumanTask.assignee == worker.name)
    if unassigned:
        filters.append(HumanTask.assignee.is_(None))
    if process_key:
        filters.append(HumanTask.process_key == process_key)
    if overdue:
        filters.append(HumanTask.due_at < utcnow())
    if worker.is_admin:
        sources = [and_(*filters)]
    else:
        roles = sorted(worker.roles)
        sources = [and_(HumanTask.candidate_role == role, *filters) for role in roles]
        outside_roles = or_(HumanTask.candidate_role.is_(None), HumanTask.candidate_role.notin_(roles))
        sources.append(and_(HumanTask.assignee == worker.name, outside_roles, *filters))
    window = (page + 1) * page_size
    heads = [
        select(HumanTask.id).where(source).order_by(*INBOX_ORDER).limit(window).subquery()
        for source in sources
    ]
    ids = union_all(*(select(head.c.id) for head in heads)).subquery()
    rows = db.session.execute(
        select(HumanTask).join(ids, HumanTask.id == ids.c.id)
        .order_by(*INBOX_ORDER).offset(page * page_size).limit(page_size)
    ).scalars().all()
    total = sum(
        db.session.execute(select(func.count()).select_from(HumanTask).where(source)).scalar()
        for source in sources
    )
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
    return _complete(task, worker.name, data)


def open_customer_tasks(instance_id):
    """What the process waits for from the customer on this instance, oldest first."""
    return db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.for_customer.is_(True),
                                HumanTask.status == "open").order_by(HumanTask.id)
    ).scalars().all()


def complete_for_customer(task_id, instance_id, actor, data):
    """The customer answers a task of the Customer lane on ``instance_id`` (their request's
    instance: the caller has checked the request is theirs); any other task is 404."""
    task = db.session.get(HumanTask, task_id)
    if task is None or task.instance_id != instance_id or not task.for_customer:
        raise NotFound("task_not_found", id=task_id)
    return _complete(task, actor, data)


def _complete(task, actor, data):
    validate_form(task.form_schema, data)
    task_id = task.id
    with processor.change(task.instance_id, actor) as run:
        task = _locked_task(run, task_id, None)
        if task.assignee and task.assignee != actor:
            raise Conflict("task_claimed", id=task_id, assignee=task.assignee)
        spiff_task = processor.task_by_guid(run.workflow, task.task_guid)
        if spiff_task is None or not spiff_task.has_state(TaskState.READY):
            raise Conflict("task_not_open", id=task_id, status="moved on")
        spiff_task.task_spec.add_data_from_form(spiff_task, data)
        spiff_task.run()
        task.status, task.assignee = "completed", actor
        task.completed_at, task.completed_by = utcnow(), actor
        run.event("task_completed", task_name=task.title, data=data)
        run.run_engine()
    return task


def reassign(task_id, worker, target):
    """Hand an open staff task to another staff user (SPEC AD-2). Only an admin or the task's
    current assignee may; ``target`` (a :class:`Worker`, or None for an unknown or inactive user)
    must hold the task's role (an admin, when the lane names none). Handing back to the pool is
    :func:`unclaim`."""
    task = get(task_id, worker)
    if task.for_customer:
        raise Forbidden("customer_task", id=task_id)
    if not worker.is_admin and task.assignee != worker.name:
        raise Forbidden("task_reassign_forbidden", id=task_id)
    if target is None:
        raise Conflict("task_reassign_unknown_user", id=task_id)
    if not (task.candidate_role in target.roles if task.candidate_role else target.is_admin):
        raise Conflict("task_reassign_role", id=task_id, username=target.name, role=task.candidate_role or "Admin")
    with processor.change(task.instance_id, worker.name) as run:
        task = _locked_task(run, task_id, worker)
        if task.assignee != worker.name and not worker.is_admin:  # taken back meanwhile
            raise Forbidden("task_reassign_forbidden", id=task_id)
        if task.assignee == target.name:
            raise Conflict("task_reassign_same", id=task_id, username=target.name)
        run.event("task_reassigned", task_name=task.title, data={"from": task.assignee, "to": target.name})
        task.assignee = target.name
    return task
