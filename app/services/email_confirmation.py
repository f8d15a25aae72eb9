"""Email confirmation by a signed, expiring link (ID-7).

A new address waits in ``customer.pending_email``; ``customer.email`` keeps the address
confirmed before (if any) until the link is followed. The link carries a token signed with
itsdangerous (``URLSafeTimedSerializer`` under SECRET_KEY with a salt of its own, so no other
signed value of the app can stand in for it) holding the customer id, a keyed hash of the
address (the address itself never travels in the URL) and a fingerprint of the last
confirmation. A token is good:

* for ``EMAIL_CONFIRM_MAX_AGE`` seconds (24 h by default) — later it is ``email_link_expired``;
* only while its address is the one awaiting confirmation — after another address was asked
  for, it is ``email_link_superseded``;
* once — confirming changes the fingerprint, so the same link again is
  ``email_already_confirmed`` (and every other link issued before it is dead).

A tampered or garbled token is ``email_link_invalid``. Confirmation emails go through the outbox
(``notifications.send("email", …)``); each address gets one per ``EMAIL_CONFIRM_COOLDOWN`` and
each account at most ``EMAIL_CONFIRM_LIMIT_PER_CUSTOMER``.

An unconfirmed email gets no e-bills and no receipts: other domains ask :func:`confirmed_email`.
"""
import hmac

import limits
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..errors import Conflict, Forbidden, Invalid
from ..extensions import db
from ..models.customers import Customer
from ..models.workflow import utcnow
from . import notifications, rate_limits, secrets, security_events

_SALT = "kabinet.email-confirmation"
_HASH = "email-confirmation"
SUBJECT = "Подтвердите адрес электронной почты"
CHANGE_SUBJECT = "Смена адреса электронной почты в Кабинете"


def normalise(address):
    """Trim, and lower-case the domain (the local part is the mailbox owner's to define)."""
    local, _, domain = str(address).strip().rpartition("@")
    return f"{local}@{domain.lower()}"


def is_confirmed(customer):
    return bool(customer.email and customer.email_confirmed_at)


def confirmed_email(customer):
    """The address e-bills and receipts may go to, or None while it is not confirmed."""
    return customer.email if is_confirmed(customer) else None


def awaiting(customer):
    """The address a link would confirm now: the pending one, else an unconfirmed current one."""
    if customer.pending_email:
        return customer.pending_email
    if customer.email and not customer.email_confirmed_at:
        return customer.email
    return None


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _fingerprint(customer):
    """Changes with every confirmation, so links issued before one stop working."""
    stamp = customer.email_confirmed_at.isoformat() if customer.email_confirmed_at else "-"
    return secrets.keyed_hash(_HASH, f"confirmed:{customer.id}:{stamp}")[:16]


def _address_hash(customer_id, address):
    return secrets.keyed_hash(_HASH, f"address:{customer_id}:{address}")[:32]


def _same(given, expected):
    return isinstance(given, str) and hmac.compare_digest(given, expected)


def make_token(customer, address):
    return _serializer().dumps({"c": customer.id, "a": _address_hash(customer.id, address),
                                "v": _fingerprint(customer)})


def cooldown_seconds():
    return int(limits.parse(current_app.config["EMAIL_CONFIRM_COOLDOWN"]).get_expiry())


def send_confirmation(customer, address):
    """Queue the confirmation email for ``address`` (rate-limited); the caller commits."""
    config = current_app.config
    rate_limits.hit(config["EMAIL_CONFIRM_COOLDOWN"], "email-confirm-address", f"{customer.id}:{address}",
                    code="email_cooldown")
    rate_limits.hit(config["EMAIL_CONFIRM_LIMIT_PER_CUSTOMER"], "email-confirm-customer", customer.id,
                    code="email_send_limit")
    token = make_token(customer, address)
    return notifications.send(
        "email", address, "email_confirm",
        {"name": customer.full_name, "base_url": config["PUBLIC_BASE_URL"], "token": token,
         "hours": max(config["EMAIL_CONFIRM_MAX_AGE"] // 3600, 1)},
        customer_id=customer.id, subject=SUBJECT,
    )


def resend(customer, ip=None, user_agent=None):
    """Send the link again for the address awaiting confirmation; returns that address."""
    address = awaiting(customer)
    if address is None:
        raise Conflict("email_nothing_to_confirm")
    send_confirmation(customer, address)
    security_events.record(customer.id, "email_confirmation_sent", ip=ip, user_agent=user_agent)
    db.session.commit()
    return address


def _load(token):
    try:
        data = _serializer().loads(str(token or ""), max_age=current_app.config["EMAIL_CONFIRM_MAX_AGE"])
    except SignatureExpired:
        raise Invalid("email_link_expired", fields={"token": ["email_link_expired"]}) from None
    except BadSignature:
        raise Invalid("email_link_invalid", fields={"token": ["email_link_invalid"]}) from None
    if not isinstance(data, dict) or not isinstance(data.get("c"), int):
        raise Invalid("email_link_invalid", fields={"token": ["email_link_invalid"]})
    return data


def confirm(token, customer=None, ip=None, user_agent=None):
    """Follow a link. ``customer`` is the signed-in caller (the app's endpoint): a link of
    another account is refused. The public page passes none: the link alone is the proof that
    its reader holds the mailbox. Returns the customer, their email now confirmed."""
    data = _load(token)
    if customer is not None and customer.id != data["c"]:
        raise Forbidden("email_link_foreign")
    owner = db.session.get(Customer, data["c"], with_for_update=True)
    if owner is None or owner.status != "active":
        raise Conflict("email_link_superseded")
    address = awaiting(owner)
    if (address is None or not _same(data.get("a"), _address_hash(owner.id, address))
            or not _same(data.get("v"), _fingerprint(owner))):
        if is_confirmed(owner) and _same(data.get("a"), _address_hash(owner.id, owner.email)):
            raise Conflict("email_already_confirmed")
        raise Conflict("email_link_superseded")
    owner.email = address
    owner.email_confirmed_at = utcnow()
    owner.pending_email = None
    security_events.record(owner.id, "email_confirmed", ip=ip, user_agent=user_agent)
    db.session.commit()
    return owner
