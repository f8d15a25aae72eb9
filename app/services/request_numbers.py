"""Request numbers: ``KB-2026-000123-3`` — year, the request's id, a Luhn check digit.

ASCII only, so the number prints as a barcode or QR code and reads back unchanged. The check
digit (over the year and the id) refuses a mistyped number before any lookup: every single
wrong digit and most swaps of neighbours are caught. The id makes numbers unique without a
counter table to lock; the year is for people reading it.
"""
import re

from ..errors import Invalid

PREFIX = "KB"
_PATTERN = re.compile(r"^KB-(\d{4})-(\d{6,})-(\d)$")


def luhn_digit(digits):
    """The Luhn check digit for a string of digits."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # doubled: the check digit will stand to the right of these
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str((10 - total % 10) % 10)


def make(year, request_id):
    body = f"{year:04d}{request_id:06d}"
    return f"{PREFIX}-{year:04d}-{request_id:06d}-{luhn_digit(body)}"


def parse(text, field="number"):
    """The canonical number from what a person typed or a scanner read (case and surrounding
    spaces ignored); 422 ``request_number_invalid`` if it is malformed or its check digit is wrong."""
    number = (text or "").strip().upper() if isinstance(text, str) else ""
    found = _PATTERN.match(number)
    if not found or luhn_digit(found.group(1) + found.group(2)) != found.group(3):
        raise Invalid(fields={field: ["request_number_invalid"]})
    return number


def looks_like(text):
    """Whether ``text`` is a well-formed request number (check digit included)."""
    try:
        parse(text)
    except Invalid:
        return False
    return True
