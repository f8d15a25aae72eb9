"""Saved cards through the client API (BL-5): the 10-rouble check on the sandbox's page and its
callback, the refund, declined cards, deleting (with its autopays), the limit and every refusal,
on SQLite and PostgreSQL."""
import re
from decimal import Decimal

from sqlalchemy import func, select

from app.extensions import db
from app.models.billing import Autopay, Payment, PaymentCallback, SavedCard
from app.services.payment_providers import sandbox
from tests.support.cards import make_card, make_linked_account, pay_on_page, post_callback
from tests.support.customers import Person

# A card number anywhere: 13–19 digits (spaces or dashes between groups allowed) standing alone, not
# a stretch of digits inside a random hex id.
CARD_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d(?:[ -]?\d){12,18}(?![0-9A-Za-z])")


def rows_of(app, card_id):
    with app.app_context():
        card = db.session.execute(select(SavedCard).where(SavedCard.public_id == card_id)).scalar_one()
        payment = db.session.execute(select(Payment).where(Payment.card_id == card.id)).scalar_one()
        callbacks = db.session.execute(select(PaymentCallback).where(PaymentCallback.payment_id == payment.id)).scalars().all()
        db.session.expunge_all()
        return card, payment, callbacks


def columns(row):
    return {column.name: getattr(row, column.key) for column in row.__mapper__.columns}


def cards_of(app, customer_id):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(SavedCard)
                                  .where(SavedCard.customer_id == customer_id)).scalar_one()


def test_card_added_by_a_refunded_check_charge_and_never_its_number(app, monkeypatch):
    person = Person(app)
    started = person.call("POST", "/cards", json={"return_url": "kabinet://cards"})
    assert started.status_code == 201, started.get_json()
    body = started.get_json()
    card_id = body["card"]["id"]
    assert body["card"]["status"] == "pending" and "/sandbox-pay/" in body["confirmation_url"]
    assert person.call("GET", "/cards").get_json()["result"] == []

    answer = post_callback(app, pay_on_page(app, body["confirmation_url"], sandbox.CARD_SUCCEEDS, monkeypatch,
                                            expires="11/31"))
    assert answer.status_code == 200 and answer.get_json()["status"] == "applied"

    shown = person.call("GET", f"/cards/{card_id}").get_json()
    assert shown["status"] == "active" and shown["masked_number"] == "•••• 4242"
    assert (shown["brand"], shown["expires"]) == ("visa", "11/31")
    assert [card["id"] for card in person.call("GET", "/cards").get_json()["result"]] == [card_id]
    assert "token" not in shown

    card, payment, callbacks = rows_of(app, card_id)
    assert card.token.startswith("sbx_card_ok_")
    assert (payment.purpose, payment.amount, payment.status) == ("card_check", Decimal("10.00"), "refunded")
    assert payment.customer_id == person.id and len(callbacks) == 1
    for row in (card, payment, *callbacks):
        for name, value in columns(row).items():
            assert not CARD_NUMBER.search(str(value)), f"{type(row).__name__}.{name} holds a card number"
            assert "42424242" not in str(value).replace(" ", "")


def test_a_replayed_callback_changes_nothing(app, monkeypatch):
    person = Person(app)
    body = person.call("POST", "/cards", json={}).get_json()
    event = pay_on_page(app, body["confirmation_url"], sandbox.CARD_SUCCEEDS, monkeypatch)
    assert post_callback(app, event).get_json()["status"] == "applied"
    assert post_callback(app, event).get_json()["status"] == "duplicate"
    card, payment, callbacks = rows_of(app, body["card"]["id"])
    assert (card.status, payment.status, len(callbacks)) == ("active", "refunded", 1)


def test_declined_check_leaves_the_card_failed(app, monkeypatch):
    person = Person(app)
    body = person.call("POST", "/cards", json={}).get_json()
    assert post_callback(app, pay_on_page(app, body["confirmation_url"], sandbox.CARD_DECLINED, monkeypatch)).status_code == 200
    card_id = body["card"]["id"]
    assert person.call("GET", f"/cards/{card_id}").get_json()["status"] == "failed"
    assert person.call("GET", "/cards").get_json()["result"] == []
    card, payment, _ = rows_of(app, card_id)
    assert card.token is None and (payment.status, payment.failure_reason) == ("failed", "card_declined")


def test_deleting_a_card_cancels_its_autopays(app):
    person = Person(app)
    card_id = make_card(app, person.id)
    other_card = make_card(app, person.id)
    kept = person.call("POST", "/autopay", json={"account_id": make_linked_account(app, person.id),
                                                 "card_id": other_card, "consent": True}).get_json()["id"]
    using = [person.call("POST", "/autopay", json={"account_id": make_linked_account(app, person.id),
                                                   "card_id": card_id, "amount": "500", "consent": True}).get_json()["id"]
             for _ in range(2)]

    deleted = person.call("DELETE", f"/cards/{card_id}")
    assert deleted.status_code == 200
    assert deleted.get_json() == {"id": card_id, "cancelled_autopays": sorted(using)}
    with app.app_context():
        card = db.session.execute(select(SavedCard).where(SavedCard.public_id == card_id)).scalar_one()
        assert (card.status, card.token) == ("deleted", None) and card.deleted_at is not None
        active = dict(db.session.execute(select(Autopay.public_id, Autopay.active)
                                         .where(Autopay.customer_id == person.id)).all())
        assert active == {kept: True, using[0]: False, using[1]: False}
        db.session.query(Autopay).filter(Autopay.customer_id == person.id).update({"active": False})
        db.session.commit()
    assert [card["id"] for card in person.call("GET", "/cards").get_json()["result"]] == [other_card]
    assert person.call("GET", f"/cards/{card_id}").status_code == 404
    assert person.call("DELETE", f"/cards/{card_id}").get_json()["error"]["code"] == "card_not_found"


def test_another_customers_card_is_not_found(app):
    owner, stranger = Person(app), Person(app)
    card_id = make_card(app, owner.id)
    for method in ("GET", "DELETE"):
        refused = stranger.call(method, f"/cards/{card_id}", lang="en")
        assert refused.status_code == 404
        assert refused.get_json()["error"] == {"code": "card_not_found", "message": "The card is not among your cards.",
                                               "fields": {}}
    assert stranger.call("GET", "/cards").get_json()["result"] == []
    assert owner.call("GET", f"/cards/{card_id}").get_json()["status"] == "active"


def test_card_limit(app):
    app.config["SAVED_CARD_LIMIT"] = 3
    try:
        person = Person(app)
        make_card(app, person.id)
        make_card(app, person.id, status="failed")  # failed checks do not count
        for _ in range(2):  # checks under way count, so the limit cannot be passed by starting many
            assert person.call("POST", "/cards", json={}).status_code == 201
        before = cards_of(app, person.id)
        refused = person.call("POST", "/cards", json={})
        assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "card_limit"
        assert "3" in refused.get_json()["error"]["message"]
        assert cards_of(app, person.id) == before
    finally:
        app.config["SAVED_CARD_LIMIT"] = 5


def test_refusals_change_nothing(app):
    person = Person(app)
    for body, field in (({"return_url": "javascript:alert(1)"}, "return_url"), ({"number": "4242424242424242"}, "number"),
                        ({"return_url": 5}, "return_url")):
        refused = person.call("POST", "/cards", json=body)
        assert refused.status_code == 422 and field in refused.get_json()["error"]["fields"], refused.get_json()
    not_json = person.http.post("/api/v1/client/cards", data="card", headers=person.headers)
    assert not_json.status_code == 400 and not_json.get_json()["error"]["code"] == "not_json"
    assert app.test_client().post("/api/v1/client/cards", json={}).status_code == 401
    assert app.test_client().get("/api/v1/client/cards").status_code == 401
    assert cards_of(app, person.id) == 0
