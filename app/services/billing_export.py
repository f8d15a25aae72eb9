"""Export for the billing system: customers' submitted readings and Kabinet payments
(docs/billing-import.md).

By default a file holds what the billing system has not had yet (``exported_at`` NULL; a
customer's edit clears the mark, so an edited reading goes again) and the same transaction that
produced the file marks those rows. ``period`` or ``since`` re-export regardless of the marks and
leave them as they are (a lost file is made again that way). Every run records an
``ImportBatch`` with direction ``export``.
"""
import hashlib
from datetime import datetime

from sqlalchemy import select, update

from ..errors import Invalid
from ..extensions import db
from ..models.accounts import Account, ImportBatch, Supplier
from ..models.billing import Invoice, Payment, PaymentItem
from ..models.meters import Meter, Reading
from ..models.workflow import utcnow
from . import periods
from .billing_import_fields import write_rows

READING_COLUMNS = ["supplier_code", "account_number", "serial", "meter_kind", "period", "zone", "value",
                   "previous_value", "consumption", "abnormal", "submitted_at", "updated_at"]
PAYMENT_COLUMNS = ["payment_id", "paid_at", "purpose", "supplier_code", "account_number", "service_code",
                   "invoice_number", "payee_account", "amount", "payment_amount"]
KINDS = ("readings", "payments")


def _readings(period, since):
    query = (select(Reading.id, Supplier.code, Account.number, Meter.serial, Meter.kind, Reading.period,
                    Reading.zone, Reading.value, Reading.previous_value, Reading.consumption, Reading.abnormal,
                    Reading.submitted_at, Reading.updated_at)
             .join(Meter, Reading.meter_id == Meter.id).join(Account, Meter.account_id == Account.id)
             .join(Supplier, Account.supplier_id == Supplier.id)
             .where(Reading.source == "customer")
             .order_by(Supplier.code, Account.number, Meter.serial, Reading.period, Reading.zone))
    if period:
        query = query.where(Reading.period == period)
    elif since:
        query = query.where(Reading.updated_at >= since)
    else:
        # Locked so that a customer's edit waits for this file instead of slipping between the
        # read and the mark (the edit then clears the mark and the reading goes next time).
        query = query.where(Reading.exported_at.is_(None)).with_for_update(of=Reading)
    ids, rows = [], []
    for r in db.session.execute(query):
        ids.append(r[0])
        rows.append(dict(zip(READING_COLUMNS, (r[1], r[2], r[3], r[4], periods.label(r[5]), *r[6:]))))
    return Reading, ids, READING_COLUMNS, rows


def _payments(period, since):
    query = (select(Payment.id, Payment.public_id, Payment.confirmed_at, Payment.purpose, Supplier.code,
                    Account.number, PaymentItem.service_code, Invoice.number, PaymentItem.payee,
                    PaymentItem.amount, Payment.amount)
             .join(PaymentItem, PaymentItem.payment_id == Payment.id)
             .outerjoin(Account, PaymentItem.account_id == Account.id)
             .outerjoin(Supplier, Account.supplier_id == Supplier.id)
             .outerjoin(Invoice, PaymentItem.invoice_id == Invoice.id)
             .where(Payment.source == "kabinet", Payment.status == "succeeded")
             .order_by(Payment.confirmed_at, Payment.id, PaymentItem.id))
    if period:
        query = query.where(Payment.confirmed_at >= datetime(period.year, period.month, 1),
                            Payment.confirmed_at < datetime.combine(periods.add_months(period, 1), datetime.min.time()))
    elif since:
        query = query.where(Payment.confirmed_at >= since)
    else:
        query = query.where(Payment.exported_at.is_(None)).with_for_update(of=Payment)
    ids, rows = set(), []
    for r in db.session.execute(query):
        ids.add(r[0])
        payee = r[8] or {}
        rows.append(dict(zip(PAYMENT_COLUMNS, (r[1], r[2], r[3], r[4], r[5], r[6], r[7], payee.get("persAcc"),
                                               r[9], r[10]))))
    return Payment, sorted(ids), PAYMENT_COLUMNS, rows


def export(kind, file_format, period=None, since=None, started_by=""):
    """``(batch, content bytes, file name)``; committed. ``period`` is a first-of-month date,
    ``since`` a naive UTC datetime; with either, nothing is marked."""
    if kind not in KINDS:
        raise Invalid("export_kind_unknown", kind=kind)
    if file_format not in ("csv", "json"):
        raise Invalid("export_format_unknown", format=file_format)
    model, ids, columns, rows = (_readings if kind == "readings" else _payments)(period, since)
    content = write_rows(columns, rows, file_format)
    now = utcnow()
    marking = not (period or since)
    if marking:
        for start in range(0, len(ids), 5000):
            db.session.execute(update(model).where(model.id.in_(ids[start:start + 5000])).values(exported_at=now))
    scope = periods.label(period) if period else (f"since-{since:%Y%m%d%H%M}" if since else "new")
    filename = f"kabinet-{kind}-{scope}-{now:%Y%m%d-%H%M%S}.{file_format}"
    batch = ImportBatch(direction="export", kind=kind, filename=filename, file_format=file_format,
                        checksum=hashlib.sha256(content).hexdigest(), started_by=started_by[:128], started_at=now,
                        finished_at=utcnow(), status="done", errors=[],
                        stats={"rows": len(rows), "records": len(ids), "marked": len(ids) if marking else 0,
                               "period": periods.label(period) if period else None,
                               "since": since.isoformat() if since else None})
    db.session.add(batch)
    db.session.commit()
    return batch, content, filename
