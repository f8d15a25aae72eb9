"""Autopay (BL-6): an account paid monthly from a saved card, from next month on the day it was
set up (the seed: set up on 25 August, first charge on 25 September). Days 29–31 fall on the
last day of shorter months.

The daily task :func:`run_due` charges what is due. Each month is claimed by inserting its
``autopay_run`` row (unique per autopay and month) in the same transaction that moves
``next_run_on`` on, under a row lock: a second runner, a retry or a rerun of the day finds the
month taken and does nothing. The provider is called only after that commit, outside any lock.
"""
import calendar
import logging

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models.accounts import CustomerAccount
from ..models.billing import Autopay, AutopayRun, Payment, PaymentItem
from ..models.customers import Customer
from ..models.workflow import utcnow
from . import account_access, cards, email_confirmation, notifications, payment_callbacks, payment_providers
from .accounts import amount_due
from .periods import add_months, label, local_today, month_start
from .secrets import public_id

log = logging.getLogger(__name__)

# How a provider's failure reason reads in the notice to the customer.
FAILURE_TEXTS = {
    "card_declined": "банк отклонил списание с карты",
    "card_unknown": "банк не узнал сохранённую карту",
    "insufficient_funds": "на карте недостаточно средств",
    "card_expired": "срок действия карты истёк",
}


def run_date(period, day_of_month):
    """The day of ``period``'s month an autopay set up on ``day_of_month`` runs."""
    return period.replace(day=min(day_of_month, calendar.monthrange(period.year, period.month)[1]))


def create(customer, account_id, card_public_id, amount=None, today=None):
    """Set up autopay of a linked, verified account from an active card of the customer.

    ``amount`` fixed, or None to pay what is due each month. The first run is next month on
    today's day. 409 ``autopay_exists`` when the account already has an active autopay."""
    today = today or local_today()
    account_access.verified_link(customer.id, account_id)
    card = cards.own(customer.id, card_public_id)
    if card.status != "active":
        raise Conflict("card_not_active", fields={"card_id": ["card_not_active"]})
    if amount is not None and amount <= 0:
        raise Invalid(fields={"amount": ["autopay_amount_invalid"]})
    starts_on = run_date(add_months(month_start(today), 1), today.day)
    autopay = Autopay(public_id=public_id(), customer_id=customer.id, account_id=account_id, card_id=card.id,
                      amount=amount, day_of_month=today.day, starts_on=starts_on, next_run_on=starts_on)
    if db.session.execute(select(Autopay.id).where(Autopay.account_id == account_id,
                                                    Autopay.active.is_(True))).first():
        raise Conflict("autopay_exists")
    try:
        with db.session.begin_nested():
            db.session.add(autopay)
    except IntegrityError:  # a concurrent set-up won the partial unique index
        db.session.rollback()
        raise Conflict("autopay_exists") from None
    db.session.commit()
    return autopay


def own(customer_id, autopay_public_id):
    autopay = db.session.execute(
        select(Autopay).where(Autopay.public_id == autopay_public_id, Autopay.customer_id == customer_id)
    ).scalar_one_or_none()
    if autopay is None:
        raise NotFound("autopay_not_found")
    return autopay


def of_customer(customer_id, page=0, page_size=50):
    """The customer's autopays, active first, then newest first; and their count."""
    where = Autopay.customer_id == customer_id
    rows = db.session.execute(
        select(Autopay).where(where).order_by(Autopay.active.desc(), Autopay.created_at.desc(), Autopay.id.desc())
        .offset(page * page_size).limit(page_size)
    ).scalars().all()
    total = db.session.execute(select(func.count()).select_from(Autopay).where(where)).scalar_one()
    return rows, total


def history(customer_id, autopay_public_id):
    """The autopay and its monthly runs, newest first, each with its payment (or None)."""
    autopay = own(customer_id, autopay_public_id)
    runs = db.session.execute(
        select(AutopayRun, Payment).outerjoin(Payment, Payment.id == AutopayRun.payment_id)
        .where(AutopayRun.autopay_id == autopay.id).order_by(AutopayRun.period.desc())
    ).all()
    return autopay, runs


def cancel(customer_id, autopay_public_id):
    autopay = own(customer_id, autopay_public_id)
    if not autopay.active:
        raise Conflict("autopay_cancelled")
    autopay.active, autopay.cancelled_at = False, utcnow()
    db.session.commit()
    return autopay


# --- The daily run ------------------------------------------------------------------------------

def run_due(today):
    """Charge every active autopay due by ``today`` (the daily task); returns counts by outcome."""
    counts = {"succeeded": 0, "failed": 0, "skipped": 0, "taken": 0}
    due = db.session.execute(
        select(Autopay.id).where(Autopay.active.is_(True), Autopay.next_run_on <= today)
        .order_by(Autopay.next_run_on, Autopay.id)
    ).scalars().all()
    db.session.commit()
    for autopay_id in due:
        run_id = _claim(autopay_id, today)
        counts[_charge(run_id) if run_id else "taken"] += 1
    return counts


def _claim(autopay_id, today):
    """Take the month that is due: insert its run and move ``next_run_on`` on, in one commit.
    None when another runner took it first (or it was cancelled meanwhile)."""
    autopay = db.session.execute(
        select(Autopay).where(Autopay.id == autopay_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if autopay is None or not autopay.active or autopay.next_run_on > today:
        db.session.rollback()
        return None
    period = month_start(autopay.next_run_on)
    try:
        with db.session.begin_nested():
            run = AutopayRun(autopay_id=autopay.id, period=period, status="started")
            db.session.add(run)
            autopay.next_run_on = run_date(add_months(period, 1), autopay.day_of_month)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return run.id


def _finish(run, status, error=None):
    run.status, run.error = status, error
    db.session.commit()
    return status


def _charge(run_id):
    run = db.session.get(AutopayRun, run_id)
    autopay = db.session.get(Autopay, run.autopay_id)
    linked = db.session.execute(
        select(CustomerAccount.id).where(CustomerAccount.customer_id == autopay.customer_id,
                                         CustomerAccount.account_id == autopay.account_id)
    ).scalar_one_or_none()
    card = autopay.card
    if linked is None or card.status != "active" or not card.token:
        # The account was unlinked or the card deleted meanwhile: the autopay ends here.
        autopay.active, autopay.cancelled_at = False, utcnow()
        return _finish(run, "skipped", "account_unlinked" if linked is None else "card_deleted")
    amount = autopay.amount if autopay.amount is not None else amount_due(autopay.account_id)
    if amount <= 0:
        return _finish(run, "skipped", "nothing_due")
    customer = db.session.get(Customer, autopay.customer_id)
    provider = payment_providers.by_name(card.provider)
    payment = Payment(public_id=public_id(), customer_id=customer.id, purpose="autopay", amount=amount,
                      status="pending", provider=provider.name, card_id=card.id,
                      idempotency_key=f"autopay-run:{run.id}",
                      items=[PaymentItem(account_id=autopay.account_id, amount=amount)])
    db.session.add(payment)
    db.session.flush()
    run.payment_id = payment.id
    db.session.commit()  # the payment exists before the bank is asked: a crash leaves it visible
    try:
        result = provider.charge_saved(card.token, payment)
    except Exception:  # the bank did not answer: the outcome is unknown, the payment stays pending
        log.exception("autopay run %s: charge_saved failed", run.id)
        return _finish(run, "failed", "provider_error")
    payment.provider_payment_id = result.get("provider_payment_id")
    if result.get("status") == "succeeded":
        run.status = "succeeded"
    else:
        reason = result.get("failure_reason") or "declined"
        run.status, run.error = "failed", reason
        _notify_failure(run, autopay, customer, amount, reason)
    # One commit with the run: the receipt on success, as for a payment settled by callback.
    payment_callbacks.settle(payment, run.status, run.error)
    return run.status


def _notify_failure(run, autopay, customer, amount, reason):
    """SMS to the phone and, when confirmed, an email: the autopay stays on for next month."""
    context = {"account": autopay.account.number, "amount": f"{amount:.2f}", "period": label(run.period),
               "reason": FAILURE_TEXTS.get(reason, "платёж не прошёл"), "card": autopay.card.masked_number}
    for channel, recipient in (("sms", customer.phone), ("email", email_confirmation.confirmed_email(customer))):
        if recipient:
            notifications.send(channel, recipient, "autopay_failed", context, customer_id=customer.id,
                               idempotency_key=f"autopay_failed:{run.id}:{channel}",
                               subject="Автоплатёж не прошёл" if channel == "email" else None)
