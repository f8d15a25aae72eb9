"""Demo customers for `make run`: signed in, with devices, an email to confirm and a closed account.

DEMO ONLY: the password below is published in the README.
"""
from sqlalchemy import select

from .extensions import db
from .models.customers import Customer, CustomerSession
from .models.workflow import utcnow
from .services import account_closure, customer_sessions, devices, passwords, profile

DEMO_CUSTOMER_PASSWORD = "Svet-i-Voda-2026"
DEMO_PIN = "2580"
DEMO_CUSTOMERS = [
    # phone, name, email confirmed?, keep signed in
    ("+79161234567", "Иванова Мария Петровна", "maria.ivanova@example.ru", True),
    ("+79031112233", "Сидоров Пётр Алексеевич", None, False),
    ("+79269876543", "Кузнецова Анна Сергеевна", "anna.k@example.ru", True),
]
_DEMO_ORIGIN = {"ip": "192.0.2.10", "user_agent": "Kabinet/1.0 (Android 15; Pixel 8)"}


def _customer(phone, name, email):
    now = utcnow()
    customer = Customer(phone=phone, full_name=name, consent_at=now, password_hash=passwords.hash_secret(
        DEMO_CUSTOMER_PASSWORD), email=email, email_confirmed_at=now if email else None,
        notification_preferences={})
    db.session.add(customer)
    db.session.flush()
    return customer


def load_demo_customers():
    """Once: returns a line for the demo's report."""
    if db.session.execute(select(Customer.id).limit(1)).first():
        return "demo customers already present"
    maria, petr, anna = (_customer(phone, name, email) for phone, name, email, _keep in DEMO_CUSTOMERS)
    petr.keep_signed_in = False

    # Мария: a phone with a PIN and a fingerprint key, a tablet she signed out of, preferences.
    on_phone = _session(customer_sessions.start(maria, "password", **_DEMO_ORIGIN))
    devices.register(maria, on_phone, "Pixel 8", "android", pin=DEMO_PIN, **_DEMO_ORIGIN)
    tablet = customer_sessions.start(maria, "code", ip="192.0.2.11", user_agent="Kabinet/1.0 (iPadOS 18)")
    customer_sessions.sign_out(_session(tablet))
    profile.update(maria, {"theme": "dark", "notification_preferences": {
        "bills": {"push": True, "sms": False, "email": True}}}, **_DEMO_ORIGIN)

    # Пётр: "don't keep me signed in", and a new email waiting for its confirmation link.
    customer_sessions.start(petr, "password", ip="198.51.100.7", user_agent="Mozilla/5.0 (web)")
    db.session.commit()
    profile.request_email_change(petr, "petr.sidorov@example.ru", ip="198.51.100.7")

    # Анна withdrew her consent: the account is closed and her personal data erased.
    account_closure.close(anna, password=DEMO_CUSTOMER_PASSWORD, ip="203.0.113.5")
    return (f"3 demo customers (password {DEMO_CUSTOMER_PASSWORD}, DEMO ONLY): {maria.phone} with a PIN device, "
            f"{petr.phone} with an email to confirm, and one closed account")


def _session(tokens):
    return db.session.execute(
        select(CustomerSession).where(CustomerSession.public_id == tokens["session_id"])).scalar_one()
