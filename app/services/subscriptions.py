"""Subscriptions (SPEC PR-7): what a customer asked to be told about, and how.

* ``outage`` — planned and emergency outages at an address (typed, normalised) or at one of the
  customer's linked accounts, by ``sms``, ``push`` or ``email`` (email only once confirmed).
  :func:`outage_subscribers` is what publishing an outage (CT-7) asks for its recipients.
* ``ebill`` — e-bills of an account by email. That consent already lives on the account link
  (``customer_account.ebill``, services/ebills.py); here it is only shown and switched, so the
  e-bills screen and this list can never disagree. Its id is ``ebill-<account id>``.
* ``security_sms`` — SMS informing about a security object's events (phone, start date). Asked
  for as a ``security_sms`` request: ``pending`` until managers activate it in the process,
  then ``active``.

Another customer's subscription is 404 ``subscription_not_found``, as if it did not exist.
"""
import re
import unicodedata

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models.accounts import Account, CustomerAccount
from ..models.customers import Customer
from ..models.requests import ServiceRequest
from ..models.subscriptions import CHANNELS, Subscription
from ..models.workflow import utcnow
from . import account_access, ebills, email_confirmation, service_requests

EBILL_PREFIX = "ebill-"
ADDRESS_MIN, ADDRESS_MAX = 5, 512


def normalise_address(text):
    """``" Г. Москва ,ул.Ленина,  д.1 "`` → ``"г. москва, ул.ленина, д.1"``: case, "ё", spaces
    and commas do not make two subscriptions (or an outage's prefix) differ."""
    text = unicodedata.normalize("NFC", str(text or "")).lower().replace("ё", "е")
    text = re.sub(r"\s*,\s*", ", ", re.sub(r"\s+", " ", text)).strip(" ,")
    return text


def _account_target(account_id):
    return f"account:{account_id}"


# --- listing ------------------------------------------------------------------------------------

def list_own(customer_id):
    """The customer's subscriptions, e-bills included, as dicts for the API (oldest first)."""
    rows = db.session.execute(
        select(Subscription).where(Subscription.customer_id == customer_id).order_by(Subscription.id)
    ).scalars().all()
    result = [as_dict(row) for row in rows]
    links = db.session.execute(
        select(CustomerAccount).where(CustomerAccount.customer_id == customer_id, CustomerAccount.ebill.is_(True))
        .order_by(CustomerAccount.id)
    ).scalars().all()
    return result + [_ebill_dict(link) for link in links]


def as_dict(row):
    return {"id": str(row.id), "kind": row.kind, "channel": row.channel, "status": row.status,
            "account_id": row.account_id, "account_number": row.account.number if row.account else None,
            "address": row.address, "phone": row.phone, "starts_on": row.starts_on, "request_id": row.request_id,
            "created_at": row.created_at}


def _ebill_dict(link):
    return {"id": f"{EBILL_PREFIX}{link.account_id}", "kind": "ebill", "channel": "email", "status": "active",
            "account_id": link.account_id, "account_number": link.account.number, "address": None, "phone": None,
            "starts_on": None, "request_id": None, "created_at": link.linked_at}


# --- creating -----------------------------------------------------------------------------------

def create(customer, body):
    """One subscription from the API's body (``kind`` and its fields); 409
    ``subscription_exists`` for a duplicate."""
    kind = body["kind"]
    if kind == "outage":
        return _create_outage(customer, body.get("channel"), body.get("account_id"), body.get("address"))
    if kind == "ebill":
        return _create_ebill(customer, body.get("account_id"))
    return _create_security_sms(customer, body)


def _create_outage(customer, channel, account_id, address):
    if channel not in CHANNELS:
        raise Invalid(fields={"channel": ["subscription_channel_invalid"]})
    if (account_id is None) == (address is None):
        raise Invalid(fields={"address": ["subscription_target_required"]})
    if channel == "email" and not email_confirmation.is_confirmed(customer):
        raise Conflict("email_unconfirmed")
    row = Subscription(customer_id=customer.id, kind="outage", channel=channel, status="active")
    if account_id is not None:
        row.account_id = account_access.link(customer.id, account_id).account_id
        row.target = _account_target(account_id)
    else:
        row.address = normalise_address(address)
        if not ADDRESS_MIN <= len(row.address) <= ADDRESS_MAX:
            raise Invalid(fields={"address": ["subscription_address_invalid"]}, min=ADDRESS_MIN, max=ADDRESS_MAX)
        row.target = f"address:{row.address}"
    insert(row)
    db.session.commit()
    return as_dict(row)


def insert(row):
    """Add ``row``; a duplicate (also one inserted meanwhile by a second tap) is 409."""
    duplicate = db.session.execute(
        select(Subscription.id).where(Subscription.customer_id == row.customer_id, Subscription.kind == row.kind,
                                      Subscription.target == row.target, Subscription.channel == row.channel)
    ).first()
    if duplicate is not None:
        raise Conflict("subscription_exists")
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("subscription_exists") from None


def _create_ebill(customer, account_id):
    if account_id is None:
        raise Invalid(fields={"account_id": ["subscription_target_required"]})
    if account_access.link(customer.id, account_id).ebill:
        raise Conflict("subscription_exists")
    return _ebill_dict(ebills.set_ebill(customer, account_id, True))


def _create_security_sms(customer, body):
    """File and submit the ``security_sms`` request; its submission adds the pending row."""
    form = {key: body[key] for key in ("account_id", "phone", "starts_on", "comment") if body.get(key) is not None}
    if "starts_on" in form:
        form["starts_on"] = form["starts_on"].isoformat()
    req = service_requests.submit_new(customer.id, "security_sms", form)
    return as_dict(_by_request(req.id))


def _by_request(request_id):
    return db.session.execute(select(Subscription).where(Subscription.request_id == request_id)).scalar_one()


# --- security_sms: the request's side ----------------------------------------------------------

def add_pending_security_sms(req, customer, account_id, phone, starts_on):
    """At the request's submission: the pending subscription it asks for (409 if the object
    already has one)."""
    link = account_access.link(customer.id, account_id)
    if link.account.supplier.kind != "security":
        raise Invalid(fields={"account_id": ["subscription_not_security"]})
    row = Subscription(customer_id=customer.id, kind="security_sms", channel="sms", status="pending",
                       target=_account_target(account_id), account_id=account_id, phone=phone, starts_on=starts_on,
                       request_id=req.id)
    insert(row)
    return link.account


def settle_security_sms(request_number, activated):
    """The managers' decision, from the process: activate the pending subscription, or drop it.
    Running it twice changes nothing more (a retried service job)."""
    row = db.session.execute(
        select(Subscription).join(ServiceRequest, ServiceRequest.id == Subscription.request_id)
        .where(Subscription.kind == "security_sms", ServiceRequest.number == request_number)
    ).scalar_one_or_none()
    if row is None:
        return {"status": "absent"}
    if not activated:
        db.session.delete(row)
        return {"status": "dropped"}
    if row.status != "active":
        row.status, row.activated_at = "active", utcnow()
    return {"status": "active", "subscription_id": row.id}


def drop_pending(req):
    """The customer closed the request before activation (``on_close``): nothing to keep."""
    row = db.session.execute(
        select(Subscription).where(Subscription.request_id == req.id, Subscription.status == "pending")
    ).scalar_one_or_none()
    if row is not None:
        db.session.delete(row)


# --- deleting -----------------------------------------------------------------------------------

def delete(customer, subscription_id):
    """Delete one of the customer's subscriptions. ``ebill-<account>`` turns e-bills off; a
    pending security_sms closes its request (which drops it)."""
    if subscription_id.startswith(EBILL_PREFIX):
        account_id = subscription_id[len(EBILL_PREFIX):]
        link = _ebill_link(customer.id, account_id)
        ebills.set_ebill(customer, link.account_id, False)
        return
    row = _own(customer.id, subscription_id)
    if row.status == "pending" and row.request_id is not None:
        service_requests.close(customer.id, row.request_id, "Подписка удалена клиентом")
        return
    db.session.delete(row)
    db.session.commit()


def _ebill_link(customer_id, account_id):
    link = db.session.execute(
        select(CustomerAccount).where(CustomerAccount.customer_id == customer_id,
                                      CustomerAccount.account_id == int(account_id),
                                      CustomerAccount.ebill.is_(True))
    ).scalar_one_or_none() if account_id.isdigit() else None
    if link is None:
        raise NotFound("subscription_not_found", id=f"{EBILL_PREFIX}{account_id}")
    return link


def _own(customer_id, subscription_id):
    row = db.session.execute(
        select(Subscription).where(Subscription.id == int(subscription_id), Subscription.customer_id == customer_id)
    ).scalar_one_or_none() if subscription_id.isdigit() else None
    if row is None:
        raise NotFound("subscription_not_found", id=subscription_id)
    return row


# --- who to tell about an outage (CT-7) --------------------------------------------------------

def outage_subscribers(account_ids=(), address_prefix=None):
    """Who to notify of an outage at ``account_ids`` and/or at addresses starting with
    ``address_prefix`` (normalised like subscriptions): a list of ``{customer_id, channel,
    recipient, subscription_id}``, one per customer and channel. Push goes to
    ``customer:<id>`` (the push adapter fans out to their devices); email only to a confirmed
    address; closed or blocked customers get nothing."""
    prefix = normalise_address(address_prefix) if address_prefix else None
    query = (select(Subscription, Customer, Account.address)
             .join(Customer, Customer.id == Subscription.customer_id)
             .outerjoin(Account, Account.id == Subscription.account_id)
             .where(Subscription.kind == "outage", Subscription.status == "active", Customer.status == "active"))
    conditions = []
    if account_ids:
        conditions.append(Subscription.account_id.in_(list(account_ids)))
    if prefix:
        like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(Subscription.address.like(like, escape="\\"))
        conditions.append(Subscription.account_id.is_not(None))  # the account's address, checked below
    if not conditions:
        return []
    rows = db.session.execute(query.where(or_(*conditions)).order_by(Subscription.id)).all()
    found, seen = [], set()
    for row, customer, account_address in rows:
        if row.account_id is not None and row.account_id not in set(account_ids or ()):
            if not (prefix and normalise_address(account_address).startswith(prefix)):
                continue
        recipient = _recipient(customer, row.channel)
        if recipient is None or (customer.id, row.channel) in seen:
            continue
        seen.add((customer.id, row.channel))
        found.append({"customer_id": customer.id, "channel": row.channel, "recipient": recipient,
                      "subscription_id": row.id})
    return found


def _recipient(customer, channel):
    if channel == "sms":
        return customer.phone
    if channel == "email":
        return email_confirmation.confirmed_email(customer)
    return f"customer:{customer.id}"
