"""Delivery adapters for the outbox, one per provider, chosen per channel by configuration.

    DELIVERY_SMS   = "file" | "console" | "http"
    DELIVERY_VOICE = "file" | "console" | "http"
    DELIVERY_EMAIL = "file" | "console" | "smtp"
    DELIVERY_PUSH  = "file" | "console"
    (channel "log" always goes to the file sink)

A value of the form ``package.module:ClassName`` loads a deployment's own adapter (e.g. FCM or
APNs for push): a subclass of :class:`base.Adapter` whose ``send(outgoing)`` returns
:class:`base.Delivered` or raises :class:`base.DeliveryError` / :class:`base.PermanentDeliveryError`.
"""
import importlib

from .base import (Adapter, Delivered, DeliveryError, Outgoing, PermanentDeliveryError,  # noqa: F401
                   check_recipient)
from .file_sink import ConsoleAdapter, FileSinkAdapter
from .http_gateway import HttpGatewayAdapter
from .smtp import SmtpAdapter

CHANNELS = ("sms", "voice", "email", "push", "log")
SETTINGS = {"sms": "DELIVERY_SMS", "voice": "DELIVERY_VOICE", "email": "DELIVERY_EMAIL", "push": "DELIVERY_PUSH"}
ADAPTERS = {
    FileSinkAdapter.name: FileSinkAdapter,
    ConsoleAdapter.name: ConsoleAdapter,
    HttpGatewayAdapter.name: HttpGatewayAdapter,
    SmtpAdapter.name: SmtpAdapter,
}


def adapter_name(channel, config):
    if channel not in CHANNELS:
        raise PermanentDeliveryError(f"unknown channel {channel!r}")
    setting = SETTINGS.get(channel)
    return (config.get(setting) if setting else None) or "file"


def adapter_for(channel, config):
    """The configured adapter for ``channel``; a configuration that cannot work is a permanent
    failure of the message (it is shown on the outbox screen and may be retried once fixed)."""
    name = adapter_name(channel, config)
    adapter_class = ADAPTERS.get(name)
    if adapter_class is None and ":" in name:
        module, _, attribute = name.partition(":")
        try:
            adapter_class = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as exc:
            raise PermanentDeliveryError(f"cannot load delivery adapter {name!r}: {exc}") from None
    if adapter_class is None:
        raise PermanentDeliveryError(f"unknown delivery adapter {name!r} for {channel}")
    if channel not in adapter_class.channels:
        raise PermanentDeliveryError(f"delivery adapter {name!r} cannot carry {channel}")
    return adapter_class(config, channel)
