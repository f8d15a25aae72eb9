"""Payments by the customer (BL-4, BL-7, BL-8, BL-9): what is paid, and opening the payment at
the provider.

A payment is opened here (rows ``payment`` + ``payment_item``, status ``pending`` once the
provider gave its hosted page) and settled by the provider's callback (``payment_callbacks.py``).
Totals are always recomputed from the items; the client's total is only compared. The customer's
``Idempotency-Key`` makes a retried request return the payment it opened the first time, and the
request's fingerprint refuses the same key reused for another request.
"""
import hashlib
import json
import re
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models.accounts import Account, CustomerAccount, Supplier
from ..models.billing import Bill, Invoice, Payment, PaymentItem
from ..models.workflow import utcnow
from . import account_access, email_confirmation, notifications, payment_providers
from .secrets import public_id

ITEM_LIMIT = 50
KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
# Hosted pages may send the browser back to the app's own scheme, never to a script.
RETURN_URL_PATTERN = re.compile(r"^(?!(?:javascript|data|vbscript|file):)[a-z][a-z0-9+.\-]*:\S{1,1000}$", re.I)
# Derived keys st00012.decode adds to the fields as written; the payee keeps only the latter.
_DERIVED = ("amount", "period", "account_number")


# --- idempotency -------------------------------------------------------------------------------

def idempotency_key(value):
    if value is None or value == "":
        raise Invalid("idempotency_key_required", fields={"idempotency_key": ["idempotency_key_required"]})
    if not isinstance(value, str) or not KEY_PATTERN.match(value):
        raise Invalid(fields={"idempotency_key": ["idempotency_key_invalid"]})
    return value


def fingerprint(kind, request):
    """A stable hash of a validated request (amounts as 2-decimal strings, so "100" = "100.00")."""
    def plain(value):
        if isinstance(value, Decimal):
            return f"{value:.2f}"
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items() if key != "idempotency_key"}
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        return value

    text = json.dumps({"kind": kind, "request": plain(request)}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _earlier(customer_id, key, request_fingerprint):
    """The payment this key opened before, if any; the key with another request is a conflict."""
    payment = db.session.execute(
        select(Payment).where(Payment.customer_id == customer_id, Payment.idempotency_key == key)
    ).scalar_one_or_none()
    if payment is not None and payment.request_fingerprint != request_fingerprint:
        raise Conflict("idempotency_key_reused")
    return payment


def _require_consent(request):
    if request.get("consent") is not True:
        raise Invalid("payment_consent_required", fields={"consent": ["payment_consent_required"]})


def return_url(value):
    """Where the provider sends the customer back: the app's URL if valid, else the public site."""
    if value and not RETURN_URL_PATTERN.match(value):
        raise Invalid(fields={"return_url": ["payment_return_url_invalid"]})
    return value or f"{current_app.config['PUBLIC_BASE_URL']}/"


def _open(customer, kind, purpose, request, key, items):
    """Insert the payment and start it at the provider, once per key; returns (payment, created)."""
    request_fingerprint = fingerprint(kind, request)
    earlier = _earlier(customer.id, key, request_fingerprint)
    if earlier is not None:
        return earlier, False
    items = items()
    total = sum((item.amount for item in items), Decimal("0.00"))
    if request.get("total") is not None and request["total"] != total:
        raise Invalid("payment_total_mismatch", fields={"total": ["payment_total_mismatch"]}, total=f"{total:.2f}")
    gateway = payment_providers.get()
    payment = Payment(public_id=public_id(), customer_id=customer.id, purpose=purpose, source="kabinet",
                      status="created", amount=total, idempotency_key=key, request_fingerprint=request_fingerprint,
                      provider=gateway.name, items=items)
    db.session.add(payment)
    try:
        db.session.flush()
    except IntegrityError:
        # The same key at the same moment from another request of this customer: theirs won.
        db.session.rollback()
        earlier = _earlier(customer.id, key, request_fingerprint)
        if earlier is None:
            raise
        return earlier, False
    start(gateway, payment, request.get("return_url"), save_card=bool(request.get("save_card")))
    return payment, True


def start(gateway, payment, url, save_card=False):
    """Open the flushed ``payment`` on ``gateway``'s hosted page and commit it ``pending``;
    returns the page's URL (``url``: the customer's return URL, checked by :func:`return_url`)."""
    started = gateway.start(payment, return_url(url), save_card=save_card)
    payment.provider_payment_id = started["provider_payment_id"]
    payment.confirmation_url = started["confirmation_url"]
    payment.status = "pending"
    db.session.commit()
    return started["confirmation_url"]


# --- what is paid --------------------------------------------------------------------------------

def latest_bill(account_id, period=None):
    query = select(Bill).options(selectinload(Bill.lines)).where(Bill.account_id == account_id)
    if period is not None:
        query = query.where(Bill.period == period)
    return db.session.execute(query.order_by(Bill.period.desc()).limit(1)).scalar_one_or_none()


def _service_items(amount, services, known_codes, path, **item):
    """Items per service; their amounts must add up to the item's."""
    if not services:
        return [PaymentItem(amount=amount, **item)]
    codes = [service["code"] for service in services]
    unknown = [code for code in codes if code not in known_codes]
    if unknown:
        raise Invalid("payment_service_unknown", fields={f"{path}.services": ["payment_service_unknown"]},
                      service=unknown[0])
    if len(set(codes)) != len(codes):
        raise Invalid(fields={f"{path}.services": ["payment_service_repeated"]})
    if sum(service["amount"] for service in services) != amount:
        raise Invalid("payment_services_sum", fields={f"{path}.services": ["payment_services_sum"]})
    return [PaymentItem(amount=service["amount"], service_code=service["code"], **item) for service in services]


def _account_item(customer_id, entry, path):
    found = account_access.verified_link(customer_id, entry["account_id"])
    bill = latest_bill(found.account_id)
    known = {service.code for service in found.account.supplier.services}
    known |= {line.service_code for line in bill.lines} if bill else set()
    return _service_items(entry["amount"], entry.get("services"), known, path,
                          account_id=found.account_id, bill_id=bill.id if bill else None)


def _invoice_item(customer_id, entry, path):
    invoice = db.session.get(Invoice, entry["invoice_id"])
    if invoice is None or invoice.customer_id != customer_id:
        raise NotFound("invoice_not_found", id=entry["invoice_id"])
    if invoice.status != "open":
        raise Conflict("invoice_not_open", number=invoice.number, status=invoice.status)
    if entry.get("amount") is not None and entry["amount"] != invoice.amount:
        raise Invalid("payment_invoice_amount", fields={f"{path}.amount": ["payment_invoice_amount"]},
                      amount=f"{invoice.amount:.2f}")
    return [PaymentItem(invoice_id=invoice.id, account_id=invoice.account_id, amount=invoice.amount)]


def _items(customer_id, entries):
    items, accounts, invoices = [], set(), set()
    for index, entry in enumerate(entries):
        path = f"items.{index}"
        if entry.get("invoice_id") is not None:
            if entry["invoice_id"] in invoices:
                raise Invalid(fields={path: ["payment_item_repeated"]})
            invoices.add(entry["invoice_id"])
            items += _invoice_item(customer_id, entry, path)
        else:
            if entry["account_id"] in accounts:
                raise Invalid(fields={path: ["payment_item_repeated"]})
            accounts.add(entry["account_id"])
            items += _account_item(customer_id, entry, path)
    return items


def _due_entries(customer_id, amount=None):
    """"Pay everything": an item per verified account with something due, the earliest due date
    first; a fixed ``amount`` covers them in that order and any excess goes to the last one
    (an advance on its next bill)."""
    from . import accounts

    links = db.session.execute(
        select(CustomerAccount).where(CustomerAccount.customer_id == customer_id,
                                      CustomerAccount.verified_at.is_not(None))
        .order_by(CustomerAccount.linked_at, CustomerAccount.id)
    ).scalars().all()
    balances = accounts.amounts_due([found.account_id for found in links])
    dues = []
    for position, found in enumerate(links):
        due = balances[found.account_id]
        if due > 0:
            bill = latest_bill(found.account_id)
            dues.append((bill.due_on if bill and bill.due_on else date.max, position, found.account_id, due))
    if not dues:
        raise Conflict("payment_nothing_due")
    dues.sort()
    if amount is None:
        return [{"account_id": account_id, "amount": due} for _, _, account_id, due in dues]
    entries, remaining = [], amount
    for _, _, account_id, due in dues:
        if remaining <= 0:
            break
        share = min(remaining, due)
        entries.append({"account_id": account_id, "amount": share})
        remaining -= share
    if remaining > 0:
        entries[-1]["amount"] += remaining
    return entries


# --- the kinds of payment ---------------------------------------------------------------------

def pay(customer, request, key):
    """BL-4 (and BL-9): several accounts and invoices at once, or everything due.

    ``request``: ``items`` [{account_id, amount, services?} | {invoice_id, amount?}] or
    ``pay_all`` with an optional ``amount``; ``consent``; ``total``, ``return_url``, ``save_card``
    optional. Returns (payment, created)."""
    _require_consent(request)
    key = idempotency_key(key)

    def items():
        entries = _due_entries(customer.id, request.get("amount")) if request.get("pay_all") else request["items"]
        return _items(customer.id, entries)

    purpose = "invoice" if request.get("items") and all(e.get("invoice_id") is not None for e in request["items"]) \
        else "bills"
    return _open(customer, "pay", purpose, request, key, items)


def top_up(customer, account_id, request, key):
    """BL-8: money in advance on a prepaid account (linked and verified)."""
    _require_consent(request)
    key = idempotency_key(key)

    def items():
        found = account_access.verified_link(customer.id, account_id)
        if not found.account.prepaid:
            raise Conflict("account_not_prepaid", number=found.account.number)
        return [PaymentItem(account_id=account_id, amount=request["amount"])]

    return _open(customer, f"topup:{account_id}", "topup", request, key, items)


def _payee(decoded):
    """The ST00012 fields as written (strings), for the item's ``payee``."""
    return {name: value for name, value in decoded.items() if name not in _DERIVED and isinstance(value, str)}


def _payee_account(decoded):
    """The supplier (by its settlement account and INN) and its account (persAcc), when known.

    Suppliers may share bank details (a billing centre collecting for several): the account
    number decides, and an account number two of them use is left unknown rather than guessed."""
    conditions = [Supplier.settlement_account == decoded.get("PersonalAcc")]
    if decoded.get("PayeeINN"):
        conditions.append(Supplier.inn == decoded["PayeeINN"])
    if decoded.get("account_number"):
        found = db.session.execute(
            select(Account).join(Supplier, Supplier.id == Account.supplier_id)
            .where(*conditions, Account.number == decoded["account_number"]).limit(2)
        ).scalars().all()
        if len(found) == 1:
            return found[0].supplier, found[0]
    supplier = db.session.execute(select(Supplier).where(*conditions).order_by(Supplier.id).limit(1)).scalar()
    return supplier, None


def _qr_bill(account, decoded):
    """The bill of the payload's period, else the account's latest."""
    if account is None:
        return None
    return latest_bill(account.id, decoded.get("period")) or latest_bill(account.id)


def bill_services(bill):
    """A bill's services to choose from: one per service (tariff zones added up)."""
    services = {}
    for line in bill.lines:
        found = services.setdefault(line.service_code, {"code": line.service_code, "name": line.service_name,
                                                        "amount": Decimal("0.00")})
        found["amount"] += line.total
    return list(services.values())


def decode_qr(payload):
    """BL-7: a bill's ST00012 payload read back, with the account's bill services to choose from.

    The services are shown only when the payload's sum is that bill's (a scanned bill, not a
    guessed account number: a stranger's bill stays unseen). No address or name is given."""
    from . import st00012

    decoded = st00012.decode(payload)
    supplier, account = _payee_account(decoded)
    bill = _qr_bill(account, decoded)
    services = []
    if bill is not None and decoded.get("amount") is not None and decoded["amount"] in _bill_sums(bill):
        services = bill_services(bill)
    return {"fields": _payee(decoded), "amount": decoded.get("amount"), "period": decoded.get("period"),
            "account_number": decoded.get("account_number"),
            "supplier": {"code": supplier.code, "name": supplier.name} if supplier else None,
            "account_known": account is not None, "services": services}


def _bill_sums(bill):
    sums = {bill.total_due}
    if bill.insurance_amount:
        sums.add(bill.total_due + bill.insurance_amount)
    return sums


def pay_qr(customer, request, key):
    """BL-7: pay what a QR code (or its fields typed by hand) names, linked account or not."""
    from . import st00012

    _require_consent(request)
    key = idempotency_key(key)

    def items():
        decoded = st00012.decode(request["payload"] if request.get("payload")
                                 else st00012.encode(request["fields"]))
        amount = request.get("amount") or decoded.get("amount")
        if amount is None:
            raise Invalid("payment_amount_required", fields={"amount": ["payment_amount_required"]})
        _, account = _payee_account(decoded)
        services = request.get("services")
        if services and account is None:
            raise Invalid("payment_services_unknown_account", fields={"services": ["payment_services_unknown_account"]})
        bill = _qr_bill(account, decoded)
        known = {line.service_code for line in bill.lines} if bill else set()
        return _service_items(amount, services, known, "request", payee=_payee(decoded),
                              account_id=account.id if account else None, bill_id=bill.id if bill else None)

    return _open(customer, "qr", "qr", request, key, items)


# --- reading ---------------------------------------------------------------------------------------

def get(customer_id, payment_public_id):
    payment = db.session.execute(
        select(Payment).options(selectinload(Payment.items))
        .where(Payment.public_id == payment_public_id, Payment.customer_id == customer_id)
    ).scalar_one_or_none()
    if payment is None:
        raise NotFound("payment_not_found")
    return payment


def for_customer(customer_id, page=0, page_size=50):
    where = Payment.customer_id == customer_id
    total = db.session.execute(select(func.count()).select_from(Payment).where(where)).scalar()
    rows = db.session.execute(
        select(Payment).options(selectinload(Payment.items).joinedload(PaymentItem.account),
                                selectinload(Payment.items).joinedload(PaymentItem.invoice))
        .where(where).order_by(Payment.created_at.desc(), Payment.id.desc())
        .offset(page * page_size).limit(page_size)
    ).scalars().all()
    return total, rows


# --- the receipt -----------------------------------------------------------------------------------

def describe_item(item):
    if item.invoice is not None:
        what = f"Счёт {item.invoice.number}: {item.invoice.description}"
    elif item.payee:
        what = f"{item.payee.get('Name', 'Получатель')}, л/с {item.payee.get('persAcc', '—')}"
    elif item.account is not None:
        what = f"Лицевой счёт {item.account.number}"
    else:
        what = "Платёж"
    service = f" ({item.service_code})" if item.service_code else ""
    return f"{what}{service}: {item.amount:.2f} руб."


def send_receipt(payment):
    """The receipt email of a succeeded payment, to the customer's CONFIRMED email only (none
    otherwise); once per payment. Queued in the caller's transaction. A card check, refunded at
    once, gets none."""
    if payment.purpose == "card_check":
        return None
    customer = payment.customer
    address = email_confirmation.confirmed_email(customer) if customer is not None else None
    if address is None:
        return None
    paid_at = payment.confirmed_at or payment.created_at
    local = paid_at.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"]))
    message = notifications.send(
        "email", address, "payment_receipt",
        {"name": customer.full_name, "payment": payment.public_id, "amount": f"{payment.amount:.2f}",
         "paid_at": local.strftime("%d.%m.%Y %H:%M"), "items": "\n".join(describe_item(i) for i in payment.items)},
        customer_id=customer.id, idempotency_key=f"payment_receipt:{payment.public_id}",
        subject=f"Квитанция об оплате {payment.amount:.2f} руб.")
    payment.receipt_email = address
    payment.receipt_sent_at = utcnow()
    return message
