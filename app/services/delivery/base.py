"""What every delivery adapter is given and returns, and the two kinds of failure.

An adapter gets an :class:`Outgoing` (a plain snapshot of the outbox row, never the ORM object:
it runs outside any transaction) and either returns :class:`Delivered` or raises. A
:class:`PermanentDeliveryError` fails the message at once (invalid recipient, HTTP 4xx, SMTP 5xx);
any other exception is transient and the message is retried with backoff.
"""
import re
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address


@dataclass(frozen=True)
class Outgoing:
    id: int
    channel: str
    recipient: str
    subject: str | None
    body: str
    # Stable across attempts (the outbox idempotency key): gateways may deduplicate by it.
    key: str
    attempt: int
    # Files to send with an email: ({"filename", "content_type", "path"}, ...).
    attachments: tuple = ()


@dataclass(frozen=True)
class Delivered:
    provider: str
    message_id: str | None = None


class DeliveryError(Exception):
    """Transient: a later attempt may succeed (timeouts, 5xx, connection refused)."""

    permanent = False


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: the recipient is invalid or the provider refused the message."""

    permanent = True


class Adapter:
    """One way of delivering messages of some channels. Subclasses set ``name`` (stored as the
    message's ``provider``) and ``channels`` and implement :meth:`send`."""

    name = "base"
    channels = ()

    def __init__(self, config, channel):
        self.config = config
        self.channel = channel

    def send(self, message):  # pragma: no cover - interface
        raise NotImplementedError


_PHONE = re.compile(r"\+?[0-9]{10,15}")


def check_recipient(channel, recipient):
    """Refuse (permanently) a recipient the channel cannot reach, before any adapter runs."""
    recipient = recipient or ""
    if channel in ("sms", "voice"):
        if not _PHONE.fullmatch(recipient):
            raise PermanentDeliveryError(f"invalid phone number {recipient!r} for {channel}")
    elif channel == "email":
        check_email_address(recipient)
    elif not recipient.strip() or recipient == "unknown":
        raise PermanentDeliveryError(f"no recipient for {channel}")


def check_email_address(address):
    if not address or any(ch.isspace() for ch in address) or address.count("@") != 1:
        raise PermanentDeliveryError(f"invalid email address {address!r}")
    try:
        parsed = Address(addr_spec=address)
    except (HeaderParseError, ValueError, IndexError) as exc:
        raise PermanentDeliveryError(f"invalid email address {address!r}: {exc}") from None
    if not parsed.username or not parsed.domain or parsed.addr_spec != address:
        raise PermanentDeliveryError(f"invalid email address {address!r}")
