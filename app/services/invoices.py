"""Invoices for paid services (BL-9): a service request's process bills the customer, the
customer pays the invoice like a bill, and the engine hears ``payment_confirmed`` correlated by
the invoice's number (``payment_callbacks.py``)."""
from decimal import Decimal, InvalidOperation

from sqlalchemy import case, func, select, update

from ..errors import Invalid
from ..extensions import db
from ..models.billing import Invoice
from .secrets import public_id

CENT = Decimal("0.01")


def money(value, field="amount"):
    """A positive amount with at most two decimals, as a Decimal; Invalid otherwise."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Invalid(fields={field: ["payment_amount_invalid"]}) from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT) or amount >= Decimal("1e10"):
        raise Invalid(fields={field: ["payment_amount_invalid"]})
    return amount.quantize(CENT)


def create(customer_id, description, amount, account_id=None, process_instance_id=None):
    """A new open invoice numbered ``INV-<year>-<id>`` (flushed, not committed).

    A process's service task may run twice (a retried job): for the same instance and
    description the invoice made the first time is returned instead of a second one."""
    description = (description or "").strip()
    if not description or len(description) > 512:
        raise Invalid(fields={"description": ["invoice_description_invalid"]})
    amount = money(amount)
    if process_instance_id is not None:
        existing = db.session.execute(
            select(Invoice).where(Invoice.process_instance_id == process_instance_id,
                                  Invoice.description == description)
        ).scalars().first()
        if existing is not None:
            return existing
    # The number comes from the id, known only after the insert: unique without a counter table.
    invoice = Invoice(number=f"tmp-{public_id()}"[:32], customer_id=customer_id, description=description,
                      amount=amount, account_id=account_id, process_instance_id=process_instance_id, status="open")
    db.session.add(invoice)
    db.session.flush()
    invoice.number = f"INV-{invoice.created_at.year}-{invoice.id:06d}"
    db.session.flush()
    return invoice


def for_customer(customer_id, page=0, page_size=50):
    """The customer's invoices, open ones first, newest first within each; and the count."""
    where = Invoice.customer_id == customer_id
    total = db.session.execute(select(func.count()).select_from(Invoice).where(where)).scalar()
    rows = db.session.execute(
        select(Invoice).where(where)
        .order_by(case((Invoice.status == "open", 0), else_=1), Invoice.created_at.desc(), Invoice.id.desc())
        .offset(page * page_size).limit(page_size)
    ).scalars().all()
    return total, rows


def open_for_customer(customer_id):
    return db.session.execute(
        select(Invoice).where(Invoice.customer_id == customer_id, Invoice.status == "open")
        .order_by(Invoice.created_at.desc(), Invoice.id.desc())
    ).scalars().all()


def cancel_open(process_instance_id):
    """A closed request's process no longer bills: its unpaid invoices are cancelled (flushed
    with the close). A payment already started for one and confirmed later is logged by
    payment_callbacks for staff to refund."""
    if process_instance_id is not None:
        db.session.execute(
            update(Invoice).where(Invoice.process_instance_id == process_instance_id, Invoice.status == "open")
            .values(status="cancelled").execution_options(synchronize_session=False))
