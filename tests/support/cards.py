"""Saved cards and the sandbox provider's page, as a customer's browser and the bank drive them."""
import json
import uuid
from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

from app.extensions import db
from app.models.billing import SavedCard
from app.services.payment_providers import sandbox
from tests.support.billing import link, make_account, make_bill, make_supplier


def pay_on_page(app, confirmation_url, number, monkeypatch, expires="12/30"):
    """Type ``number`` on the sandbox's hosted page; returns the signed callback event the bank
    sends (caught here: :func:`post_callback` delivers it through the test client)."""
    events = []
    monkeypatch.setattr(sandbox, "send_callback", events.append)
    page = app.test_client().post(urlsplit(confirmation_url).path,
                                  data={"card_number": number, "expires": expires, "cvc": "123"})
    assert page.status_code == 303, page.get_data(as_text=True)
    (event,) = events
    return event


def post_callback(app, event):
    body = json.dumps(event).encode()
    with app.app_context():
        signature = sandbox.sign(body)
    return app.test_client().post("/api/v1/payments/callback/sandbox", data=body,
                                  headers={"Content-Type": "application/json", sandbox.SIGNATURE_HEADER: signature})


def make_card(app, customer_id, number=sandbox.CARD_SUCCEEDS, status="active"):
    """A card saved as the check charge leaves it (a sandbox token); returns its public id."""
    with app.app_context():
        details = sandbox.card_details(number, "12/30")
        card = SavedCard(public_id=uuid.uuid4().hex, customer_id=customer_id, provider="sandbox", status=status,
                         token=details["token"] if status == "active" else None, masked_number=details["masked_number"],
                         brand=details["brand"], expires=details["expires"])
        db.session.add(card)
        db.session.commit()
        return card.public_id


def make_linked_account(app, customer_id, verified=True, due=None):
    """An account linked to the customer, with a bill of ``due`` roubles when given; its id."""
    with app.app_context():
        account = make_account(make_supplier())
        link(customer_id, account, verified=verified)
        if due is not None:
            make_bill(account, date(2026, 1, 1), Decimal(due), issued_on=date(2026, 1, 2))
        db.session.commit()
        return account.id
