"""The bill PDF (BL-2): its text as a PDF reader extracts it, the QR image, fonts, determinism."""
import io
from datetime import date
from decimal import Decimal

import pypdf
import pytest
from PIL import Image

from app.extensions import db
from app.models.billing import Bill, BillLine
from app.services import bill_pdf, st00012
from tests.support.billing import make_account, make_bill, make_supplier


@pytest.fixture
def sqlite_ctx(sqlite_app):
    with sqlite_app.app_context():
        yield
        db.session.rollback()
        db.session.remove()


def pdf_text(data):
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def lines_of(text):
    return [line.strip() for line in text.splitlines()]


def bill_with_lines(**values):
    supplier = make_supplier(name="ООО «Мосэнергосбыт»", phone="+7 495 981-98-19")
    account = make_account(supplier, address="г. Москва, ул. Тверская, д. 7, кв. 12", holder_name="Петров Иван Сергеевич")
    values = {"debt_at_start": Decimal("1500.00"), "paid_in_period": Decimal("1500.00"),
              "due_on": date(2025, 4, 25), **values}
    return make_bill(account, date(2025, 3, 1), "1251.05",
                     lines=[("electricity", "150", "6.43"), ("cold_water", "5.5", "52.10")], **values)


def test_text_of_the_bill(sqlite_ctx):
    bill = bill_with_lines(insurance_amount=Decimal("45.00"))
    text = pdf_text(bill_pdf.render(bill))
    rows = lines_of(text)
    for expected in ("Счёт за март 2025", "ООО «Мосэнергосбыт»", "ИНН 7701234567, КПП 770101001",
                     "Р/с 40702810938000012345 в ПАО СБЕРБАНК", "БИК 044525225, к/с 30101810400000000225",
                     f"Лицевой счёт: {bill.account.number}", "Адрес: г. Москва, ул. Тверская, д. 7, кв. 12",
                     "Плательщик: Петров Иван Сергеевич", "Период: март 2025", "Оплатить до: 25.04.2025",
                     "Услуга Ед. Объём Тариф Начислено Льгота Перерасчёт Итого",
                     "Электроэнергия кВт·ч 150 6,43 964,50 0,00 0,00 964,50",
                     "Холодное водоснабжение м³ 5,5 52,10 286,55 0,00 0,00 286,55",
                     "Задолженность на начало периода: 1 500,00", "Оплачено в периоде: 1 500,00",
                     "Начислено за период: 1 251,05", "Итого к оплате: 1 251,05",
                     "Добровольное страхование (оплачивается по желанию): 45,00",
                     "Итого с учётом страхования: 1 296,05"):
        assert expected in rows, (expected, rows)
    assert "Переплата" not in text


def test_no_insurance_line_when_the_account_opted_out(sqlite_ctx):
    text = pdf_text(bill_pdf.render(bill_with_lines()))
    assert "страхование" not in text and "Итого к оплате: 1 251,05" in lines_of(text)


def test_overpaid_bill_shows_the_overpayment(sqlite_ctx):
    bill = make_bill(make_account(make_supplier()), date(2025, 2, 1), "-312.40", charged=Decimal("687.60"),
                     paid_in_period=Decimal("1000.00"))
    rows = lines_of(pdf_text(bill_pdf.render(bill)))
    assert "Переплата: 312,40" in rows and not any(row.startswith("Итого к оплате") for row in rows)
    assert "Оплатить до" not in " ".join(rows)  # no due date given


def test_tariff_zones_are_named_and_big_amounts_grouped(sqlite_ctx):
    account = make_account(make_supplier())
    service = account.supplier.services[0]
    bill = Bill(account=account, period=date(2025, 1, 1), issued_on=date(2025, 2, 1), total_due=Decimal("123456.78"),
                charged=Decimal("123456.78"))
    for zone, volume, tariff in ((1, "12000.5", "6.43"), (2, "8000", "2.9125")):
        charge = (Decimal(volume) * Decimal(tariff)).quantize(Decimal("0.01"))
        bill.lines.append(BillLine(position=zone, service=service, service_code=service.code, service_name=service.name,
                                   zone=zone, unit=service.unit, volume=Decimal(volume), tariff=Decimal(tariff),
                                   charge=charge, benefit=Decimal("-100.00"), recalculation=Decimal("12.30"),
                                   total=charge - 100 + Decimal("12.30")))
    db.session.add(bill)
    db.session.flush()
    rows = lines_of(pdf_text(bill_pdf.render(bill)))
    assert "Электроэнергия (зона 1) кВт·ч 12 000,5 6,43 77 163,22 -100,00 12,30 77 075,52" in rows
    assert "Электроэнергия (зона 2) кВт·ч 8 000 2,9125 23 300,00 -100,00 12,30 23 212,30" in rows
    assert "Итого к оплате: 123 456,78" in rows


def test_qr_code_image_carries_the_bills_payload(sqlite_ctx):
    bill = bill_with_lines()
    reader = pypdf.PdfReader(io.BytesIO(bill_pdf.render(bill)))
    images = reader.pages[0].images
    assert len(images) == 1
    expected = Image.open(io.BytesIO(st00012.qr_png(st00012.for_bill(bill))))
    assert images[0].image.size == expected.size
    # the pixels too: the PDF holds exactly that symbol
    assert images[0].image.convert("1").tobytes() == expected.convert("1").tobytes()
    assert st00012.decode(st00012.for_bill(bill))["amount"] == Decimal("1251.05")


def test_a4_page_with_embedded_dejavu_fonts(sqlite_ctx):
    reader = pypdf.PdfReader(io.BytesIO(bill_pdf.render(bill_with_lines())))
    page = reader.pages[0]
    assert len(reader.pages) == 1
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
    fonts = {font.get_object()["/BaseFont"] for font in page["/Resources"]["/Font"].values()}
    assert {name.split("+")[-1] for name in fonts} == {"DejaVuSansBook", "DejaVuSansBold"}  # subset tag + name
    for font in page["/Resources"]["/Font"].values():
        descendant = font.get_object()["/DescendantFonts"][0].get_object()
        assert "/FontFile2" in descendant["/FontDescriptor"]  # the TTF is inside the PDF
    assert reader.metadata.title.startswith("Счёт по лицевому счёту")


def test_fonts_are_the_apps_own():
    assert bill_pdf.FONTS.parent.parent.name == "app"
    assert {path.name for path in bill_pdf.FONTS.iterdir()} >= {"DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LICENSE"}


def test_same_bill_same_bytes(sqlite_ctx):
    bill = bill_with_lines(insurance_amount=Decimal("45.00"))
    assert bill_pdf.render(bill) == bill_pdf.render(bill)


def test_number_formats():
    assert bill_pdf.money(Decimal("1234567.8")) == "1 234 567,80"
    assert bill_pdf.money(Decimal("-0.5")) == "-0,50"
    assert bill_pdf.money(0) == "0,00"
    assert bill_pdf.number(Decimal("150.000")) == "150"
    assert bill_pdf.number(Decimal("6.4300"), 2) == "6,43"
    assert bill_pdf.number(Decimal("2.9125"), 2) == "2,9125"
    assert bill_pdf.number(None) == ""
    assert bill_pdf.period_label(date(2025, 12, 1)) == "декабрь 2025"
