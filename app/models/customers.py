"""Customers: their own table, sessions and devices (never FAB's staff ``ab_user``)."""
from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import relationship

from .workflow import utcnow


class Customer(Model):
    __tablename__ = "customer"

    id = Column(Integer, primary_key=True)
    # E.164 (+79161234567); NULL once the account is closed and its personal data erased.
    phone = Column(String(20), unique=True)
    full_name = Column(String(256), nullable=False)
    birth_date = Column(Date)
    email = Column(String(254))
    email_confirmed_at = Column(DateTime)
    # An email change waits here until its link is followed; ``email`` stays what was confirmed.
    pending_email = Column(String(254))
    password_hash = Column(String(256))
    # active | closed
    status = Column(String(16), nullable=False, default="active")
    consent_at = Column(DateTime, nullable=False)
    consent_withdrawn_at = Column(DateTime)
    # light | dark | auto
    theme = Column(String(8), nullable=False, default="auto")
    # "Don't keep me signed in": sessions end with the app instead of lasting 30 days.
    keep_signed_in = Column(Boolean, nullable=False, default=True)
    # {"requests": {"push": true, "sms": false, "email": true}, ...}
    notification_preferences = Column(JSON, nullable=False, default=dict)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    closed_at = Column(DateTime)

    def __repr__(self):
        return f"{self.full_name} ({self.phone or 'closed'})"


class OneTimeCode(Model):
    """A code sent to a phone for one purpose; only its hash is kept."""

    __tablename__ = "one_time_code"
    __table_args__ = (Index("ix_one_time_code_phone_purpose", "phone", "purpose", "created_at"),)

    id = Column(Integer, primary_key=True)
    # The client refers to its challenge by this random id (never by a guessable counter).
    public_id = Column(String(32), nullable=False, unique=True)
    # register | login | recover | phone_change | close_account
    purpose = Column(String(16), nullable=False)
    phone = Column(String(20), nullable=False)
    # NULL when no customer has the phone (the answer looks the same; nothing is sent).
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    channel = Column(String(8), nullable=False)  # sms | voice
    code_hash = Column(String(64), nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    # What the purpose needs once the code is right (registration's name and consent).
    payload = Column(JSON, nullable=False, default=dict)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    expires_at = Column(DateTime, nullable=False)
    verified_at = Column(DateTime)
    # Set when the verified code has been used for its purpose (one use only).
    consumed_at = Column(DateTime)


class CustomerDevice(Model):
    """An installed app: a PIN and/or a key pair for biometric unlock, bound to the device."""

    __tablename__ = "customer_device"

    id = Column(Integer, primary_key=True)
    public_id = Column(String(32), nullable=False, unique=True)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    customer = relationship("Customer")  # the back office lists these on the customer card
    name = Column(String(128), nullable=False)
    platform = Column(String(16), nullable=False, default="unknown")
    # Issued once at registration; proves a PIN sign-in comes from this installation.
    secret_hash = Column(String(64), nullable=False)
    pin_hash = Column(String(256))
    pin_failures = Column(Integer, nullable=False, default=0)
    # PEM public key (EC P-256 or Ed25519); the private key never leaves the device.
    public_key = Column(String(1024))
    challenge_hash = Column(String(64))
    challenge_expires_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    last_used_at = Column(DateTime)
    revoked_at = Column(DateTime)

    @property
    def has_pin(self):
        return bool(self.pin_hash)

    @property
    def has_key(self):
        return bool(self.public_key)


class CustomerSession(Model):
    """One sign-in: a family of rotating refresh tokens. Revoking it ends every token of it."""

    __tablename__ = "customer_session"

    id = Column(Integer, primary_key=True)
    public_id = Column(String(32), nullable=False, unique=True)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    customer = relationship("Customer")  # the back office lists these on the customer card
    device_id = Column(Integer, ForeignKey("customer_device.id", ondelete="SET NULL"), index=True)
    # password | code | pin | biometric | registration | oidc:<provider>
    method = Column(String(32), nullable=False)
    persistent = Column(Boolean, nullable=False, default=True)
    user_agent = Column(String(256))
    ip = Column(String(64))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    last_used_at = Column(DateTime, nullable=False, default=utcnow)
    expires_at = Column(DateTime, nullable=False)
    revoked_at = Column(DateTime)
    # sign_out | sign_out_everywhere | refresh_reuse | password_changed | device_revoked | closed ...
    revoked_reason = Column(String(32))


class RefreshToken(Model):
    """Every refresh token ever issued, by hash: presenting a rotated one is reuse."""

    __tablename__ = "customer_refresh_token"

    id = Column(Integer, primary_key=True)
    session_id = Column(Integer, ForeignKey("customer_session.id", ondelete="CASCADE"), nullable=False, index=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    issued_at = Column(DateTime, nullable=False, default=utcnow)
    rotated_at = Column(DateTime)


class SecurityEvent(Model):
    """What happened to an account (sign-ins, failures, changes), shown to its customer."""

    __tablename__ = "customer_security_event"
    __table_args__ = (Index("ix_customer_security_event_customer_at", "customer_id", "at"),)

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False)
    customer = relationship("Customer")  # the back office lists these on the customer card
    kind = Column(String(32), nullable=False)
    ip = Column(String(64))
    user_agent = Column(String(256))
    details = Column(JSON, nullable=False, default=dict)
    at = Column(DateTime, nullable=False, default=utcnow)


class FederatedIdentity(Model):
    """A customer's account at an OpenID Connect provider (``sub`` is stable per provider)."""

    __tablename__ = "customer_federated_identity"
    __table_args__ = (UniqueConstraint("provider", "subject", name="uq_federated_identity_provider_subject"),)

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    provider = Column(String(64), nullable=False)
    subject = Column(String(255), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    last_login_at = Column(DateTime)


class OidcLogin(Model):
    """An authorization-code flow in progress: state, nonce and the PKCE verifier stay here.

    ``app_challenge`` binds the flow to the app instance that started it: S256 of a verifier
    only that app holds, which /complete must present (a redirect caught by another app is
    useless without it).
    """

    __tablename__ = "oidc_login"

    id = Column(Integer, primary_key=True)
    state = Column(String(64), nullable=False, unique=True)
    provider = Column(String(64), nullable=False)
    nonce = Column(String(64), nullable=False)
    code_verifier = Column(String(128), nullable=False)
    # BASE64URL(SHA256(app_verifier)), 43 characters; the app's verifier itself is never stored.
    app_challenge = Column(String(64), nullable=False)
    redirect_uri = Column(String(512), nullable=False)
    consent = Column(Boolean, nullable=False, default=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    expires_at = Column(DateTime, nullable=False)
    used_at = Column(DateTime)
