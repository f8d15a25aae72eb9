"""Phone numbers, parsed and normalised with Google's libphonenumber (the ``phonenumbers`` port)."""
import phonenumbers
from flask import current_app

from ..errors import Invalid


def normalise(raw, field="phone"):
    """``8 (916) 123-45-67`` → ``+79161234567``; any valid international number is accepted."""
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid(fields={field: ["phone_required"]})
    try:
        number = phonenumbers.parse(raw, current_app.config["DEFAULT_PHONE_REGION"])
    except phonenumbers.NumberParseException:
        raise Invalid(fields={field: ["phone_invalid"]}) from None
    if not phonenumbers.is_valid_number(number):
        raise Invalid(fields={field: ["phone_invalid"]})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def masked(phone):
    """+79161234567 → +7 916 ***-**-67, for messages that must not reveal the whole number."""
    if not phone:
        return ""
    return f"{phone[:-10]} {phone[-10:-7]} ***-**-{phone[-2:]}" if len(phone) >= 11 else phone[:-2] + "**"
