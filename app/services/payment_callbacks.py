"""Settling payments: the provider's signed callback (BL-4), and what a success sets off.

Exactly once, however many callbacks arrive and however concurrently:
- every event is stored under its (provider, event id): a replayed event does nothing;
- the payment moves by one conditional UPDATE ``WHERE status IN ('created', 'pending')``: of
  N callbacks racing for one payment exactly one changes it (PostgreSQL re-checks the condition
  after the winner commits; SQLite writes one at a time), and only that one pays the invoices and
  queues the receipt, in the same transaction.
After the commit the engine hears ``payment_confirmed`` (correlation ``{"invoice": number}``) for
each paid invoice; ``Invoice.message_sent_at`` records it, and the daily task
:func:`retry_engine_messages` sends again what failed.
"""
import logging
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..extensions import db
from ..models.billing import Invoice, Payment, PaymentCallback
from ..models.workflow import utcnow
from . import cards, payment_providers, payments

log = logging.getLogger(__name__)

OPEN_STATUSES = ("created", "pending")
# The daily retry leaves fresh payments to their callback, and gives up on a month-old one.
RETRY_AFTER = timedelta(minutes=5)
RETRY_FOR = timedelta(days=30)


def _event(event):
    """The fields Kabinet relies on, checked (a provider's bug must not become a payment)."""
    try:
        event_id = str(event["event_id"])
        provider_payment_id = str(event["provider_payment_id"])
        status = event["status"]
        amount = Decimal(str(event["amount"]))
    except (KeyError, TypeError, InvalidOperation):
        raise Invalid("payment_callback_invalid") from None
    if status not in ("succeeded", "failed") or not event_id or len(event_id) > 64 or not amount.is_finite():
        raise Invalid("payment_callback_invalid")
    return event_id, provider_payment_id, status, amount


def handle(provider_name, body, headers, ip=None):
    """One callback as received; returns ``"applied"``, ``"unchanged"`` (the payment was already
    settled) or ``"duplicate"`` (this event was seen before)."""
    provider = payment_providers.by_name(provider_name)
    if provider is None:
        raise NotFound("payment_provider_unknown", name=provider_name)
    try:
        event = provider.verify_callback(body, headers)
    except Forbidden:
        log.warning("forged payment callback refused: provider %s, from %s, %d bytes", provider_name, ip, len(body))
        raise
    event_id, provider_payment_id, status, amount = _event(event)
    payment = db.session.execute(
        select(Payment).where(Payment.provider == provider.name, Payment.provider_payment_id == provider_payment_id)
    ).scalar_one_or_none()
    if payment is None:
        raise NotFound("payment_not_found")
    if amount != payment.amount:
        # Kept pending: the provider's own later callback (or staff) settles it, not this one.
        log.error("payment callback %s for payment %s refused: amount %s, expected %s",
                  event_id, payment.public_id, amount, payment.amount)
        raise Conflict("payment_amount_mismatch")
    db.session.add(PaymentCallback(provider=provider.name, event_id=event_id, payment_id=payment.id,
                                   body=body.decode("utf-8", "replace")))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return "duplicate"
    return "applied" if settle(payment, status, event.get("failure_reason"), event) else "unchanged"


def settle(payment, status, failure_reason=None, event=None):
    """Move an open payment to ``succeeded`` or ``failed`` and commit; True if this call did it.

    Also for outcomes known without a callback (a saved card charged by autopay). On success the
    payment's invoices are paid and its receipt queued in the same transaction; after the commit
    the engine is told about the invoices."""
    now = utcnow()
    values = ({"status": "succeeded", "confirmed_at": now, "failure_reason": None} if status == "succeeded"
              else {"status": "failed", "failure_reason": (failure_reason or "declined")[:256]})
    changed = db.session.execute(
        update(Payment).where(Payment.id == payment.id, Payment.status.in_(OPEN_STATUSES)).values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if not changed:
        db.session.commit()  # the event row stays: its replay is a duplicate
        return False
    db.session.refresh(payment)
    invoice_ids = []
    if payment.status == "succeeded":
        invoice_ids = _pay_invoices(payment, now)
        payments.send_receipt(payment)
    cards.on_payment_outcome(payment, event)
    db.session.commit()
    if invoice_ids:
        confirm_to_engine(invoice_ids)
    return True


def _pay_invoices(payment, now):
    ids = [item.invoice_id for item in payment.items if item.invoice_id is not None]
    if not ids:
        return []
    paid = db.session.execute(
        update(Invoice).where(Invoice.id.in_(ids), Invoice.status == "open").values(status="paid", paid_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if paid != len(ids):
        # Paid meanwhile by another payment, or cancelled: the money is in, staff must refund.
        log.error("payment %s paid invoices %s of which only %d were open", payment.public_id, ids, paid)
    return ids


def confirm_to_engine(invoice_ids):
    """Send ``payment_confirmed`` for each paid invoice not yet told; returns how many went.

    ``messages.send`` commits (or rolls back) the session itself, so this runs after the
    payment's commit. A message nobody waits for is no error here: an invoice without a process
    is marked done; one with a process is retried later (its process may not wait yet)."""
    from ..workflows import messages

    sent = 0
    for invoice_id in invoice_ids:
        invoice = db.session.get(Invoice, invoice_id)
        if invoice is None or invoice.status != "paid" or invoice.message_sent_at is not None:
            continue
        number, amount, has_process = invoice.number, f"{invoice.amount:.2f}", invoice.process_instance_id is not None
        try:
            messages.send("payment_confirmed", {"invoice": number}, {"invoice": number, "amount": amount})
        except Conflict as refused:
            db.session.rollback()
            if refused.code != "message_not_awaited" or has_process:
                log.warning("payment_confirmed for invoice %s not delivered (%s): retried later", number, refused.code)
                continue
            log.info("payment_confirmed for invoice %s: no process waits for it", number)
        except Exception:
            db.session.rollback()
            log.exception("payment_confirmed for invoice %s failed: retried later", number)
            continue
        db.session.execute(update(Invoice).where(Invoice.id == invoice_id, Invoice.message_sent_at.is_(None))
                           .values(message_sent_at=utcnow()))
        db.session.commit()
        sent += 1
    return sent


def retry_engine_messages(today):
    """Daily task: paid invoices whose ``payment_confirmed`` did not reach their process."""
    now = utcnow()
    ids = db.session.execute(
        select(Invoice.id).where(Invoice.status == "paid", Invoice.message_sent_at.is_(None),
                                 Invoice.paid_at <= now - RETRY_AFTER, Invoice.paid_at >= now - RETRY_FOR)
        .order_by(Invoice.paid_at)
    ).scalars().all()
    sent = confirm_to_engine(ids)
    return {"invoices": len(ids), "sent": sent}
