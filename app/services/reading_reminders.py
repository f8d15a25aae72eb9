"""Reminders about meters, run once a day (``app/services/daily.py``):

* ``send_window_reminders``: on the first day of a supplier's reading window ("window opens")
  and on the day before its last day ("closes tomorrow"), to every customer with a verified
  link to an open account that has an active meter still without a reading for the period;
* ``send_verification_reminders``: a meter's next verification (``next_verification_on``) is
  due within ``METER_VERIFICATION_REMINDER_DAYS``: one reminder per meter and due date.

Each reminder goes once: a ``reminder`` row (customer, key) is written with the messages, and
the unique key stops a second sweep or a racing ticker. Messages follow the customer's
preferences for the "readings" category: SMS and email as chosen; a customer who wants push
only (the default) gets the ``PUSH_FALLBACK_CHANNEL`` instead, since no push adapter is
deployed yet (docs/meters.md).
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from ..extensions import db
from ..models.accounts import Account, CustomerAccount, Supplier
from ..models.customers import Customer
from ..models.meters import Meter, Reading, Reminder
from . import email_confirmation, notifications, profile, readings
from .periods import month_start

CATEGORY = "readings"
KIND_LABELS = {"cold_water": "холодной воды", "hot_water": "горячей воды", "electricity": "электроэнергии",
               "heat": "тепла", "gas": "газа"}
SUBJECTS = {"reading_window_opens": "Пора передать показания счётчиков",
            "reading_window_closes": "Завтра последний день приёма показаний",
            "meter_verification_due": "Скоро срок поверки счётчика"}


def channels(customer):
    """The channels a readings reminder takes to ``customer`` (may be none)."""
    chosen = [channel for channel in ("sms", "email") if profile.wants(customer, CATEGORY, channel)]
    if not chosen and profile.wants(customer, CATEGORY, "push"):
        fallback = current_app.config["PUSH_FALLBACK_CHANNEL"]
        if fallback == "sms" or (fallback == "email" and email_confirmation.is_confirmed(customer)):
            chosen = [fallback]
    return chosen


def _remind(customer, key, template, context):
    """Send one reminder once; True if it went out now."""
    chosen = channels(customer)
    if not chosen:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(Reminder(customer_id=customer.id, key=key))
    except IntegrityError:  # sent before (or by a racing sweep)
        return False
    for channel in chosen:
        notifications.queue_message(
            f"reminder:{customer.id}:{key}:{channel}", channel, customer.phone if channel == "sms" else customer.email,
            template, context, customer_id=customer.id, queue="bulk",
            subject=SUBJECTS[template] if channel == "email" else None)
    return True


def _already(customer_ids, keys):
    """(customer_id, key) pairs sent before, in one query, so a repeated sweep is cheap."""
    if not keys:
        return set()
    return set(db.session.execute(
        select(Reminder.customer_id, Reminder.key).where(Reminder.customer_id.in_(customer_ids),
                                                         Reminder.key.in_(keys))).all())


def _links(*conditions):
    """Verified links of active customers to open accounts, with customer and account loaded."""
    return db.session.execute(
        select(CustomerAccount).join(CustomerAccount.customer).join(CustomerAccount.account)
        .options(contains_eager(CustomerAccount.customer), contains_eager(CustomerAccount.account))
        .where(CustomerAccount.verified_at.is_not(None), Customer.status == "active", Account.closed.is_(False),
               *conditions)
        .order_by(CustomerAccount.id)
    ).unique().scalars().all()


def _date(day):
    return day.strftime("%d.%m.%Y")


def _send_all(items, chunk=500):
    """``items``: (customer, key, template, context); returns how many went out now."""
    sent = 0
    for start in range(0, len(items), chunk):
        part = items[start:start + chunk]
        seen = _already({customer.id for customer, *_ in part}, {key for _c, key, *_ in part})
        sent += sum(_remind(*item) for item in part if (item[0].id, item[1]) not in seen)
    db.session.commit()
    return sent


def send_window_reminders(today):
    """Window opens / closes tomorrow reminders for today; returns counts."""
    counts = {"opens": 0, "closes": 0}
    for supplier in db.session.execute(select(Supplier).where(Supplier.active.is_(True))).scalars().all():
        span = readings.window(supplier, month_start(today))
        if today == span.opens:
            kind = "opens"
        elif today == span.closes - timedelta(days=1) and today > span.opens:
            kind = "closes"
        else:
            continue
        awaiting = exists().where(
            Meter.account_id == Account.id, Meter.active.is_(True),
            ~exists().where(Reading.meter_id == Meter.id, Reading.period == span.period))
        items = [
            (link.customer, f"window_{kind}:{link.account_id}:{span.period:%Y-%m}", f"reading_window_{kind}",
             {"account": link.account.number, "supplier": supplier.name, "opens": _date(span.opens),
              "closes": _date(span.closes)})
            for link in _links(Account.supplier_id == supplier.id, awaiting)
        ]
        counts[kind] += _send_all(items)
    return counts


def send_verification_reminders(today):
    """Reminders of meters whose verification is due within the configured days; returns counts."""
    horizon = today + timedelta(days=current_app.config["METER_VERIFICATION_REMINDER_DAYS"])
    due = db.session.execute(
        select(Meter.id, Meter.account_id, Meter.kind, Meter.serial, Meter.custom_name, Meter.next_verification_on)
        .join(Account, Account.id == Meter.account_id)
        .where(Meter.active.is_(True), Account.closed.is_(False),
               and_(Meter.next_verification_on >= today, Meter.next_verification_on <= horizon))
    ).all()
    by_account = {}
    for meter in due:
        by_account.setdefault(meter.account_id, []).append(meter)
    accounts, items = list(by_account), []
    for start in range(0, len(accounts), 1000):  # IN lists of a bounded size
        for link in _links(CustomerAccount.account_id.in_(accounts[start:start + 1000])):
            for meter in by_account[link.account_id]:
                label = (f"«{meter.custom_name}»" if meter.custom_name
                         else f"{KIND_LABELS.get(meter.kind, meter.kind)} № {meter.serial}")
                items.append((link.customer, f"verification:{meter.id}:{meter.next_verification_on.isoformat()}",
                              "meter_verification_due",
                              {"meter": label, "account": link.account.number,
                               "due": _date(meter.next_verification_on)}))
    return {"verification": _send_all(items)}
