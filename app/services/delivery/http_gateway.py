"""A generic HTTP gateway for SMS and voice calls (most Russian SMS aggregators and call-code
services take a JSON POST of this shape, or sit behind a small proxy that does).

``POST <SMS_GATEWAY_URL>`` with ``{"to": "+7…", "text": "…", "id": "<idempotency key>"}`` and
the token in ``SMS_GATEWAY_AUTH_HEADER`` (``Authorization: Bearer <token>`` by default).
2xx: sent; the gateway's message id is read from the JSON answer (``id`` or ``message_id``).
5xx, 408, 425, 429, timeouts and connection errors: retried. Any other 4xx (and 3xx): failed at
once. Voice calls use ``VOICE_GATEWAY_*`` the same way. The ``id`` is the same on every attempt,
so a gateway that deduplicates by it never sends twice after a lost answer.
"""
import requests

from .base import Adapter, Delivered, DeliveryError, PermanentDeliveryError

_TRANSIENT_STATUS = frozenset({408, 425, 429})
_PREFIX = {"sms": "SMS_GATEWAY", "voice": "VOICE_GATEWAY"}


class HttpGatewayAdapter(Adapter):
    name = "http"
    channels = ("sms", "voice")

    def __init__(self, config, channel):
        super().__init__(config, channel)
        prefix = _PREFIX[channel]
        self.url = config.get(f"{prefix}_URL")
        self.token = config.get(f"{prefix}_TOKEN")
        self.auth_header = config.get(f"{prefix}_AUTH_HEADER") or "Authorization"
        self.timeout = float(config.get(f"{prefix}_TIMEOUT") or 10)
        if not self.url:
            raise PermanentDeliveryError(f"{prefix}_URL is not set (DELIVERY_{channel.upper()}=http)")

    def headers(self):
        headers = {"Accept": "application/json", "User-Agent": "kabinet-outbox/1"}
        if self.token:
            is_authorization = self.auth_header.lower() == "authorization"
            headers[self.auth_header] = f"Bearer {self.token}" if is_authorization else self.token
        return headers

    def send(self, message):
        payload = {"to": message.recipient, "text": message.body, "id": message.key}
        try:
            response = requests.post(self.url, json=payload, headers=self.headers(), timeout=self.timeout,
                                     allow_redirects=False)
        except requests.Timeout:
            raise DeliveryError(f"{self.channel} gateway did not answer within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            raise DeliveryError(f"{self.channel} gateway unreachable: {type(exc).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            return Delivered(self.name, _message_id(response))
        detail = f"{self.channel} gateway answered HTTP {status}: {_snippet(response)}"
        if status >= 500 or status in _TRANSIENT_STATUS:
            raise DeliveryError(detail)
        raise PermanentDeliveryError(detail)


def _message_id(response):
    try:
        data = response.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    value = data.get("id", data.get("message_id"))
    return None if value is None else str(value)[:128]


def _snippet(response, limit=200):
    text = " ".join((response.text or "").split())
    return text[:limit] or response.reason or ""
