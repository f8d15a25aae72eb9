"""A customer's profile and settings (ID-8): name, birth date, theme, "don't keep me signed in",
notification preferences, and the email and phone changes that need a proof.

* Name, birth date, theme, keep-signed-in and preferences change at once (``update``).
* An email change waits for its link (``request_email_change``; see ``email_confirmation``):
  the confirmed address stays in use until then, and hears about the request.
* A phone change is proved by a code sent to the new phone (``request_phone_change`` →
  ``confirm_phone_change``). Whether the new phone belongs to another account is told only to
  whoever proved they hold it; the old phone is told by SMS that the number changed.

Notification preferences are a matrix of CATEGORIES × CHANNELS of booleans. The stored value
keeps only what the customer set; :func:`preferences` fills the rest from DEFAULT_PREFERENCES.
The email channel needs a confirmed email: it cannot be switched on before, and reads as off
while there is none (other domains ask :func:`wants`).
"""
from datetime import date

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, Invalid
from ..extensions import db
from ..models.customers import Customer, OneTimeCode
from . import email_confirmation, notifications, one_time_codes, phones, security_events

THEMES = ("light", "dark", "auto")
CATEGORIES = ("requests", "bills", "readings", "outages", "news")
CHANNELS = ("push", "sms", "email")
# What a customer gets until they say otherwise: push for everything, SMS for what cannot wait
# (their requests and outages), email nothing (e-bills are a choice, and need a confirmed email).
DEFAULT_PREFERENCES = {
    category: {"push": True, "sms": category in ("requests", "outages"), "email": False}
    for category in CATEGORIES
}
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
FULL_NAME_MAX = 256


def preferences(customer):
    """The full matrix in effect: stored choices over the defaults; email off while unconfirmed."""
    stored = customer.notification_preferences or {}
    confirmed = email_confirmation.is_confirmed(customer)
    matrix = {}
    for category in CATEGORIES:
        row = dict(DEFAULT_PREFERENCES[category])
        row.update({channel: value for channel, value in (stored.get(category) or {}).items() if channel in CHANNELS})
        row["email"] = bool(row["email"] and confirmed)
        matrix[category] = row
    return matrix


def wants(customer, category, channel):
    """Whether ``customer`` takes ``category`` messages by ``channel`` (for the senders)."""
    return customer.status == "active" and preferences(customer)[category][channel]


def _years_between(born, today):
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _check_birth_date(value):
    if value is None:
        return None
    today = date.today()
    if value > today:
        return "birth_date_future"
    if value < EARLIEST_BIRTH_DATE:
        return "birth_date_range"
    if _years_between(value, today) < current_app.config["PROFILE_MIN_AGE"]:
        return "birth_date_too_young"
    return None


def _check_preferences(value, customer):
    """Refusals per key, shaped like the input: {"news": {"fax": ["preference_channel_unknown"]}}."""
    if not isinstance(value, dict):
        return ["preferences_not_object"]
    problems = {}
    confirmed = email_confirmation.is_confirmed(customer)
    for category, row in value.items():
        if category not in CATEGORIES:
            problems[category] = ["preference_category_unknown"]
            continue
        if not isinstance(row, dict):
            problems[category] = ["preferences_not_object"]
            continue
        row_problems = {}
        for channel, flag in row.items():
            if channel not in CHANNELS:
                row_problems[channel] = ["preference_channel_unknown"]
            elif not isinstance(flag, bool):
                row_problems[channel] = ["preference_not_boolean"]
            elif channel == "email" and flag and not confirmed:
                row_problems[channel] = ["preference_email_unconfirmed"]
        if row_problems:
            problems[category] = row_problems
    return problems or None


def update(customer, changes, ip=None, user_agent=None):
    """Apply the given settings (any subset); all or nothing. Returns the changed field names."""
    fields, values = {}, {}
    if "full_name" in changes:
        name = " ".join(str(changes["full_name"] or "").split())
        if not name:
            fields["full_name"] = ["full_name_required"]
        elif len(name) > FULL_NAME_MAX:
            fields["full_name"] = ["full_name_too_long"]
        values["full_name"] = name
    if "birth_date" in changes:
        problem = _check_birth_date(changes["birth_date"])
        if problem:
            fields["birth_date"] = [problem]
        values["birth_date"] = changes["birth_date"]
    if "theme" in changes:
        if changes["theme"] not in THEMES:
            fields["theme"] = ["theme_invalid"]
        values["theme"] = changes["theme"]
    if "keep_signed_in" in changes:
        if not isinstance(changes["keep_signed_in"], bool):
            fields["keep_signed_in"] = ["preference_not_boolean"]
        values["keep_signed_in"] = changes["keep_signed_in"]
    if "notification_preferences" in changes:
        problems = _check_preferences(changes["notification_preferences"], customer)
        if problems:
            fields["notification_preferences"] = problems
    if fields:
        raise Invalid(fields=fields, min_age=current_app.config["PROFILE_MIN_AGE"])

    changed = [name for name, value in values.items() if getattr(customer, name) != value]
    for name in changed:
        setattr(customer, name, values[name])
    if "notification_preferences" in changes:
        merged = {category: dict(row) for category, row in (customer.notification_preferences or {}).items()}
        for category, row in changes["notification_preferences"].items():
            merged.setdefault(category, {}).update(row)
        if merged != (customer.notification_preferences or {}):
            customer.notification_preferences = merged  # a new object: the JSON column sees the change
            changed.append("notification_preferences")
    if changed:
        security_events.record(customer.id, "profile_changed", ip=ip, user_agent=user_agent, fields=sorted(changed))
    db.session.commit()
    return changed


# --- Email -----------------------------------------------------------------------------------

def request_email_change(customer, raw_address, ip=None, user_agent=None):
    """A new address waits for its link; the confirmed one stays in use and is told.

    Asking for the confirmed address itself cancels a pending change (nothing is sent).
    Returns True when a confirmation email was sent.
    """
    address = email_confirmation.normalise(raw_address)
    if email_confirmation.is_confirmed(customer) and address == customer.email:
        if customer.pending_email is not None:
            customer.pending_email = None
            security_events.record(customer.id, "email_change_cancelled", ip=ip, user_agent=user_agent)
        db.session.commit()
        return False
    email_confirmation.send_confirmation(customer, address)
    previous = email_confirmation.confirmed_email(customer)
    # An unconfirmed current address is simply replaced by the new one awaiting its link.
    if customer.email and not customer.email_confirmed_at:
        customer.email = None
    customer.pending_email = address
    if previous is not None:
        notifications.send("email", previous, "email_change_notice",
                           {"name": customer.full_name, "new_email": address},
                           customer_id=customer.id, subject=email_confirmation.CHANGE_SUBJECT)
    security_events.record(customer.id, "email_change_requested", ip=ip, user_agent=user_agent)
    db.session.commit()
    return True


# --- Phone -----------------------------------------------------------------------------------

def request_phone_change(customer, raw_phone, ip=None):
    """Send a code to the new phone. The answer is the same whether or not it is registered."""
    phone = phones.normalise(raw_phone)
    if phone == customer.phone:
        raise Invalid(fields={"phone": ["phone_same"]})
    challenge = one_time_codes.issue("phone_change", phone, customer.id, ip=ip, account=customer.id)
    db.session.commit()
    return challenge


def confirm_phone_change(customer, challenge_id, code, ip=None, user_agent=None):
    """The code from the new phone switches the account to it; the old phone is told by SMS."""
    mine = db.session.execute(
        select(OneTimeCode.id).where(OneTimeCode.public_id == str(challenge_id or ""),
                                     OneTimeCode.purpose == "phone_change", OneTimeCode.customer_id == customer.id)
    ).scalar_one_or_none()
    if mine is None:  # another customer's challenge is simply not found
        raise Invalid("code_invalid", fields={"code": ["code_invalid"]})
    challenge = one_time_codes.verify(challenge_id, code, "phone_change")
    new_phone = challenge.phone
    taken = db.session.execute(
        select(Customer.id).where(Customer.phone == new_phone, Customer.id != customer.id)
    ).scalar_one_or_none()
    if taken is not None:
        db.session.commit()  # the code is proven (verified), so its holder may learn this
        raise Conflict("phone_registered", fields={"phone": ["phone_registered"]})
    one_time_codes.consume(challenge)
    old_phone = customer.phone
    customer.phone = new_phone
    try:
        db.session.flush()
    except IntegrityError:  # registered by someone else a moment ago
        db.session.rollback()
        raise Conflict("phone_registered", fields={"phone": ["phone_registered"]}) from None
    one_time_codes.expire_others(customer.id, keep=challenge)  # codes sent to the old phone die
    security_events.record(customer.id, "phone_changed", ip=ip, user_agent=user_agent)
    if old_phone:
        notifications.send("sms", old_phone, "phone_changed", {"new_phone": phones.masked(new_phone)},
                           customer_id=customer.id)
    db.session.commit()
    return customer
