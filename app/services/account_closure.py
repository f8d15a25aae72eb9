"""Withdrawing consent closes the account (ID-8; 152-FZ art. 9 §2 and art. 21 §5).

Proved by the password or by a one-time code sent to the account's phone (purpose
``close_account``), in one transaction:

* the account is ``closed``, ``consent_withdrawn_at`` and ``closed_at`` are set;
* every session and device is revoked (tokens answer 401 at once);
* personal data is erased: the name becomes a placeholder; phone, email, pending email, birth
  date, password hash and notification preferences are cleared; one-time codes and federated
  identities are deleted; sessions lose their IP and user agent, devices their names;
* the outbox rows of this customer (by ``customer_id``, and rows to their phone or email with
  no customer) lose recipient, body and context; those not yet delivered are marked failed;
* what the law keeps stays: the customer row id, ``consent_at`` / ``consent_withdrawn_at`` and
  the security log (without IP and user agent), with a ``customer_closed`` event;
* then, right after that commit, their service requests lose the person (form, feedback, chat
  texts, their own files; open ones are closed and their processes cancelled) and every
  process's data loses the form and any text holding the phone, email or name
  (``service_requests.erase_customer``).

The phone is free afterwards: it can register a new account.
"""
from sqlalchemy import and_, delete, false, or_, select, update

from ..errors import Invalid
from ..extensions import db
from ..models.customers import CustomerDevice, CustomerSession, FederatedIdentity, OneTimeCode, SecurityEvent
from ..models.notifications import OutboxMessage
from ..models.workflow import utcnow
from . import (
    customer_sessions,
    devices,
    one_time_codes,
    passwords,
    security_events,
    service_requests,
    sign_in_attempts,
)

PURPOSE = "close_account"
CLOSED_NAME = "Учётная запись закрыта"
REDACTED = "[удалено]"
_UNDELIVERED = ("queued", "retry")


def request_code(customer, ip=None):
    """A code to the account's phone that proves the closing (for accounts without a password)."""
    challenge = one_time_codes.issue(PURPOSE, customer.phone, customer.id, ip=ip)
    db.session.commit()
    return challenge


def _prove(customer, password, challenge_id, code, ip, user_agent):
    """The password, or a verified code of this customer; wrong passwords count as failed sign-ins."""
    if password is not None:
        sign_in_attempts.count(customer.phone)
        if not passwords.verify_secret(password, customer.password_hash):
            security_events.record(customer.id, "close_failed", ip=ip, user_agent=user_agent, method="password")
            db.session.commit()
            raise Invalid("password_wrong", fields={"password": ["password_wrong"]})
        return "password"
    if challenge_id is not None or code is not None:
        mine = db.session.execute(
            select(OneTimeCode.id).where(OneTimeCode.public_id == str(challenge_id or ""),
                                         OneTimeCode.purpose == PURPOSE, OneTimeCode.customer_id == customer.id)
        ).scalar_one_or_none()
        if mine is None:
            raise Invalid("code_invalid", fields={"code": ["code_invalid"]})
        challenge = one_time_codes.verify(challenge_id, code, PURPOSE)
        one_time_codes.consume(challenge)
        return "code"
    raise Invalid("close_proof_required", fields={"password": ["close_proof_required"]})


def close(customer, password=None, challenge_id=None, code=None, ip=None, user_agent=None):
    """Close the account and erase its personal data (see the module's text)."""
    method = _prove(customer, password, challenge_id, code, ip, user_agent)
    now = utcnow()
    cid = customer.id
    identifiers = [customer.phone, customer.email, customer.pending_email, customer.full_name]

    # Rows written for this person without their customer id (registration codes and their SMS,
    # sent before the account existed): to the current phone and addresses, and to each earlier
    # phone up to the moment the account left it (the "phone_changed" notice to it).
    earlier = db.session.execute(
        select(OutboxMessage.recipient, OutboxMessage.created_at)
        .where(OutboxMessage.customer_id == cid, OutboxMessage.template == "phone_changed")).all()
    current = [value for value in (customer.phone, customer.email, customer.pending_email) if value]
    codes_before = [and_(OneTimeCode.phone == phone, OneTimeCode.created_at <= left) for phone, left in earlier]
    rows_before = [and_(OutboxMessage.recipient == phone, OutboxMessage.created_at <= left) for phone, left in earlier]
    codes = or_(OneTimeCode.customer_id == cid, OneTimeCode.phone == (customer.phone or ""),
                and_(OneTimeCode.customer_id.is_(None), or_(false(), *codes_before)))
    messages = or_(OutboxMessage.customer_id == cid,
                   and_(OutboxMessage.customer_id.is_(None),
                        or_(OutboxMessage.recipient.in_(current), *rows_before)))

    customer_sessions.revoke_all(cid, "account_closed")
    devices.revoke_all(cid, "account_closed")
    db.session.execute(update(CustomerSession).where(CustomerSession.customer_id == cid)
                       .values(ip=None, user_agent=None))
    db.session.execute(update(CustomerDevice).where(CustomerDevice.customer_id == cid)
                       .values(name="device", pin_hash=None, public_key=None, challenge_hash=None))
    db.session.execute(delete(OneTimeCode).where(codes))
    db.session.execute(delete(FederatedIdentity).where(FederatedIdentity.customer_id == cid))
    db.session.execute(update(SecurityEvent).where(SecurityEvent.customer_id == cid)
                       .values(ip=None, user_agent=None))

    db.session.execute(update(OutboxMessage).where(messages, OutboxMessage.status.in_(_UNDELIVERED))
                       .values(status="failed", last_error="account_closed", next_attempt_at=None),
                       execution_options={"synchronize_session": False})
    db.session.execute(update(OutboxMessage).where(messages)
                       .values(recipient=REDACTED, body=REDACTED, context=None),
                       execution_options={"synchronize_session": False})

    customer.full_name = CLOSED_NAME
    customer.phone = customer.email = customer.pending_email = None
    customer.email_confirmed_at = customer.birth_date = customer.password_hash = None
    customer.notification_preferences = {}
    customer.status = "closed"
    customer.consent_withdrawn_at = customer.closed_at = now
    security_events.record(cid, "customer_closed", method=method)
    db.session.commit()
    service_requests.erase_customer(cid, identifiers)
    return customer
