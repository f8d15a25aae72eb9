"""The power calculation (CL-1) as an A4 PDF: the appliances, the totals and the advice, for the
customer to keep or to attach to a grid connection request.

Fonts and Russian number notation come from ``bill_pdf`` (DejaVu Sans: the PDF core fonts have no
Cyrillic).
"""
from fpdf import FPDF
from fpdf.fonts import FontFace

from . import periods, power_calculator
from .bill_pdf import FONTS, MARGIN, number

COLUMNS = ("Прибор", "Мощность, кВт", "Кол-во", "Коэфф. одновременности", "Нагрузка, кВт")
WIDTHS = (70, 27, 18, 35, 30)  # mm, the 180 mm between the margins
ALIGN = ("LEFT", *["RIGHT"] * 4)


def render(calculation):
    """The calculation as PDF bytes."""
    pdf = FPDF(format="A4")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, MARGIN)
    pdf.add_font("DejaVu", "", FONTS / "DejaVuSans.ttf")
    pdf.add_font("DejaVu", "B", FONTS / "DejaVuSans-Bold.ttf")
    pdf.set_title("Расчёт мощности для технологического присоединения")
    pdf.add_page()

    _text(pdf, "Расчёт мощности для технологического присоединения", size=14, bold=True, height=8)
    _text(pdf, f"Дата расчёта: {periods.local_today():%d.%m.%Y}")
    pdf.ln(3)
    pdf.set_font("DejaVu", size=9)
    with pdf.table(col_widths=WIDTHS, text_align=ALIGN, line_height=5, padding=1,
                   headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230))) as table:
        table.row(COLUMNS)
        for line in calculation.items:
            table.row([line.name, number(line.power_kw), str(line.count), number(line.simultaneity),
                       number(line.load_kw)])

    pdf.ln(4)
    _text(pdf, f"Установленная мощность: {number(calculation.installed_kw)} кВт")
    _text(pdf, f"Расчётная нагрузка: {number(calculation.demand_kw)} кВт")
    _text(pdf, f"Рекомендуемая мощность присоединения: {number(calculation.recommended_kw)} кВт", bold=True)
    phases = "трёхфазное (380 В)" if calculation.suggested_phases == 3 else "однофазное (220 В)"
    _text(pdf, f"Рекомендуемое подключение: {phases}")
    for note in calculation.notes:
        pdf.ln(2)
        _text(pdf, power_calculator.NOTES[note][0], bold=True)
    pdf.ln(4)
    _text(pdf, "Расчёт ориентировочный: нагрузка — сумма мощностей приборов с учётом коэффициентов "
               "одновременности; мощность округлена вверх до стандартной ступени (3, 5, 7, 10, 12, 15 кВт).",
          size=8, height=4)
    return bytes(pdf.output())


def _text(pdf, text, size=10, bold=False, height=5):
    pdf.set_font("DejaVu", "B" if bold else "", size)
    pdf.multi_cell(pdf.epw, height, text, align="L", new_x="LMARGIN", new_y="NEXT")
