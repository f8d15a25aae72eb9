"""The sandbox provider: a pretend acquiring bank inside Kabinet, for development, demos and tests.

It keeps nothing remote: a started payment is a signed token in the hosted page's URL
(``/sandbox-pay/<token>``, ``app/views/sandbox_payments.py``); the page takes a test card and
sends the outcome as a real, signed HTTP callback, as a bank would. Test cards:
4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined. A saved card is a token that
carries only its outcome and last four digits; the card number itself goes nowhere.
"""
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid

import requests
from flask import current_app, has_request_context, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ...errors import Forbidden
from .base import PaymentProvider

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Sandbox-Signature"
# A callback older (or newer) than this is refused: a captured one cannot be replayed later.
MAX_CALLBACK_AGE_SECONDS = 300
# How long the hosted page of a started payment works.
PAGE_MAX_AGE_SECONDS = 3600
CARD_SUCCEEDS = "4242424242424242"
CARD_DECLINED = "4000000000000002"
CALLBACK_ATTEMPTS = 4
PURPOSES = {"bills": "Оплата счетов", "qr": "Оплата по QR-коду", "topup": "Пополнение баланса",
            "invoice": "Оплата счёта на услугу", "autopay": "Автоплатёж",
            "card_check": "Проверка карты (сумма будет возвращена)"}


def secret():
    configured = current_app.config.get("PAYMENT_SANDBOX_SECRET")
    if configured:
        return configured.encode()
    # Unset: derived from SECRET_KEY, so every process of one deployment agrees.
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"kabinet:payment-sandbox", hashlib.sha256).digest()


def sign(body):
    """The hex HMAC-SHA256 of a callback's raw body (the ``X-Sandbox-Signature`` header)."""
    return hmac.new(secret(), body, hashlib.sha256).hexdigest()


def _pages():
    return URLSafeTimedSerializer(secret(), salt="sandbox-pay")


def load_page(token):
    """The started payment a hosted-page token describes; None when damaged or expired."""
    try:
        return _pages().loads(token, max_age=PAGE_MAX_AGE_SECONDS)
    except BadSignature:
        return None


def description(payment):
    accounts = sorted({item.account.number for item in payment.items if item.account is not None})
    payees = [item.payee.get("Name", "") for item in payment.items if item.payee]
    what = ", ".join(accounts + [name for name in payees if name])
    label = PURPOSES.get(payment.purpose, payment.purpose)
    return f"{label}: {what}" if what else label


def card_token(number):
    """A saved card's token: its outcome and last four digits, nothing that gives the number back."""
    outcome = "decline" if number == CARD_DECLINED else "ok"
    return f"sbx_card_{outcome}_{number[-4:]}_{uuid.uuid4().hex[:12]}"


def card_details(number, expires):
    brand = {"2": "mir", "4": "visa", "5": "mastercard"}.get(number[0], "card")
    return {"token": card_token(number), "masked_number": f"•••• {number[-4:]}",
            "brand": brand, "expires": expires}


def _base_url():
    configured = current_app.config.get("PAYMENT_CALLBACK_BASE_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return current_app.config["PUBLIC_BASE_URL"]


def callback_event(page, number, expires):
    """The event the bank reports for the card typed on the page (a test card)."""
    succeeded = number == CARD_SUCCEEDS
    return {
        "event_id": uuid.uuid4().hex,
        "provider_payment_id": page["id"],
        "status": "succeeded" if succeeded else "failed",
        "amount": page["amount"],
        "card": card_details(number, expires) if succeeded and page.get("save_card") else None,
        "failure_reason": None if succeeded else "card_declined",
        "timestamp": int(time.time()),
    }


def send_callback(event):
    """POST the signed event to Kabinet's callback endpoint from a thread, as a bank would
    (retried a few times while Kabinet is unreachable or answers 5xx)."""
    body = json.dumps(event).encode()
    url = f"{_base_url()}/api/v1/payments/callback/sandbox"
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body)}
    thread = threading.Thread(target=_post, args=(url, body, headers), name="sandbox-callback", daemon=True)
    thread.start()
    return thread


def _post(url, body, headers):
    for attempt in range(CALLBACK_ATTEMPTS):
        try:
            answer = requests.post(url, data=body, headers=headers, timeout=10)
            if answer.status_code < 500:
                if answer.status_code >= 400:
                    log.warning("sandbox callback to %s refused: %s %s", url, answer.status_code, answer.text[:200])
                return answer.status_code
        except requests.RequestException as exc:
            log.warning("sandbox callback to %s failed: %s", url, exc)
        time.sleep(0.5 * 2 ** attempt)
    log.error("sandbox callback to %s given up after %d attempts", url, CALLBACK_ATTEMPTS)
    return None


class SandboxProvider(PaymentProvider):
    name = "sandbox"

    def start(self, payment, return_url, save_card=False):
        provider_payment_id = f"sbx_{uuid.uuid4().hex}"
        token = _pages().dumps({"id": provider_payment_id, "amount": f"{payment.amount:.2f}",
                                "description": description(payment), "return_url": return_url or "",
                                "save_card": bool(save_card)})
        base = request.host_url.rstrip("/") if has_request_context() else current_app.config["PUBLIC_BASE_URL"]
        return {"provider_payment_id": provider_payment_id, "confirmation_url": f"{base}/sandbox-pay/{token}"}

    def charge_saved(self, token, payment):
        parts = str(token).split("_")
        provider_payment_id = f"sbx_{uuid.uuid4().hex}"
        if len(parts) != 5 or parts[:2] != ["sbx", "card"] or parts[2] not in ("ok", "decline"):
            return {"provider_payment_id": provider_payment_id, "status": "failed", "failure_reason": "card_unknown"}
        if parts[2] == "decline":
            return {"provider_payment_id": provider_payment_id, "status": "failed", "failure_reason": "card_declined"}
        return {"provider_payment_id": provider_payment_id, "status": "succeeded", "failure_reason": None}

    def refund(self, payment):
        if not payment.provider_payment_id:
            raise ValueError("a payment the provider never saw cannot be refunded")
        return {"status": "refunded"}

    def verify_callback(self, body, headers):
        given = headers.get(SIGNATURE_HEADER, "")
        if not hmac.compare_digest(sign(body).encode(), given.encode("utf-8", "replace")):
            raise Forbidden("payment_callback_forged")
        try:
            event = json.loads(body)
            age = abs(time.time() - float(event["timestamp"]))
        except (ValueError, KeyError, TypeError):
            raise Forbidden("payment_callback_forged")
        if age > MAX_CALLBACK_AGE_SECONDS:
            raise Forbidden("payment_callback_forged")
        return event
