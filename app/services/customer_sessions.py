"""Customer sessions and tokens.

An access token is a short-lived JWT (HS256 under a key derived from SECRET_KEY, so staff
tokens and customer tokens cannot stand in for each other). A refresh token is an opaque random
string, stored by hash, used once: refreshing rotates it. Presenting a refresh token that was
already rotated means it was copied, so the whole session (the token family) is revoked.
"""
import hashlib
import hmac
from datetime import timedelta

import jwt
from flask import current_app
from sqlalchemy import bindparam, select, update

from ..errors import Unauthorized
from ..extensions import db
from ..models.customers import Customer, CustomerSession, RefreshToken
from ..models.workflow import utcnow
from . import secrets, security_events

_AUDIENCE = "kabinet-client"
_REFRESH = "refresh-token"


def _signing_key():
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"kabinet:customer-access", hashlib.sha256).digest()


def start(customer, method, *, device=None, persistent=None, ip=None, user_agent=None):
    """Sign a customer in: a new session and its first pair of tokens."""
    if persistent is None:
        persistent = customer.keep_signed_in
    now = utcnow()
    config = current_app.config
    lifetime = (timedelta(days=config["CUSTOMER_SESSION_DAYS"]) if persistent
                else timedelta(hours=config["CUSTOMER_SHORT_SESSION_HOURS"]))
    session = CustomerSession(
        public_id=secrets.public_id(), customer_id=customer.id, device_id=device.id if device else None,
        method=method, persistent=persistent, ip=ip, user_agent=(user_agent or "")[:256] or None,
        created_at=now, last_used_at=now, expires_at=now + lifetime,
    )
    db.session.add(session)
    db.session.flush()
    security_events.record(customer.id, "signed_in", ip=ip, user_agent=user_agent, method=method,
                           device=device.public_id if device else None)
    return _tokens(session)


def _tokens(session):
    now = utcnow()
    refresh = secrets.token()
    db.session.add(RefreshToken(session_id=session.id, token_hash=secrets.keyed_hash(_REFRESH, refresh), issued_at=now))
    lifetime = current_app.config["CUSTOMER_ACCESS_TOKEN_SECONDS"]
    access = jwt.encode(
        {"sub": str(session.customer_id), "sid": session.public_id, "aud": _AUDIENCE,
         "iat": now, "exp": now + timedelta(seconds=lifetime)},
        _signing_key(), algorithm="HS256",
    )
    return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": lifetime,
            "session_id": session.public_id,
            "refresh_expires_at": session.expires_at.isoformat() + "Z"}


def refresh(refresh_token):
    """Rotate: the presented token is spent and a new pair issued. Reuse revokes the family."""
    row = db.session.execute(
        select(RefreshToken).where(RefreshToken.token_hash == secrets.keyed_hash(_REFRESH, str(refresh_token or "")))
        .with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise Unauthorized("refresh_invalid")
    session = db.session.get(CustomerSession, row.session_id)
    if row.rotated_at is not None:
        if session.revoked_at is None:
            revoke(session, "refresh_reuse")
            security_events.record(session.customer_id, "refresh_token_reused", session=session.public_id)
            db.session.commit()
        raise Unauthorized("refresh_reused")
    _check_alive(session)
    now = utcnow()
    row.rotated_at = now
    session.last_used_at = now
    tokens = _tokens(session)
    db.session.commit()
    return tokens


def _check_alive(session, customer=None):
    if session is None or session.revoked_at is not None or session.expires_at <= utcnow():
        raise Unauthorized("session_ended")
    customer = customer or db.session.get(Customer, session.customer_id)
    if customer is None or customer.status != "active":
        raise Unauthorized("session_ended")
    return customer


# Every client request runs this: one statement for both rows, built once (a statement built per
# call spends more time on SQLAlchemy's cache key than PostgreSQL spends answering it).
_SESSION_WITH_CUSTOMER = (select(CustomerSession, Customer).join(Customer, Customer.id == CustomerSession.customer_id)
                          .where(CustomerSession.public_id == bindparam("sid")))


def authenticate(access_token):
    """The (customer, session) an access token stands for, if its session is still alive."""
    try:
        claims = jwt.decode(access_token, _signing_key(), algorithms=["HS256"], audience=_AUDIENCE,
                            options={"require": ["exp", "sub", "sid", "aud"]})
    except jwt.PyJWTError:
        raise Unauthorized() from None
    found = db.session.execute(_SESSION_WITH_CUSTOMER, {"sid": claims["sid"]}).one_or_none()
    if found is None or str(found.CustomerSession.customer_id) != claims["sub"]:
        raise Unauthorized()
    session, customer = found
    return _check_alive(session, customer), session


def revoke(session, reason):
    if session.revoked_at is None:
        session.revoked_at = utcnow()
        session.revoked_reason = reason


def revoke_all(customer_id, reason, keep=None, device_id=None):
    """End every live session of a customer (or of one device), except ``keep``."""
    query = update(CustomerSession).where(
        CustomerSession.customer_id == customer_id, CustomerSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(CustomerSession.id != keep.id)
    if device_id is not None:
        query = query.where(CustomerSession.device_id == device_id)
    return db.session.execute(query.values(revoked_at=utcnow(), revoked_reason=reason)).rowcount


def sign_out(session, everywhere=False):
    if everywhere:
        revoke_all(session.customer_id, "sign_out_everywhere")
    else:
        revoke(session, "sign_out")
    security_events.record(session.customer_id, "signed_out_everywhere" if everywhere else "signed_out")
    db.session.commit()


def live_sessions(customer_id):
    return db.session.execute(
        select(CustomerSession).where(CustomerSession.customer_id == customer_id,
                                      CustomerSession.revoked_at.is_(None), CustomerSession.expires_at > utcnow())
        .order_by(CustomerSession.last_used_at.desc())
    ).scalars().all()
