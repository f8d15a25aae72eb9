"""The staff side of service requests (SPEC AD-2, AD-3, PR-9): search, the request card with
the process's position and diagram, staff chat with files, and filing a request in an office.

Staff see every submitted request (drafts stay the customer's own). Who may read, write or
file is FAB permissions (``app/security.py``); the rules here hold for every staff caller.
"""
from flask import current_app
from sqlalchemy import func, or_, select, update

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models.customers import Customer
from ..models.requests import (
    DONE_STATUSES,
    FINAL_STATUSES,
    STATUSES,
    RequestAttachment,
    RequestMessage,
    RequestStatusChange,
    ServiceRequest,
)
from ..models.workflow import HumanTask, ProcessInstance, utcnow
from ..workflows import tasks as workflow_tasks
from . import bpmn_diagram, phones, service_requests, uploads
from .request_types import TYPES

NAME_MAX = 256
NOTE_MAX = 1000


# --- search and reading ---------------------------------------------------------------------------

def search(type_key=None, status=None, number=None, phone=None, state=None, filed_in_office=None,
           page=0, page_size=50):
    """Submitted requests, newest first: ``(rows, total)``. ``number`` matches a part of the
    number; ``phone`` (any spelling) the customer's phone or a walk-in's phone kept in the form."""
    query = select(ServiceRequest).where(ServiceRequest.status != "draft")
    if type_key:
        query = query.where(ServiceRequest.type == type_key)
    if status:
        if status not in STATUSES or status == "draft":
            raise Invalid(fields={"status": ["request_status_unknown"]})
        query = query.where(ServiceRequest.status == status)
    if number:
        query = query.where(ServiceRequest.number.contains(number.strip().upper(), autoescape=True))
    if phone:
        normal = phones.normalise(phone)
        query = query.outerjoin(Customer, Customer.id == ServiceRequest.customer_id).where(
            or_(Customer.phone == normal, ServiceRequest.form_data["phone"].as_string() == normal))
    if state == "open":
        query = query.where(ServiceRequest.status.not_in(DONE_STATUSES))
    elif state == "closed":
        query = query.where(ServiceRequest.status.in_(DONE_STATUSES))
    if filed_in_office is not None:
        query = query.where(ServiceRequest.filed_in_office.is_(bool(filed_in_office)))
    total = db.session.execute(query.with_only_columns(func.count(ServiceRequest.id))).scalar()
    rows = db.session.execute(
        query.order_by(ServiceRequest.id.desc()).offset(page * page_size).limit(page_size)
    ).scalars().all()
    return rows, total


def open_staff_tasks(instance_ids):
    """``{instance id: [open staff tasks]}`` for a page of requests, in one query (the
    list's "who has it" and overdue markers)."""
    ids = {i for i in instance_ids if i}
    result = {}
    if not ids:
        return result
    for task in db.session.execute(
        select(HumanTask).where(HumanTask.instance_id.in_(ids), HumanTask.status == "open")
        .order_by(HumanTask.due_at.asc().nulls_last(), HumanTask.id)
    ).scalars():
        result.setdefault(task.instance_id, []).append(task)
    return result


def request_of_instances(instance_ids):
    """``{instance id: request id}``: which tasks of the inbox belong to a request's process."""
    ids = {i for i in instance_ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(
        select(ServiceRequest.process_instance_id, ServiceRequest.id)
        .where(ServiceRequest.process_instance_id.in_(ids))
    ).all())


def get(request_id, lock=False):
    """A submitted request, else 404 (a draft is the customer's own)."""
    query = select(ServiceRequest).where(ServiceRequest.id == request_id, ServiceRequest.status != "draft")
    if lock and db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    req = db.session.execute(query).scalar_one_or_none()
    if req is None:
        raise NotFound("request_not_found", id=request_id)
    return req


def is_overdue(task):
    return bool(task.status == "open" and task.due_at and task.due_at < utcnow())


def position(req):
    """Where the request's process stands: the instance, its current activities and the
    open tasks (staff and customer) with lane, assignee, due date and overdue flag."""
    instance = db.session.get(ProcessInstance, req.process_instance_id) if req.process_instance_id else None
    if instance is None:
        return {"instance_id": None, "process_key": None, "version": None, "status": None,
                "current_activities": [], "tasks": []}
    open_tasks = db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == "open")
        .order_by(HumanTask.id)
    ).scalars().all()
    return {
        "instance_id": instance.id,
        "process_key": instance.process_key,
        "version": instance.definition.version,
        "status": instance.status,
        "current_activities": [a for a in (instance.current_activities or "").split("|") if a],
        "tasks": [{"id": t.id, "name": t.name, "title": t.title, "lane": t.lane, "role": t.candidate_role,
                   "for_customer": t.for_customer, "assignee": t.assignee, "due_at": t.due_at,
                   "overdue": is_overdue(t), "created_at": t.created_at} for t in open_tasks],
    }


def card(request_id):
    """Everything the request card shows; the customer's messages count as read by staff."""
    req = get(request_id)
    marked = db.session.execute(
        update(RequestMessage).where(RequestMessage.request_id == req.id, RequestMessage.author_kind == "customer",
                                     RequestMessage.read_at.is_(None)).values(read_at=utcnow())
    )
    if marked.rowcount:
        db.session.commit()
    customer = req.customer
    account = req.account
    kind = TYPES.get(req.type)
    return {
        "request": req,
        "type_title": (kind.titles.get("ru") if kind else None) or req.type,
        # Contact data only: sessions, passwords and codes stay in the customer's own screens.
        "customer": {"id": customer.id, "name": customer.full_name, "phone": customer.phone,
                     "email": customer.email if customer.email_confirmed_at else None} if customer else
                    {"id": None, "name": req.form_data.get("name"), "phone": req.form_data.get("phone"),
                     "email": None},
        "account": {"id": account.id, "number": account.number, "address": account.address} if account else None,
        "history": service_requests.history(req.id),
        "messages": service_requests.messages(req.id),
        "attachments": service_requests.attachments(req.id),
        "position": position(req),
    }


def diagram(req, position_=None):
    """The SVG of the request's process version with its current steps highlighted, or None."""
    instance = db.session.get(ProcessInstance, req.process_instance_id) if req.process_instance_id else None
    if instance is None:
        return None
    position_ = position_ or position(req)
    current = set(position_["current_activities"]) | {t["name"] for t in position_["tasks"]}
    return bpmn_diagram.render(instance.definition.bpmn_xml, instance.process_key, current)


def attachment(request_id, attachment_id):
    req = get(request_id)
    found = db.session.execute(
        select(RequestAttachment).where(RequestAttachment.id == attachment_id, RequestAttachment.request_id == req.id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("attachment_not_found", id=attachment_id)
    return found


# --- chat -----------------------------------------------------------------------------------------

def post_message(request_id, username, text, data=None, filename=None):
    """A staff answer in the chat, optionally with a file (JPEG, PNG or PDF by its bytes) the
    customer then downloads; the message and the file commit together or not at all."""
    req = get(request_id, lock=True)
    stored = None
    try:
        file_row = None
        if data is not None:
            count = db.session.execute(
                select(func.count()).select_from(RequestAttachment).where(RequestAttachment.request_id == req.id)
            ).scalar()
            limit = current_app.config["REQUEST_MAX_ATTACHMENTS"]
            if count >= limit:
                raise Conflict("request_attachments_too_many", max=limit)
            stored = uploads.store(data, "requests", allowed=service_requests.ATTACHMENT_TYPES)
            file_row = RequestAttachment(request_id=req.id, path=stored.path,
                                         filename=service_requests.display_name(filename, stored.content_type),
                                         content_type=stored.content_type, size=stored.size, uploaded_by="staff",
                                         staff_username=username)
            db.session.add(file_row)
        return service_requests.post_as_staff(req, username, text, file_row)
    except BaseException:
        db.session.rollback()
        if stored is not None:
            uploads.delete(stored.path)
        raise


def add_note(request_id, username, note):
    """A staff note in the request's status history (the status stays): what was done, for the
    customer and colleagues to read, e.g. "documents received in the office"."""
    note = note.strip() if isinstance(note, str) else ""
    if not note:
        raise Invalid(fields={"note": ["request_note_empty"]})
    if len(note) > NOTE_MAX:
        raise Invalid(fields={"note": ["request_note_too_long"]}, max=NOTE_MAX)
    req = get(request_id, lock=True)
    if req.status in FINAL_STATUSES:
        raise Conflict("request_closed", number=req.number)
    change = RequestStatusChange(request_id=req.id, status=req.status, note=note, by_kind="staff", by_name=username,
                                 at=utcnow())
    db.session.add(change)
    db.session.commit()
    return change


# --- filing in an office (PR-9) ----------------------------------------------------------------------

def office_types():
    return {key: kind for key, kind in sorted(TYPES.items()) if kind.office}


def file_in_office(type_key, form_data, phone, name, username):
    """Staff file a request for someone at the counter: a customer with this phone is linked;
    anyone else is a walk-in whose name and phone are kept in the form (no customer). The
    request is submitted and its process started at once, so the public status check (PR-9)
    answers for its number."""
    if type_key not in office_types():
        raise Invalid(fields={"type": ["request_type_not_office"]})
    normal = phones.normalise(phone)
    customer = db.session.execute(
        select(Customer).where(Customer.phone == normal, Customer.status == "active")
    ).scalar_one_or_none()
    contact = None
    if customer is None:
        name = (name or "").strip() if isinstance(name, str) else ""
        if not name:
            raise Invalid(fields={"name": ["request_walk_in_name_required"]})
        if len(name) > NAME_MAX:
            raise Invalid(fields={"name": ["request_walk_in_name_too_long"]}, max=NAME_MAX)
        contact = {"name": name, "phone": normal}
    return service_requests.file_by_staff(type_key, form_data, customer, contact, username)


def staff_worker(username):
    """The active staff user ``username`` as a task worker (for reassigning), or None."""
    if not isinstance(username, str) or not username.strip():
        return None
    user = current_app.appbuilder.sm.find_user(username=username.strip())
    if user is None or not user.active:
        return None
    roles = [role.name for role in user.roles]
    admin_role = current_app.config.get("AUTH_ROLE_ADMIN", "Admin")
    return workflow_tasks.Worker(user.username, roles, is_admin=admin_role in roles)


def staff_with_role(role):
    """Usernames of the active staff users holding ``role`` (admins when None): whom a task of
    that lane may be handed to."""
    sm = current_app.appbuilder.sm
    found = sm.find_role(role or current_app.config.get("AUTH_ROLE_ADMIN", "Admin"))
    return sorted(user.username for user in (found.user if found else []) if user.active)
