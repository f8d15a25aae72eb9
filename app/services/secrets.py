"""Keyed hashes and random identifiers shared by the identity services.

Secrets the server makes (one-time codes, and the 256-bit device secrets, refresh tokens and
challenges) are stored as HMAC-SHA256 under a key derived from SECRET_KEY: a stolen table alone
does not give them back (for 6-digit codes a plain hash would), and comparison is constant-time.
Passwords and PINs, which people choose, use werkzeug's scrypt.
"""
import hashlib
import hmac
import secrets

from flask import current_app


def _key(purpose):
    return hmac.new(current_app.config["SECRET_KEY"].encode(), f"kabinet:{purpose}".encode(), hashlib.sha256).digest()


def keyed_hash(purpose, value):
    return hmac.new(_key(purpose), value.encode(), hashlib.sha256).hexdigest()


def matches(purpose, value, expected_hash):
    return expected_hash is not None and hmac.compare_digest(keyed_hash(purpose, value), expected_hash)


def public_id():
    """An identifier a client may hold without it being guessable (128 bits)."""
    return secrets.token_hex(16)


def token(nbytes=32):
    return secrets.token_urlsafe(nbytes)
