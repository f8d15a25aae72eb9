"""One-time codes sent to a phone: issue, re-send after a cooldown, verify, use once.

A code is a pyotp HOTP value of a fresh random secret; only its keyed hash is stored, and the
secret is thrown away. A code expires (OTP_TTL_SECONDS), allows OTP_MAX_ATTEMPTS wrong tries and
is good for one use. A challenge for a phone that has no account looks the same to the caller
(same answer, same timings of cooldown and expiry) but nothing is sent.
"""
from datetime import timedelta

import pyotp
from flask import current_app
from sqlalchemy import select, update

from ..errors import Conflict, Invalid, TooManyRequests
from ..extensions import db
from ..models.customers import OneTimeCode
from ..models.workflow import utcnow
from . import notifications, rate_limits, secrets

PURPOSES = ("register", "login", "recover", "phone_change", "close_account")
_HASH = "one-time-code"


def _cooldown_left(purpose, phone):
    """Seconds until a new code for this phone and purpose may be sent (0: now)."""
    last = db.session.execute(
        select(OneTimeCode.created_at).where(OneTimeCode.phone == phone, OneTimeCode.purpose == purpose)
        .order_by(OneTimeCode.created_at.desc()).limit(1)
    ).scalar()
    if last is None:
        return 0
    wait = (last + timedelta(seconds=current_app.config["OTP_RESEND_SECONDS"]) - utcnow()).total_seconds()
    return max(wait, 0)


def issue(purpose, phone, customer_id=None, payload=None, send=True, ip=None, account=None):
    """A new code for ``phone``. Refused (429) inside the last code's cooldown, then by the
    request limits per IP and per phone, and per ``account`` when given (one account cannot send
    codes to a long list of numbers). The cooldown comes first: a tap it refuses does not use up
    the hourly quota."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown code purpose {purpose!r}")
    config = current_app.config
    wait = _cooldown_left(purpose, phone)
    if wait > 0:
        raise TooManyRequests("code_cooldown", retry_after=wait + 0.999)
    rate_limits.hit(config["OTP_REQUEST_LIMIT_PER_IP"], "otp-ip", ip)
    rate_limits.hit(config["OTP_REQUEST_LIMIT_PER_PHONE"], "otp-phone", phone)
    if account is not None:
        rate_limits.hit(config["OTP_REQUEST_LIMIT_PER_PHONE"], f"otp-{purpose}-account", account)
    now = utcnow()
    code = pyotp.HOTP(pyotp.random_base32(), digits=config["OTP_DIGITS"]).at(0)
    challenge = OneTimeCode(
        public_id=secrets.public_id(), purpose=purpose, phone=phone, customer_id=customer_id,
        channel=config["OTP_CHANNEL"], payload=payload or {}, created_at=now,
        expires_at=now + timedelta(seconds=config["OTP_TTL_SECONDS"]),
    )
    challenge.code_hash = secrets.keyed_hash(_HASH, f"{challenge.public_id}:{code}")
    db.session.add(challenge)
    db.session.flush()
    if send:
        _deliver(challenge, code)
    return challenge


def _deliver(challenge, code):
    if challenge.channel == "voice":
        template, context = "otp_voice", {"spoken_code": ", ".join(code)}
    else:
        template, context = f"otp_{challenge.purpose}", {"code": code}
    context["expires_at"] = challenge.expires_at.isoformat()  # the outbox drops it after that
    notifications.send(challenge.channel, challenge.phone, template, context, customer_id=challenge.customer_id,
                       queue="high", idempotency_key=f"otp:{challenge.public_id}")


def expires_in(challenge):
    return max(int((challenge.expires_at - utcnow()).total_seconds()), 0)


def verify(public_id, code, purpose, phone=None):
    """Check a code; on success it is marked verified (not yet used) and returned.

    Every wrong try counts, on its own committed transaction, so that a failing request
    cannot roll the count back.
    """
    challenge = db.session.execute(
        select(OneTimeCode).where(OneTimeCode.public_id == str(public_id or ""), OneTimeCode.purpose == purpose)
        .with_for_update()
    ).scalar_one_or_none()
    if challenge is None or (phone is not None and challenge.phone != phone):
        raise Invalid("code_invalid", fields={"code": ["code_invalid"]})
    if challenge.consumed_at is not None:
        raise Conflict("code_used")
    if challenge.expires_at <= utcnow():
        raise Invalid("code_expired", fields={"code": ["code_expired"]})
    if challenge.attempts >= current_app.config["OTP_MAX_ATTEMPTS"]:
        raise TooManyRequests("code_attempts", retry_after=_cooldown_left(purpose, challenge.phone) or 1)
    if not secrets.matches(_HASH, f"{challenge.public_id}:{code}", challenge.code_hash):
        challenge.attempts += 1
        left = current_app.config["OTP_MAX_ATTEMPTS"] - challenge.attempts
        db.session.commit()
        raise Invalid("code_wrong", fields={"code": ["code_wrong"]}, left=left)
    if challenge.verified_at is None:
        challenge.verified_at = utcnow()
    return challenge


def consume(challenge):
    """Use a verified code for its purpose (once)."""
    if challenge.verified_at is None or challenge.consumed_at is not None:
        raise Conflict("code_used")
    challenge.consumed_at = utcnow()


def verified(public_id, purpose):
    """A challenge verified earlier (two-step flows: code first, then the password)."""
    challenge = db.session.execute(
        select(OneTimeCode).where(OneTimeCode.public_id == str(public_id or ""), OneTimeCode.purpose == purpose)
        .with_for_update()
    ).scalar_one_or_none()
    if challenge is None or challenge.verified_at is None:
        raise Invalid("code_not_verified", fields={"challenge_id": ["code_not_verified"]})
    if challenge.consumed_at is not None:
        raise Conflict("code_used")
    if challenge.expires_at <= utcnow():
        raise Invalid("code_expired", fields={"code": ["code_expired"]})
    return challenge


def expire_others(customer_id, keep=None):
    """End the customer's other outstanding codes (after a phone change they went to the old phone)."""
    query = update(OneTimeCode).where(OneTimeCode.customer_id == customer_id, OneTimeCode.consumed_at.is_(None),
                                      OneTimeCode.expires_at > utcnow())
    if keep is not None:
        query = query.where(OneTimeCode.id != keep.id)
    db.session.execute(query.values(expires_at=utcnow()).execution_options(synchronize_session=False))
