"""Password and PIN rules and hashing (werkzeug's scrypt, the same as staff passwords)."""
import re

from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from ..errors import Invalid

MIN_LENGTH = 8
MAX_LENGTH = 128
# zxcvbn's 0..4 scale: 2 means "somewhat guessable" (about 10^8 guesses), the usual floor.
MIN_SCORE = 2


def check_strength(password, confirmation, user_inputs=(), field="password"):
    """Refuse weak or mismatched passwords with field-level codes."""
    problems = []
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        problems.append("password_too_short")
    elif len(password) > MAX_LENGTH:
        problems.append("password_too_long")
    else:
        inputs = [str(value) for value in user_inputs if value]
        if not (re.search(r"[^\W\d_]", password) and re.search(r"\d", password)):
            problems.append("password_letters_digits")
        elif any(value and len(value) >= 4 and value.lower() in password.lower() for value in inputs):
            problems.append("password_personal")
        elif zxcvbn(password, user_inputs=inputs)["score"] < MIN_SCORE:
            problems.append("password_weak")
    fields = {field: problems} if problems else {}
    if password != confirmation:
        fields["password_confirm"] = ["password_mismatch"]
    if fields:
        raise Invalid(fields=fields)


def hash_secret(value):
    return generate_password_hash(value)


def verify_secret(value, hashed):
    return bool(hashed) and isinstance(value, str) and check_password_hash(hashed, value)


def check_pin(pin, field="pin"):
    if not isinstance(pin, str) or not re.fullmatch(r"\d{4,6}", pin):
        raise Invalid(fields={field: ["pin_format"]})
    if len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
        raise Invalid(fields={field: ["pin_simple"]})
