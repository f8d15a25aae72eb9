"""Customers through the client API, as an app would drive it."""
import random

from sqlalchemy import select

from app.extensions import db
from app.models.notifications import OutboxMessage

PASSWORD = "Lampa-Sveta-42"
AUTH = "/api/v1/client/auth"


def new_phone():
    """A valid Russian mobile number no other test uses (the apps are shared by the session)."""
    return f"+7916{random.randrange(10**7):07d}"


def sent_messages(app, recipient):
    with app.app_context():
        rows = db.session.execute(
            select(OutboxMessage).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id)
        ).scalars().all()
        db.session.expunge_all()
        return rows


def last_code(app, phone):
    """The code of the newest one-time-code message to ``phone`` (as the phone would show it)."""
    messages = [m for m in sent_messages(app, phone) if m.template.startswith("otp_")]
    assert messages, f"no code was sent to {phone}"
    context = messages[-1].context
    return context.get("code") or context["spoken_code"].replace(", ", "")


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
