"""A customer's personal accounts (AC-1, AC-3) and energy-supply contracts (AC-2).

An account is found by its number (and the supplier, when the number exists at several); the
customer sees its address and a masked holder name to confirm, never other personal data.
Lookups reveal addresses, so they are rate-limited per customer and per IP.

A link is *verified* once the customer gave the period and amount of one of the account's last
three bills (ID-2). Guesses are counted before they are checked (``ACCOUNT_VERIFY_LIMIT`` per
customer and account), so parallel requests cannot all slip under the limit; a success clears
the count.

What an account owes (:func:`amounts_due`) is the latest bill's ``total_due`` less the payments
that succeeded on the account on or after that bill's issue date (Kabinet's own and those the
billing system imported): the bill already counts what was paid before it was issued.
"""
from decimal import Decimal

from flask import current_app
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models.accounts import Account, Contract, CustomerAccount, CustomerContract, Supplier
from ..models.billing import Autopay, Bill, BillLine, Payment, PaymentItem
from ..models.workflow import utcnow
from . import account_access, email_confirmation, notifications, rate_limits, security_events
from .periods import label

ZERO = Decimal("0.00")
# Bills a customer may prove they hold (ID-2: "one of the last three").
PROOF_BILLS = 3
_VERIFY_SCOPE = "account-verify"


def normalise_number(number):
    """Account and contract numbers as printed, spaces removed."""
    return "".join(str(number or "").split())


def mask_name(holder_name):
    """``Иванова Мария Петровна`` → ``Иванова М. П.``: enough to recognise, not to collect."""
    parts = str(holder_name or "").split()
    if not parts:
        return ""
    return " ".join([parts[0], *(f"{part[0]}." for part in parts[1:])])


# --- Finding accounts -------------------------------------------------------------------------

def find(number, supplier_code=None, narrow=None):
    """The open account with ``number`` (at ``supplier_code`` when given).

    Unknown: 404 ``account_number_unknown``. At several suppliers and no supplier given: 409
    ``account_supplier_ambiguous`` with the suppliers' codes in ``fields.supplier``. ``narrow``
    (a predicate on the account) picks among several, e.g. by the bank details of a QR code.
    """
    number = normalise_number(number)
    query = (select(Account).options(joinedload(Account.supplier)).join(Account.supplier)
             .where(Account.number == number, Account.closed.is_(False)).order_by(Supplier.code))
    if supplier_code:
        query = query.where(Supplier.code == str(supplier_code).strip())
    found = db.session.execute(query).scalars().all()
    if len(found) > 1 and narrow is not None:
        found = [account for account in found if narrow(account)] or found
    if not found:
        raise NotFound("account_number_unknown", fields={"number": ["account_number_unknown"]}, number=number)
    if len(found) > 1:
        codes = [account.supplier.code for account in found]
        raise Conflict("account_supplier_ambiguous", fields={"supplier": codes}, number=number,
                       suppliers=", ".join(f"{account.supplier.code} ({account.supplier.name})" for account in found))
    return found[0]


def guard_lookup(scope, key, ip):
    """Lookups reveal addresses: limited per IP and per ``scope`` key (a customer, a phone)."""
    config = current_app.config
    rate_limits.hit(config["ACCOUNT_LOOKUP_LIMIT_PER_IP"], "account-lookup-ip", ip)
    if key is not None:
        rate_limits.hit(config["ACCOUNT_LOOKUP_LIMIT_PER_CUSTOMER"], f"account-lookup-{scope}", key)


def lookup(customer_id, number, supplier_code=None, ip=None):
    """AC-1 step one: the account to confirm. Returns (account, already_linked)."""
    guard_lookup("customer", customer_id, ip)
    account = find(number, supplier_code)
    linked = db.session.execute(
        select(CustomerAccount.id).where(CustomerAccount.customer_id == customer_id,
                                         CustomerAccount.account_id == account.id)
    ).first() is not None
    return account, linked


# --- Proof by a bill (ID-2) -------------------------------------------------------------------

def matching_bill(account_id, period, amount):
    """One of the account's last three bills with this period (any, when None) whose amount is
    ``amount``: the total due, or the total with the voluntary insurance (the seed's "сумма с
    учётом добровольного страхования"). A QR code of a bill with nothing due carries no sum:
    ``amount`` None matches a bill with nothing due."""
    bills = db.session.execute(
        select(Bill.period, Bill.total_due, Bill.insurance_amount).where(Bill.account_id == account_id)
        .order_by(Bill.period.desc()).limit(PROOF_BILLS)
    ).all()
    for bill_period, total_due, insurance in bills:
        if period is not None and bill_period != period:
            continue
        if amount is None:
            if total_due <= 0:
                return bill_period
        elif amount in (total_due, total_due + (insurance or 0)):
            return bill_period
    return None


def check_bill(scope, key, account_id, period, amount):
    """Count the attempt (429 ``account_verify_locked`` once used up), then check the bill.
    Returns True when it matches (and clears the count)."""
    limit = current_app.config["ACCOUNT_VERIFY_LIMIT"]
    rate_limits.hit(limit, f"{_VERIFY_SCOPE}-{scope}", key, code="account_verify_locked")
    if matching_bill(account_id, period, amount) is None:
        return False
    rate_limits.clear(limit, f"{_VERIFY_SCOPE}-{scope}", key)
    return True


def _proof(period, amount):
    """Both or neither of period and amount."""
    if (period is None) != (amount is None):
        missing = "amount" if amount is None else "period"
        raise Invalid(fields={missing: ["bill_proof_incomplete"]})
    return period is not None


# --- Links (AC-1) -----------------------------------------------------------------------------

def link_account(customer_id, number, supplier_code=None, address_confirmed=False, period=None, amount=None,
                 ip=None, user_agent=None):
    """Link an account after its address was confirmed; verified at once when the period and
    amount of one of its last three bills are given and right, else unverified."""
    if address_confirmed is not True:
        raise Invalid(fields={"address_confirmed": ["address_confirmation_required"]})
    proving = _proof(period, amount)
    account = find(number, supplier_code)
    if db.session.execute(select(CustomerAccount.id).where(
            CustomerAccount.customer_id == customer_id, CustomerAccount.account_id == account.id)).first():
        raise Conflict("account_already_linked", number=account.number)
    verified = proving and check_bill("customer", f"{customer_id}:{account.id}", account.id, period, amount)
    found = CustomerAccount(customer_id=customer_id, account_id=account.id, linked_at=utcnow(),
                            verified_at=utcnow() if verified else None)
    db.session.add(found)
    try:
        db.session.flush()
    except IntegrityError:  # the same account linked by a parallel request
        db.session.rollback()
        raise Conflict("account_already_linked", number=account.number) from None
    security_events.record(customer_id, "account_linked", ip=ip, user_agent=user_agent, number=account.number,
                           supplier=account.supplier.code, verified=verified)
    db.session.commit()
    return found


def verify(customer_id, account_id, period, amount, ip=None, user_agent=None):
    """Verify a linked account by a bill. Wrong: 422 ``bill_mismatch``; a verified link stays so."""
    found = account_access.link(customer_id, account_id)
    if found.verified_at is not None:
        return found
    if not check_bill("customer", f"{customer_id}:{account_id}", account_id, period, amount):
        raise Invalid("bill_mismatch", fields={"amount": ["bill_mismatch"]})
    found.verified_at = utcnow()
    security_events.record(customer_id, "account_verified", ip=ip, user_agent=user_agent, number=found.account.number)
    db.session.commit()
    return found


def rename(customer_id, account_id, alias):
    """The customer's own name for the account (empty: none)."""
    found = account_access.link(customer_id, account_id)
    found.alias = " ".join(str(alias or "").split()) or None
    db.session.commit()
    return found


def unlink(customer_id, account_id, confirm, ip=None, user_agent=None):
    """Unlink after an explicit confirmation; the customer's autopay of the account stops with it
    (it must not go on charging an account the customer no longer sees)."""
    found = account_access.link(customer_id, account_id)
    if confirm is not True:
        raise Invalid(fields={"confirm": ["unlink_confirmation_required"]}, number=found.account.number)
    now = utcnow()
    db.session.execute(
        update(Autopay).where(Autopay.customer_id == customer_id, Autopay.account_id == account_id,
                              Autopay.active.is_(True))
        .values(active=False, cancelled_at=now).execution_options(synchronize_session=False))
    number = found.account.number
    db.session.delete(found)
    security_events.record(customer_id, "account_unlinked", ip=ip, user_agent=user_agent, number=number)
    db.session.commit()


def links(customer_id):
    """The customer's links, oldest first, with accounts and suppliers loaded."""
    return db.session.execute(
        select(CustomerAccount)
        .options(joinedload(CustomerAccount.account).joinedload(Account.supplier))
        .where(CustomerAccount.customer_id == customer_id).order_by(CustomerAccount.linked_at, CustomerAccount.id)
    ).scalars().all()


# --- What is due (AC-3; bills, payments and autopay call these) ---------------------------------

# The summary's statements are built once, on the tables: a statement built per call spends more
# time on SQLAlchemy's cache key than PostgreSQL spends answering it, and ORM attributes take the
# ORM's slower execution path for rows that are plain columns anyway (docs/PERFORMANCE.md).
_BILL, _ITEM, _PAYMENT = Bill.__table__, PaymentItem.__table__, Payment.__table__
_LINK, _ACCOUNT, _SUPPLIER, _LINE = (CustomerAccount.__table__, Account.__table__, Supplier.__table__,
                                     BillLine.__table__)


def _latest_bills_statement():
    latest = (select(_BILL.c.account_id, func.max(_BILL.c.period).label("period"))
              .where(_BILL.c.account_id.in_(bindparam("account_ids", expanding=True))).group_by(_BILL.c.account_id)
              .subquery())
    paid = (select(func.coalesce(func.sum(_ITEM.c.amount), 0))
            .join_from(_ITEM, _PAYMENT, _PAYMENT.c.id == _ITEM.c.payment_id)
            .where(_ITEM.c.account_id == _BILL.c.account_id, _ITEM.c.invoice_id.is_(None),
                   _PAYMENT.c.status == "succeeded", _PAYMENT.c.confirmed_at >= _BILL.c.issued_on)
            .correlate(_BILL).scalar_subquery())
    return (select(_BILL.c.account_id, _BILL.c.id, _BILL.c.period, _BILL.c.total_due, paid.label("paid"))
            .join(latest, (latest.c.account_id == _BILL.c.account_id) & (latest.c.period == _BILL.c.period)))


_LATEST_BILLS = _latest_bills_statement()
_LINKED = (select(_LINK.c.account_id, _LINK.c.alias, _LINK.c.verified_at, _LINK.c.ebill, _ACCOUNT.c.number,
                  _ACCOUNT.c.address, _ACCOUNT.c.closed, _SUPPLIER.c.code, _SUPPLIER.c.name, _SUPPLIER.c.kind)
           .join_from(_LINK, _ACCOUNT, _ACCOUNT.c.id == _LINK.c.account_id)
           .join(_SUPPLIER, _SUPPLIER.c.id == _ACCOUNT.c.supplier_id)
           .where(_LINK.c.customer_id == bindparam("customer_id"))
           .order_by(_LINK.c.linked_at, _LINK.c.id))
_SERVICES = (select(_LINE.c.bill_id, _LINE.c.service_name)
             .where(_LINE.c.bill_id.in_(bindparam("bill_ids", expanding=True)))
             .order_by(_LINE.c.bill_id, _LINE.c.position, _LINE.c.id))


def _latest_bills(account_ids):
    """Per account with a bill: (account_id, bill_id, period, total_due, paid since issue)."""
    if not account_ids:
        return []
    return db.session.execute(_LATEST_BILLS, {"account_ids": list(account_ids)}).all()


def _balance(total_due, paid):
    """Due minus paid; positive owes, negative overpaid (SQLite's sums come back as floats)."""
    return (Decimal(total_due) - Decimal(str(paid or 0))).quantize(ZERO)


def amounts_due(account_ids):
    """``{account_id: balance}`` for every id in one query: positive is owed, negative overpaid,
    zero when nothing is due or there is no bill yet."""
    account_ids = list(account_ids)
    balances = dict.fromkeys(account_ids, ZERO)
    for account_id, _bill, _period, total_due, paid in _latest_bills(account_ids):
        balances[account_id] = _balance(total_due, paid)
    return balances


def amount_due(account_id):
    """What ``account_id`` owes now (negative: overpaid); see :func:`amounts_due`."""
    return amounts_due([account_id])[account_id]


def summary(customer):
    """Every linked account with its due or overpayment, services and e-bill status, and the
    totals. Three queries whatever the number of accounts: links, latest bills with their
    payments, and those bills' services."""
    rows = db.session.execute(_LINKED, {"customer_id": customer.id}).all()
    bills = {row[0]: row for row in _latest_bills([row.account_id for row in rows])}
    services = {}
    if bills:
        for bill_id, name in db.session.execute(_SERVICES, {"bill_ids": [bill[1] for bill in bills.values()]}):
            names = services.setdefault(bill_id, [])
            if name not in names:
                names.append(name)
    email_confirmed = email_confirmation.is_confirmed(customer)
    accounts, total_due, total_overpaid = [], ZERO, ZERO
    for row in rows:
        bill = bills.get(row.account_id)
        balance = _balance(bill[3], bill[4]) if bill else ZERO
        due, overpaid = max(balance, ZERO), max(-balance, ZERO)
        total_due += due
        total_overpaid += overpaid
        accounts.append({
            "id": row.account_id, "number": row.number, "alias": row.alias, "address": row.address,
            "closed": row.closed, "supplier": {"code": row.code, "name": row.name, "kind": row.kind},
            "verified": row.verified_at is not None,
            "services": services.get(bill[1], []) if bill else [],
            "period": label(bill[2]) if bill else None,
            "amount_due": due, "overpayment": overpaid, "all_paid": due == 0,
            "ebill": ebill_status(row.ebill, email_confirmed),
        })
    return {"accounts": accounts, "total": {"amount_due": total_due, "overpayment": total_overpaid,
                                            "all_paid": total_due == 0, "accounts": len(accounts)}}


def ebill_status(enabled, email_confirmed):
    """``on``; ``off``; ``email_unconfirmed``: asked for, but nothing goes out until the email
    is confirmed (BL-2)."""
    if not enabled:
        return "off"
    return "on" if email_confirmed else "email_unconfirmed"


# --- Contracts (AC-2) ---------------------------------------------------------------------------

# A grid-connection contract's barcode carries its number as printed ("TP-2026-000123"); the
# Cyrillic "ТП-" of some print runs means the same.
_CYRILLIC_TP = str.maketrans({"Т": "T", "П": "P", "т": "T", "п": "P"})


def find_contract(number, supplier_code=None, kind=None, field="number"):
    """The contract with ``number``; ``field`` names the request field an unknown number blames."""
    number = normalise_number(number)
    query = (select(Contract).options(joinedload(Contract.supplier), joinedload(Contract.account))
             .join(Contract.supplier).where(Contract.number == number).order_by(Supplier.code))
    if supplier_code:
        query = query.where(Supplier.code == str(supplier_code).strip())
    if kind:
        query = query.where(Contract.kind == kind)
    found = db.session.execute(query).scalars().all()
    if not found:
        raise NotFound("contract_unknown", fields={field: ["contract_unknown"]}, number=number)
    if len(found) > 1:
        raise Conflict("contract_supplier_ambiguous", fields={"supplier": [c.supplier.code for c in found]},
                       number=number, suppliers=", ".join(c.supplier.code for c in found))
    return found[0]


def search_contract(customer_id, number, supplier_code=None, ip=None):
    guard_lookup("customer", customer_id, ip)
    return find_contract(number, supplier_code)


def contracts(customer_id):
    return db.session.execute(
        select(CustomerContract)
        .options(joinedload(CustomerContract.contract).joinedload(Contract.supplier),
                 joinedload(CustomerContract.contract).joinedload(Contract.account))
        .where(CustomerContract.customer_id == customer_id).order_by(CustomerContract.added_at, CustomerContract.id)
    ).scalars().all()


def _add_contract(customer_id, contract, **values):
    entry = CustomerContract(customer_id=customer_id, contract_id=contract.id, added_at=utcnow(), **values)
    db.session.add(entry)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("contract_already_added", number=contract.number) from None
    return entry


def _own_contract(customer_id, contract_id):
    return db.session.execute(
        select(CustomerContract).where(CustomerContract.customer_id == customer_id,
                                       CustomerContract.contract_id == contract_id)
    ).scalar_one_or_none()


def add_contract(customer_id, number, supplier_code=None):
    contract = find_contract(number, supplier_code)
    if _own_contract(customer_id, contract.id) is not None:
        raise Conflict("contract_already_added", number=contract.number)
    entry = _add_contract(customer_id, contract)
    db.session.commit()
    return entry


def remove_contract(customer_id, contract_id):
    removed = db.session.execute(
        delete(CustomerContract).where(CustomerContract.customer_id == customer_id,
                                       CustomerContract.contract_id == contract_id)
    ).rowcount
    if not removed:
        db.session.rollback()
        raise NotFound("contract_not_found", id=contract_id)
    db.session.commit()


def report_concluded(customer, barcode, ip=None):
    """The customer concluded a supply contract for the object of a grid-connection contract
    (AC-2): recorded on their contract list, and the contact centre is told by email. Reporting
    again changes nothing."""
    number = normalise_number(barcode).upper().translate(_CYRILLIC_TP)
    guard_lookup("customer", customer.id, ip)
    try:
        contract = find_contract(number, kind="grid_connection")
    except NotFound:
        raise NotFound("contract_barcode_unknown", fields={"barcode": ["contract_barcode_unknown"]}) from None
    entry = _own_contract(customer.id, contract.id)
    if entry is None:
        entry = _add_contract(customer.id, contract)
    if entry.reported_concluded_at is None:
        entry.reported_concluded_at = utcnow()
        notify_contact_centre(f"supply-concluded:{customer.id}:{contract.id}", "contact_centre_supply_concluded",
                              {"contract": contract.number, "supplier": contract.supplier.name,
                               "customer": customer.full_name, "phone": customer.phone},
                              subject=f"Сообщение о заключении договора энергоснабжения по договору ТП {contract.number}")
    db.session.commit()
    return entry


def notify_contact_centre(key, template, context, subject):
    """An email to the contact centre through the outbox (once per ``key``); the caller commits."""
    return notifications.queue_message(key, "email", current_app.config["CONTACT_CENTRE_EMAIL"], template, context,
                                       subject=subject)
