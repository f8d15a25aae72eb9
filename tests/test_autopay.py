"""Autopay (BL-6) through the client API and the daily task, on SQLite and PostgreSQL: from next
month on the day it was set up (short months: their last day), once per month however often or
concurrently the task runs, the failure notice, nothing due → skipped, every refusal."""
import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, update

from app.extensions import db
from app.models.accounts import Account, CustomerAccount
from app.models.billing import Autopay, AutopayRun, Payment
from app.models.customers import Customer
from app.models.notifications import OutboxMessage
from app.services import autopay, daily
from app.services.payment_providers import sandbox
from app.services.periods import add_months, month_start
from tests.support.billing import link
from tests.support.cards import make_card, make_linked_account
from tests.support.customers import Person
from tests.support.customers import delivered


@pytest.fixture(autouse=True)
def only_this_tests_autopays(app):
    """run_due charges every due autopay of the (session-wide) database: leave none active from
    another test, before and after."""
    def stop_all():
        with app.app_context():
            db.session.execute(update(Autopay).where(Autopay.active.is_(True)).values(active=False))
            db.session.commit()

    stop_all()
    yield
    stop_all()


def set_up(app, person, account_id, card_id, amount=None, today=None):
    """An autopay set up through the service as if on ``today``; its public id."""
    with app.app_context():
        customer = db.session.get(Customer, person.id)
        return autopay.create(customer, account_id, card_id, amount=amount, today=today).public_id


def state(app, public_id):
    with app.app_context():
        found = db.session.execute(select(Autopay).where(Autopay.public_id == public_id)).scalar_one()
        runs = db.session.execute(select(AutopayRun).where(AutopayRun.autopay_id == found.id)
                                  .order_by(AutopayRun.period)).scalars().all()
        payments = db.session.execute(select(Payment).join(AutopayRun, AutopayRun.payment_id == Payment.id)
                                      .where(AutopayRun.autopay_id == found.id)
                                      .order_by(AutopayRun.period)).scalars().all()
        db.session.expunge_all()
        return found, runs, payments


def run_on(app, day):
    with app.app_context():
        return autopay.run_due(day)


def autopays_of(app, customer_id):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Autopay)
                                  .where(Autopay.customer_id == customer_id)).scalar_one()


def test_set_up_through_the_api_starts_next_month_on_todays_day(app):
    person = Person(app)
    account_id, card_id = make_linked_account(app, person.id), make_card(app, person.id)
    created = person.call("POST", "/autopay", json={"account_id": account_id, "card_id": card_id,
                                                    "amount": "1500.50", "consent": True})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    today = date.today()
    expected = autopay.run_date(add_months(month_start(today), 1), today.day)
    assert body["starts_on"] == body["next_run_on"] == expected.isoformat()
    assert (body["amount"], body["day_of_month"], body["active"]) == ("1500.50", today.day, True)
    assert body["card"]["id"] == card_id and body["account_id"] == account_id
    listed = person.call("GET", "/autopay").get_json()
    assert listed["count"] == 1 and listed["result"][0]["id"] == body["id"]
    history = person.call("GET", f"/autopay/{body['id']}/history").get_json()
    assert history["runs"] == [] and history["autopay"]["id"] == body["id"]
    assert run_on(app, today)["succeeded"] == 0  # nothing runs this month


@pytest.mark.parametrize("set_up_on, first, second", [
    (date(2031, 1, 31), date(2031, 2, 28), date(2031, 3, 31)),
    (date(2031, 12, 30), date(2032, 1, 30), date(2032, 2, 29)),  # a leap February
    (date(2031, 3, 29), date(2031, 4, 29), date(2031, 5, 29)),
])
def test_days_29_to_31_run_on_the_last_day_of_shorter_months(app, set_up_on, first, second):
    person = Person(app)
    public_id = set_up(app, person, make_linked_account(app, person.id), make_card(app, person.id),
                       amount=Decimal("100.00"), today=set_up_on)
    found, _, _ = state(app, public_id)
    assert (found.starts_on, found.next_run_on, found.day_of_month) == (first, first, set_up_on.day)
    assert run_on(app, set_up_on)["succeeded"] == 0
    assert run_on(app, first)["succeeded"] == 1
    found, runs, _ = state(app, public_id)
    assert found.next_run_on == second and [run.period for run in runs] == [month_start(first)]


def test_runs_once_a_month_however_often_the_task_runs(app):
    person = Person(app)
    email = person.confirm_email()
    account_id = make_linked_account(app, person.id)
    public_id = set_up(app, person, account_id, make_card(app, person.id), amount=Decimal("750.00"),
                       today=date(2032, 5, 10))
    for day in (date(2032, 6, 10), date(2032, 6, 10), date(2032, 6, 11), date(2032, 6, 30)):
        run_on(app, day)
    with app.app_context():  # the daily runner too: once per day, and the month is taken anyway
        daily.run_due(date(2032, 6, 12), only=["autopay"])
        daily.run_due(date(2032, 6, 12), only=["autopay"])
    found, runs, payments = state(app, public_id)
    assert [(run.period, run.status) for run in runs] == [(date(2032, 6, 1), "succeeded")]
    (payment,) = payments
    assert (payment.purpose, payment.amount, payment.status) == ("autopay", Decimal("750.00"), "succeeded")
    with app.app_context():
        assert [(item.account_id, item.amount) for item in db.session.get(Payment, payment.id).items] == [
            (account_id, Decimal("750.00"))]
    assert found.next_run_on == date(2032, 7, 10) and found.active
    assert payment.receipt_email == email and payment.confirmed_at is not None
    assert any("750.00" in text for text in delivered(app, email))

    history = person.call("GET", f"/autopay/{public_id}/history").get_json()
    (run,) = history["runs"]
    assert run["period"] == "2032-06" and run["status"] == "succeeded"
    assert run["payment"]["amount"] == "750.00" and run["payment"]["status"] == "succeeded"

    run_on(app, date(2032, 7, 10))
    assert [run.period for run in state(app, public_id)[1]] == [date(2032, 6, 1), date(2032, 7, 1)]


def test_the_daily_task_is_registered():
    assert daily.TASKS["autopay"] == "app.services.autopay:run_due"


def test_declined_charge_sends_a_notice_and_keeps_the_autopay(app):
    person = Person(app)
    email = person.confirm_email()
    public_id = set_up(app, person, make_linked_account(app, person.id),
                       make_card(app, person.id, number=sandbox.CARD_DECLINED), amount=Decimal("320.00"),
                       today=date(2033, 2, 14))
    assert run_on(app, date(2033, 3, 14))["failed"] == 1
    run_on(app, date(2033, 3, 14))
    found, runs, payments = state(app, public_id)
    assert [(run.status, run.error) for run in runs] == [("failed", "card_declined")]
    assert [(p.status, p.failure_reason) for p in payments] == [("failed", "card_declined")]
    assert found.active and found.next_run_on == date(2033, 4, 14)
    for recipient in (person.phone, email):
        notices = [text for text in delivered(app, recipient) if text.startswith("Автоплатёж")]
        assert len(notices) == 1, notices
        assert "320.00" in notices[0] and "2033-03" in notices[0] and "отклонил" in notices[0]
    with app.app_context():  # a failure is no receipt
        assert not db.session.execute(select(OutboxMessage).where(OutboxMessage.recipient == email,
                                                                  OutboxMessage.template == "payment_receipt")).first()


def test_pays_what_is_due_and_skips_a_month_with_nothing_due(app):
    person = Person(app)
    owing = make_linked_account(app, person.id, due="1234.56")
    settled = make_linked_account(app, person.id)
    card_id = make_card(app, person.id)
    pays = set_up(app, person, owing, card_id, today=date(2034, 8, 5))
    skips = set_up(app, person, settled, card_id, today=date(2034, 8, 5))
    counts = run_on(app, date(2034, 9, 5))
    assert counts["succeeded"] == 1 and counts["skipped"] == 1
    _, runs, payments = state(app, pays)
    assert [p.amount for p in payments] == [Decimal("1234.56")]
    _, runs, payments = state(app, skips)
    assert [(run.status, run.error) for run in runs] == [("skipped", "nothing_due")] and payments == []
    # The bill is paid now: next month there is nothing due on it either.
    run_on(app, date(2034, 10, 5))
    _, runs, payments = state(app, pays)
    assert [run.status for run in runs] == ["succeeded", "skipped"] and len(payments) == 1


def test_unlinked_account_or_deleted_card_ends_the_autopay_at_its_run(app):
    person = Person(app)
    account_id, card_id = make_linked_account(app, person.id), make_card(app, person.id)
    public_id = set_up(app, person, account_id, card_id, amount=Decimal("10.00"), today=date(2035, 1, 3))
    with app.app_context():  # unlinked while the run was starting (unlinking cancels it otherwise)
        db.session.execute(delete(CustomerAccount).where(CustomerAccount.customer_id == person.id,
                                                         CustomerAccount.account_id == account_id))
        db.session.commit()
    run_on(app, date(2035, 2, 3))
    found, runs, payments = state(app, public_id)
    assert not found.active and [(r.status, r.error) for r in runs] == [("skipped", "account_unlinked")]
    assert payments == []


def test_cancel_and_its_refusals(app):
    owner, stranger = Person(app), Person(app)
    public_id = set_up(app, owner, make_linked_account(app, owner.id), make_card(app, owner.id),
                       amount=Decimal("99.00"), today=date(2036, 4, 1))
    for method, path in (("DELETE", f"/autopay/{public_id}"), ("GET", f"/autopay/{public_id}/history")):
        refused = stranger.call(method, path)
        assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "autopay_not_found"
    assert stranger.call("GET", "/autopay").get_json()["count"] == 0
    assert state(app, public_id)[0].active

    cancelled = owner.call("DELETE", f"/autopay/{public_id}")
    assert cancelled.status_code == 200 and cancelled.get_json()["active"] is False
    again = owner.call("DELETE", f"/autopay/{public_id}")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "autopay_cancelled"
    assert run_on(app, date(2036, 5, 1))["succeeded"] == 0
    assert state(app, public_id)[1] == []
    # Cancelled, the account may have a new one.
    assert owner.call("POST", "/autopay", json={"account_id": state(app, public_id)[0].account_id,
                                                "card_id": make_card(app, owner.id), "consent": True}).status_code == 201


def test_set_up_refusals_change_nothing(app):
    person, stranger = Person(app), Person(app)
    account_id, card_id = make_linked_account(app, person.id), make_card(app, person.id)
    good = {"account_id": account_id, "card_id": card_id, "consent": True}
    cases = [
        ({**good, "account_id": make_linked_account(app, person.id, verified=False)}, 403, "account_unverified"),
        ({**good, "account_id": make_linked_account(app, stranger.id)}, 404, "account_not_found"),
        ({**good, "account_id": 987654321}, 404, "account_not_found"),
        ({**good, "card_id": make_card(app, stranger.id)}, 404, "card_not_found"),
        ({**good, "card_id": "nope"}, 404, "card_not_found"),
        ({**good, "card_id": make_card(app, person.id, status="failed")}, 409, "card_not_active"),
        ({**good, "card_id": make_card(app, person.id, status="pending")}, 409, "card_not_active"),
        ({**good, "consent": False}, 422, "validation_error"),
        ({key: value for key, value in good.items() if key != "consent"}, 422, "validation_error"),
        ({**good, "consent": "yes"}, 422, "validation_error"),
        ({**good, "extra": 1}, 422, "validation_error"),
        ({**good, "account_id": "1"}, 422, "validation_error"),
    ] + [({**good, "amount": amount}, 422, "validation_error")
         for amount in ("0", "-5", "10.005", "abc", True, "1000000.01", "NaN", "Infinity", [], 0)]
    for body, status, code in cases:
        refused = person.call("POST", "/autopay", json=body)
        assert (refused.status_code, refused.get_json()["error"]["code"]) == (status, code), (body, refused.get_json())
    consent = person.call("POST", "/autopay", json={**good, "consent": False}, lang="en").get_json()["error"]
    assert consent["fields"] == {"consent": ["Consent to the autopay terms is required."]}
    for amount in ("10.005", "1000000.01"):
        too_fine = person.call("POST", "/autopay", json={**good, "amount": amount}, lang="en").get_json()["error"]
        assert too_fine["fields"] == {
            "amount": ["The amount must be 0.01 to 1,000,000 roubles with at most two decimals."]}
    assert autopays_of(app, person.id) == 0

    assert person.call("POST", "/autopay", json={**good, "amount": 250}).status_code == 201
    twice = person.call("POST", "/autopay", json={**good, "card_id": make_card(app, person.id)})
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "autopay_exists"
    # One per account whoever sets it up: another customer linked to the same account too.
    with app.app_context():
        link(stranger.id, db.session.get(Account, account_id))
        db.session.commit()
    theirs = stranger.call("POST", "/autopay", json={**good, "card_id": make_card(app, stranger.id)})
    assert theirs.status_code == 409 and theirs.get_json()["error"]["code"] == "autopay_exists"
    assert autopays_of(app, person.id) == 1 and autopays_of(app, stranger.id) == 0
    assert app.test_client().post("/api/v1/client/autopay", json=good).status_code == 401


def test_the_daily_task_twice_at_once_charges_once(app, monkeypatch):
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite has one writer at a time; concurrent runners are PostgreSQL's case")
    person = Person(app)
    public_id = set_up(app, person, make_linked_account(app, person.id), make_card(app, person.id),
                       amount=Decimal("555.00"), today=date(2037, 6, 9))
    charges, barrier = [], threading.Barrier(2)
    real = sandbox.SandboxProvider.charge_saved

    def counted(self, token, payment):
        charges.append(payment.id)
        return real(self, token, payment)

    monkeypatch.setattr(sandbox.SandboxProvider, "charge_saved", counted)
    results, errors = [], []

    def runner():
        try:
            with app.app_context():
                barrier.wait()
                results.append(autopay.run_due(date(2037, 7, 9)))
                db.session.remove()
        except Exception as failure:  # noqa: BLE001  (reported below)
            errors.append(failure)

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(charges) == 1
    assert sorted(result["succeeded"] for result in results) == [0, 1]
    _, runs, payments = state(app, public_id)
    assert [run.status for run in runs] == ["succeeded"] and [p.status for p in payments] == ["succeeded"]
