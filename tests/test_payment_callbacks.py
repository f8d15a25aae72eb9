"""The provider's signed callback (BL-4): success, failure, replays, forgeries, amount mismatch,
receipts to confirmed emails only, the engine's ``payment_confirmed`` (durable), the sandbox's
hosted page end to end over real HTTP, and N concurrent callbacks settling a payment once."""
import contextlib
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from sqlalchemy import func, select, update
from werkzeug.serving import make_server

from app.errors import Conflict
from app.extensions import db
from app.models.billing import Invoice, Payment, PaymentCallback
from app.models.notifications import OutboxMessage
from app.models.workflow import utcnow
from app.services import payment_callbacks
from app.workflows import deployment
from tests.support import engine
from tests.support.customers import sent_messages
from tests.test_client_payments import Person, accounts, error, make_invoice, post_callback, signed_callback

# The test process waiting for "payment_confirmed", correlated by invoice number as Kabinet sends it.
INVOICE_BPMN = engine.read_bpmn("payment_message.bpmn").replace("order_id", "invoice") \
    .replace("payment_wait", "invoice_payment_wait")


def state(app, payment_id):
    with app.app_context():
        payment = db.session.execute(select(Payment).where(Payment.public_id == payment_id)).scalar_one()
        result = {"status": payment.status, "failure_reason": payment.failure_reason,
                  "confirmed_at": payment.confirmed_at, "receipt_email": payment.receipt_email,
                  "callbacks": db.session.execute(select(func.count()).select_from(PaymentCallback)
                                                  .where(PaymentCallback.payment_id == payment.id)).scalar()}
        db.session.remove()
        return result


def open_payment(app, person, amount="250.00"):
    (account,) = accounts(app, person, ["1000.00"])
    response = person.pay({"items": [{"account_id": account, "amount": amount}]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def receipts(app, address):
    return [m for m in sent_messages(app, address) if m.template == "payment_receipt"]


def test_success_settles_once_and_the_receipt_goes_to_the_confirmed_email(app):
    person = Person(app)
    address = person.confirm_email()
    payment_id = open_payment(app, person)
    body, headers = signed_callback(app, payment_id)
    applied = post_callback(app, body, headers)
    assert applied.status_code == 200 and applied.get_json()["status"] == "applied"
    settled = state(app, payment_id)
    assert settled["status"] == "succeeded" and settled["confirmed_at"] and settled["receipt_email"] == address
    (receipt,) = receipts(app, address)
    assert "250.00" in receipt.body and payment_id in receipt.body and "Лицевой счёт" in receipt.body
    # the same event again, and another event for the settled payment: nothing changes
    assert post_callback(app, body, headers).get_json()["status"] == "duplicate"
    late = post_callback(app, *signed_callback(app, payment_id, status="failed"))
    assert late.status_code == 200 and late.get_json()["status"] == "unchanged"
    assert state(app, payment_id)["status"] == "succeeded" and len(receipts(app, address)) == 1


def test_no_receipt_without_a_confirmed_email(app):
    person = Person(app)
    address = person.confirm_email(confirmed=False)
    payment_id = open_payment(app, person)
    post_callback(app, *signed_callback(app, payment_id))
    assert state(app, payment_id)["status"] == "succeeded" and state(app, payment_id)["receipt_email"] is None
    assert receipts(app, address) == []


def test_declined_payment_fails(app):
    person = Person(app)
    payment_id = open_payment(app, person)
    assert post_callback(app, *signed_callback(app, payment_id, status="failed")).status_code == 200
    assert state(app, payment_id)["status"] == "failed" and state(app, payment_id)["failure_reason"] == "card_declined"
    detail = person.call("GET", f"/payments/{payment_id}").get_json()
    assert detail["status"] == "failed"


def test_forged_stale_mismatched_and_unknown_callbacks_are_refused_and_change_nothing(app, caplog, monkeypatch):
    # Alembic's fileConfig (migrations/env.py) disables loggers that existed when the test apps migrated.
    monkeypatch.setattr(payment_callbacks.log, "disabled", False)
    person = Person(app)
    payment_id = open_payment(app, person)
    body, headers = signed_callback(app, payment_id)
    forged = post_callback(app, body.replace(b"250.00", b"250.01"), headers)
    assert error(forged) == (403, "payment_callback_forged")
    assert "forged payment callback" in caplog.text
    assert error(post_callback(app, body, {**headers, "X-Sandbox-Signature": "0" * 64})) == (403, "payment_callback_forged")
    assert error(post_callback(app, body, {"Content-Type": "application/json"})) == (403, "payment_callback_forged")
    assert error(post_callback(app, *signed_callback(app, payment_id, age=600))) == (403, "payment_callback_forged")
    assert error(post_callback(app, *signed_callback(app, payment_id, amount="1.00"))) == (409, "payment_amount_mismatch")
    assert error(post_callback(app, *signed_callback(app, payment_id, status="refunded"))) == (422, "payment_callback_invalid")
    unknown = app.test_client().post("/api/v1/payments/callback/nobank", data=body, headers=headers)
    assert error(unknown) == (404, "payment_provider_unknown")
    with app.app_context():
        db.session.execute(update(Payment).where(Payment.public_id == payment_id)
                           .values(provider_payment_id=f"gone-{uuid.uuid4().hex}"))
        db.session.commit()
    assert error(post_callback(app, body, headers)) == (404, "payment_not_found")
    assert state(app, payment_id) == {
        "status": "pending", "failure_reason": None, "confirmed_at": None, "receipt_email": None, "callbacks": 0}


# --- the engine hears about paid invoices -----------------------------------------------------

def waiting_invoice(app, person, amount="1200.00"):
    """An invoice whose process waits for ``payment_confirmed`` with its number."""
    with app.app_context():
        definition, _ = deployment.deploy(INVOICE_BPMN, deployed_by="tests")
        key = definition.key
        db.session.remove()
    invoice_id, number = make_invoice(app, person.id, amount)
    started = engine.start(app, key, business_key=number, data={"invoice": number, "payments": 0})
    assert started["status"] == "waiting"
    with app.app_context():
        db.session.get(Invoice, invoice_id).process_instance_id = started["id"]
        db.session.commit()
    return invoice_id, number, started["id"]


def invoice_row(app, invoice_id):
    with app.app_context():
        invoice = db.session.get(Invoice, invoice_id)
        result = (invoice.status, invoice.message_sent_at)
        db.session.remove()
        return result


def test_a_paid_invoice_moves_its_waiting_process_on(app):
    person = Person(app)
    invoice_id, number, instance_id = waiting_invoice(app, person)
    payment_id = person.pay({"items": [{"invoice_id": invoice_id}]}).get_json()["id"]
    post_callback(app, *signed_callback(app, payment_id))
    status, sent_at = invoice_row(app, invoice_id)
    assert status == "paid" and sent_at is not None
    detail = engine.instance(app, instance_id)
    assert detail["data"]["payments"] == 1 and detail["data"]["payment"]["invoice"] == number
    # an invoice nobody waits for is paid all the same, its message marked done
    plain_id, _ = make_invoice(app, person.id, "10.00")
    plain_payment = person.pay({"items": [{"invoice_id": plain_id}]}).get_json()["id"]
    post_callback(app, *signed_callback(app, plain_payment))
    status, sent_at = invoice_row(app, plain_id)
    assert status == "paid" and sent_at is not None


def test_an_engine_message_that_failed_is_sent_by_the_daily_retry(app, monkeypatch):
    from app.workflows import messages

    person = Person(app)
    invoice_id, _number, instance_id = waiting_invoice(app, person)
    real_send = messages.send

    def busy(*args, **kwargs):
        raise Conflict("concurrent_change", id=instance_id)

    monkeypatch.setattr(messages, "send", busy)
    payment_id = person.pay({"items": [{"invoice_id": invoice_id}]}).get_json()["id"]
    post_callback(app, *signed_callback(app, payment_id))
    assert state(app, payment_id)["status"] == "succeeded"
    assert invoice_row(app, invoice_id) == ("paid", None)
    assert engine.instance(app, instance_id)["data"]["payments"] == 0

    monkeypatch.setattr(messages, "send", real_send)
    with app.app_context():
        assert payment_callbacks.retry_engine_messages(utcnow().date())["sent"] == 0  # too fresh: its callback's
        db.session.execute(update(Invoice).where(Invoice.id == invoice_id)
                           .values(paid_at=utcnow() - timedelta(minutes=10)))
        db.session.commit()
        assert payment_callbacks.retry_engine_messages(utcnow().date())["sent"] == 1
        assert payment_callbacks.retry_engine_messages(utcnow().date())["sent"] == 0
        db.session.remove()
    assert invoice_row(app, invoice_id)[1] is not None
    assert engine.instance(app, instance_id)["data"]["payments"] == 1


# --- the sandbox over real HTTP -------------------------------------------------------------------

@contextlib.contextmanager
def live_server(app):
    """The app served on a free port, with the sandbox's callbacks pointed at it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    previous = app.config.get("PAYMENT_CALLBACK_BASE_URL")
    app.config["PAYMENT_CALLBACK_BASE_URL"] = base
    try:
        yield base
    finally:
        app.config["PAYMENT_CALLBACK_BASE_URL"] = previous
        server.shutdown()
        thread.join()


def settled(app, payment_id, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = state(app, payment_id)
        if current["status"] not in ("created", "pending"):
            return current
        time.sleep(0.05)
    raise AssertionError(f"payment {payment_id} not settled")


@pytest.mark.parametrize("card, outcome", [("4242 4242 4242 4242", "succeeded"), ("4000 0000 0000 0002", "failed")])
def test_the_hosted_page_takes_a_test_card_and_the_bank_calls_back(app, card, outcome):
    person = Person(app)
    (account,) = accounts(app, person, ["1000.00"])
    with live_server(app) as base:
        opened = person.pay({"items": [{"account_id": account, "amount": "321.09"}], "return_url": "https://app.example/done"})
        path = opened.get_json()["confirmation_url"].split("localhost", 1)[1]
        page = requests.get(base + path, timeout=10)
        assert page.status_code == 200 and "321.09" in page.text and "Оплата счетов" in page.text
        wrong = requests.post(base + path, data={"card_number": "5555 5555 5555 4444", "expires": "12/30", "cvc": "123"},
                              allow_redirects=False, timeout=10)
        assert wrong.status_code == 422 and "тестовых карт" in wrong.text
        bad_expiry = requests.post(base + path, data={"card_number": card, "expires": "13/30", "cvc": "123"},
                                   allow_redirects=False, timeout=10)
        assert bad_expiry.status_code == 422
        paid = requests.post(base + path, data={"card_number": card, "expires": "12/30", "cvc": "123"},
                             allow_redirects=False, timeout=10)
        assert paid.status_code == 303 and paid.headers["Location"] == "https://app.example/done"
        final = settled(app, opened.get_json()["id"])
    assert final["status"] == outcome and final["callbacks"] == 1
    # the card number went nowhere: not in the stored callback, not in the payment rows
    with app.app_context():
        stored = db.session.execute(select(PaymentCallback.body).join(Payment, Payment.id == PaymentCallback.payment_id)
                                    .where(Payment.public_id == opened.get_json()["id"])).scalar_one()
        assert card.replace(" ", "") not in stored
        db.session.remove()


def test_a_damaged_page_link_is_refused(app):
    response = app.test_client().get("/sandbox-pay/not-a-token")
    assert response.status_code == 404 and "недействительна" in response.get_data(as_text=True)


# --- concurrency ----------------------------------------------------------------------------------

def test_concurrent_callbacks_settle_a_payment_exactly_once(pg_app):
    app = pg_app
    person = Person(app)
    address = person.confirm_email()
    invoice_id, _number, instance_id = waiting_invoice(app, person, "900.00")
    payment_id = person.pay({"items": [{"invoice_id": invoice_id}]}).get_json()["id"]
    # 8 different events (a bank retrying with new ids) and the same event 4 times
    repeated = signed_callback(app, payment_id)
    events = [signed_callback(app, payment_id) for _ in range(8)] + [repeated] * 4
    barrier = threading.Barrier(len(events))
    outcomes = [None] * len(events)

    with live_server(app) as base:
        def post(index, body, headers):
            barrier.wait()
            answer = requests.post(f"{base}/api/v1/payments/callback/sandbox", data=body, headers=headers, timeout=30)
            outcomes[index] = (answer.status_code, answer.json().get("status"))

        threads = [threading.Thread(target=post, args=(n, *event)) for n, event in enumerate(events)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert all(code == 200 for code, _ in outcomes), outcomes
    kinds = [kind for _, kind in outcomes]
    assert kinds.count("applied") == 1, kinds
    assert kinds.count("duplicate") >= 3 and kinds.count("applied") + kinds.count("unchanged") + kinds.count("duplicate") == 12
    final = state(app, payment_id)
    assert final["status"] == "succeeded" and final["callbacks"] == 9
    assert len(receipts(app, address)) == 1
    assert invoice_row(app, invoice_id)[0] == "paid"
    assert engine.instance(app, instance_id)["data"]["payments"] == 1
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.idempotency_key == f"payment_receipt:{payment_id}")).scalar() == 1
        db.session.remove()
    assert Decimal("900.00") == Decimal(person.call("GET", f"/payments/{payment_id}").get_json()["amount"])
