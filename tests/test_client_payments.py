"""Payments through the client API (BL-4, BL-8, BL-9): several accounts at once with the total
recomputed, "pay everything", idempotency keys, top-ups, invoices, and every refusal changing
nothing; on SQLite and PostgreSQL. Callbacks: test_payment_callbacks.py; QR: test_pay_by_qr.py."""
import json
import time
import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from app.extensions import db
from app.models.billing import Invoice, Payment
from app.models.workflow import utcnow
from app.services import invoices
from app.services.payment_providers import sandbox
from tests.support.billing import link, make_account, make_bill, make_supplier
from tests.support import customers
NOV, DEC = date(2025, 11, 1), date(2025, 12, 1)


class Person(customers.Person):
    def pay(self, body, key=None):
        return self.call("POST", "/payments", {"consent": True, **body}, key=key or uuid.uuid4().hex)

    def payments_count(self):
        with self.app.app_context():
            return db.session.execute(
                select(func.count()).select_from(Payment).where(Payment.customer_id == self.id)).scalar_one()


def accounts(app, person, dues, verified=True, due_on=None, **values):
    """An account per amount in ``dues`` (its December bill: electricity 2 zones + cold water
    when the amount allows), linked to ``person``; returns their ids."""
    ids = []
    with app.app_context():
        supplier = make_supplier()
        for n, due in enumerate(dues):
            account = make_account(supplier, **values)
            link(person.id, account, verified=verified)
            if due is not None:
                make_bill(account, DEC, due, due_on=(due_on[n] if due_on else None),
                          lines=[("electricity", "10", "6.43"), ("cold_water", "1", str(Decimal(str(due)) - Decimal("64.30")))]
                          if Decimal(str(due)) > 100 else None)
            ids.append(account.id)
        db.session.commit()
    return ids


def items_of(app, payment_id):
    with app.app_context():
        payment = db.session.execute(select(Payment).where(Payment.public_id == payment_id)).scalar_one()
        rows = [(i.account_id, i.service_code, i.invoice_id, i.amount) for i in payment.items]
        db.session.remove()
        return rows


def error(response):
    return response.status_code, response.get_json()["error"]["code"]


def signed_callback(app, payment_id, status="succeeded", amount=None, event_id=None, age=0, card=None):
    """The sandbox's callback for a payment, as (body bytes, headers)."""
    with app.app_context():
        payment = db.session.execute(select(Payment).where(Payment.public_id == payment_id)).scalar_one()
        event = {"event_id": event_id or uuid.uuid4().hex, "provider_payment_id": payment.provider_payment_id,
                 "status": status, "amount": amount or f"{payment.amount:.2f}", "card": card,
                 "failure_reason": None if status == "succeeded" else "card_declined",
                 "timestamp": int(time.time()) - age}
        body = json.dumps(event).encode()
        headers = {"Content-Type": "application/json", sandbox.SIGNATURE_HEADER: sandbox.sign(body)}
        db.session.remove()
    return body, headers


def post_callback(app, body, headers):
    return app.test_client().post("/api/v1/payments/callback/sandbox", data=body, headers=headers)


def succeed(app, payment_id):
    response = post_callback(app, *signed_callback(app, payment_id))
    assert response.status_code == 200, response.get_json()
    return response


# --- BL-4 --------------------------------------------------------------------------------------

def test_several_accounts_with_services_and_the_total_recomputed(app):
    person = Person(app)
    first, second = accounts(app, person, ["1000.00", "250.50"])
    response = person.pay({"items": [
        {"account_id": first, "amount": "700.00",
         "services": [{"code": "electricity", "amount": "64.30"}, {"code": "cold_water", "amount": "635.70"}]},
        {"account_id": second, "amount": "250.5"},
    ], "total": "950.50", "return_url": "ru.kabinet.app:/paid"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["amount"] == "950.50" and body["status"] == "pending" and body["purpose"] == "bills"
    assert "/sandbox-pay/" in body["confirmation_url"]
    assert sorted(items_of(app, body["id"]), key=str) == sorted([
        (first, "electricity", None, Decimal("64.30")), (first, "cold_water", None, Decimal("635.70")),
        (second, None, None, Decimal("250.50"))], key=str)
    # the hosted page shows the amount and what is paid
    page = app.test_client().get(body["confirmation_url"].split("localhost", 1)[-1])
    assert page.status_code == 200 and "950.50" in page.get_data(as_text=True)


def test_same_key_gives_the_same_payment_and_another_request_with_it_is_refused(app):
    person = Person(app)
    (account,) = accounts(app, person, ["300.00"])
    key = uuid.uuid4().hex
    first = person.pay({"items": [{"account_id": account, "amount": "100"}]}, key=key)
    again = person.pay({"items": [{"account_id": account, "amount": "100.00"}]}, key=key)
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["confirmation_url"] == first.get_json()["confirmation_url"]
    # the key in the body works as well as the header
    in_body = person.call("POST", "/payments", {"consent": True, "idempotency_key": key,
                                                "items": [{"account_id": account, "amount": "100"}]})
    assert in_body.status_code == 200 and in_body.get_json()["id"] == first.get_json()["id"]
    assert error(person.pay({"items": [{"account_id": account, "amount": "101"}]}, key=key)) \
        == (409, "idempotency_key_reused")
    assert person.payments_count() == 1
    # another customer's same key is their own
    other = Person(app)
    (theirs,) = accounts(app, other, ["300.00"])
    assert other.pay({"items": [{"account_id": theirs, "amount": "100"}]}, key=key).status_code == 201


def test_refusals_change_nothing(app):
    person, stranger = Person(app), Person(app)
    (account,) = accounts(app, person, ["1000.00"])
    (unverified,) = accounts(app, person, ["100.00"], verified=False)
    (foreign,) = accounts(app, stranger, ["100.00"])
    good = {"account_id": account, "amount": "100.00"}
    cases = [
        ({"items": [good], "consent": False}, 422, "payment_consent_required"),
        ({"items": [{**good, "amount": "0"}]}, 422, "validation_error"),
        ({"items": [{**good, "amount": "-5"}]}, 422, "validation_error"),
        ({"items": [{**good, "amount": "10.005"}]}, 422, "validation_error"),
        ({"items": [{**good, "amount": True}]}, 422, "validation_error"),
        ({"items": [{"account_id": account}]}, 422, "validation_error"),
        ({"items": [{**good, "invoice_id": 1}]}, 422, "validation_error"),
        ({"items": []}, 422, "validation_error"),
        ({"items": [good], "pay_all": True}, 422, "validation_error"),
        ({"items": [good, good]}, 422, "validation_error"),
        ({"items": [{**good, "services": [{"code": "electricity", "amount": "60.00"}]}]}, 422, "payment_services_sum"),
        ({"items": [{**good, "services": [{"code": "gas", "amount": "100.00"}]}]}, 422, "payment_service_unknown"),
        ({"items": [{**good, "services": [{"code": "electricity", "amount": "50"},
                                          {"code": "electricity", "amount": "50"}]}]}, 422, "validation_error"),
        ({"items": [good], "total": "99.99"}, 422, "payment_total_mismatch"),
        ({"items": [good], "return_url": "javascript:alert(1)"}, 422, "validation_error"),
        ({"items": [{"account_id": unverified, "amount": "10"}]}, 403, "account_unverified"),
        ({"items": [{"account_id": foreign, "amount": "10"}]}, 404, "account_not_found"),
        ({"items": [{"account_id": 2**31 - 1, "amount": "10"}]}, 404, "account_not_found"),
        ({"items": [{"invoice_id": 2**31 - 1}]}, 404, "invoice_not_found"),
    ]
    for body, status, code in cases:
        assert error(person.pay(body)) == (status, code), body
    no_key = person.call("POST", "/payments", {"consent": True, "items": [good]})
    assert error(no_key) == (422, "idempotency_key_required")
    assert error(person.pay({"items": [good]}, key="spaces are not allowed")) == (422, "validation_error")
    english = person.call("POST", "/payments", {"consent": False, "items": [good]}, key="k1", lang="en")
    assert english.get_json()["error"]["message"] == "Accept the payment rules to pay."
    assert person.payments_count() == 0


def test_pay_everything_due_and_a_fixed_sum_spread_by_due_date(app):
    person = Person(app)
    early, late, paid_up = accounts(app, person, ["300.00", "200.00", "0.00"],
                                    due_on=[date(2026, 1, 10), date(2026, 1, 5), None])
    accounts(app, person, ["999.00"], verified=False)  # cannot pay: left out
    everything = person.pay({"pay_all": True})
    assert everything.status_code == 201, everything.get_json()
    assert everything.get_json()["amount"] == "500.00"
    assert sorted(items_of(app, everything.get_json()["id"])) == sorted(
        [(early, None, None, Decimal("300.00")), (late, None, None, Decimal("200.00"))])
    # 250: the earliest due date (late, 5 Jan) first
    part = person.pay({"pay_all": True, "amount": "250.00"})
    assert [(a, amount) for a, _, _, amount in items_of(app, part.get_json()["id"])] == \
        [(late, Decimal("200.00")), (early, Decimal("50.00"))]
    # more than due: the excess is an advance on the last account
    more = person.pay({"pay_all": True, "amount": "600.00"})
    assert [(a, amount) for a, _, _, amount in items_of(app, more.get_json()["id"])] == \
        [(late, Decimal("200.00")), (early, Decimal("400.00"))]
    assert error(person.pay({"items": [{"account_id": early, "amount": "1"}], "amount": "5"})) == (422, "validation_error")


def test_pay_everything_with_nothing_due_is_refused(app):
    person = Person(app)
    accounts(app, person, ["0.00", None])
    assert error(person.pay({"pay_all": True})) == (409, "payment_nothing_due")
    assert person.payments_count() == 0


def test_list_and_detail_are_the_customers_own(app):
    person, stranger = Person(app), Person(app)
    (account,) = accounts(app, person, ["500.00"])
    created = [person.pay({"items": [{"account_id": account, "amount": str(n)}]}).get_json()["id"] for n in (10, 20, 30)]
    listed = person.call("GET", "/payments?page_size=2")
    assert listed.status_code == 200
    assert listed.get_json()["count"] == 3 and [p["id"] for p in listed.get_json()["result"]] == created[::-1][:2]
    detail = person.call("GET", f"/payments/{created[0]}").get_json()
    assert detail["amount"] == "10.00" and detail["items"][0]["account_number"]
    assert error(stranger.call("GET", f"/payments/{created[0]}")) == (404, "payment_not_found")
    assert stranger.call("GET", "/payments").get_json()["count"] == 0
    assert error(person.call("GET", "/payments?page_size=1000")) == (422, "validation_error")


# --- BL-8 ----------------------------------------------------------------------------------------

def test_top_up_prepaid_accounts_only(app):
    person, stranger = Person(app), Person(app)
    (prepaid,) = accounts(app, person, [None], prepaid=True)
    (postpaid,) = accounts(app, person, ["100.00"])
    (unverified,) = accounts(app, person, [None], prepaid=True, verified=False)
    (foreign,) = accounts(app, stranger, [None], prepaid=True)
    top = lambda account, body, key=None: person.call(  # noqa: E731
        "POST", f"/accounts/{account}/top-up", {"consent": True, **body}, key=key or uuid.uuid4().hex)
    key = uuid.uuid4().hex
    done = top(prepaid, {"amount": "500"}, key)
    assert done.status_code == 201 and done.get_json()["purpose"] == "topup" and done.get_json()["amount"] == "500.00"
    assert top(prepaid, {"amount": "500.00"}, key).get_json()["id"] == done.get_json()["id"]
    assert error(top(postpaid, {"amount": "500"}, key)) == (409, "idempotency_key_reused")
    assert error(top(postpaid, {"amount": "500"})) == (409, "account_not_prepaid")
    assert error(top(unverified, {"amount": "500"})) == (403, "account_unverified")
    assert error(top(foreign, {"amount": "500"})) == (404, "account_not_found")
    assert error(top(prepaid, {"amount": "0.001"})) == (422, "validation_error")
    assert error(top(prepaid, {"amount": "5", "consent": False})) == (422, "payment_consent_required")
    assert person.payments_count() == 1


# --- BL-9 ----------------------------------------------------------------------------------------

def make_invoice(app, customer_id, amount="1500.00", description="Замена счётчика", **values):
    with app.app_context():
        invoice = invoices.create(customer_id, description, Decimal(amount), **values)
        db.session.commit()
        return invoice.id, invoice.number


def test_invoices_listed_open_first_and_paid_like_bills(app):
    person, stranger = Person(app), Person(app)
    old_id, old_number = make_invoice(app, person.id, "700.00", "Поверка счётчика")
    new_id, new_number = make_invoice(app, person.id)
    assert old_number.startswith(f"INV-{utcnow().year}-") and old_number != new_number
    paying = person.pay({"items": [{"invoice_id": old_id}]})
    assert paying.status_code == 201 and paying.get_json()["purpose"] == "invoice"
    assert paying.get_json()["items"][0]["invoice_number"] == old_number
    assert person.call("GET", "/payments").get_json()["open_invoices"][0]["number"] == new_number
    succeed(app, paying.get_json()["id"])

    listed = person.call("GET", "/invoices").get_json()
    assert [(i["number"], i["status"]) for i in listed["result"]] == [(new_number, "open"), (old_number, "paid")]
    assert [i["number"] for i in person.call("GET", "/payments").get_json()["open_invoices"]] == [new_number]
    assert error(person.pay({"items": [{"invoice_id": old_id}]})) == (409, "invoice_not_open")
    assert error(person.pay({"items": [{"invoice_id": new_id, "amount": "1.00"}]})) == (422, "payment_invoice_amount")
    assert error(stranger.pay({"items": [{"invoice_id": new_id}]})) == (404, "invoice_not_found")
    assert stranger.call("GET", "/invoices").get_json()["count"] == 0
    with app.app_context():
        db.session.get(Invoice, new_id).status = "cancelled"
        db.session.commit()
    assert error(person.pay({"items": [{"invoice_id": new_id}]})) == (409, "invoice_not_open")


def test_invoice_numbers_are_unique_and_a_retried_process_step_makes_no_second_one(app, ctx):
    from app.workflows import instances
    from tests.support import engine

    key = engine.deploy(app, "payment_message.bpmn")
    instance = instances.start(key, business_key=uuid.uuid4().hex, data={"order_id": "x", "payments": 0}, actor="t")
    first = invoices.create(None, "Подключение к сетям", "5000.00", process_instance_id=instance.id)
    again = invoices.create(None, "Подключение к сетям", "5000.00", process_instance_id=instance.id)
    other = invoices.create(None, "Подключение к сетям", "5000.00")
    db.session.commit()
    assert again.id == first.id and other.number != first.number
    for bad in ("0", "-1", "1.234", "abc"):
        try:
            invoices.create(None, "x", bad)
        except Exception as refused:
            assert getattr(refused, "status", None) == 422
        else:
            raise AssertionError(bad)
