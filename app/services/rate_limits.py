"""Rate limits on things other than a route: a phone, an IP, a failed sign-in.

Flask-AppBuilder's ``@limit`` applies to a whole API blueprint, and route limits cannot count
only failures; so these go to the one Flask-Limiter's strategy and storage directly (memory in
the embedded default, Redis in production, shared by every web process).
"""
import time

import limits
from flask import current_app

from ..errors import TooManyRequests


def _limiter():
    return current_app.appbuilder.sm.limiter


def _identifiers(scope, key):
    return current_app.config.get("RATELIMIT_KEY_PREFIX", ""), "kabinet", scope, str(key)


def _enabled():
    return current_app.config.get("RATELIMIT_ENABLED", True)


def _retry_after(item, scope, key):
    stats = _limiter().limiter.get_window_stats(item, *_identifiers(scope, key))
    return max(stats.reset_time - time.time(), 1)


def hit(limit, scope, key, code="rate_limited"):
    """Count one request; refuse (429 with Retry-After) once ``limit`` is used up."""
    if not _enabled():
        return
    item = limits.parse(limit)
    if not _limiter().limiter.hit(item, *_identifiers(scope, key)):
        raise TooManyRequests(code, retry_after=_retry_after(item, scope, key))


def clear(limit, scope, key):
    if _enabled():
        _limiter().limiter.clear(limits.parse(limit), *_identifiers(scope, key))
