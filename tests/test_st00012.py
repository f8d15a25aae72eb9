"""ST00012 payment QR payloads (GOST R 56042-2014, BL-7): real-looking payloads, round trips,
every refusal, the bill's payload and its QR image."""
import io
from datetime import date
from decimal import Decimal

import pytest
from PIL import Image

from app.api.errors import MESSAGES, domain_error_response
from app.errors import Invalid
from app.extensions import db
from app.services import st00012
from app.services.st00012 import PayloadError, decode, encode
from tests.support.billing import make_account, make_bill, make_supplier

REQUIRED = {"Name": "ООО «Три кита»", "PersonalAcc": "40702810138250123017", "BankName": "ПАО СБЕРБАНК",
            "BIC": "044525225", "CorrespAcc": "30101810400000000225"}
BASE = "ST00012|" + "|".join(f"{key}={value}" for key, value in REQUIRED.items())

# As printed on an electricity bill: windows-1251, lower-camel table 3 names, no closing separator.
SBER_1251 = ("ST00011|Name=ПАО \"Мосэнергосбыт\"|PersonalAcc=40702810338040102710|BankName=ПАО СБЕРБАНК"
             "|BIC=044525225|CorrespAcc=30101810400000000225|PayeeINN=7736520080|KPP=772501001"
             "|persAcc=9876543210|lastName=Иванов|firstName=Иван|middleName=Иванович"
             "|payerAddress=г.Москва, ул.Тверская, д.1, кв.1|Sum=345678|paymPeriod=022025"
             "|Purpose=Оплата электроэнергии по л/с 9876543210 за 02.2025").encode("cp1251")
# A housing bill: UTF-8, Pascal-case names, a treasury payee with CorrespAcc 0, a closing separator.
HOUSING_UTF8 = ("ST00012|Name=ГБУ «Жилищник района Хамовники»|PersonalAcc=03224643450000007300"
                "|BankName=ГУ Банка России по ЦФО|BIC=004525988|CorrespAcc=0|PayeeINN=7704869410"
                "|KPP=770401001|Sum=523411|Purpose=ЖКУ за 01.2025|PersAcc=1234567890|PaymPeriod=012025"
                "|TechCode=02|EPD=7704-1234567890-0125|")


def refused(payload, code):
    with pytest.raises(PayloadError) as caught:
        decode(payload)
    assert caught.value.code == code, caught.value
    return caught.value


# --- real-looking payloads -------------------------------------------------------------------------

def test_windows_1251_bytes_of_a_bank_payload():
    fields = decode(SBER_1251)
    assert fields["Name"] == 'ПАО "Мосэнергосбыт"'
    assert fields["PayeeINN"] == "7736520080" and fields["KPP"] == "772501001"
    assert fields["payerAddress"] == "г.Москва, ул.Тверская, д.1, кв.1"
    assert fields["amount"] == Decimal("3456.78")
    assert fields["period"] == date(2025, 2, 1)
    assert fields["account_number"] == "9876543210"
    assert fields["Purpose"] == "Оплата электроэнергии по л/с 9876543210 за 02.2025"


def test_utf8_payload_with_pascal_case_names_and_closing_separator():
    fields = decode(HOUSING_UTF8)
    # The standard's spelling comes back; any spelling finds it.
    assert "persAcc" in fields and fields["PersAcc"] == fields["persacc"] == fields.get("PERSACC") == "1234567890"
    assert fields["paymPeriod"] == "012025" and fields["period"] == date(2025, 1, 1)
    assert fields["CorrespAcc"] == "0"
    assert fields["amount"] == Decimal("5234.11")
    assert fields["EPD"] == "7704-1234567890-0125"  # a field the standard does not name is kept
    assert fields.get("Flat") is None and "Flat" not in fields
    # The same payload as the bytes a scanner read.
    assert decode(HOUSING_UTF8.encode("utf-8")) == fields


def test_koi8_r_bytes_and_trailing_newline_from_a_scanner():
    # KOI8-R has no guillemets: a security company's name in plain quotes.
    text = BASE.replace("ST00012", "ST00013").replace("«Три кита»", '"ЧОП Щит"')
    fields = decode((text + "|Purpose=Охрана квартиры\r\n").encode("koi8-r"))
    assert fields["Name"] == 'ООО "ЧОП Щит"' and fields["Purpose"] == "Охрана квартиры"


def test_another_separator_named_after_the_header():
    payload = "ST00012#" + "#".join(f"{k}={v}" for k, v in {**REQUIRED, "Name": "ИП Петров | Ремонт"}.items())
    assert decode(payload)["Name"] == "ИП Петров | Ремонт"


def test_without_optional_fields_the_conveniences_are_none():
    fields = decode(BASE)
    assert {key: fields[key] for key in REQUIRED} == REQUIRED
    assert fields["amount"] is fields["period"] is fields["account_number"] is None


def test_empty_optional_field_counts_as_absent():
    fields = decode(BASE + "|KPP=|Sum=0")
    assert "KPP" not in fields and fields["amount"] == Decimal("0.00")


# --- round trips ----------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, codec, digit", [("utf-8", "utf-8", "2"), ("windows-1251", "cp1251", "1"),
                                                    ("cp1251", "cp1251", "1"), ("koi8-r", "koi8-r", "3")])
def test_round_trip_in_every_character_set(encoding, codec, digit):
    name = 'ООО "Три кита"'  # KOI8-R has no guillemets
    fields = {**REQUIRED, "Name": name, "Sum": 123456, "Purpose": "Оплата за март", "PayeeINN": "7701234567",
              "LastName": "Сидорова", "persAcc": "00123", "paymPeriod": "032025", "TechCode": "02",
              "Custom_1": "значение"}
    payload = encode(fields, encoding)
    assert payload.startswith(f"ST0001{digit}|Name=")
    decoded = decode(payload.encode(codec))
    assert decoded == decode(payload)
    assert {key: decoded[key] for key in fields} == {key: str(value) for key, value in fields.items()}
    assert decoded["amount"] == Decimal("1234.56") and decoded["account_number"] == "00123"
    assert "lastName=Сидорова" in payload  # written in the standard's spelling


def test_encode_writes_required_fields_first_in_the_standards_order():
    payload = encode({"Sum": "100", **dict(reversed(list(REQUIRED.items())))})
    assert payload == BASE + "|Sum=100"


def test_encode_picks_another_separator_when_a_value_holds_the_bar():
    payload = encode({**REQUIRED, "Purpose": "кв. 5 | кв. 6"})
    assert payload.startswith("ST00012#Name=")
    assert decode(payload)["Purpose"] == "кв. 5 | кв. 6"


def test_encode_leaves_out_empty_optional_fields():
    assert encode({**REQUIRED, "KPP": None, "Sum": ""}) == BASE


def test_encoded_payload_reads_back_after_decoding():
    decoded = decode(HOUSING_UTF8)
    again = encode({key: value for key, value in decoded.items() if key not in st00012.CONVENIENCE})
    assert decode(again) == decoded


# --- refusals -------------------------------------------------------------------------------------

@pytest.mark.parametrize("payload", ["", b"", "\r\n"])
def test_empty_payload(payload):
    refused(payload, "qr_empty")


@pytest.mark.parametrize("payload", ["ST00022|Name=x", "SX00012|Name=x", "ST", "https://example.com/?ST00012",
                                     BASE.replace("ST0001", "st0001"), b"\xef\xbb\xbf" + BASE.encode()])
def test_wrong_header(payload):
    refused(payload, "qr_header")


@pytest.mark.parametrize("digit", ["0", "4", "9", "X", "|"])
def test_unknown_encoding_digit(digit):
    error = refused(BASE.replace("ST00012", "ST0001" + digit), "qr_encoding")
    assert error.params["digit"] == digit


def test_header_alone_lacks_every_required_field():
    error = refused("ST00012", "qr_field_missing")
    assert set(error.fields) == set(REQUIRED)


@pytest.mark.parametrize("missing", list(REQUIRED))
def test_missing_required_field(missing):
    payload = "ST00012|" + "|".join(f"{k}={v}" for k, v in REQUIRED.items() if k != missing)
    error = refused(payload, "qr_field_missing")
    assert error.fields == {missing: ["qr_required"]}


def test_empty_required_field_is_missing():
    error = refused(BASE.replace("BankName=ПАО СБЕРБАНК", "BankName="), "qr_field_missing")
    assert error.fields == {"BankName": ["qr_required"]}


@pytest.mark.parametrize("field, value, detail", [
    ("BIC", "04452522", "qr_value_digits_exact"),
    ("BIC", "04452522A", "qr_value_digits_exact"),
    ("BIC", "0445252250", "qr_value_digits_exact"),
    ("PersonalAcc", "4070281013825012301", "qr_value_digits_exact"),
    ("CorrespAcc", "301018104000000002250", "qr_value_digits"),
    ("CorrespAcc", "3010181040000000022O", "qr_value_digits"),
    ("Name", "Я" * 161, "qr_value_too_long"),
    ("BankName", "Б" * 46, "qr_value_too_long"),
    ("Name", "ООО\tТри кита", "qr_value_format"),
])
def test_invalid_required_field(field, value, detail):
    error = refused(BASE.replace(f"{field}={REQUIRED[field]}", f"{field}={value}"), "qr_field_invalid")
    assert error.fields == {field: [detail]} and error.params["field"] == field


@pytest.mark.parametrize("segment, field, detail", [
    ("Sum=12.50", "Sum", "qr_value_digits"),
    ("Sum=-100", "Sum", "qr_value_digits"),
    ("Sum=1e5", "Sum", "qr_value_digits"),
    ("Sum=١٢٣", "Sum", "qr_value_digits"),  # digits, but not ASCII ones
    ("Sum=" + "1" * 19, "Sum", "qr_value_digits"),
    ("Purpose=" + "п" * 211, "Purpose", "qr_value_too_long"),
    ("PayeeINN=77012345678901", "PayeeINN", "qr_value_digits"),
    ("KPP=77010100", "KPP", "qr_value_format"),
    ("paymPeriod=132025", "paymPeriod", "qr_value_period"),
    ("paymPeriod=03.2025", "paymPeriod", "qr_value_period"),
    ("paymPeriod=030000", "paymPeriod", "qr_value_period"),
    ("TechCode=2", "TechCode", "qr_value_digits_exact"),
    ("payerAddress=" + "а" * 256, "payerAddress", "qr_value_too_long"),
    ("Extra=" + "x" * 256, "Extra", "qr_value_too_long"),
    ("amount=100000", "amount", "qr_field_reserved"),
])
def test_invalid_optional_field(segment, field, detail):
    error = refused(BASE + "|" + segment, "qr_field_invalid")
    assert error.fields == {field: [detail]}


@pytest.mark.parametrize("extra", ["Sum=100|Sum=200", "Sum=100|sum=100", "persAcc=1|PersAcc=2", "Sum=|Sum=5"])
def test_duplicate_field(extra):
    error = refused(BASE + "|" + extra, "qr_duplicate_field")
    assert list(error.fields) == [error.params["field"]]


def test_duplicate_required_field():
    refused(BASE + "|BIC=044525225", "qr_duplicate_field")


@pytest.mark.parametrize("payload, position", [
    (BASE + "||Sum=100", 6),  # an empty segment
    (BASE + "||", 6),  # more than one closing separator
    ("ST00012||" + BASE[8:], 1),
    (BASE + "|Sum", 6),  # no "="
    (BASE + "|=100", 6),  # no name
    (BASE + "|Сумма=100", 6),  # a name that is not Latin
    (BASE + "|Sum 1=100", 6),
])
def test_segment_not_key_equals_value(payload, position):
    assert refused(payload, "qr_segment").params["position"] == position


@pytest.mark.parametrize("separator", ["N", "=", " ", "1", "Ж"])
def test_invalid_separator(separator):
    refused("ST00012" + separator + BASE[8:], "qr_separator")


def test_bytes_not_in_the_declared_encoding():
    refused(BASE.encode("cp1251"), "qr_bytes_invalid")  # says UTF-8, is windows-1251
    refused(BASE.replace("ST00012", "ST00011").encode("cp1251") + b"|Purpose=\x98", "qr_bytes_invalid")


def test_text_the_declared_encoding_cannot_hold():
    refused(BASE.replace("ST00012", "ST00011") + "|Purpose=Оплата 💡", "qr_bytes_invalid")


def test_too_long_for_a_qr_code():
    # Each extra field is valid on its own; together they exceed any QR symbol.
    payload = BASE + "".join(f"|Extra{n}={'ж' * 200}" for n in range(6))
    refused(payload, "qr_too_long")
    refused(payload.encode("utf-8"), "qr_too_long")
    refused("ST00012|" + "x" * 10_000, "qr_too_long")


def test_not_text_nor_bytes():
    with pytest.raises(TypeError):
        decode(None)


def test_encode_validates_what_it_writes():
    with pytest.raises(PayloadError) as caught:
        encode({**REQUIRED, "BIC": "44525225"})
    assert caught.value.code == "qr_field_invalid" and caught.value.fields == {"BIC": ["qr_value_digits_exact"]}
    with pytest.raises(PayloadError) as caught:
        encode({key: value for key, value in REQUIRED.items() if key != "Name"})
    assert caught.value.code == "qr_field_missing"
    with pytest.raises(PayloadError) as caught:
        encode({**REQUIRED, "Sum": 1, "sum": 2})
    assert caught.value.code == "qr_duplicate_field"
    with pytest.raises(PayloadError) as caught:
        encode({**REQUIRED, "Purpose": "Счёт №5"}, "koi8-r")  # KOI8-R has no "№"
    assert caught.value.code == "qr_bytes_invalid"
    with pytest.raises(PayloadError) as caught:
        encode({**REQUIRED, "Purpose": "a" + "".join(st00012.SEPARATORS)})
    assert caught.value.code == "qr_separator"
    with pytest.raises(PayloadError) as caught:
        encode({**REQUIRED, "period": "032025"})
    assert caught.value.fields == {"period": ["qr_field_reserved"]}
    with pytest.raises(TypeError):
        encode({**REQUIRED, "Sum": Decimal("12.50")})
    with pytest.raises(ValueError):
        encode(REQUIRED, "latin-1")


def test_payload_error_is_a_422_with_translated_texts(sqlite_app):
    assert issubclass(PayloadError, Invalid) and PayloadError("qr_header").status == 422
    error = refused(BASE.replace("BIC=044525225", "BIC=123"), "qr_field_invalid")
    with sqlite_app.test_request_context(headers={"Accept-Language": "en"}):
        body = domain_error_response(error).get_json()["error"]
    assert body == {"code": "qr_field_invalid", "message": "Field BIC of the QR code is invalid.",
                    "fields": {"BIC": ["Exactly 9 digits."]}, "params": {"field": "BIC", "max": 9}}
    with sqlite_app.test_request_context():
        body = domain_error_response(refused("ST00012|Name=x", "qr_field_missing")).get_json()["error"]
    assert body["message"] == "В QR-коде нет обязательных реквизитов: PersonalAcc, BankName, BIC, CorrespAcc."
    assert body["fields"]["BIC"] == ["Обязательный реквизит."]


def test_every_error_code_has_russian_and_english_texts():
    import re
    source = open(st00012.__file__, encoding="utf-8").read()
    codes = set(re.findall(r'"(qr_[a-z_]+)"', source))
    assert codes and codes <= set(MESSAGES)
    assert all(all(MESSAGES[code]) for code in codes)


# --- the bill's payload and its QR image ----------------------------------------------------------

def test_bill_payload_round_trips(ctx):
    supplier = make_supplier(name="АО «Мосводоканал»", kind="water")
    account = make_account(supplier, address="г. Москва, ул. Арбат, д. 10, кв. 3")
    bill = make_bill(account, date(2025, 3, 1), "1234.56", insurance_amount=Decimal("45.00"))
    fields = decode(st00012.for_bill(bill))
    assert {key: fields[key] for key in ("Name", "PersonalAcc", "BankName", "BIC", "CorrespAcc", "PayeeINN", "KPP")} == {
        "Name": "АО «Мосводоканал»", "PersonalAcc": supplier.settlement_account, "BankName": "ПАО СБЕРБАНК",
        "BIC": "044525225", "CorrespAcc": "30101810400000000225", "PayeeINN": "7701234567", "KPP": "770101001"}
    assert fields["amount"] == Decimal("1234.56")  # the total due; the insurance is the customer's choice
    assert fields["Sum"] == "123456"
    assert fields["period"] == date(2025, 3, 1) and fields["paymPeriod"] == "032025"
    assert fields["account_number"] == account.number
    assert fields["Purpose"] == f"Оплата по л/с {account.number} за 03.2025"
    assert fields["payerAddress"] == "г. Москва, ул. Арбат, д. 10, кв. 3"
    assert fields["TechCode"] == "02"
    db.session.rollback()


@pytest.mark.parametrize("total_due", ["0", "-250.00"])
def test_bill_payload_without_sum_when_nothing_is_due(ctx, total_due):
    account = make_account(make_supplier(kind="security"))
    fields = decode(st00012.for_bill(make_bill(account, date(2025, 4, 1), total_due)))
    assert "Sum" not in fields and fields["amount"] is None
    assert fields["account_number"] == account.number and fields["TechCode"] == "04"
    db.session.rollback()


def test_bill_payload_refused_when_the_supplier_details_break_the_standard(ctx):
    supplier = make_supplier()
    supplier.bank_name = "Б" * 46
    bill = make_bill(make_account(supplier), date(2025, 4, 1), "10")
    with pytest.raises(PayloadError) as caught:
        st00012.for_bill(bill)
    assert caught.value.fields == {"BankName": ["qr_value_too_long"]}
    db.session.rollback()


def test_qr_png_is_a_qr_symbol_with_quiet_zone():
    payload = decode(HOUSING_UTF8) and HOUSING_UTF8
    image = Image.open(io.BytesIO(st00012.qr_png(payload)))
    assert image.format == "PNG" and image.width == image.height
    modules = image.width // 10
    assert image.width % 10 == 0 and (modules - 8 - 17) % 4 == 0  # 17 + 4 × version modules, 4 each side
    assert image.getpixel((0, 0)) == image.getpixel((39, 39)) != image.getpixel((40, 40))  # white margin, black finder
    assert st00012.qr_png(payload) == st00012.qr_png(payload)
    # windows-1251 takes one byte per Cyrillic letter: a smaller symbol than UTF-8.
    smaller = Image.open(io.BytesIO(st00012.qr_png("ST00011" + HOUSING_UTF8[7:])))
    assert smaller.width < image.width
