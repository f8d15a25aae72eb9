"""Quick access per device (ID-5): a PIN, or biometric unlock as a device-bound key pair.

A device registers from a signed-in session and receives a device secret, once. A PIN sign-in
needs the device id, that secret and the PIN, so a PIN is no use away from its installation;
PIN_MAX_FAILURES wrong PINs erase the PIN. Biometric unlock: the app keeps a private key in the
platform keystore behind the fingerprint / face check and registers the public key; to sign in
it asks for a one-time challenge and returns it signed (ECDSA P-256 with SHA-256, or Ed25519).
"""
import base64
import binascii
from datetime import timedelta

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from flask import current_app
from sqlalchemy import select

from ..errors import Forbidden, Invalid, NotFound, Unauthorized
from ..extensions import db
from ..models.customers import Customer, CustomerDevice
from ..models.workflow import utcnow
from . import customer_sessions, passwords, rate_limits, secrets, security_events, sign_in_attempts

_SECRET = "device-secret"
_CHALLENGE = "device-challenge"
PLATFORMS = ("android", "ios", "web", "unknown")


def load_public_key(text, field="public_key"):
    """A PEM, or base64 of the DER SubjectPublicKeyInfo; EC P-256 or Ed25519 only."""
    try:
        data = text.encode() if text.lstrip().startswith("-----BEGIN") else base64.b64decode(text, validate=True)
        key = (serialization.load_pem_public_key(data) if text.lstrip().startswith("-----BEGIN")
               else serialization.load_der_public_key(data))
    except (ValueError, TypeError, binascii.Error, AttributeError, UnsupportedAlgorithm):
        raise Invalid(fields={field: ["public_key_invalid"]}) from None
    if isinstance(key, ed25519.Ed25519PublicKey) or (
            isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)):
        return key
    raise Invalid(fields={field: ["public_key_type"]})


def _pem(key):
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def register(customer, session, name, platform="unknown", pin=None, public_key=None, ip=None, user_agent=None):
    """Returns (device, device secret); the secret is shown this once and stored hashed."""
    if pin is not None:
        passwords.check_pin(pin)
    key = load_public_key(public_key) if public_key else None
    secret = secrets.token()
    device = CustomerDevice(
        public_id=secrets.public_id(), customer_id=customer.id, name=(name or "").strip()[:128] or "device",
        platform=platform if platform in PLATFORMS else "unknown", secret_hash=secrets.keyed_hash(_SECRET, secret),
        pin_hash=passwords.hash_secret(pin) if pin else None, public_key=_pem(key) if key else None,
    )
    db.session.add(device)
    db.session.flush()
    if session.device_id is None:  # revoking the device ends the session it was registered from
        session.device_id = device.id
    security_events.record(customer.id, "device_registered", ip=ip, user_agent=user_agent, device=device.public_id)
    db.session.commit()
    return device, secret


def of_customer(customer_id):
    return db.session.execute(
        select(CustomerDevice).where(CustomerDevice.customer_id == customer_id, CustomerDevice.revoked_at.is_(None))
        .order_by(CustomerDevice.created_at.desc())
    ).scalars().all()


def owned(customer, device_public_id):
    """A live device of this customer; another customer's device id is simply not found."""
    device = db.session.execute(
        select(CustomerDevice).where(CustomerDevice.public_id == str(device_public_id),
                                     CustomerDevice.customer_id == customer.id, CustomerDevice.revoked_at.is_(None))
    ).scalar_one_or_none()
    if device is None:
        raise NotFound("device_not_found")
    return device


def revoke(customer, device_public_id, ip=None, user_agent=None):
    device = owned(customer, device_public_id)
    _revoke(device, "device_revoked")
    security_events.record(customer.id, "device_revoked", ip=ip, user_agent=user_agent, device=device.public_id)
    db.session.commit()


def _revoke(device, reason):
    device.revoked_at = utcnow()
    device.pin_hash = device.public_key = device.challenge_hash = None
    customer_sessions.revoke_all(device.customer_id, reason, device_id=device.id)


def revoke_all(customer_id, reason, keep_device_id=None):
    for device in of_customer(customer_id):
        if device.id != keep_device_id:
            _revoke(device, reason)


def set_pin(customer, device_public_id, pin, old_pin=None, password=None, ip=None, user_agent=None):
    """Set or change a device's PIN: proven by the old PIN or the account password."""
    device = owned(customer, device_public_id)
    if device.pin_hash:
        sign_in_attempts.count(customer.phone)  # a stolen access token gives no free guesses
        if not (passwords.verify_secret(old_pin, device.pin_hash)
                or passwords.verify_secret(password, customer.password_hash)):
            raise Invalid("pin_change_unproven", fields={"old_pin": ["pin_change_unproven"]})
        sign_in_attempts.clear(customer.phone)
    passwords.check_pin(pin)
    device.pin_hash = passwords.hash_secret(pin)
    device.pin_failures = 0
    security_events.record(customer.id, "pin_changed", ip=ip, user_agent=user_agent, device=device.public_id)
    db.session.commit()


def set_public_key(customer, device_public_id, public_key, ip=None, user_agent=None):
    device = owned(customer, device_public_id)
    device.public_key = _pem(load_public_key(public_key)) if public_key else None
    device.challenge_hash = None
    security_events.record(customer.id, "biometric_enrolled" if public_key else "biometric_removed",
                           ip=ip, user_agent=user_agent, device=device.public_id)
    db.session.commit()


def _device_for_sign_in(device_public_id, device_secret, ip):
    rate_limits.hit(current_app.config["SIGN_IN_LIMIT_PER_IP"], "sign-in-ip", ip)
    device = db.session.execute(
        select(CustomerDevice).where(CustomerDevice.public_id == str(device_public_id or "")).with_for_update()
    ).scalar_one_or_none()
    if (device is None or device.revoked_at is not None
            or not secrets.matches(_SECRET, str(device_secret or ""), device.secret_hash)):
        raise Unauthorized("device_unknown")
    customer = db.session.get(Customer, device.customer_id)
    if customer.status != "active":
        raise Unauthorized("device_unknown")
    return device, customer


def sign_in_with_pin(device_public_id, device_secret, pin, ip=None, user_agent=None):
    device, customer = _device_for_sign_in(device_public_id, device_secret, ip)
    if not device.pin_hash:
        raise Forbidden("pin_not_set")
    if not passwords.verify_secret(pin, device.pin_hash):
        device.pin_failures += 1
        left = current_app.config["PIN_MAX_FAILURES"] - device.pin_failures
        if left <= 0:
            device.pin_hash = None  # sign in with the password (or a code) and set a new PIN
            security_events.record(customer.id, "pin_locked", ip=ip, user_agent=user_agent, device=device.public_id)
        else:
            security_events.record(customer.id, "sign_in_failed", ip=ip, user_agent=user_agent, method="pin")
        db.session.commit()
        if left <= 0:
            raise Forbidden("pin_locked")
        raise Unauthorized("pin_wrong", left=left)
    device.pin_failures = 0
    return _signed_in(device, customer, "pin", ip, user_agent)


def _signed_in(device, customer, method, ip, user_agent):
    device.last_used_at = utcnow()
    tokens = customer_sessions.start(customer, method, device=device, ip=ip, user_agent=user_agent)
    db.session.commit()
    return customer, tokens


def challenge(device_public_id, device_secret, ip=None):
    """A one-time random challenge for the device to sign; a new one replaces the last."""
    device, _customer = _device_for_sign_in(device_public_id, device_secret, ip)
    if not device.public_key:
        raise Forbidden("biometric_not_set")
    value = secrets.token()
    device.challenge_hash = secrets.keyed_hash(_CHALLENGE, value)
    ttl = current_app.config["DEVICE_CHALLENGE_SECONDS"]
    device.challenge_expires_at = utcnow() + timedelta(seconds=ttl)
    db.session.commit()
    return value, ttl


def sign_in_with_signature(device_public_id, device_secret, challenge_value, signature, ip=None, user_agent=None):
    device, customer = _device_for_sign_in(device_public_id, device_secret, ip)
    fresh = (device.challenge_hash and device.challenge_expires_at > utcnow()
             and secrets.matches(_CHALLENGE, str(challenge_value or ""), device.challenge_hash))
    device.challenge_hash = None  # one use, right or wrong
    if not fresh or not device.public_key:
        db.session.commit()
        raise Unauthorized("challenge_invalid")
    try:
        key = serialization.load_pem_public_key(device.public_key.encode())
        raw = base64.b64decode(str(signature or ""), validate=True)
        message = challenge_value.encode()
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(raw, message)
        else:
            key.verify(raw, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, binascii.Error):
        security_events.record(customer.id, "sign_in_failed", ip=ip, user_agent=user_agent, method="biometric")
        db.session.commit()
        raise Unauthorized("signature_invalid") from None
    return _signed_in(device, customer, "biometric", ip, user_agent)

