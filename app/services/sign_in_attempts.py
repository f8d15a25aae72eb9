"""Guesses at a customer's secrets (password, code, PIN), counted per phone.

Every attempt is counted before the secret is checked, so parallel guesses cannot all pass a
check made first; a success clears the count. SIGN_IN_FAILURE_LIMIT used up locks the phone
(429 ``phone_locked``) for the rest of its window, whether or not the phone has an account.
"""
from flask import current_app

from . import rate_limits

_SCOPE = "sign-in-failures"


def count(phone):
    rate_limits.hit(current_app.config["SIGN_IN_FAILURE_LIMIT"], _SCOPE, phone, code="phone_locked")


def clear(phone):
    rate_limits.clear(current_app.config["SIGN_IN_FAILURE_LIMIT"], _SCOPE, phone)
