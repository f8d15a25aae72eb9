"""Payment QR payloads of GOST R 56042-2014 ("ST00012"), SPEC BL-7: an encoder, a strict decoder,
the payload of a bill and its QR image.

A payload is a service block, then ``Key=Value`` fields split by a separator::

    ST0001 2 | Name=…|PersonalAcc=…|BankName=…|BIC=…|CorrespAcc=…|Sum=…|…
    ^^^^^^ ^ ^
    format and version "ST0001", character set digit (1 windows-1251, 2 UTF-8, 3 KOI8-R), then
    the separator: "|" unless a value contains "|", in which case the writer picks another
    character, and the first character after the service block says which one it is.

Field names are matched without regard to case (banks write both ``persAcc`` and ``PersAcc``)
and come back in the standard's spelling; a decoded dict also answers to any spelling.
"""
import codecs
import io
import re
from datetime import date
from decimal import Decimal

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.pil import PilImage

from ..errors import Invalid

HEADER = "ST0001"
# The character set digit after the header → Python codec.
ENCODINGS = {"1": "cp1251", "2": "utf-8", "3": "koi8-r"}
_LABELS = {"cp1251": "windows-1251", "utf-8": "UTF-8", "koi8-r": "KOI8-R"}
# "|" first; the others are what a writer may choose when a value holds "|". Letters, digits,
# "=" and spaces cannot separate: they occur in names and values.
SEPARATORS = "|#;:^~!$%&*+/@"
# Byte-mode capacity of the largest QR symbol (version 40) at error correction M: a longer
# payload cannot have come from a QR code, nor go into one.
MAX_BYTES = 2331
# Length limit of the fields for which the standard sets none (its table 3 and extra fields).
OTHER_MAX = 255
REQUIRED = ("Name", "PersonalAcc", "BankName", "BIC", "CorrespAcc")
# Added by decode(); a payload field of the same name would be shadowed, so it is refused.
CONVENIENCE = ("amount", "period", "account_number")

# Rules per field, in the standard's spelling: ("text", max chars), ("digits", max digits),
# ("exact", number of digits), ("period",) for MMYYYY, or ("format", regex).
_RULES = {
    # Table 1: required.
    "Name": ("text", 160), "PersonalAcc": ("exact", 20), "BankName": ("text", 45), "BIC": ("exact", 9),
    "CorrespAcc": ("digits", 20),
    # Table 2: additional.
    "Sum": ("digits", 18), "Purpose": ("text", 210), "PayeeINN": ("digits", 12), "PayerINN": ("digits", 12),
    "DrawerStatus": ("text", 2), "KPP": ("format", r"[0-9]{4}[0-9A-Z]{2}[0-9]{3}"), "CBC": ("text", 20),
    "OKTMO": ("text", 11), "PaytReason": ("text", 2), "TaxPeriod": ("text", 10), "DocNo": ("text", 15),
    "DocDate": ("text", 10), "TaxPaytKind": ("text", 2),
    # Table 3: other additional (no limits in the standard but the few formats it names).
    **{name: ("text", OTHER_MAX) for name in (
        "lastName", "firstName", "middleName", "payerAddress", "personalAccount", "docIdx", "pensAcc",
        "contract", "persAcc", "flat", "phone", "payerIdType", "payerIdNum", "childFio", "birthDate",
        "paymTerm", "category", "serviceName", "counterId", "counterVal", "quittId", "quittDate",
        "instNum", "classNum", "specFio", "ruleId", "execId", "regType", "uin")},
    "paymPeriod": ("period",), "addAmount": ("digits", 18), "TechCode": ("exact", 2),
}
_CANONICAL = {name.lower(): name for name in _RULES}
_EXTRA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]+")  # not \d: it takes any script's digits
# GOST's technical payment code by supplier kind: 02 housing and utilities, 04 security.
_TECH_CODES = {"electricity": "02", "water": "02", "heat": "02", "housing": "02", "gas": "02", "security": "04"}


class PayloadError(Invalid):
    """A payload that breaks the standard (422). ``field`` names the wrong field, ``detail`` the
    rule it breaks; the API shows them as ``fields={field: [detail]}``."""

    def __init__(self, code, field=None, detail=None, fields=None, **params):
        if field:
            params["field"] = field
            fields = {field: [detail or code]}
        super().__init__(code, fields=fields, **params)


class Fields(dict):
    """A decoded payload: keys in the standard's spelling, found by any spelling too."""

    def _key(self, key):
        return key if dict.__contains__(self, key) or not isinstance(key, str) else _CANONICAL.get(key.lower(), key)

    def __missing__(self, key):
        canonical = self._key(key)
        if canonical == key:
            raise KeyError(key)
        return self[canonical]

    def __contains__(self, key):
        return dict.__contains__(self, self._key(key))

    def get(self, key, default=None):
        return dict.get(self, self._key(key), default)


def encode(fields, encoding="utf-8"):
    """The payload text of ``fields`` (name → str or int; None and "" leave an optional field
    out), required fields first in the standard's order. Refuses (PayloadError) what decode()
    would refuse, so every payload written here reads back."""
    digit = _digit_of(encoding)
    values = {}
    for key, value in fields.items():
        if value is None or value == "":
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise TypeError(f"ST00012 field {key}: expected str or int, got {type(value).__name__}")
        name = _name_of(key)
        if name in values:
            raise PayloadError("qr_duplicate_field", name)
        values[name] = value
    missing = [name for name in REQUIRED if name not in values]
    if missing:
        _missing(missing)
    for name, value in values.items():
        _check(name, value)
    ordered = [*REQUIRED, *(name for name in values if name not in REQUIRED)]
    separator = next((s for s in SEPARATORS if not any(s in value for value in values.values())), None)
    if separator is None:
        raise PayloadError("qr_separator", char="")
    text = HEADER + digit + separator + separator.join(f"{name}={values[name]}" for name in ordered)
    _bytes_of(text, ENCODINGS[digit])
    return text


def decode(payload):
    """The fields of a payload (text, or the raw bytes a scanner read), with ``amount``
    (Decimal roubles from Sum), ``period`` (first of month from paymPeriod) and
    ``account_number`` (persAcc) added, each None when absent. Refuses with PayloadError."""
    if isinstance(payload, (bytes, bytearray)):
        payload = bytes(payload).rstrip(b"\r\n")
        head = payload[:7].decode("ascii", "replace")
    elif isinstance(payload, str):
        payload = payload.rstrip("\r\n")
        head = payload[:7]
    else:
        raise TypeError(f"ST00012 payload: expected str or bytes, got {type(payload).__name__}")
    if not payload:
        raise PayloadError("qr_empty")
    if len(payload) > MAX_BYTES:
        raise PayloadError("qr_too_long", max=MAX_BYTES)
    codec = _codec_of(head)
    if isinstance(payload, bytes):
        try:
            text = payload.decode(codec)
        except UnicodeDecodeError:
            raise PayloadError("qr_bytes_invalid", encoding=_LABELS[codec]) from None
    else:
        text = payload
        _bytes_of(text, codec)
    return _fields_of(text[7:])


def for_bill(bill):
    """The payload printed on ``bill``: the supplier's bank details, the account, the period and
    the total due (no Sum when nothing is due; the optional insurance is never included)."""
    account = bill.account
    supplier = account.supplier
    period = bill.period
    return encode({
        "Name": supplier.name, "PersonalAcc": supplier.settlement_account, "BankName": supplier.bank_name,
        "BIC": supplier.bic, "CorrespAcc": supplier.correspondent_account,
        "Sum": _kopecks(bill.total_due) if bill.total_due > 0 else None,
        "Purpose": f"Оплата по л/с {account.number} за {period:%m.%Y}",
        "PayeeINN": supplier.inn, "KPP": supplier.kpp,
        "persAcc": account.number, "paymPeriod": f"{period:%m%Y}", "payerAddress": account.address,
        "TechCode": _TECH_CODES.get(supplier.kind),
    })


def qr_png(payload, box_size=10):
    """A PNG of the payload's QR code: error correction M, the 4-module quiet zone, the payload's
    bytes in its declared character set, ``box_size`` pixels per module."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(_bytes_of(payload, _codec_of(payload[:7])))
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image(image_factory=PilImage).save(out)
    return out.getvalue()


def _fields_of(body):
    if not body:
        _missing(list(REQUIRED))
    separator = body[0]
    if separator not in SEPARATORS:
        raise PayloadError("qr_separator", char=separator)
    segments = body[1:].split(separator)
    if len(segments) > 1 and segments[-1] == "":
        segments.pop()  # a closing separator, as many writers add
    found = Fields()
    empty = set()
    for position, segment in enumerate(segments, 1):
        key, equals, value = segment.partition("=")
        if not equals or not _EXTRA_NAME.fullmatch(key):
            raise PayloadError("qr_segment", position=position)
        name = _name_of(key)
        if name in found or name in empty:
            raise PayloadError("qr_duplicate_field", name)
        if value == "":
            empty.add(name)  # an empty optional field counts as absent
            continue
        _check(name, value)
        found[name] = value
    missing = [name for name in REQUIRED if name not in found]
    if missing:
        _missing(missing)
    sum_ = found.get("Sum")
    period = found.get("paymPeriod")
    found["amount"] = Decimal(sum_).scaleb(-2).quantize(Decimal("0.01")) if sum_ else None
    found["period"] = _period(period) if period else None
    found["account_number"] = found.get("persAcc")
    return found


def _check(name, value):
    """Refuse ``value`` unless it keeps the rule of field ``name``."""
    kind, *args = _RULES.get(name, ("text", OTHER_MAX))
    limit = args[0] if args and kind != "format" else None
    if _CONTROL.search(value):
        raise PayloadError("qr_field_invalid", name, "qr_value_format")
    if kind == "text" and len(value) > limit:
        raise PayloadError("qr_field_invalid", name, "qr_value_too_long", max=limit)
    if kind == "digits" and not (_DIGITS.fullmatch(value) and len(value) <= limit):
        raise PayloadError("qr_field_invalid", name, "qr_value_digits", max=limit)
    if kind == "exact" and not (_DIGITS.fullmatch(value) and len(value) == limit):
        raise PayloadError("qr_field_invalid", name, "qr_value_digits_exact", max=limit)
    if kind == "period" and not (_DIGITS.fullmatch(value) and len(value) == 6
                             and 1 <= int(value[:2]) <= 12 and int(value[2:]) >= 1):
        raise PayloadError("qr_field_invalid", name, "qr_value_period")
    if kind == "format" and not re.fullmatch(args[0], value):
        raise PayloadError("qr_field_invalid", name, "qr_value_format")


def _name_of(key):
    """The standard's spelling of a field name; an extra field keeps its own (checked) name."""
    name = _CANONICAL.get(key.lower())
    if name:
        return name
    if not _EXTRA_NAME.fullmatch(key):
        raise PayloadError("qr_field_invalid", key[:32], "qr_value_format")
    if key.lower() in CONVENIENCE:
        raise PayloadError("qr_field_invalid", key, "qr_field_reserved")
    return key


def _missing(names):
    raise PayloadError("qr_field_missing", fields={name: ["qr_required"] for name in names},
                       names=", ".join(names))


def _codec_of(head):
    if not head.startswith(HEADER):
        raise PayloadError("qr_header")
    codec = ENCODINGS.get(head[6:7])
    if codec is None:
        raise PayloadError("qr_encoding", digit=head[6:7])
    return codec


def _digit_of(encoding):
    name = codecs.lookup(encoding).name
    for digit, codec in ENCODINGS.items():
        if codecs.lookup(codec).name == name:
            return digit
    raise ValueError(f"ST00012 knows windows-1251, utf-8 and koi8-r, not {encoding!r}")


def _bytes_of(text, codec):
    """The payload's bytes in its character set, refusing text it cannot hold or too long a payload."""
    try:
        data = text.encode(codec)
    except UnicodeEncodeError:
        raise PayloadError("qr_bytes_invalid", encoding=_LABELS[codec]) from None
    if len(data) > MAX_BYTES:
        raise PayloadError("qr_too_long", max=MAX_BYTES)
    return data


def _kopecks(amount):
    return int(Decimal(amount).quantize(Decimal("0.01")).scaleb(2))


def _period(value):
    return date(int(value[2:]), int(value[:2]), 1)
