"""Reading the billing system's files: CSV or JSON into rows, and each value into its type.

Every problem is a :class:`RowError` with a stable code; :func:`error` turns it into the
bilingual record kept in ``ImportBatch.errors`` (the admin screen shows Russian, the CLI both).
"""
import csv
import io
import json
import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from flask import current_app

from ..errors import Invalid
from . import periods, phones

MESSAGES = {
    "required": ("Обязательное значение не заполнено.", "Required value is missing."),
    "too_long": ("Длиннее {max} символов.", "Longer than {max} characters."),
    "not_integer": ("Ожидается целое число.", "Not a whole number."),
    "out_of_range": ("Должно быть от {min} до {max}.", "Must be between {min} and {max}."),
    "not_decimal": ("Ожидается число (например, 1234.56).", "Not a number (e.g. 1234.56)."),
    "too_many_decimals": ("Больше {places} знаков после запятой.", "More than {places} digits after the point."),
    "too_large": ("Слишком большое число.", "The number is too large."),
    "negative": ("Не может быть отрицательным.", "Cannot be negative."),
    "not_date": ("Дата не в формате ГГГГ-ММ-ДД или ДД.ММ.ГГГГ.", "Not a date (YYYY-MM-DD or DD.MM.YYYY)."),
    "not_datetime": ("Время не в формате ГГГГ-ММ-ДДTЧЧ:ММ[:СС][±ЧЧ:ММ].",
                     "Not a date and time (YYYY-MM-DDTHH:MM[:SS][±HH:MM])."),
    "not_period": ("Период не в формате ГГГГ-ММ.", "Not a period (YYYY-MM)."),
    "not_bool": ("Ожидается да/нет (1/0, true/false).", "Expected yes/no (1/0, true/false)."),
    "not_choice": ("Допустимые значения: {choices}.", "Allowed values: {choices}."),
    "phone_invalid": ("Некорректный номер телефона.", "Not a valid phone number."),
    "not_digits": ("Должно состоять из {length} цифр.", "Must be {length} digits."),
    "not_text": ("Ожидается строка.", "Expected a string."),
    "not_utf8": ("Файл не в кодировке UTF-8.", "The file is not UTF-8."),
    "bad_json": ("Некорректный JSON: {detail}.", "Invalid JSON: {detail}."),
    "not_list": ("JSON должен быть списком объектов.", "The JSON must be a list of objects."),
    "not_object": ("Ожидается объект.", "Expected an object."),
    "no_header": ("Файл пуст: нет строки заголовка.", "The file is empty: no header row."),
    "extra_values": ("В строке больше значений, чем колонок в заголовке.", "More values than header columns."),
    "unknown_column": ("Неизвестная колонка «{column}».", "Unknown column '{column}'."),
    "missing_column": ("В файле нет обязательной колонки «{column}».", "Required column '{column}' is missing."),
    "duplicate": ("Повтор: та же запись уже в строке {first}.", "Duplicate of row {first}."),
    "supplier_not_found": ("Поставщик с кодом «{code}» не найден.", "No supplier with code '{code}'."),
    "account_not_found": ("Лицевой счёт {number} поставщика {supplier} не найден.",
                          "Account {number} of supplier {supplier} not found."),
    "meter_not_found": ("Счётчик {serial} на лицевом счёте {number} не найден.",
                        "Meter {serial} of account {number} not found."),
    "service_not_found": ("У поставщика нет услуги с кодом «{code}».", "The supplier has no service '{code}'."),
    "service_name_required": ("Услуга «{code}» не настроена у поставщика: укажите service_name.",
                              "Service '{code}' is not set up for the supplier: give service_name."),
    "zone_over_meter": ("У счётчика тарифных зон: {zones}.", "The meter has {zones} tariff zone(s)."),
    "header_differs": ("Не совпадает с той же квитанцией в строке {first}.",
                       "Differs from the same bill in row {first}."),
    "valid_to_before_from": ("Раньше даты начала действия.", "Before the start date."),
    "not_billing_payment": ("Платёж {external_id} уже есть в Кабинете и не из биллинга.",
                            "Payment {external_id} exists in Kabinet and is not from billing."),
    "write_failed": ("Запись в базу не удалась: {detail}.", "Writing to the database failed: {detail}."),
}


class RowError(Exception):
    def __init__(self, code, **params):
        super().__init__(code)
        self.code, self.params = code, params


def error(row, column, code, /, **params):
    """One entry of ``ImportBatch.errors``: where, the stable code and both texts."""
    ru, en = MESSAGES[code]
    return {"row": row, "column": column, "code": code, "message": ru.format(**params),
            "message_en": en.format(**params)}


# --- files ---------------------------------------------------------------------------------------

def read_rows(data, file_format):
    """``(columns, [(row number, {column: raw value})], [row errors])``; a RowError when the
    whole file is unreadable.

    CSV row numbers are the file's line numbers (the header is line 1), as a spreadsheet shows
    them; JSON rows are numbered from 1 in the list's order.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RowError("not_utf8") from None
    if file_format == "csv":
        return _csv_rows(text)
    return _json_rows(text)


def _csv_rows(text):
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise RowError("no_header")
    delimiter = ";" if first_line.count(";") >= first_line.count(",") and ";" in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [name.strip() for name in next(reader)]
    rows, problems = [], []
    for values in reader:
        if not any(value.strip() for value in values):
            continue
        if len(values) > len(header):
            problems.append(error(reader.line_num, None, "extra_values"))
            continue
        rows.append((reader.line_num, dict(zip(header, values))))
    return header, rows, problems


def _json_rows(text):
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise RowError("bad_json", detail=str(exc)) from None
    if not isinstance(document, list):
        raise RowError("not_list")
    columns, rows, problems = {}, [], []
    for number, item in enumerate(document, start=1):
        if not isinstance(item, dict):
            problems.append(error(number, None, "not_object"))
            continue
        columns.update(dict.fromkeys(item))
        rows.append((number, item))
    return list(columns), rows, problems


def write_rows(columns, rows, file_format):
    """The export's bytes: CSV (UTF-8 with BOM, ``;``, as spreadsheets in Russia open it) or JSON."""
    if file_format == "json":
        return json.dumps(rows, ensure_ascii=False, indent=1, default=_plain).encode()
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _plain(row[c]) for c in columns])
    return ("\ufeff" + out.getvalue()).encode()


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    return value


# --- values --------------------------------------------------------------------------------------

def blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _str(value):
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return str(value)
    raise RowError("not_text")


def text(max_len):
    def parse(value):
        value = _str(value)
        if len(value) > max_len:
            raise RowError("too_long", max=max_len)
        return value
    return parse


def digits(*lengths):
    def parse(value):
        value = _str(value)
        if not value.isdigit() or len(value) not in lengths:
            raise RowError("not_digits", length=" / ".join(map(str, lengths)))
        return value
    return parse


def integer(low, high):
    def parse(value):
        if isinstance(value, bool):
            raise RowError("not_integer")
        try:
            number = int(value) if isinstance(value, int) else int(_str(value))
        except ValueError:
            raise RowError("not_integer") from None
        if not low <= number <= high:
            raise RowError("out_of_range", min=low, max=high)
        return number
    return parse


def decimal(places, whole_digits, signed=False):
    """Money and volumes: a point or a comma, spaces between thousands allowed (``1 234,56``)."""
    limit = Decimal(10) ** whole_digits

    def parse(value):
        if isinstance(value, bool):
            raise RowError("not_decimal")
        raw = _str(value).replace(" ", "").replace("\u00a0", "")
        if "," in raw and "." not in raw:
            raw = raw.replace(",", ".")
        try:
            number = Decimal(raw)
        except InvalidOperation:
            raise RowError("not_decimal") from None
        if not number.is_finite():
            raise RowError("not_decimal")
        if number.as_tuple().exponent < -places and number != number.quantize(Decimal(1).scaleb(-places)):
            raise RowError("too_many_decimals", places=places)
        if abs(number) >= limit:
            raise RowError("too_large")
        if number < 0 and not signed:
            raise RowError("negative")
        return number
    return parse


def money(signed=False):
    return decimal(2, 10, signed)


def day(value):
    """``2026-11-01`` or ``01.11.2026`` (parsed by hand: strptime is 10× slower at 100,000 rows)."""
    raw = _str(value)
    try:
        if len(raw) == 10 and raw[4] == "-" and raw[7] == "-":
            return date(int(raw[:4]), int(raw[5:7]), int(raw[8:]))
        if len(raw) == 10 and raw[2] == "." and raw[5] == ".":
            return date(int(raw[6:]), int(raw[3:5]), int(raw[:2]))
    except ValueError:
        pass
    raise RowError("not_date")


def moment(value):
    """An ISO time; without an offset it is the billing system's local time (``BILLING_TIMEZONE``,
    Moscow by default). Stored as naive UTC like every time in the database."""
    raw = _str(value).replace(" ", "T", 1)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        try:
            parsed = datetime.strptime(raw, "%d.%m.%YT%H:%M")
        except ValueError:
            raise RowError("not_datetime") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(current_app.config.get("BILLING_TIMEZONE", "Europe/Moscow")))
    return parsed.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)


def period(value):
    try:
        return periods.parse(_str(value))
    except ValueError:
        raise RowError("not_period") from None


_TRUE = {"1", "true", "yes", "y", "да", "д", "t"}
_FALSE = {"0", "false", "no", "n", "нет", "н", "f"}


def boolean(value):
    if isinstance(value, bool):
        return value
    raw = _str(value).lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise RowError("not_bool")


def choice(*values):
    def parse(value):
        value = _str(value)
        if value not in values:
            raise RowError("not_choice", choices=", ".join(values))
        return value
    return parse


_RU_NUMBER = re.compile(r"^\+7[3489]\d{9}$")
_NOT_DIGITS = re.compile(r"[^0-9]")


def phone(value):
    """Normalised to E.164 like every phone in Kabinet. Russian numbers written the usual ways
    (``+7…``, ``8 (916) 123-45-67``, ``79161234567``) are rewritten directly; anything else goes
    through libphonenumber, which costs up to a millisecond a number (too slow at 100,000 rows)."""
    value = _str(value)
    digits_only = _NOT_DIGITS.sub("", value)
    if len(digits_only) == 11 and digits_only[0] in "78" and (value[0] != "+" or digits_only[0] == "7"):
        candidate = "+7" + digits_only[1:]
        if _RU_NUMBER.match(candidate):
            return candidate
    try:
        return phones.normalise(value)
    except Invalid:
        raise RowError("phone_invalid") from None
