"""Staff two-factor sign-in (SPEC ID-10): TOTP (RFC 6238) with recovery codes.

The rules only; the screens (``app/views/two_factor.py``) and the JWT login
(``app/security.py``) call them. A staff user's record is :class:`StaffTwoFactor`:

* the base32 secret is stored encrypted (Fernet) under a key derived from SECRET_KEY with
  HKDF, so a copy of the table alone does not give the secrets away (changing SECRET_KEY
  therefore makes every enrolment unusable: staff re-enrol after an Admin reset);
* enrolment is complete once a first valid code confirms it (``confirmed_at``); a secret
  awaiting confirmation is shown again only to whoever holds its :func:`fingerprint` (the
  browser session it was made for), anyone else gets a new one, so a second sign-in with the
  same password never sees the key the real user is about to confirm;
* a code is good once: the time step of the last accepted code is kept (``last_step``) and a
  code of that step or an earlier one is refused, with an atomic UPDATE so two requests racing
  with the same code cannot both pass;
* recovery codes are shown once and stored as keyed hashes; each works once;
* attempts are counted per user before the code is checked (``STAFF_2FA_FAILURE_LIMIT``), so
  parallel guesses cannot all slip past the limit, and the count is cleared by a good code; when
  it is used up every code, right or wrong, is refused with 429 and Retry-After until the window
  passes.

The refusals' texts are in ``app/api/staff/two_factor_messages.py``.

Which roles must use it is configuration (``STAFF_2FA_REQUIRED_ROLES``, Admin and Analyst by
default); for the other roles it is optional.
"""
import base64
import hmac
import logging
import re
import secrets as random
import time

import pyotp
import qrcode
import qrcode.image.svg
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import delete, or_, select, update

from ..errors import Conflict, Forbidden, Unauthorized
from ..extensions import db
from ..models.staff import StaffTwoFactor
from ..models.workflow import utcnow
from . import rate_limits
from .secrets import keyed_hash

log = logging.getLogger(__name__)

SCOPE = "staff-2fa"
_HKDF_INFO = b"kabinet:staff-2fa-secret"
_RECOVERY_PURPOSE = "staff-2fa-recovery"
_ENROLMENT_PURPOSE = "staff-2fa-enrolment"
# No 0/o, 1/l/i: codes are copied from paper.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 10


def _now():
    """The clock of TOTP steps (tests move it)."""
    return time.time()


# --- settings ---------------------------------------------------------------------------------

def _config(name, default):
    return current_app.config.get(name, default)


def required_roles():
    return set(_config("STAFF_2FA_REQUIRED_ROLES", ("Admin", "Analyst")) or ())


def _valid_window():
    return int(_config("STAFF_2FA_VALID_WINDOW", 1))


def _failure_limit():
    return _config("STAFF_2FA_FAILURE_LIMIT", "5 per 15 minutes")


# --- state ------------------------------------------------------------------------------------

def record_of(user_id):
    return db.session.execute(select(StaffTwoFactor).where(StaffTwoFactor.user_id == user_id)).scalars().first()


def is_required(user):
    """True when one of the user's roles must sign in with a second factor."""
    required = required_roles()
    return bool(required) and any(role.name in required for role in user.roles)


def is_enrolled(user):
    record = record_of(user.id)
    return record is not None and record.confirmed_at is not None


def status(user):
    """What the screens show: enrolled since, unused recovery codes, required or optional."""
    record = record_of(user.id)
    enrolled = record is not None and record.confirmed_at is not None
    return {
        "required": is_required(user),
        "enrolled": enrolled,
        "pending": record is not None and not enrolled,
        "confirmed_at": record.confirmed_at if enrolled else None,
        "recovery_codes_left": len(record.recovery_code_hashes or []) if enrolled else 0,
    }


# --- secrets ----------------------------------------------------------------------------------

def _fernet():
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        current_app.config["SECRET_KEY"].encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _encrypt(secret):
    return _fernet().encrypt(secret.encode()).decode()


def secret_of(record, stored=None):
    """The base32 secret of ``record`` (or of its encrypted form ``stored``), None if unreadable."""
    try:
        return _fernet().decrypt((stored or record.secret_encrypted).encode()).decode()
    except InvalidToken:
        # SECRET_KEY changed since enrolment: no code can match; an Admin reset is the way out.
        log.error("staff 2FA secret of user %s cannot be decrypted (SECRET_KEY changed?)", record.user_id)
        return None


def _totp(secret):
    return pyotp.TOTP(secret)


def provisioning_uri(user, secret):
    """``otpauth://totp/Kabinet:login?secret=…&issuer=Kabinet`` for authenticator apps."""
    return _totp(secret).provisioning_uri(name=user.username, issuer_name=_config("STAFF_2FA_ISSUER", "Kabinet"))


def qr_svg(uri, size=220):
    """The URI as an inline SVG QR code (pure Python, no Pillow)."""
    code = qrcode.QRCode(image_factory=qrcode.image.svg.SvgPathImage, border=2,
                         error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(uri)
    code.make(fit=True)
    svg = code.make_image().to_string(encoding="unicode")
    svg = re.sub(r'width="[^"]*" height="[^"]*"', f'width="{size}" height="{size}"', svg, count=1)
    return svg.replace("<svg ", '<svg class="two-factor-qr" role="img" aria-label="QR" ', 1)


def grouped_secret(secret):
    """The secret for typing by hand: ``ABCD EFGH …``."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


# --- enrolment --------------------------------------------------------------------------------

def fingerprint(record):
    """Names one generated secret of a pending enrolment (a keyed hash of its ciphertext, which
    is new at every generation) without giving it away: the screens keep it in the session that
    was shown the key, and only that session is shown the same key again."""
    return keyed_hash(_ENROLMENT_PURPOSE, record.secret_encrypted)


def _same_key(record, key):
    return isinstance(key, str) and hmac.compare_digest(key, fingerprint(record))


def begin_enrolment(user, keep=None):
    """A secret awaiting confirmation. ``keep`` is the :func:`fingerprint` of the key this caller
    (browser session) was shown: while it is still the pending one, the same secret is returned
    (a reload shows the same QR code). Otherwise (nothing pending, no ``keep``, or a key made for
    another sign-in) a new secret replaces the pending one, so a key is never shown to a second
    sign-in. Returns ``(record, secret)``."""
    record = record_of(user.id)
    if record is not None and record.confirmed_at is not None:
        raise Conflict("two_factor_already_enrolled")
    if record is not None and _same_key(record, keep):
        secret = secret_of(record)
        if secret is not None:
            return record, secret
    secret = pyotp.random_base32()  # 32 characters, 160 bits
    if record is None:
        record = StaffTwoFactor(user_id=user.id, secret_encrypted=_encrypt(secret), recovery_code_hashes=[],
                                created_at=utcnow())
        db.session.add(record)
    else:
        record.secret_encrypted = _encrypt(secret)
        record.last_step = None
        record.recovery_code_hashes = []
        record.created_at = utcnow()
    db.session.commit()
    return record, secret


def confirm_enrolment(user, code, key=None):
    """The first valid code completes enrolment; returns the recovery codes (shown once).

    ``key``: the :func:`fingerprint` of the key the caller was shown; if the pending key is
    another one by now (enrolment started again elsewhere), Conflict ``two_factor_enrolment_stale``.
    The key checked is the key confirmed: a restart racing with this call makes it refuse.
    """
    record = record_of(user.id)
    if record is None:
        raise Conflict("two_factor_not_enrolled")
    if record.confirmed_at is not None:
        raise Conflict("two_factor_already_enrolled")
    if key is not None and not _same_key(record, key):
        raise Conflict("two_factor_enrolment_stale")
    checked = record.secret_encrypted
    _count_attempt(user)
    if not _accept_totp(record, code, checked):
        _fail(user, "confirm")
    _succeeded(user)
    codes = _new_recovery_codes()
    result = db.session.execute(
        update(StaffTwoFactor)
        .where(StaffTwoFactor.id == record.id, StaffTwoFactor.secret_encrypted == checked,
               StaffTwoFactor.confirmed_at.is_(None))
        .values(recovery_code_hashes=[_recovery_hash(c) for c in codes], confirmed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:
        raise Conflict("two_factor_enrolment_stale")
    log.info("staff 2FA enrolled: user %s", user.username)
    return codes


def enrol_with_secret(user, secret):
    """Enrol with a known secret, confirmed at once and without recovery codes. DEMO ONLY:
    ``app/demo.py`` uses it for the published demo secret; real staff enrol by QR code."""
    record = record_of(user.id)
    if record is None:
        record = StaffTwoFactor(user_id=user.id, recovery_code_hashes=[], created_at=utcnow())
        db.session.add(record)
    record.secret_encrypted = _encrypt(secret)
    record.confirmed_at = utcnow()
    record.last_step = None
    record.recovery_code_hashes = []
    db.session.commit()
    return record


# --- verification -----------------------------------------------------------------------------

def verify(user, totp=None, recovery_code=None):
    """Check a second factor of an enrolled user: a TOTP code, or else a recovery code (burnt).

    Returns ``"totp"`` or ``"recovery_code"``; raises Unauthorized ``two_factor_required`` when
    both are missing, ``two_factor_invalid`` when wrong or replayed, TooManyRequests
    ``two_factor_rate_limited`` once the failures are used up, Conflict when not enrolled.
    """
    record = record_of(user.id)
    if record is None or record.confirmed_at is None:
        raise Conflict("two_factor_not_enrolled")
    if _blank(totp) and _blank(recovery_code):
        raise Unauthorized("two_factor_required")
    _count_attempt(user)
    if not _blank(totp):
        if _accept_totp(record, totp):
            _succeeded(user)
            return "totp"
    elif _burn_recovery_code(record, recovery_code):
        _succeeded(user)
        log.warning("staff 2FA recovery code used: user %s, %d left", user.username,
                    len(record.recovery_code_hashes))
        return "recovery_code"
    _fail(user, "verify")


def verify_any(user, code):
    """One form field for both: six digits are a TOTP code, anything else a recovery code."""
    code = (code or "").strip() if isinstance(code, str) else code
    if isinstance(code, str) and re.fullmatch(r"\d{3} ?\d{3}", code):
        return verify(user, totp=code.replace(" ", ""))
    return verify(user, recovery_code=code)


def _blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _count_attempt(user):
    """Count the attempt before its code is checked (429 once the limit is used up, even for the
    right code): counting only failures, after the check, would let a burst of parallel guesses
    all pass the check before the first is counted."""
    rate_limits.hit(_failure_limit(), SCOPE, user.id, code="two_factor_rate_limited")


def _succeeded(user):
    """A good code: the attempts counted so far are forgiven."""
    rate_limits.clear(_failure_limit(), SCOPE, user.id)


def _fail(user, what):
    log.warning("staff 2FA: wrong code (%s) for user %s", what, user.username)
    raise Unauthorized("two_factor_invalid")


def _matching_step(secret, code):
    """The time step (within the valid window) whose code this is, else None."""
    if not isinstance(code, str) or not re.fullmatch(r"\d{6}", code.strip()):
        return None
    code = code.strip()
    totp = _totp(secret)
    current = int(_now() // totp.interval)
    window = _valid_window()
    found = None
    for step in range(current - window, current + window + 1):
        # every step is compared (constant time), the latest match wins
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def _accept_totp(record, code, stored=None):
    """True once per time step: a code of the last accepted step or an earlier one is a replay.
    ``stored``: the encrypted secret to check against (the record's); the step is taken only
    while the row still holds that secret."""
    stored = stored or record.secret_encrypted
    secret = secret_of(record, stored)
    step = _matching_step(secret, code) if secret else None
    if step is None:
        return False
    result = db.session.execute(
        update(StaffTwoFactor)
        .where(StaffTwoFactor.id == record.id, StaffTwoFactor.secret_encrypted == stored,
               or_(StaffTwoFactor.last_step.is_(None), StaffTwoFactor.last_step < step))
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:
        log.warning("staff 2FA: replayed code for user id %s (step %s)", record.user_id, step)
        return False
    db.session.refresh(record)
    return True


# --- recovery codes ---------------------------------------------------------------------------

def _normalise(code):
    return re.sub(r"[\s-]", "", code).lower() if isinstance(code, str) else ""


def _recovery_hash(code):
    return keyed_hash(_RECOVERY_PURPOSE, _normalise(code))


def _new_recovery_codes():
    count = int(_config("STAFF_2FA_RECOVERY_CODES", 10))
    codes = []
    for _ in range(count):
        raw = "".join(random.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def _burn_recovery_code(record, code):
    normalised = _normalise(code)
    if len(normalised) != _RECOVERY_LENGTH:
        return False
    candidate = keyed_hash(_RECOVERY_PURPOSE, normalised)
    # Row lock on PostgreSQL: two requests with the same code cannot both use it.
    locked = db.session.execute(
        select(StaffTwoFactor).where(StaffTwoFactor.id == record.id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalars().one()
    hashes_ = list(locked.recovery_code_hashes or [])
    matched = None
    for stored in hashes_:
        if hmac.compare_digest(stored, candidate):
            matched = stored
    if matched is None:
        db.session.commit()
        return False
    hashes_.remove(matched)
    locked.recovery_code_hashes = hashes_  # a new list: the JSON column is saved
    db.session.commit()
    return True


def regenerate_recovery_codes(user, code):
    """New recovery codes (the old ones stop working), after a current code."""
    verify_any(user, code)
    record = record_of(user.id)
    if record is None or record.confirmed_at is None:  # an Admin reset it meanwhile
        raise Conflict("two_factor_not_enrolled")
    codes = _new_recovery_codes()
    result = db.session.execute(
        update(StaffTwoFactor)
        .where(StaffTwoFactor.id == record.id, StaffTwoFactor.confirmed_at.is_not(None))
        .values(recovery_code_hashes=[_recovery_hash(c) for c in codes])
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:  # reset between the read and the write
        raise Conflict("two_factor_not_enrolled")
    log.info("staff 2FA recovery codes regenerated: user %s", user.username)
    return codes


# --- switching off ----------------------------------------------------------------------------

def disable(user, code):
    """The user turns it off (roles where it is optional), after a current code."""
    if is_required(user):
        raise Forbidden("two_factor_disable_forbidden")
    verify_any(user, code)
    _delete(user.id)
    log.info("staff 2FA disabled by the user: %s", user.username)


def cancel_pending(user):
    """Drop an enrolment that was started and not confirmed."""
    record = record_of(user.id)
    if record is not None and record.confirmed_at is None:
        _delete(user.id)


def admin_reset(actor, target):
    """An Admin removes another staff user's second factor (lost phone): the target enrols again
    at the next sign-in (required roles) or may (optional roles)."""
    if actor.id == target.id:
        raise Forbidden("two_factor_reset_self")
    if record_of(target.id) is None:
        raise Conflict("two_factor_not_enrolled")
    _delete(target.id)
    rate_limits.clear(_failure_limit(), SCOPE, target.id)
    log.warning("staff 2FA of %s reset by %s", target.username, actor.username)


def _delete(user_id):
    db.session.execute(delete(StaffTwoFactor).where(StaffTwoFactor.user_id == user_id)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def login_check(user, totp=None, recovery_code=None):
    """The JWT login's second step after a correct password: nothing when 2FA is off for this
    user; else a verified code (see :func:`verify`) or Forbidden when enrolment is missing."""
    if is_enrolled(user):
        return verify(user, totp=totp, recovery_code=recovery_code)
    if is_required(user):
        raise Forbidden("two_factor_enrolment_required")
    return None
