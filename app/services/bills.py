"""A customer's bills (BL-1), the smart bill (BL-3), and the bill PDF by email (BL-2).

Bills are reached only through the customer's link to their account: a bill of an account the
customer has not linked is "not found" (``bill_not_found``), never "forbidden". Any link will
do, verified or not: reading a bill is what an unverified customer may do.
"""
import re
from collections import defaultdict
from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from ..errors import Conflict, NotFound
from ..extensions import db
from ..models.accounts import Account, CustomerAccount, SupplierService, Tariff
from ..models.billing import Bill, Payment, PaymentItem
from . import account_access, bill_pdf, email_confirmation, notifications, periods, rate_limits, st00012

PDF = "application/pdf"
# Payments shown in the smart bill: the last 12 months.
HISTORY_MONTHS = 12


def _with_account(query):
    return query.options(joinedload(Bill.account).joinedload(Account.supplier), selectinload(Bill.lines))


def of_account(customer_id, account_id, page=0, page_size=50):
    """The account's bills, newest period first: ``(rows, count)``; :func:`statuses` tells
    which are paid."""
    account_access.link(customer_id, account_id)
    count = db.session.execute(select(func.count(Bill.id)).where(Bill.account_id == account_id)).scalar_one()
    rows = db.session.execute(
        _with_account(select(Bill)).where(Bill.account_id == account_id)
        .order_by(Bill.period.desc()).offset(page * page_size).limit(page_size)
    ).unique().scalars().all()
    return rows, count


def get(customer_id, bill_id):
    """One bill of an account the customer linked; 404 ``bill_not_found`` otherwise."""
    bill = db.session.execute(
        _with_account(select(Bill))
        .join(CustomerAccount, CustomerAccount.account_id == Bill.account_id)
        .where(Bill.id == bill_id, CustomerAccount.customer_id == customer_id)
    ).unique().scalar_one_or_none()
    if bill is None:
        raise NotFound("bill_not_found", id=bill_id)
    return bill


def insurance(bill):
    """The voluntary insurance line, or None: absent when the account opted out (a written
    refusal to the supplier) or the supplier offers none."""
    return None if bill.account.insurance_opt_out else bill.insurance_amount


def statuses(bills):
    """``{bill id: "paid" | "unpaid"}``. A bill's total due carries the debt before it, so it is
    paid once the account's payments made since it was issued (Kabinet or elsewhere; invoices
    apart) cover it: the rule ``accounts.amount_due`` applies to the latest bill."""
    by_account = defaultdict(list)
    for bill in bills:
        by_account[bill.account_id].append(bill)
    result = {}
    for account_id, own in by_account.items():
        since = datetime.combine(min(bill.issued_on for bill in own), time())
        paid = db.session.execute(
            select(Payment.confirmed_at, PaymentItem.amount).join(PaymentItem.payment)
            .where(PaymentItem.account_id == account_id, PaymentItem.invoice_id.is_(None),
                   Payment.status == "succeeded", Payment.confirmed_at >= since)
        ).all()
        for bill in own:
            issued = datetime.combine(bill.issued_on, time())
            covered = sum((amount for moment, amount in paid if moment >= issued), 0)
            result[bill.id] = "paid" if bill.total_due <= 0 or covered >= bill.total_due else "unpaid"
    return result


# --- smart bill (BL-3) ---------------------------------------------------------------------------

def details(customer_id, bill_id, today):
    """The bill with, per line, the service's calculation rule, legal reference and the tariffs
    in force during the period; and the account's payments of the last 12 months, newest first."""
    bill = get(customer_id, bill_id)
    services = {service.code: service for service in db.session.execute(
        select(SupplierService).where(SupplierService.supplier_id == bill.account.supplier_id)
    ).scalars()}
    period_end = periods.add_months(bill.period, 1) - timedelta(days=1)
    tariffs = defaultdict(list)
    service_ids = [service.id for service in services.values()]
    for tariff in db.session.execute(
        select(Tariff).where(Tariff.service_id.in_(service_ids), Tariff.valid_from <= period_end,
                             (Tariff.valid_to.is_(None)) | (Tariff.valid_to >= bill.period))
        .order_by(Tariff.valid_from)
    ).scalars():
        tariffs[tariff.service_id, tariff.zone].append(tariff)
    lines = []
    for line in bill.lines:
        service = line.service or services.get(line.service_code)
        lines.append({"line": line, "service": service,
                      "tariffs": tariffs.get((service.id, line.zone), []) if service else []})
    return {"bill": bill, "lines": lines, "payments": payment_history(bill.account_id, today)}


def payment_history(account_id, today):
    """Succeeded payments with a part on the account in the 12 months before ``today``'s month:
    when (confirmed, or paid as the billing system reports), how much of it went to this account,
    made in Kabinet or elsewhere (billing)."""
    since = datetime.combine(periods.add_months(periods.month_start(today), -HISTORY_MONTHS), time())
    rows = db.session.execute(
        select(Payment.public_id, Payment.confirmed_at.label("paid_at"), Payment.source, Payment.purpose,
               func.sum(PaymentItem.amount).label("amount"))
        .join(PaymentItem.payment)
        .where(PaymentItem.account_id == account_id, Payment.status == "succeeded", Payment.confirmed_at >= since)
        .group_by(Payment.id, Payment.public_id, Payment.confirmed_at, Payment.source, Payment.purpose)
        .order_by(Payment.confirmed_at.desc(), Payment.id.desc())
    ).all()
    return [row._asdict() for row in rows]


# --- PDF, QR code, by email (BL-2) --------------------------------------------------------------

def pdf_filename(bill):
    number = re.sub(r"[^0-9A-Za-z_-]", "_", bill.account.number)
    return f"bill-{number}-{periods.label(bill.period)}.pdf"


def pdf(customer_id, bill_id):
    """``(filename, bytes)`` of the bill's PDF with its payment QR code."""
    bill = get(customer_id, bill_id)
    return pdf_filename(bill), bill_pdf.render(bill)


def qr_payload(customer_id, bill_id):
    """The bill's ST00012 payment payload (GOST R 56042-2014), as its QR code holds it."""
    return st00012.for_bill(get(customer_id, bill_id))


def qr_png(customer_id, bill_id):
    return st00012.qr_png(qr_payload(customer_id, bill_id))


def mail_context(bill, customer):
    """What the bill emails (sent on request, e-bill) say about the bill."""
    return {"name": customer.full_name, "account": bill.account.number, "supplier": bill.account.supplier.name,
            "period": f"{bill.period.month:02d}.{bill.period.year}", "total": f"{bill.total_due:.2f}"}


def mail_subject(bill):
    return f"Квитанция за {bill.period.month:02d}.{bill.period.year}, лицевой счёт {bill.account.number}"


def confirmed_email(customer):
    """The customer's confirmed address; 409 ``email_unconfirmed`` without one."""
    address = email_confirmation.confirmed_email(customer)
    if address is None:
        raise Conflict("email_unconfirmed")
    return address


def send_pdf(customer, bill_id):
    """Email the bill's PDF to the customer's confirmed address through the outbox; at most
    ``BILL_EMAIL_LIMIT`` per customer (429 ``bill_email_limit``). Returns the address."""
    bill = get(customer.id, bill_id)
    address = confirmed_email(customer)
    rate_limits.hit(current_app.config["BILL_EMAIL_LIMIT"], "bill_email", customer.id, code="bill_email_limit")
    notifications.send_pdf_email(address, "bill_pdf", mail_context(bill, customer), bill_pdf.render(bill),
                                 pdf_filename(bill), customer_id=customer.id, subject=mail_subject(bill))
    return address
