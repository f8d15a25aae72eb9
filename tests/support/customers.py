"""Customers through the client API, as an app would drive it."""
import itertools
import random
import re
import uuid

from sqlalchemy import select

from app.extensions import db
from app.models.customers import Customer
from app.models.notifications import OutboxMessage
from app.models.workflow import utcnow
from app.services import notifications

PASSWORD = "Lampa-Sveta-42"
CLIENT = "/api/v1/client"
AUTH = f"{CLIENT}/auth"


# Numbers are handed out in sequence from a random start: the apps (and their databases) are
# shared by the whole session, and random picks would collide (a birthday problem at ~10^3 numbers).
_NUMBERS = itertools.count(random.randrange(10**6, 9 * 10**6))


def new_phone():
    """A valid Russian mobile number no other test of this run uses."""
    return f"+7916{next(_NUMBERS):07d}"


def sent_messages(app, recipient):
    with app.app_context():
        rows = db.session.execute(
            select(OutboxMessage).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id)
        ).scalars().all()
        db.session.expunge_all()
        return rows


def delivered(app, recipient):
    """The texts that reached ``recipient`` through the file sink, oldest first: what the phone
    or the mailbox shows (the outbox row keeps codes and links only until delivery)."""
    with app.app_context():
        assert notifications.wait_for_delivery(timeout=15), "the outbox did not drain"
    texts = []
    with open(app.config["OUTBOX_LOG_PATH"], encoding="utf-8") as sink:
        for line in sink:
            _at, _channel, to, text = line.rstrip("\n").split(" ", 3)
            if to == recipient:
                texts.append(text.replace("\\n", "\n"))
    return texts


# "123456" in an SMS, "1, 2, 3, 4, 5, 6" read out by a voice call; never digits inside a phone number
_CODE = re.compile(r"\b\d(?:, \d){3,7}\b|\b\d{4,8}\b")


def last_code(app, phone, template=None):
    """The one-time code of the newest message to ``phone`` that carries one (of ``template``)."""
    prefix = notifications.TEMPLATES[template].split("{")[0] if template else ""
    for text in reversed(delivered(app, phone)):
        found = _CODE.search(text) if text.startswith(prefix) else None
        if found:
            return found.group(0).replace(", ", "")
    raise AssertionError(f"no code reached {phone}")


def bearer(tokens):
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def register(app, phone=None, password=PASSWORD, full_name="Иванова Мария Петровна", client=None):
    """Register through the three steps; returns (phone, tokens)."""
    client = client or app.test_client()
    phone = phone or new_phone()
    started = client.post(f"{AUTH}/register", json={"phone": phone, "full_name": full_name, "consent": True})
    assert started.status_code == 202, started.get_json()
    challenge = started.get_json()["challenge_id"]
    verified = client.post(f"{AUTH}/register/verify", json={"challenge_id": challenge, "code": last_code(app, phone)})
    assert verified.status_code == 200, verified.get_json()
    done = client.post(f"{AUTH}/register/complete",
                       json={"challenge_id": challenge, "password": password, "password_confirm": password})
    assert done.status_code == 201, done.get_json()
    return phone, done.get_json()


def sign_in(app, phone, password=PASSWORD, client=None, **extra):
    client = client or app.test_client()
    return client.post(f"{AUTH}/sign-in", json={"phone": phone, "password": password, **extra})


class Person:
    """A customer registered through the API, calling ``/api/v1/client…`` with their token."""

    def __init__(self, app):
        self.app = app
        self.http = app.test_client()
        self.phone, tokens = register(app, client=self.http)
        self.id = tokens["customer"]["id"]
        self.headers = bearer(tokens)
        self.email = None

    def call(self, method, path, json=None, key=None, lang="ru", headers=None):
        """``path`` below /api/v1/client; ``key`` is sent as the Idempotency-Key."""
        sent = {**self.headers, "Accept-Language": lang, **(headers or {})}
        if key:
            sent["Idempotency-Key"] = key
        return self.http.open(f"{CLIENT}{path}", method=method, json=json, headers=sent)

    def confirm_email(self, confirmed=True):
        """Give the customer an address (confirmed unless told otherwise) without the link dance."""
        self.email = f"person.{uuid.uuid4().hex[:10]}@example.ru"
        with self.app.app_context():
            customer = db.session.get(Customer, self.id)
            customer.email, customer.email_confirmed_at = self.email, utcnow() if confirmed else None
            db.session.commit()
        return self.email
