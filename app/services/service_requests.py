"""Service requests (SPEC PR): drafts, submission as a BPMN process, status history, chat,
attachments, rating and closing.

The kinds of request live in ``request_types/`` (one module each). Every
function taking a ``customer_id`` acts on that customer's requests only: another customer's
request, or its file, is 404 ``request_not_found`` as if it did not exist.
"""
import json
import os
import re
import unicodedata

import jsonschema
from flask import current_app
from sqlalchemy import func, select, update

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models.customers import Customer
from ..models.requests import (
    DONE_STATUSES,
    FINAL_STATUSES,
    RequestAttachment,
    RequestMessage,
    RequestStatusChange,
    ServiceRequest,
)
from ..models.workflow import ProcessInstance, utcnow
from ..workflows import instances, processor, tasks
from . import invoices, notifications, profile, request_numbers, uploads
from .request_types import TYPES

MESSAGE_MAX = 4000
FORM_MAX_CHARS = 20_000
ATTACHMENT_TYPES = tuple(uploads.TYPES)  # JPEG, PNG, PDF
# Statuses a process may set through request.set_status.
PROCESS_STATUSES = ("in_progress", "waiting_customer", "awaiting_payment", "scheduled", "completed", "rejected",
                    "cancelled")


def _check_form(form_data):
    if not isinstance(form_data, dict):
        raise Invalid(fields={"form_data": ["request_form_not_object"]})
    if len(json.dumps(form_data, ensure_ascii=False)) > FORM_MAX_CHARS:
        raise Invalid(fields={"form_data": ["request_form_too_large"]})
    return form_data


def record_status(req, status, by_kind, note=None, job_id=None, by_name=None):
    """Move ``req`` to ``status`` and write its history row."""
    req.status, req.updated_at = status, utcnow()
    db.session.add(RequestStatusChange(request_id=req.id, status=status, note=note, by_kind=by_kind,
                                       by_name=by_name, job_id=job_id, at=req.updated_at))


def own(customer_id, request_id, lock=False):
    """The customer's request (locked for the change on PostgreSQL), else 404."""
    query = select(ServiceRequest).where(ServiceRequest.id == request_id, ServiceRequest.customer_id == customer_id)
    if lock and db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    req = db.session.execute(query).scalar_one_or_none()
    if req is None:
        raise NotFound("request_not_found", id=request_id)
    return req


# --- drafts and submission ----------------------------------------------------------------------

def create_draft(customer_id, type_key, form_data=None, listed_only=True):
    """A new draft; ``listed_only=False`` lets a feature's own service (a booking) file a kind
    the generic API does not offer."""
    if type_key not in TYPES or (listed_only and not TYPES[type_key].listed):
        raise Invalid(fields={"type": ["request_type_unknown"]})
    req = ServiceRequest(type=type_key, customer_id=customer_id, status="draft",
                         form_data=_check_form(form_data or {}))
    db.session.add(req)
    db.session.flush()
    req.number = request_numbers.make(req.created_at.year, req.id)
    record_status(req, "draft", "customer")
    db.session.commit()
    return req


def update_draft(customer_id, request_id, form_data):
    req = own(customer_id, request_id, lock=True)
    if req.status != "draft":
        raise Conflict("request_not_draft", number=req.number)
    req.form_data, req.updated_at = _check_form(form_data), utcnow()
    db.session.commit()
    return req


def _form_errors(schema, form_data):
    fields = {}
    for error in jsonschema.Draft202012Validator(schema).iter_errors(form_data):
        if error.validator == "required" and isinstance(error.instance, dict):
            prefix = "".join(f"{part}." for part in error.absolute_path)
            for name in error.validator_value:
                if name not in error.instance:
                    fields.setdefault(prefix + name, []).append("request_field_required")
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            # at any depth: an unknown key inside a nested object is named with its path
            prefix = "".join(f"{part}." for part in error.absolute_path)
            for name in sorted(set(error.instance) - set(error.schema.get("properties", {}))):
                fields.setdefault(prefix + name, []).append("request_field_unknown")
        else:
            path = ".".join(str(part) for part in error.absolute_path) or "form_data"
            fields.setdefault(path, []).append("request_field_invalid")
    # a rule repeated in allOf / if-then branches names a field once
    return {name: list(dict.fromkeys(codes)) for name, codes in fields.items()}


def check_submission(type_key, form_data):
    """The form must pass its kind's JSON Schema: 422 ``request_form_invalid`` per field."""
    errors = _form_errors(TYPES[type_key].schema, form_data)
    if errors:
        raise Invalid("request_form_invalid", fields={f"form_data.{k}": v for k, v in errors.items()})


def submit(customer_id, request_id):
    """Validate the draft and start its process; the status change and the new instance
    commit together, and a process that fails to start leaves the draft as it was."""
    req = own(customer_id, request_id, lock=True)
    if req.status != "draft":
        raise Conflict("request_not_draft", number=req.number)
    check_submission(req.type, req.form_data)
    customer = db.session.get(Customer, customer_id)
    try:
        _start(req, customer, f"customer:{customer_id}", "customer")
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return req


def submit_new(customer_id, type_key, form_data):
    """Create and submit a customer's request in one go (an app's "book" or "subscribe" button):
    a refused submission leaves nothing behind, the customer never asked for a draft."""
    check_submission(type_key, _check_form(form_data))
    customer = db.session.get(Customer, customer_id)
    return file_submitted(type_key, form_data, customer, f"customer:{customer_id}", "customer")


def file_submitted(type_key, form_data, customer, actor, by_kind, by_name=None, note=None, account_id=None,
                   filed_in_office=False, before_start=None):
    """A request that skips the draft (booked in the app, filed at the office counter, or by the
    system for someone registering): numbered, submitted and its process started in one
    transaction. The caller has checked the form; ``customer`` is None for a person without an
    account; ``before_start(req)`` adds the kind's own rows (a support chat's) to the transaction."""
    req = ServiceRequest(type=type_key, customer_id=customer.id if customer else None, account_id=account_id,
                         status="draft", form_data=form_data, filed_in_office=filed_in_office)
    try:
        db.session.add(req)
        db.session.flush()
        req.number = request_numbers.make(req.created_at.year, req.id)
        if before_start is not None:
            before_start(req)
        _start(req, customer, actor, by_kind, by_name=by_name, note=note)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return req


def _start(req, customer, actor, by_kind, by_name=None, note=None):
    """Submit ``req`` and start its kind's process (``instances.start`` commits both: a process
    that cannot start leaves nothing behind)."""
    data = TYPES[req.type].process_data(req, customer)
    req.submitted_at = utcnow()
    record_status(req, "submitted", by_kind, note=note, by_name=by_name)
    start_process(req, data, actor)


def start_process(req, data, actor):
    """A new instance of the request's kind's process with ``data``, keyed by its number; its
    start commits the request's pending changes with it (a reopened support chat starts anew)."""
    db.session.flush()
    instance = instances.start(TYPES[req.type].process_key, business_key=req.number, data=data, actor=actor,
                               subject={"type": "service_request", "id": str(req.id)})
    req.process_instance_id = instance.id


# --- reading ------------------------------------------------------------------------------------

def list_own(customer_id, state=None, page=0, page_size=50):
    """The customer's requests, newest first; ``state`` "open" or "closed" (DONE_STATUSES)."""
    query = select(ServiceRequest).where(ServiceRequest.customer_id == customer_id)
    if state == "open":
        query = query.where(ServiceRequest.status.not_in(DONE_STATUSES))
    elif state == "closed":
        query = query.where(ServiceRequest.status.in_(DONE_STATUSES))
    total = db.session.execute(query.with_only_columns(func.count()).select_from(ServiceRequest)).scalar()
    rows = db.session.execute(
        query.order_by(ServiceRequest.id.desc()).offset(page * page_size).limit(page_size)
    ).scalars().all()
    return rows, total


def history(request_id):
    return db.session.execute(
        select(RequestStatusChange).where(RequestStatusChange.request_id == request_id)
        .order_by(RequestStatusChange.id)
    ).scalars().all()


def messages(request_id):
    return db.session.execute(
        select(RequestMessage).where(RequestMessage.request_id == request_id).order_by(RequestMessage.id)
    ).scalars().all()


def attachments(request_id):
    return db.session.execute(
        select(RequestAttachment).where(RequestAttachment.request_id == request_id).order_by(RequestAttachment.id)
    ).scalars().all()


def get_own(customer_id, request_id):
    """The customer's request; staff messages they had not seen are marked read."""
    req = own(customer_id, request_id)
    marked = db.session.execute(
        update(RequestMessage).where(RequestMessage.request_id == req.id, RequestMessage.author_kind == "staff",
                                     RequestMessage.read_at.is_(None)).values(read_at=utcnow())
    )
    if marked.rowcount:
        db.session.commit()
    return req


def public_status(text):
    """``(number, status, updated_at)`` of a filed request by its number (or scanned code)."""
    number = request_numbers.parse(text)
    row = db.session.execute(
        select(ServiceRequest.number, ServiceRequest.status, ServiceRequest.updated_at)
        .where(ServiceRequest.number == number, ServiceRequest.status != "draft")
    ).one_or_none()
    if row is None:
        raise NotFound("request_not_found", number=number)
    return row


# --- chat and attachments -----------------------------------------------------------------------

def _require_open(req):
    if req.status in FINAL_STATUSES:
        raise Conflict("request_closed", number=req.number)


def _post(req, text, author_kind, customer_id=None, staff_username=None, attachment=None):
    text = (text or "").strip() if isinstance(text, str) else ""
    if not text:
        raise Invalid(fields={"text": ["request_message_empty"]})
    if len(text) > MESSAGE_MAX:
        raise Invalid(fields={"text": ["request_message_too_long"]}, max=MESSAGE_MAX)
    _require_open(req)
    if req.status == "draft":
        raise Conflict("request_not_submitted", number=req.number)
    message = RequestMessage(request_id=req.id, author_kind=author_kind, customer_id=customer_id,
                             staff_username=staff_username, text=text)
    db.session.add(message)
    db.session.flush()
    if attachment is not None:
        attachment.message_id = message.id
    db.session.commit()
    return message


def customer_message(customer_id, request_id, text, attachment_id=None):
    """The customer writes in the request's chat, optionally with one of their uploaded files
    not yet sent with another message."""
    req = own(customer_id, request_id, lock=True)
    attachment = None
    if attachment_id is not None:
        attachment = db.session.execute(
            select(RequestAttachment).where(RequestAttachment.id == attachment_id,
                                            RequestAttachment.request_id == req.id,
                                            RequestAttachment.uploaded_by == "customer",
                                            RequestAttachment.message_id.is_(None))
        ).scalar_one_or_none()
        if attachment is None:
            raise NotFound("attachment_not_found", id=attachment_id)
    return _post(req, text, "customer", customer_id=customer_id, attachment=attachment)


def staff_message(request_id, username, text):
    """Staff answer in the chat (back office and staff API call this)."""
    req = db.session.get(ServiceRequest, request_id)
    if req is None:
        raise NotFound("request_not_found", id=request_id)
    return _post(req, text, "staff", staff_username=username)


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|;]+')


def display_name(filename, content_type):
    """The client's file name made safe to show and to send back in Content-Disposition: no
    path, no control or quoting characters, at most 100 characters, the extension of the real type."""
    name = unicodedata.normalize("NFC", os.path.basename((filename or "").replace("\\", "/")))
    stem = _UNSAFE.sub("_", os.path.splitext(name)[0]).strip(" ._")[:90] or "file"
    return stem + uploads.TYPES[content_type][1]


def add_attachment(customer_id, request_id, data, filename):
    """Store a customer's file on their request (JPEG, PNG or PDF by its bytes, at most
    UPLOAD_MAX_BYTES, REQUEST_MAX_ATTACHMENTS per request)."""
    req = own(customer_id, request_id, lock=True)
    _require_open(req)
    count = db.session.execute(
        select(func.count()).select_from(RequestAttachment).where(RequestAttachment.request_id == req.id)
    ).scalar()
    limit = current_app.config["REQUEST_MAX_ATTACHMENTS"]
    if count >= limit:
        raise Conflict("request_attachments_too_many", max=limit)
    stored = uploads.store(data, "requests", allowed=ATTACHMENT_TYPES)
    try:
        attachment = RequestAttachment(request_id=req.id, path=stored.path,
                                       filename=display_name(filename, stored.content_type),
                                       content_type=stored.content_type, size=stored.size, uploaded_by="customer")
        db.session.add(attachment)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        uploads.delete(stored.path)
        raise
    return attachment


def own_attachment(customer_id, request_id, attachment_id):
    req = own(customer_id, request_id)
    attachment = db.session.execute(
        select(RequestAttachment).where(RequestAttachment.id == attachment_id, RequestAttachment.request_id == req.id)
    ).scalar_one_or_none()
    if attachment is None:
        raise NotFound("attachment_not_found", id=attachment_id)
    return attachment


# --- what the process asks of the customer -------------------------------------------------------

def customer_tasks(req):
    """Open tasks of the request's process in the Customer lane (accept an offer, pick a slot,
    add a document), each with the JSON Schema of its form."""
    if req.process_instance_id is None or req.status in FINAL_STATUSES:
        return []
    return tasks.open_customer_tasks(req.process_instance_id)


def answer_task(customer_id, request_id, task_id, data):
    """The customer submits a task's form; the process moves on in the same transaction."""
    req = own(customer_id, request_id)
    _require_open(req)
    if req.process_instance_id is None:
        raise NotFound("task_not_found", id=task_id)
    tasks.complete_for_customer(task_id, req.process_instance_id, f"customer:{customer_id}", data)
    db.session.refresh(req)
    return req


# --- rating and closing -------------------------------------------------------------------------

def rate(customer_id, request_id, rating, feedback=None):
    req = own(customer_id, request_id, lock=True)
    if req.status not in ("completed", "closed") or req.submitted_at is None:
        raise Conflict("request_not_rateable", number=req.number)
    if req.rating is not None:
        raise Conflict("request_already_rated", number=req.number)
    req.rating, req.feedback, req.rated_at = rating, (feedback or "").strip() or None, utcnow()
    db.session.commit()
    return req


def close(customer_id, request_id, note=None):
    """The customer closes the request at any stage; a running process is cancelled in the
    same transaction (``instances.cancel`` commits the request's change with the instance's)."""
    req = own(customer_id, request_id, lock=True)
    _require_open(req)
    req.closed_at = utcnow()
    record_status(req, "closed", "customer", note=(note or "").strip() or None)
    invoices.cancel_open(req.process_instance_id)
    kind = TYPES.get(req.type)
    if kind is not None and kind.on_close is not None:
        kind.on_close(req)
    instance = db.session.get(ProcessInstance, req.process_instance_id) if req.process_instance_id else None
    try:
        if instance is not None and instance.status in (*processor.ACTIVE, "suspended"):
            db.session.flush()
            instances.cancel(instance.id, actor=f"customer:{customer_id}")
        else:
            db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return req


# --- account closure (ID-8) ---------------------------------------------------------------------

def erase_customer(customer_id, identifiers, closed_note="учётная запись закрыта"):
    """The customer closed their account: their requests keep number, kind, dates and status
    history (the company's record of the service), and lose the person: the form, feedback,
    every chat text and their own files; a request still open is closed and its process cancelled;
    every process's data loses the form and any text holding ``identifiers`` (phone, email,
    name). Called after the closure's commit; each process is changed in its own transaction."""
    reqs = db.session.execute(select(ServiceRequest).where(ServiceRequest.customer_id == customer_id)).scalars().all()
    paths, still_open = [], []
    for req in reqs:
        req.form_data, req.feedback = {}, None
        if req.status not in DONE_STATUSES:
            req.closed_at = utcnow()
            record_status(req, "closed", "customer", note=closed_note)
            invoices.cancel_open(req.process_instance_id)
            still_open.append(req.process_instance_id)
    ids = [req.id for req in reqs]
    if ids:
        db.session.execute(update(RequestMessage).where(RequestMessage.request_id.in_(ids))
                           .values(text=instances.REDACTED), execution_options={"synchronize_session": False})
        own_files = db.session.execute(select(RequestAttachment).where(
            RequestAttachment.request_id.in_(ids), RequestAttachment.uploaded_by == "customer")).scalars().all()
        for attachment in own_files:
            paths.append(attachment.path)
            db.session.delete(attachment)
    db.session.commit()
    for path in paths:
        uploads.delete(path)
    for req in reqs:
        if req.process_instance_id is None:
            continue
        instance = db.session.get(ProcessInstance, req.process_instance_id)
        if req.process_instance_id in still_open and instance.status in (*processor.ACTIVE, "suspended"):
            instances.cancel(instance.id, actor=f"customer:{customer_id}")
        instances.redact(instance.id, identifiers, drop=("form",), actor=f"customer:{customer_id}")
    return len(reqs)


# --- status from the process (the request.set_status service task) ---------------------------

def set_status_from_process(business_key, status, note, job_id):
    """Set the request's status from its process and tell the customer; once per job."""
    if status not in PROCESS_STATUSES:
        raise ValueError(f"status must be one of {PROCESS_STATUSES}, not {status!r}")
    done = db.session.execute(
        select(RequestStatusChange).where(RequestStatusChange.job_id == job_id)
    ).scalar_one_or_none()
    if done is not None:
        return {"request_id": done.request_id, "status": done.status, "repeated": True}
    if not request_numbers.looks_like(business_key):
        # A process started by hand or by a test (not from a request) has nothing to move.
        return {"skipped": f"{business_key!r} is not a request number"}
    req = db.session.execute(
        select(ServiceRequest).where(ServiceRequest.number == business_key)
    ).scalar_one_or_none()
    if req is None:
        raise LookupError(f"no service request numbered {business_key!r}")
    if req.status in FINAL_STATUSES:  # closed by the customer meanwhile: the process's word is late
        return {"request_id": req.id, "status": req.status, "ignored": True}
    record_status(req, status, "process", note=note, job_id=job_id)
    if status in DONE_STATUSES:
        req.closed_at = req.updated_at
    db.session.flush()
    _notify(req, status, note, job_id)
    return {"request_id": req.id, "status": status}


def issue_invoice(business_key, amount, description, instance_id):
    """An invoice to the request's customer from its process (fee, call-out, paid service):
    the same instance and description give the same invoice (a retried job)."""
    req = db.session.execute(select(ServiceRequest).where(ServiceRequest.number == business_key)).scalar_one_or_none()
    if req is None or req.customer_id is None:
        raise LookupError(f"no service request numbered {business_key!r} with a customer to bill")
    invoice = invoices.create(req.customer_id, description, amount, account_id=req.account_id,
                              process_instance_id=instance_id)
    return {"invoice": invoice.number, "amount": str(invoice.amount), "invoice_id": invoice.id}


STATUS_LABELS = {
    "draft": "черновик", "submitted": "подана", "in_progress": "в работе", "waiting_customer": "ждёт вашего ответа",
    "awaiting_payment": "ждёт оплаты", "scheduled": "визит назначен", "completed": "выполнена",
    "rejected": "отклонена", "cancelled": "отменена", "closed": "закрыта",
}


def _notify(req, status, note, job_id):
    customer = db.session.get(Customer, req.customer_id) if req.customer_id else None
    if customer is None:
        return
    context = {"number": req.number, "status": STATUS_LABELS.get(status, status), "note": f" {note}" if note else ""}
    if customer.phone and profile.wants(customer, "requests", "sms"):
        notifications.queue_message(f"job-{job_id}-sms", "sms", customer.phone, "request_status", context,
                                    customer_id=customer.id)
    if customer.email and customer.email_confirmed_at and profile.wants(customer, "requests", "email"):
        notifications.queue_message(f"job-{job_id}-email", "email", customer.email, "request_status", context,
                                    customer_id=customer.id, subject=f"Заявка {req.number}")


# --- the staff side (app/services/staff_requests.py) ------------------------------------------------

def post_as_staff(req, username, text, attachment=None):
    """A staff chat message on ``req``, optionally carrying a file row staff just added."""
    return _post(req, text, "staff", staff_username=username, attachment=attachment)


def file_by_staff(type_key, form_data, customer, contact, username):
    """A request staff file in an office (PR-9), checked like a customer's submission, then
    numbered, submitted and its process started in one transaction. ``customer`` is None for
    a walk-in, whose ``contact`` ({"name", "phone"}) is kept in the form after the check."""
    check_submission(type_key, _check_form(form_data))
    return file_submitted(type_key, {**form_data, **(contact or {})}, customer, username, "staff", by_name=username,
                          note="подана в офисе", filed_in_office=True)
