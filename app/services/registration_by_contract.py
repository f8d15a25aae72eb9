"""Registration by contract number (ID-3): contract number + email + phone + consent; a
generated password goes by SMS to the phone, which must be the contract's phone.

The answer tells only what the seed requires: an unknown contract, or a phone other than the
contract's (the SMS cannot be sent there: the contact centre updates the phone). A phone that
already has an account gets the same answer as a new one, as in ID-1; its holder learns by SMS
that it is registered (the password of that account stays as it was). Limited per IP and per
phone, counted before anything is looked up.
"""
import secrets as random

from flask import current_app
from sqlalchemy.exc import IntegrityError

from ..errors import Invalid
from ..extensions import db
from ..models.accounts import CustomerAccount, CustomerContract
from ..models.customers import Customer
from ..models.workflow import utcnow
from . import accounts, customers, notifications, passwords, phones, profile, rate_limits, security_events

# No 0/O, 1/l/I: the password is read from an SMS and typed in.
_LETTERS = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "23456789"


def generate_password():
    """Three groups of four, e.g. ``kT7m-Qp3r-Zt9w`` (about 70 bits), each with a digit."""
    groups = []
    for _ in range(3):
        chars = [random.choice(_LETTERS + _DIGITS) for _ in range(3)] + [random.choice(_DIGITS)]
        random.SystemRandom().shuffle(chars)
        groups.append("".join(chars))
    return "-".join(groups)


def _same_phone(contract_phone, phone):
    try:
        return contract_phone is not None and phones.normalise(contract_phone) == phone
    except Invalid:
        return False


def register(contract_number, email, phone, consent, supplier_code=None, ip=None, user_agent=None):
    """Returns the normalised phone the SMS went to (the caller answers the same either way)."""
    config = current_app.config
    fields = {}
    try:
        phone = phones.normalise(phone)
    except Invalid as refused:
        fields.update(refused.fields)
    if consent is not True:
        fields["consent"] = ["consent_required"]
    if fields:
        raise Invalid(fields=fields)
    rate_limits.hit(config["REGISTRATION_LIMIT_PER_IP"], "registration-contract-ip", ip)
    rate_limits.hit(config["REGISTRATION_LIMIT_PER_PHONE"], "registration-contract-phone", phone)
    contract = accounts.find_contract(contract_number, supplier_code, field="contract_number")
    if not _same_phone(contract.phone, phone):
        raise Invalid("contract_phone_mismatch", fields={"phone": ["contract_phone_mismatch"]},
                      contact_phone=config["CONTACT_CENTRE_PHONE"])
    password = generate_password()
    # Hashed whichever way it goes, so that both answers take as long.
    password_hash = passwords.hash_secret(password)
    existing = customers.by_phone(phone)
    if existing is not None:
        _tell_registered(existing)
        return phone
    customer = Customer(phone=phone, full_name=contract.holder_name or "", consent_at=utcnow(),
                        password_hash=password_hash, notification_preferences={})
    db.session.add(customer)
    try:
        db.session.flush()
    except IntegrityError:  # registered a moment ago by another request
        db.session.rollback()
        _tell_registered(customers.by_phone(phone))
        return phone
    if contract.account_id is not None:
        db.session.add(CustomerAccount(customer_id=customer.id, account_id=contract.account_id, linked_at=utcnow(),
                                       verified_at=utcnow()))
    db.session.add(CustomerContract(customer_id=customer.id, contract_id=contract.id, added_at=utcnow()))
    security_events.record(customer.id, "registered", ip=ip, user_agent=user_agent, method="contract",
                           contract=contract.number)
    notifications.send("sms", phone, "registration_password", {"password": password, "contract": contract.number},
                       customer_id=customer.id, queue="high")
    # Sends the confirmation link and commits everything above.
    profile.request_email_change(customer, email, ip=ip, user_agent=user_agent)
    return phone


def _tell_registered(customer):
    if customer is not None:
        notifications.send("sms", customer.phone, "registration_phone_registered", {}, customer_id=customer.id,
                           queue="high")
    db.session.commit()
