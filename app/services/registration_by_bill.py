"""Registration by a bill (ID-2): account number + period + amount, or the bill's ST00012 QR
payload, or the number alone ("skip the amount": the customer starts unverified).

1. :func:`start` finds the account, checks the bill and answers its address to confirm with a
   *ticket*: a signed, time-limited token (itsdangerous, salt of its own, REGISTRATION_TICKET_SECONDS)
   naming the account, whether the bill matched, and a random id. Nothing is stored: any web
   process reads it, and a forged or edited ticket fails the signature.
2. "This is not my address": :func:`not_my_address` files a service request ``address_mismatch``
   (no customer yet: the person's name and phone are on it) and starts its process: an operator
   checks the account's address and calls them back.
3. :func:`request_code`: personal data + phone + consent; the ID-1 registration code goes to the
   phone (``customers.request_code``) and carries the account link in its payload.
4. The code is checked by ID-1's ``/auth/register/verify``; :func:`complete` sets the password
   through ``customers.register`` and then links the account (verified when the bill matched),
   gives them the "not my address" requests filed from the same phone, and asks to confirm the
   email.

Amount guesses are counted per account before they are checked (``ACCOUNT_VERIFY_LIMIT``), and
every step that shows an address is limited per IP.
"""
from datetime import date

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..errors import Invalid
from ..extensions import db
from ..models.accounts import Account, CustomerAccount
from ..models.workflow import utcnow
from . import accounts, customers, one_time_codes, phones, profile, secrets, security_events, st00012
from .request_types import address_mismatch

_SALT = "kabinet.registration-by-bill"
PAYLOAD_KEY = "by_bill"


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _payee_matches(data):
    """A QR code names its payee's bank account: it tells apart suppliers sharing a number."""
    return lambda account: (account.supplier.settlement_account == data.get("PersonalAcc")
                            and account.supplier.inn == data.get("PayeeINN", account.supplier.inn))


def start(number=None, supplier_code=None, period=None, amount=None, qr=None, skip_amount=False, ip=None):
    """Returns (account, ticket, verified)."""
    accounts.guard_lookup("ip", None, ip)
    narrow = None
    if qr is not None and (number or period is not None or amount is not None):
        raise Invalid("registration_mode", fields={"qr": ["registration_mode"]})
    if qr is not None:
        data = st00012.decode(qr)
        number, period, amount = data.get("account_number"), data.get("period"), data.get("amount")
        if not number:
            raise Invalid("qr_account_missing", fields={"qr": ["qr_account_missing"]})
        narrow, proving = _payee_matches(data), True
    elif not number:
        raise Invalid(fields={"number": ["account_number_required"]})
    else:
        proving = not skip_amount
        if proving and (period is None or amount is None):
            raise Invalid(fields={name: ["bill_proof_incomplete"] for name, value
                                  in (("period", period), ("amount", amount)) if value is None})
    account = accounts.find(number, supplier_code, narrow)
    if proving and not accounts.check_bill("number", account.id, account.id, period, amount):
        raise Invalid("bill_mismatch", fields={"qr" if qr is not None else "amount": ["bill_mismatch"]})
    ticket = _serializer().dumps({"n": secrets.public_id(), "a": account.id, "v": bool(proving)})
    return account, ticket, bool(proving)


def _open(ticket):
    """(ticket data, account), or 422 ``registration_ticket_expired`` / ``_invalid``."""
    try:
        data = _serializer().loads(str(ticket or ""), max_age=current_app.config["REGISTRATION_TICKET_SECONDS"])
    except SignatureExpired:
        raise Invalid("registration_ticket_expired") from None
    except BadSignature:
        raise Invalid("registration_ticket_invalid") from None
    account = db.session.get(Account, data["a"])
    if account is None or account.closed:
        raise Invalid("registration_ticket_invalid")
    return data, account


def not_my_address(ticket, phone, comment, full_name=None, email=None, ip=None):
    """The address shown is not the customer's: a service request for the contact centre (once
    per ticket); returns it (its number lets the person check the status without signing in)."""
    accounts.guard_lookup("ip", None, ip)
    data, account = _open(ticket)
    phone = phones.normalise(phone)
    return address_mismatch.file_for_registration(account, phone, comment, full_name, email, data["n"])


def request_code(ticket, address_confirmed, surname, name, patronymic, birth_date, email, phone, consent, ip=None):
    """Personal data and the phone: the ID-1 registration code goes to the phone, its payload
    carrying the account (and whether the bill matched) for :func:`complete`."""
    data, account = _open(ticket)
    fields = {}
    if address_confirmed is not True:
        fields["address_confirmed"] = ["address_confirmation_required"]
    problem = profile._check_birth_date(birth_date)  # the profile's own rule
    if problem:
        fields["birth_date"] = [problem]
    if fields:
        raise Invalid(fields=fields, min_age=current_app.config["PROFILE_MIN_AGE"])
    full_name = " ".join(part.strip() for part in (surname, name, patronymic) if part and part.strip())
    challenge = customers.request_code("register", phone, ip, full_name=full_name, consent=consent)
    challenge.payload = {**challenge.payload, PAYLOAD_KEY: {
        "account_id": account.id, "verified": data["v"], "email": email,
        "birth_date": birth_date.isoformat() if birth_date else None}}
    db.session.commit()
    return challenge


def complete(challenge_id, password, password_confirm, ip=None, user_agent=None):
    """Set the password: the customer is created and signed in (``customers.register``), then the
    account is linked and the email confirmation link sent. Returns (customer, tokens, link)."""
    extra = one_time_codes.verified(challenge_id, "register").payload.get(PAYLOAD_KEY)
    if extra is None:
        raise Invalid("registration_not_by_bill", fields={"challenge_id": ["registration_not_by_bill"]})
    customer, tokens = customers.register(challenge_id, password, password_confirm, ip=ip, user_agent=user_agent)
    if extra["birth_date"]:
        customer.birth_date = date.fromisoformat(extra["birth_date"])
    link = None
    account = db.session.get(Account, extra["account_id"])
    if account is not None:
        link = CustomerAccount(customer_id=customer.id, account=account, linked_at=utcnow(),
                               verified_at=utcnow() if extra["verified"] else None)
        db.session.add(link)
        security_events.record(customer.id, "account_linked", ip=ip, user_agent=user_agent, number=account.number,
                               supplier=account.supplier.code, verified=extra["verified"])
    address_mismatch.adopt(customer)  # "not my address" reports from this phone become theirs
    # Sends the confirmation link, records it and commits the link above.
    profile.request_email_change(customer, extra["email"], ip=ip, user_agent=user_agent)
    return customer, tokens, link
