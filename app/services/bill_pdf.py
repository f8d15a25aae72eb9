"""The PDF of a bill (SPEC BL-2): an A4 page with the supplier's bank details, the account, the
lines per service, debts and payments, the total due and the ST00012 payment QR code.

fpdf2 embeds the DejaVu Sans TTF shipped in ``app/static/fonts`` (the PDF core fonts have no
Cyrillic, and a fresh machine may have no system fonts). The same bill gives the same bytes:
the creation date is the bill's issue date.
"""
import io
from datetime import datetime, time, timezone
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from . import st00012

FONTS = Path(__file__).resolve().parent.parent / "static" / "fonts"
MONTHS = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь",
          "ноябрь", "декабрь")
COLUMNS = ("Услуга", "Ед.", "Объём", "Тариф", "Начислено", "Льгота", "Перерасчёт", "Итого")
WIDTHS = (48, 14, 18, 18, 22, 20, 22, 18)  # mm, the 180 mm between the margins
ALIGN = ("LEFT", "CENTER", *["RIGHT"] * 6)
MARGIN = 15
# mm: a bill's UTF-8 payload makes a symbol of about 85 modules (quiet zone included), so modules
# of about half a millimetre, well within what phone cameras read.
QR_SIZE = 45


def render(bill):
    """The bill as PDF bytes."""
    account = bill.account
    supplier = account.supplier
    period = period_label(bill.period)
    pdf = FPDF(format="A4")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, MARGIN)
    pdf.add_font("DejaVu", "", FONTS / "DejaVuSans.ttf")
    pdf.add_font("DejaVu", "B", FONTS / "DejaVuSans-Bold.ttf")
    pdf.set_creation_date(datetime.combine(bill.issued_on, time(), tzinfo=timezone.utc))
    pdf.set_title(f"Счёт по лицевому счёту {account.number} за {period}")
    pdf.set_author(supplier.name)
    pdf.add_page()

    qr_x = pdf.w - MARGIN - QR_SIZE
    pdf.image(io.BytesIO(st00012.qr_png(st00012.for_bill(bill))), x=qr_x, y=MARGIN, w=QR_SIZE, h=QR_SIZE)
    pdf.set_font("DejaVu", size=7)
    pdf.set_xy(qr_x, MARGIN + QR_SIZE)
    pdf.multi_cell(QR_SIZE, 3.5, "Оплата по QR-коду в приложении банка", align="C")
    qr_bottom = pdf.get_y()

    left = pdf.epw - QR_SIZE - 5
    pdf.set_xy(MARGIN, MARGIN)
    _text(pdf, left, f"Счёт за {period}", size=14, bold=True, height=8)
    _text(pdf, left, supplier.name, bold=True)
    bank = [f"ИНН {supplier.inn}" + (f", КПП {supplier.kpp}" if supplier.kpp else ""),
            f"Р/с {supplier.settlement_account} в {supplier.bank_name}",
            f"БИК {supplier.bic}, к/с {supplier.correspondent_account}"]
    contacts = ", ".join(filter(None, (supplier.phone and f"тел. {supplier.phone}", supplier.email)))
    for line in bank + ([contacts] if contacts else []):
        _text(pdf, left, line, size=8, height=4)
    pdf.ln(3)
    _text(pdf, left, f"Лицевой счёт: {account.number}", bold=True)
    _text(pdf, left, f"Адрес: {account.address}")
    if account.holder_name:
        _text(pdf, left, f"Плательщик: {account.holder_name}")
    _text(pdf, left, f"Период: {period}")
    if bill.due_on:
        _text(pdf, left, f"Оплатить до: {bill.due_on:%d.%m.%Y}")

    pdf.set_y(max(pdf.get_y(), qr_bottom) + 4)
    _text(pdf, pdf.epw, f"Начисления за {period}, руб.", bold=True)
    pdf.ln(1)
    pdf.set_font("DejaVu", size=8)
    with pdf.table(col_widths=WIDTHS, text_align=ALIGN, line_height=4.5, padding=1,
                   headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230))) as table:
        table.row(COLUMNS)
        zoned = {line.service_code for line in bill.lines if line.zone != 1}
        for line in bill.lines:
            name = f"{line.service_name} (зона {line.zone})" if line.service_code in zoned else line.service_name
            table.row([name, line.unit, number(line.volume), number(line.tariff, 2), money(line.charge),
                       money(line.benefit), money(line.recalculation), money(line.total)])

    pdf.ln(4)
    _amount(pdf, "Задолженность на начало периода", bill.debt_at_start)
    _amount(pdf, "Оплачено в периоде", bill.paid_in_period)
    _amount(pdf, "Начислено за период", bill.charged)
    if bill.total_due < 0:
        _amount(pdf, "Переплата", -bill.total_due, bold=True)
    else:
        _amount(pdf, "Итого к оплате", bill.total_due, bold=True)
    if bill.insurance_amount:
        _amount(pdf, "Добровольное страхование (оплачивается по желанию)", bill.insurance_amount)
        _amount(pdf, "Итого с учётом страхования", max(bill.total_due, 0) + bill.insurance_amount)
    return bytes(pdf.output())


def period_label(period):
    """``date(2025, 3, 1)`` → ``"март 2025"``."""
    return f"{MONTHS[period.month - 1]} {period.year}"


def number(value, places=0):
    """Russian notation: ``Decimal("1234.5")`` → ``"1 234,5"``; at least ``places`` decimals,
    trailing zeros beyond them dropped; None → ``""``."""
    if value is None:
        return ""
    value = Decimal(value)
    exponent = value.normalize().as_tuple().exponent
    decimals = max(places, -exponent if isinstance(exponent, int) and exponent < 0 else 0)
    return f"{value:,.{decimals}f}".replace(",", " ").replace(".", ",")


def money(value):
    """``Decimal("1234.56")`` → ``"1 234,56"``."""
    return number(Decimal(value).quantize(Decimal("0.01")), 2)


def _text(pdf, width, text, size=10, bold=False, height=5):
    pdf.set_font("DejaVu", "B" if bold else "", size)
    pdf.set_x(MARGIN)
    pdf.multi_cell(width, height, text, new_x="LMARGIN", new_y="NEXT")


def _amount(pdf, label, value, bold=False):
    pdf.set_font("DejaVu", "B" if bold else "", 10)
    pdf.cell(pdf.epw - 35, 6, f"{label}:", align="R")
    pdf.cell(35, 6, money(value), align="R", new_x="LMARGIN", new_y="NEXT")
