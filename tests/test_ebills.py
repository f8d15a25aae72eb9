"""E-bills (BL-2): the daily task sends each new bill's PDF once to every customer who turned
e-bills on for the account and has a confirmed email, on SQLite and PostgreSQL."""
import threading
from datetime import date, timedelta

from sqlalchemy import select

from app.extensions import db
from app.models.billing import Bill
from app.models.customers import Customer
from app.models.notifications import OutboxMessage
from app.services import daily, ebills, notifications
from tests.support.billing import link, make_account, make_bill, make_supplier
from tests.support.customers import delivered
from tests.support.customers import Person

# Far from the other tests' bills: the task looks only EBILL_MAX_AGE_DAYS back from "today".
TODAY = date(2031, 3, 10)


def subscribed_account(app, *people, issued_on=TODAY - timedelta(days=2)):
    """An account linked to every person (e-bills off), with a bill issued on ``issued_on``."""
    with app.app_context():
        account = make_account(make_supplier())
        for person in people:
            link(person.id, account)
        bill = make_bill(account, issued_on.replace(day=1), "2345.60", issued_on=issued_on)
        db.session.commit()
        return account.id, account.number, bill.id


def ebill(person, account_id, enabled=True):
    response = person.call("PUT", f"/accounts/{account_id}/ebill", json={"enabled": enabled})
    assert response.status_code == 200, response.get_json()


def ebills_of(app, customer_id):
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage).where(OutboxMessage.customer_id == customer_id,
                                                              OutboxMessage.template == "ebill")).scalars().all()
        db.session.expunge_all()
        return rows


def sent_at(app, bill_id):
    with app.app_context():
        return db.session.get(Bill, bill_id).ebill_sent_at


def unconfirm(app, person):
    with app.app_context():
        db.session.get(Customer, person.id).email_confirmed_at = None
        db.session.commit()


def test_a_new_bill_goes_once_to_each_confirmed_subscriber(app):
    asked, lapsed, silent = Person(app), Person(app), Person(app)
    for person in (asked, lapsed, silent):
        person.confirm_email()
    account_id, number, bill_id = subscribed_account(app, asked, lapsed, silent)
    ebill(asked, account_id)
    ebill(lapsed, account_id)
    unconfirm(app, lapsed)  # turned on while confirmed; the address changed since

    with app.app_context():
        first = ebills.send_new_bills(TODAY)
        second = ebills.send_new_bills(TODAY)
    assert first["bills"] >= 1 and first["emails"] >= 1 and first["skipped_unconfirmed"] >= 1
    assert second["bills"] == 0
    [message] = ebills_of(app, asked.id)
    assert message.recipient == asked.email and message.queue == "bulk"
    assert [a["filename"] for a in message.attachments] == [f"bill-{number}-2031-03.pdf"]
    assert ebills_of(app, lapsed.id) == [] and ebills_of(app, silent.id) == []
    assert sent_at(app, bill_id) is not None

    [line] = delivered(app, asked.email)
    assert number in line and f"[attachments: bill-{number}-2031-03.pdf]" in line


def test_old_bills_and_bills_nobody_asked_for_are_left_alone(app):
    person = Person(app)
    person.confirm_email()
    old_account, _number, old_bill = subscribed_account(app, person, issued_on=TODAY - timedelta(days=120))
    ebill(person, old_account)
    _quiet_account, _number, quiet_bill = subscribed_account(app, person)
    with app.app_context():
        ebills.send_new_bills(TODAY)
    assert sent_at(app, old_bill) is None and sent_at(app, quiet_bill) is None
    assert ebills_of(app, person.id) == []


def test_two_runners_at_once_send_each_bill_once(app):
    people = [Person(app) for _ in range(2)]
    for person in people:
        person.confirm_email()
    accounts = [subscribed_account(app, *people, issued_on=TODAY - timedelta(days=1)) for _ in range(3)]
    for person in people:
        for account_id, _number, _bill in accounts:
            ebill(person, account_id)
    start = threading.Barrier(2)
    results = []

    def run():
        with app.app_context():
            start.wait()
            results.append(ebills.send_new_bills(TODAY))
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 2 and all(result["errors"] == 0 for result in results)
    for person in people:
        assert sorted(m.idempotency_key for m in ebills_of(app, person.id)) == sorted(
            f"ebill:{bill_id}:{person.id}" for _account, _number, bill_id in accounts)
    with app.app_context():
        assert notifications.wait_for_delivery(timeout=15)


def test_the_daily_runner_sends_e_bills_once_a_day(app):
    person = Person(app)
    person.confirm_email()
    day = TODAY + timedelta(days=200)
    account_id, _number, bill_id = subscribed_account(app, person, issued_on=day)
    ebill(person, account_id)
    with app.app_context():
        ran = daily.run_due(today=day, only=["ebills"])
        assert ran["ebills"]["emails"] >= 1
        assert daily.run_due(today=day, only=["ebills"]) == {}
    assert len(ebills_of(app, person.id)) == 1 and sent_at(app, bill_id) is not None
    with app.app_context():
        assert notifications.wait_for_delivery(timeout=15)


def test_a_bill_whose_pdf_fails_is_left_for_the_next_run(app, monkeypatch):
    person = Person(app)
    person.confirm_email()
    day = TODAY + timedelta(days=400)
    account_id, _number, bill_id = subscribed_account(app, person, issued_on=day)
    ebill(person, account_id)

    def broken(bill):
        raise RuntimeError("font missing")

    monkeypatch.setattr(ebills.bill_pdf, "render", broken)
    with app.app_context():
        assert ebills.send_new_bills(day)["errors"] >= 1
    assert sent_at(app, bill_id) is None and ebills_of(app, person.id) == []
    monkeypatch.undo()
    with app.app_context():
        assert ebills.send_new_bills(day)["emails"] >= 1
    assert len(ebills_of(app, person.id)) == 1
    with app.app_context():
        assert notifications.wait_for_delivery(timeout=15)
