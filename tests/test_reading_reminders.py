"""Reading-window and verification reminders (MT-1, MT-3) on SQLite and PostgreSQL: who gets
them, by which channel, and each only once."""
from datetime import date, timedelta

from sqlalchemy import select

from app.extensions import db
from app.models.customers import Customer
from app.models.notifications import OutboxMessage
from app.models.workflow import utcnow
from app.services import daily, reading_reminders
from tests.support.billing import link, make_account, make_meter, make_reading, make_supplier
from tests.support.customers import new_phone

NOV = date(2026, 11, 1)


def make_customer(**values):
    customer = Customer(phone=new_phone(), full_name="Сидорова Анна", consent_at=utcnow(), **values)
    db.session.add(customer)
    db.session.flush()
    return customer


def messages(customer):
    return [(m.channel, m.template, m.recipient) for m in db.session.execute(
        select(OutboxMessage).where(OutboxMessage.customer_id == customer.id).order_by(OutboxMessage.id)).scalars()]


def test_window_opens_and_closes_tomorrow_once_to_who_still_has_to_submit(ctx):
    supplier = make_supplier(reading_window_start_day=10, reading_window_end_day=20)
    waiting, done, unverified, no_meters = (make_account(supplier) for _ in range(4))
    make_meter(waiting)
    read = make_meter(done)
    make_meter(unverified)
    make_reading(read, NOV, 10, source="customer")
    people = {name: make_customer() for name in ("waiting", "done", "unverified", "no_meters")}
    link(people["waiting"].id, waiting)
    link(people["done"].id, done)
    link(people["unverified"].id, unverified, verified=False)
    link(people["no_meters"].id, no_meters)
    db.session.commit()

    assert reading_reminders.send_window_reminders(date(2026, 11, 9))["opens"] >= 0
    assert all(messages(person) == [] for person in people.values())  # not a reminder day

    assert reading_reminders.send_window_reminders(date(2026, 11, 10))["opens"] >= 1
    phone = people["waiting"].phone
    assert messages(people["waiting"]) == [("sms", "reading_window_opens", phone)]  # push wanted: SMS stands in
    body = db.session.execute(select(OutboxMessage.body).where(
        OutboxMessage.customer_id == people["waiting"].id)).scalar_one()
    assert waiting.number in body and "с 10.11.2026 по 20.11.2026" in body
    for name in ("done", "unverified", "no_meters"):
        assert messages(people[name]) == [], name

    reading_reminders.send_window_reminders(date(2026, 11, 10))  # again: nothing new
    reading_reminders.send_window_reminders(date(2026, 11, 19))
    reading_reminders.send_window_reminders(date(2026, 11, 19))
    assert messages(people["waiting"]) == [("sms", "reading_window_opens", phone),
                                           ("sms", "reading_window_closes", phone)]


def test_channels_follow_the_readings_preferences(ctx, monkeypatch):
    supplier = make_supplier(reading_window_start_day=5, reading_window_end_day=25)
    email_person = make_customer(email=f"{new_phone()[1:]}@example.ru", email_confirmed_at=utcnow(),
                                 notification_preferences={"readings": {"email": True, "push": False}})
    sms_person = make_customer(notification_preferences={"readings": {"sms": True, "push": True}})
    silent = make_customer(notification_preferences={"readings": {"push": False}})
    fallback_off = make_customer()
    for person in (email_person, sms_person, silent, fallback_off):
        account = make_account(supplier)
        make_meter(account)
        link(person.id, account)
    db.session.commit()
    assert reading_reminders.channels(fallback_off) == ["sms"]
    monkeypatch.setitem(ctx.config, "PUSH_FALLBACK_CHANNEL", "")
    assert reading_reminders.channels(fallback_off) == []

    reading_reminders.send_window_reminders(date(2026, 11, 5))
    assert messages(email_person) == [("email", "reading_window_opens", email_person.email)]
    assert messages(sms_person) == [("sms", "reading_window_opens", sms_person.phone)]
    assert messages(silent) == [] and messages(fallback_off) == []


def test_verification_due_within_the_days_once_per_meter_and_date(ctx):
    supplier = make_supplier()
    account = make_account(supplier)
    today = date(2026, 11, 3)
    soon = make_meter(account, next_verification_on=today + timedelta(days=30), custom_name="Кухня")
    make_meter(account, next_verification_on=today + timedelta(days=40))
    make_meter(account, next_verification_on=today - timedelta(days=1))
    make_meter(account, next_verification_on=today + timedelta(days=5), active=False)
    person, stranger = make_customer(), make_customer()
    link(person.id, account)
    link(stranger.id, make_account(supplier))
    db.session.commit()

    assert reading_reminders.send_verification_reminders(today)["verification"] >= 1
    reading_reminders.send_verification_reminders(today + timedelta(days=1))  # again: nothing new
    assert messages(person) == [("sms", "meter_verification_due", person.phone)]
    body = db.session.execute(select(OutboxMessage.body).where(OutboxMessage.customer_id == person.id)).scalar_one()
    assert "«Кухня»" in body and "03.12.2026" in body and account.number in body
    assert messages(stranger) == []

    soon.next_verification_on = today + timedelta(days=20)  # a new due date: a new reminder
    db.session.commit()
    reading_reminders.send_verification_reminders(today + timedelta(days=1))
    assert [m[1] for m in messages(person)] == ["meter_verification_due"] * 2


def test_registered_as_daily_tasks():
    assert daily.TASKS["reading_window_reminders"] == "app.services.reading_reminders:send_window_reminders"
    assert daily.TASKS["meter_verification_reminders"] == (
        "app.services.reading_reminders:send_verification_reminders")
