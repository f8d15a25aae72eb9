"""Documents a request's process issues (contract offer, technical conditions, acts): an A4 PDF
with a title, the request's number and labelled lines, attached to the request as the
company's file so the customer downloads it with the request's other files.

Issued from BPMN by the service task ``request.issue_document``; one document per job, so a
retried job attaches nothing twice.
"""
from fpdf import FPDF
from sqlalchemy import select

from ..extensions import db
from ..models.requests import RequestAttachment, ServiceRequest
from . import periods, uploads
from .service_requests import display_name
from .bill_pdf import FONTS, MARGIN

TITLE_MAX = 200
LINES_MAX = 60


def render(title, number, lines, note=None):
    pdf = FPDF(format="A4")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, MARGIN)
    pdf.add_font("DejaVu", "", FONTS / "DejaVuSans.ttf")
    pdf.add_font("DejaVu", "B", FONTS / "DejaVuSans-Bold.ttf")
    pdf.set_title(title)
    pdf.add_page()
    _text(pdf, title, size=14, bold=True, height=8)
    _text(pdf, f"Заявка № {number} · {periods.local_today():%d.%m.%Y}")
    pdf.ln(4)
    for label, value in lines:
        _text(pdf, f"{label}: {value}" if label else str(value))
    if note:
        pdf.ln(4)
        _text(pdf, note, size=8, height=4)
    return bytes(pdf.output())


def _text(pdf, text, size=10, bold=False, height=5):
    pdf.set_font("DejaVu", "B" if bold else "", size)
    pdf.multi_cell(pdf.epw, height, text, align="L", new_x="LMARGIN", new_y="NEXT")


def _lines(value):
    """``[[label, value], …]`` or ``{label: value}`` from the process, as text pairs."""
    if isinstance(value, dict):
        value = list(value.items())
    if not isinstance(value, list) or len(value) > LINES_MAX:
        raise ValueError(f"'lines' must be a list of at most {LINES_MAX} [label, value] pairs or a mapping")
    pairs = []
    for item in value:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            pairs.append((str(item[0])[:200], str(item[1])[:2000]))
        else:
            pairs.append(("", str(item)[:2000]))
    return pairs


def issue(business_key, title, lines, filename, job_id, note=None):
    """Render and attach a document to the request numbered ``business_key``; once per job.
    Returns ``{"attachment_id", "filename"}``. ``LookupError`` if there is no such request,
    ``ValueError`` for unusable parameters (both permanent for the job)."""
    title = str(title or "").strip()
    if not title or len(title) > TITLE_MAX:
        raise ValueError(f"'title' must be 1 to {TITLE_MAX} characters")
    pairs = _lines(lines)
    req = db.session.execute(select(ServiceRequest).where(ServiceRequest.number == business_key)).scalar_one_or_none()
    if req is None:
        raise LookupError(f"no service request numbered {business_key!r}")
    done = db.session.execute(select(RequestAttachment).where(RequestAttachment.job_id == job_id)).scalar_one_or_none()
    if done is not None:
        return {"attachment_id": done.id, "filename": done.filename, "repeated": True}
    stored = uploads.store(render(title, req.number, pairs, note), "requests", allowed=("application/pdf",),
                           max_bytes=20 * 1024 * 1024)
    try:
        attachment = RequestAttachment(request_id=req.id, path=stored.path, job_id=job_id,
                                       filename=display_name(filename or title, stored.content_type),
                                       content_type=stored.content_type, size=stored.size, uploaded_by="staff")
        db.session.add(attachment)
        db.session.flush()
    except BaseException:
        uploads.delete(stored.path)
        raise
    return {"attachment_id": attachment.id, "filename": attachment.filename}
