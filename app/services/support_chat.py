"""PR-11 support chat, also before sign-in.

A chat is a ``support_chat`` service request (``request_types/support_chat.py``): its messages
are the request's RequestMessage rows, its state the request's status (``submitted`` until staff
answer, then ``in_progress``; ``completed`` once closed) and its process puts "answer the support
chat" in the Operator inbox. :class:`~app.models.support_chat.SupportChat` adds the guest's secret.

* A guest opens a chat and gets a random token once; the chat is reachable only with it (a
  wrong or missing token is the same 404 as an unknown chat). Signing in, the customer may claim
  the chat with the token: it becomes theirs and the token stops working.
* A signed-in customer's chat is reachable by that customer only (404 for anyone else).
* Closing (by staff) completes the open task; a new message from the customer after that
  reopens the same chat and starts a new instance of the process (a new task with a new due
  date), so the conversation and the guest's token stay the same.
"""
import re

from flask import current_app
from sqlalchemy import case, func, select, update

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models.customers import Customer
from ..models.requests import DONE_STATUSES, RequestMessage, ServiceRequest
from ..models.support_chat import SupportChat
from ..models.workflow import utcnow
from ..workflows import instances, tasks
from . import phones, rate_limits, secrets, service_requests
from .request_types import TYPES
from .request_types.support_chat import MESSAGE_MAX, TOPICS

KIND = "support_chat"
OPEN_STATUSES = ("submitted", "in_progress")
TOKEN_PURPOSE = "support_chat_guest"
RESOLUTIONS = {"answered": "вопрос решён", "redirected": "направлен в другую службу", "spam": "спам"}
NAME_MAX = 100
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")

def limit(setting, key):
    """Count one call against the configured limit ``setting`` (``SUPPORT_CHAT_…`` in config.py)
    for ``key``."""
    rate_limits.hit(current_app.config[setting], setting.lower(), key)


# --- checks ---------------------------------------------------------------------------------------

def _text(text):
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        raise Invalid(fields={"text": ["support_chat_message_empty"]})
    if len(text) > MESSAGE_MAX:
        raise Invalid(fields={"text": ["support_chat_message_too_long"]}, max=MESSAGE_MAX)
    return text


def _topic(topic):
    if topic in (None, ""):
        return "other"
    if topic not in TOPICS:
        raise Invalid(fields={"topic": ["support_chat_topic_unknown"]})
    return topic


def _guest_contacts(name, phone, email):
    """The guest's optional name and way to reach them, checked and normalised."""
    contacts = {}
    name = name.strip() if isinstance(name, str) else ""
    if len(name) > NAME_MAX:
        raise Invalid(fields={"name": ["support_chat_name_too_long"]}, max=NAME_MAX)
    if name:
        contacts["name"] = name
    if isinstance(phone, str) and phone.strip():
        contacts["phone"] = phones.normalise(phone)
    email = email.strip() if isinstance(email, str) else ""
    if email:
        if len(email) > 254 or not _EMAIL.match(email):
            raise Invalid(fields={"email": ["support_chat_email_invalid"]})
        contacts["email"] = email
    return contacts


# --- opening ------------------------------------------------------------------------------------

def ensure_chat(req, customer):
    """The chat row of a support_chat request, and the question as its first message (also when
    the request came through the generic requests API)."""
    chat = db.session.execute(select(SupportChat).where(SupportChat.request_id == req.id)).scalar_one_or_none()
    if chat is None:
        chat = SupportChat(request_id=req.id)
        db.session.add(chat)
    has_messages = db.session.execute(
        select(RequestMessage.id).where(RequestMessage.request_id == req.id).limit(1)
    ).first()
    if not has_messages and req.form_data.get("text"):
        db.session.add(RequestMessage(request_id=req.id, author_kind="customer", text=req.form_data["text"],
                                      customer_id=customer.id if customer else None))
    db.session.flush()
    return chat


def open_chat(customer, form_data, actor, guest_token_hash=None):
    """A new chat (request, first message, process) for ``customer`` (None: a guest) from a form
    already checked, in one transaction; :func:`open_for_guest` and :func:`open_for_customer`
    check and count it."""
    req = service_requests.file_submitted(
        KIND, form_data, customer, actor, "customer",
        before_start=lambda req: db.session.add(SupportChat(request_id=req.id, guest_token_hash=guest_token_hash)))
    return chat_of(req)


def open_for_guest(ip, text, topic=None, name=None, phone=None, email=None):
    """A guest's new chat from address ``ip``: ``(chat, token)``; the token is shown once and
    kept only hashed. Only chats that would open count against the address's limit."""
    form = {"topic": _topic(topic), "text": _text(text), **_guest_contacts(name, phone, email)}
    limit("SUPPORT_CHAT_OPEN_LIMIT_PER_IP", ip)
    token = secrets.token()
    return open_chat(None, form, "guest", guest_token_hash=secrets.keyed_hash(TOKEN_PURPOSE, token)), token


def open_for_customer(customer_id, text, topic=None):
    form = {"topic": _topic(topic), "text": _text(text)}
    limit("SUPPORT_CHAT_OPEN_LIMIT_PER_CUSTOMER", customer_id)
    return open_chat(db.session.get(Customer, customer_id), form, f"customer:{customer_id}")


# --- finding a chat -------------------------------------------------------------------------------

def chat_of(req):
    return db.session.execute(select(SupportChat).where(SupportChat.request_id == req.id)).scalar_one()


def _chat(chat_id, lock=False):
    query = select(SupportChat).where(SupportChat.id == chat_id)
    if lock and db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    return db.session.execute(query).scalar_one_or_none() if isinstance(chat_id, int) else None


def guest_chat(chat_id, token, lock=False):
    """The chat the guest's token opens; any other (or no) token is 404 like an unknown chat."""
    chat = _chat(chat_id, lock)
    if chat is None or not isinstance(token, str) or not secrets.matches(TOKEN_PURPOSE, token, chat.guest_token_hash):
        raise NotFound("support_chat_not_found", id=chat_id)
    return chat


def own_chat(customer_id, chat_id, lock=False):
    chat = _chat(chat_id, lock)
    if chat is None or chat.request.customer_id != customer_id:
        raise NotFound("support_chat_not_found", id=chat_id)
    return chat


def staff_chat(chat_id, lock=False):
    chat = _chat(chat_id, lock)
    if chat is None:
        raise NotFound("support_chat_not_found", id=chat_id)
    return chat


def list_own(customer_id, page=0, page_size=20):
    """The customer's chats, newest first: ``(chats, total)``."""
    query = select(SupportChat).join(ServiceRequest, ServiceRequest.id == SupportChat.request_id).where(
        ServiceRequest.customer_id == customer_id, ServiceRequest.type == KIND)
    total = db.session.execute(query.with_only_columns(func.count())).scalar()
    rows = db.session.execute(
        query.order_by(SupportChat.id.desc()).offset(page * page_size).limit(page_size)
    ).scalars().all()
    return rows, total


def is_open(chat):
    return chat.request.status in OPEN_STATUSES


def messages(chat, after=None, reader=None):
    """The chat's messages, oldest first, only those after message id ``after`` when given.
    ``reader`` ("customer" or "staff") marks the other side's messages read."""
    query = select(RequestMessage).where(RequestMessage.request_id == chat.request_id)
    if after is not None:
        query = query.where(RequestMessage.id > after)
    rows = db.session.execute(query.order_by(RequestMessage.id)).scalars().all()
    if reader is not None:
        other = "staff" if reader == "customer" else "customer"
        marked = db.session.execute(
            update(RequestMessage).where(RequestMessage.request_id == chat.request_id,
                                         RequestMessage.author_kind == other, RequestMessage.read_at.is_(None))
            .values(read_at=utcnow())
        )
        if marked.rowcount:
            db.session.commit()
    return rows


def waiting(chat):
    """True when the customer's side wrote last (staff owe an answer)."""
    last = db.session.execute(
        select(RequestMessage.author_kind).where(RequestMessage.request_id == chat.request_id)
        .order_by(RequestMessage.id.desc()).limit(1)
    ).scalar()
    return last == "customer"


# --- the customer's side writes --------------------------------------------------------------------

def post_as_customer(chat, text, customer_id=None, guest_ip=None):
    """A message from the guest (from ``guest_ip``) or the customer; on a closed chat it reopens
    it with a new instance of the process (a fresh task for the operators). Only messages that
    would be posted count against the limits."""
    text = _text(text)
    if guest_ip is not None:
        limit("SUPPORT_CHAT_MESSAGE_LIMIT_PER_IP", guest_ip)
    limit("SUPPORT_CHAT_MESSAGE_LIMIT_PER_CHAT", chat.id)
    req = chat.request
    try:
        message = RequestMessage(request_id=req.id, author_kind="customer", text=text, customer_id=customer_id)
        db.session.add(message)
        if req.status in DONE_STATUSES:
            req.closed_at = None
            service_requests.record_status(req, "submitted", "customer", note="чат возобновлён")
            customer = db.session.get(Customer, req.customer_id) if req.customer_id else None
            # a new instance: its start commits the message and the status with it
            service_requests.start_process(req, TYPES[KIND].process_data(req, customer),
                                           f"customer:{customer_id}" if customer_id else "guest")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return message


def claim(customer_id, chat_id, token):
    """The guest chat opened on this device before signing in becomes the customer's; the
    token no longer opens it."""
    chat = guest_chat(chat_id, token, lock=True)
    req = chat.request
    req.customer_id = customer_id
    chat.guest_token_hash, chat.claimed_at = None, utcnow()
    db.session.execute(
        update(RequestMessage).where(RequestMessage.request_id == req.id, RequestMessage.author_kind == "customer",
                                     RequestMessage.customer_id.is_(None)).values(customer_id=customer_id)
    )
    db.session.commit()
    return chat


# --- staff -----------------------------------------------------------------------------------------

def open_chats(page=0, page_size=50):
    """Open chats for the operators: those waiting for an answer first, newest first, then the
    answered ones by their last message. Rows are ``(chat, request, last message or None)``."""
    last = (select(RequestMessage.request_id, func.max(RequestMessage.id).label("last_id"))
            .join(ServiceRequest, ServiceRequest.id == RequestMessage.request_id)
            .where(ServiceRequest.type == KIND, ServiceRequest.status.in_(OPEN_STATUSES))
            .group_by(RequestMessage.request_id).subquery())
    query = (select(SupportChat, ServiceRequest, RequestMessage)
             .join(ServiceRequest, ServiceRequest.id == SupportChat.request_id)
             .outerjoin(last, last.c.request_id == ServiceRequest.id)
             .outerjoin(RequestMessage, RequestMessage.id == last.c.last_id)
             .where(ServiceRequest.type == KIND, ServiceRequest.status.in_(OPEN_STATUSES)))
    total = db.session.execute(
        select(func.count()).select_from(ServiceRequest)
        .where(ServiceRequest.type == KIND, ServiceRequest.status.in_(OPEN_STATUSES))
    ).scalar()
    rows = db.session.execute(
        query.order_by(case((RequestMessage.author_kind == "customer", 0), else_=1),
                       RequestMessage.id.desc().nulls_last(), SupportChat.id.desc())
        .offset(page * page_size).limit(page_size)
    ).all()
    return rows, total


def _require_open(chat):
    if not is_open(chat):
        raise Conflict("support_chat_closed", number=chat.request.number)


def staff_answer(chat_id, username, text):
    chat = staff_chat(chat_id, lock=True)
    text = _text(text)
    _require_open(chat)
    req = chat.request
    message = RequestMessage(request_id=req.id, author_kind="staff", staff_username=username, text=text)
    db.session.add(message)
    if req.status == "submitted":
        service_requests.record_status(req, "in_progress", "staff", by_name=username)
    db.session.commit()
    return message


def staff_close(chat_id, username, resolution="answered"):
    """Close the chat and complete its open task (whoever's lane it is in: the chat screen is
    where staff close chats), in one transaction."""
    if resolution not in RESOLUTIONS:
        raise Invalid(fields={"resolution": ["support_chat_resolution_unknown"]})
    chat = staff_chat(chat_id, lock=True)
    _require_open(chat)
    req = chat.request
    try:
        req.closed_at = utcnow()
        service_requests.record_status(req, "completed", "staff", by_name=username, note=RESOLUTIONS[resolution])
        open_task = instances.open_tasks(req.process_instance_id) if req.process_instance_id else []
        db.session.flush()
        if open_task:
            task = open_task[0]
            # A task someone claimed is completed in their name (the engine refuses anyone else).
            worker = tasks.Worker(task.assignee or username, [], is_admin=True)
            tasks.complete(task.id, worker, {"resolution": resolution})
        else:
            db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return chat


def closed_by_process(business_key, instance_id, resolution, job_id):
    """The process's closing step (service task support_chat.close). Idempotent: a chat that is
    already closed, or that was reopened with a newer instance, is left as it is."""
    req = db.session.execute(select(ServiceRequest).where(ServiceRequest.number == business_key)).scalar_one_or_none()
    if req is None:
        raise LookupError(f"no support chat numbered {business_key!r}")
    if req.process_instance_id != instance_id or req.status not in OPEN_STATUSES:
        return {"request_id": req.id, "status": req.status, "ignored": True}
    req.closed_at = utcnow()
    service_requests.record_status(req, "completed", "process", by_name=KIND, note=RESOLUTIONS.get(resolution),
                                   job_id=job_id)
    db.session.flush()
    return {"request_id": req.id, "status": "completed"}
