"""Customer accounts: registration by phone, sign-in, recovery and password change (ID-1, ID-4, ID-6).

No answer here tells a caller whether a phone has an account: a code request for an unknown
phone is accepted (and nothing sent), and a wrong password or code is the same 401 either way
(a used code is 409 and a code out of attempts 429, for any phone alike). Only someone who
proved they hold the phone (a right code) learns that it is already registered.
"""
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, Invalid, Unauthorized
from ..extensions import db
from ..models.customers import Customer
from ..models.workflow import utcnow
from . import (
    customer_sessions,
    devices,
    one_time_codes,
    passwords,
    phones,
    rate_limits,
    security_events,
    sign_in_attempts,
)

# A real hash to check against when the phone is unknown, so both answers take as long.
_DUMMY_HASH = passwords.hash_secret("kabinet-no-such-account")


def by_phone(phone):
    return db.session.execute(select(Customer).where(Customer.phone == phone)).scalar_one_or_none()


def active_by_phone(phone):
    customer = by_phone(phone)
    return customer if customer is not None and customer.status == "active" else None


def request_code(purpose, raw_phone, ip=None, full_name=None, consent=None):
    """Send a one-time code for registration, sign-in or recovery; the answer never says
    whether the phone is registered."""
    fields, payload = {}, {}
    try:
        phone = phones.normalise(raw_phone)
    except Invalid as refused:
        fields.update(refused.fields)
    if purpose == "register":
        if not isinstance(full_name, str) or not full_name.strip():
            fields["full_name"] = ["full_name_required"]
        if consent is not True:
            fields["consent"] = ["consent_required"]
        payload = {"full_name": " ".join((full_name or "").split())[:256], "consent_at": utcnow().isoformat()}
    if fields:
        raise Invalid(fields=fields)
    customer = active_by_phone(phone)
    # Registration sends the code either way: the phone's holder learns after the code.
    send = purpose == "register" or customer is not None
    challenge = one_time_codes.issue(purpose, phone, customer.id if customer else None, payload, send=send, ip=ip)
    db.session.commit()
    return challenge


def verify_code(purpose, challenge_id, code):
    """Step one of registration and recovery: the code is right (it stays usable for step two)."""
    challenge = one_time_codes.verify(challenge_id, code, purpose)
    if purpose == "register" and by_phone(challenge.phone) is not None:
        db.session.commit()
        raise Conflict("phone_registered", fields={"phone": ["phone_registered"]})
    db.session.commit()
    return challenge


def register(challenge_id, password, password_confirm, ip=None, user_agent=None):
    """Step two: the password; the account is created and signed in."""
    challenge = one_time_codes.verified(challenge_id, "register")
    payload = challenge.payload
    passwords.check_strength(password, password_confirm, (challenge.phone[-10:], *payload["full_name"].split()))
    if by_phone(challenge.phone) is not None:
        raise Conflict("phone_registered", fields={"phone": ["phone_registered"]})
    customer = Customer(phone=challenge.phone, full_name=payload["full_name"],
                        consent_at=datetime.fromisoformat(payload["consent_at"]),
                        password_hash=passwords.hash_secret(password), notification_preferences={})
    db.session.add(customer)
    try:
        db.session.flush()
    except IntegrityError:  # the same phone registered through another code a moment ago
        db.session.rollback()
        raise Conflict("phone_registered", fields={"phone": ["phone_registered"]}) from None
    one_time_codes.consume(challenge)
    security_events.record(customer.id, "registered", ip=ip, user_agent=user_agent)
    tokens = customer_sessions.start(customer, "registration", ip=ip, user_agent=user_agent)
    db.session.commit()
    return customer, tokens


def _guard_sign_in(phone, ip):
    rate_limits.hit(current_app.config["SIGN_IN_LIMIT_PER_IP"], "sign-in-ip", ip)
    sign_in_attempts.count(phone)


def _failed_sign_in(customer, ip, user_agent, method):
    """The same refusal whether or not the phone has an account (the attempt is counted)."""
    security_events.record(customer.id if customer else None, "sign_in_failed", ip=ip, user_agent=user_agent,
                           method=method)
    db.session.commit()
    raise Unauthorized("sign_in_failed")


def sign_in_with_password(raw_phone, password, ip=None, user_agent=None, persistent=None):
    phone = phones.normalise(raw_phone)
    _guard_sign_in(phone, ip)
    customer = active_by_phone(phone)
    stored = customer.password_hash if customer is not None else None
    # Checked against a real hash either way (same timing); an account without a password
    # (opened through a provider) cannot be entered with one.
    right = passwords.verify_secret(password, stored or _DUMMY_HASH)
    if customer is None or stored is None or not right:
        _failed_sign_in(customer, ip, user_agent, "password")
    sign_in_attempts.clear(phone)
    tokens = customer_sessions.start(customer, "password", persistent=persistent, ip=ip, user_agent=user_agent)
    db.session.commit()
    return customer, tokens


def sign_in_with_code(raw_phone, challenge_id, code, ip=None, user_agent=None, persistent=None):
    phone = phones.normalise(raw_phone)
    _guard_sign_in(phone, ip)
    try:
        challenge = one_time_codes.verify(challenge_id, code, "login", phone=phone)
    except Invalid:
        _failed_sign_in(active_by_phone(phone), ip, user_agent, "code")
    customer = db.session.get(Customer, challenge.customer_id) if challenge.customer_id else None
    if customer is None or customer.status != "active":
        _failed_sign_in(None, ip, user_agent, "code")
    one_time_codes.consume(challenge)
    sign_in_attempts.clear(phone)
    tokens = customer_sessions.start(customer, "code", persistent=persistent, ip=ip, user_agent=user_agent)
    db.session.commit()
    return customer, tokens


def recover(challenge_id, password, password_confirm, ip=None, user_agent=None):
    """Recovery step two: a new password; every session and device PIN is revoked."""
    challenge = one_time_codes.verified(challenge_id, "recover")
    customer = db.session.get(Customer, challenge.customer_id) if challenge.customer_id else None
    if customer is None or customer.status != "active":
        raise Invalid("code_not_verified", fields={"challenge_id": ["code_not_verified"]})
    passwords.check_strength(password, password_confirm, (customer.phone[-10:], *customer.full_name.split()))
    one_time_codes.consume(challenge)
    _set_password(customer, password, "password_recovered", ip, user_agent)
    tokens = customer_sessions.start(customer, "recovery", ip=ip, user_agent=user_agent)
    db.session.commit()
    return customer, tokens


def change_password(customer, session, old_password, password, password_confirm, ip=None, user_agent=None):
    """Old + new; other sessions end (this one stays), device PINs must be set again. Wrong old
    passwords count as failed sign-ins: a stolen access token gives no free guesses."""
    sign_in_attempts.count(customer.phone)
    if not passwords.verify_secret(old_password, customer.password_hash):
        security_events.record(customer.id, "password_change_failed", ip=ip, user_agent=user_agent)
        db.session.commit()
        raise Invalid("old_password_wrong", fields={"old_password": ["old_password_wrong"]})
    sign_in_attempts.clear(customer.phone)
    passwords.check_strength(password, password_confirm, (customer.phone[-10:], *customer.full_name.split()))
    _set_password(customer, password, "password_changed", ip, user_agent, keep=session)
    db.session.commit()


def _set_password(customer, password, event, ip, user_agent, keep=None):
    """Other sessions end, and other devices lose PIN and biometric sign-in: whoever knew the
    old password may have registered one."""
    customer.password_hash = passwords.hash_secret(password)
    customer_sessions.revoke_all(customer.id, event, keep=keep)
    devices.revoke_all(customer.id, event, keep_device_id=keep.device_id if keep is not None else None)
    security_events.record(customer.id, event, ip=ip, user_agent=user_agent)
    sign_in_attempts.clear(customer.phone)
