"""Payment providers by name; config ``PAYMENT_PROVIDER`` chooses the one in use.

A deployment plugs in its bank's adapter as ``"package.module:Class"`` (a subclass of
:class:`base.PaymentProvider`), like the outbox's delivery adapters.
"""
from importlib import import_module

from flask import current_app

from .base import PaymentProvider

BUILTIN = {"sandbox": "app.services.payment_providers.sandbox:SandboxProvider"}


def _load(spec):
    module, _, attr = BUILTIN.get(spec, spec).partition(":")
    if not attr:
        raise ValueError(f"unknown payment provider {spec!r}: a name from {sorted(BUILTIN)} or 'module:Class'")
    return getattr(import_module(module), attr)


def get(name=None):
    """The provider called ``name`` (the configured one by default), one instance per app."""
    spec = name or current_app.config["PAYMENT_PROVIDER"]
    cache = current_app.extensions.setdefault("kabinet_payment_providers", {})
    if spec not in cache:
        provider = _load(spec)()
        if not isinstance(provider, PaymentProvider):
            raise TypeError(f"{spec} is not a PaymentProvider")
        cache[spec] = provider
    return cache[spec]


def by_name(name):
    """The provider a stored payment or callback names (``Payment.provider``, the callback URL)."""
    configured = get()
    if configured.name == name:
        return configured
    if name in BUILTIN:
        return get(name)
    return None
