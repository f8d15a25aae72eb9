"""E-bills (BL-2): a new bill's PDF by email to every customer who asked for it on that account.

A customer turns e-bills on per account (``customer_account.ebill``), which needs a confirmed
email. The daily task :func:`send_new_bills` sends each bill once: the bill is claimed by a
conditional UPDATE of ``bill.ebill_sent_at`` in the same transaction that queues its emails, so
two runners never both send it, and a runner that dies before committing leaves it for the next.
"""
import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import exists, select, update

from ..errors import Conflict
from ..extensions import db
from ..models.accounts import CustomerAccount
from ..models.billing import Bill
from ..models.customers import Customer
from ..models.workflow import utcnow
from . import account_access, bill_pdf, bills, email_confirmation, notifications, outbox

log = logging.getLogger(__name__)


def set_ebill(customer, account_id, enabled):
    """Turn e-bills of a linked account on or off; turning on needs a confirmed email (409
    ``email_unconfirmed``). Returns the link."""
    link = account_access.link(customer.id, account_id)
    if enabled and not email_confirmation.is_confirmed(customer):
        raise Conflict("email_unconfirmed")
    link.ebill = enabled
    db.session.commit()
    return link


def send_new_bills(today):
    """The daily task: e-mail every bill not yet sent, issued in the last ``EBILL_MAX_AGE_DAYS``,
    of accounts where someone asked for e-bills. A customer whose email is no longer confirmed
    is skipped (their e-bill setting stays, for when they confirm again)."""
    cutoff = today - timedelta(days=current_app.config["EBILL_MAX_AGE_DAYS"])
    wanted = exists().where(CustomerAccount.account_id == Bill.account_id, CustomerAccount.ebill.is_(True))
    bill_ids = db.session.execute(
        select(Bill.id).where(Bill.ebill_sent_at.is_(None), Bill.issued_on >= cutoff, Bill.issued_on <= today,
                              wanted).order_by(Bill.id)
    ).scalars().all()
    counts = {"bills": 0, "emails": 0, "skipped_unconfirmed": 0, "errors": 0}
    for bill_id in bill_ids:
        try:
            _send_bill(bill_id, counts)
        except Exception:  # one bill's failure (a broken PDF) must not stop the others
            log.exception("e-bill of bill %s failed", bill_id)
            counts["errors"] += 1
    return counts


def _send_bill(bill_id, counts):
    claimed = db.session.execute(
        update(Bill).where(Bill.id == bill_id, Bill.ebill_sent_at.is_(None)).values(ebill_sent_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        db.session.rollback()  # another runner has it
        return
    files = []
    try:
        bill = db.session.get(Bill, bill_id)
        recipients = db.session.execute(
            select(Customer).join(CustomerAccount, CustomerAccount.customer_id == Customer.id)
            .where(CustomerAccount.account_id == bill.account_id, CustomerAccount.ebill.is_(True),
                   Customer.status == "active").order_by(Customer.id)
        ).scalars().all()
        confirmed = [customer for customer in recipients if email_confirmation.is_confirmed(customer)]
        if confirmed:
            data = bill_pdf.render(bill)
        for customer in confirmed:
            files.append(notifications.attachment_file(data, bills.pdf_filename(bill), bills.PDF))
            notifications.queue_message(
                f"ebill:{bill.id}:{customer.id}", "email", customer.email, "ebill", bills.mail_context(bill, customer),
                customer_id=customer.id, queue="bulk", subject=bills.mail_subject(bill), attachments=files[-1:])
        db.session.commit()
    except BaseException:
        db.session.rollback()
        outbox.remove_attachments(files)
        raise
    counts["bills"] += 1
    counts["emails"] += len(confirmed)
    counts["skipped_unconfirmed"] += len(recipients) - len(confirmed)
