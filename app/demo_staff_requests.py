"""Demo rows of the staff side of requests for `make run` (DEMO ONLY): an appeal filed in the
office for a walk-in without an account (its number answers the public status check), and
the operator's reply with a PDF on Мария's submitted meter verification (app/demo_requests.py
runs first)."""
from sqlalchemy import select

from .extensions import db
from .models.customers import Customer
from .models.requests import RequestMessage, ServiceRequest
from .services import request_documents, staff_requests
from .services.request_types import TYPES

WALK_IN = {"name": "Смирнов Алексей Иванович", "phone": "+79035550101"}


def load_demo_staff_requests():
    done = []
    walk_in = db.session.execute(
        select(ServiceRequest).where(ServiceRequest.filed_in_office.is_(True), ServiceRequest.customer_id.is_(None))
        .limit(1)
    ).scalar_one_or_none()
    if walk_in is None and "appeal" in staff_requests.office_types():
        walk_in = staff_requests.file_in_office(
            "appeal", {"other_topic": "Перерасчёт за май",
                       "text": "Прошу пересчитать начисление: в мае дома никого не было."},
            WALK_IN["phone"], WALK_IN["name"], "operator")
        done.append(f"office appeal {walk_in.number} for a walk-in")
    maria = db.session.execute(select(Customer).where(Customer.phone == "+79161234567")).scalar_one_or_none()
    verification = maria and db.session.execute(
        select(ServiceRequest).where(ServiceRequest.customer_id == maria.id,
                                     ServiceRequest.type == "meter_verification", ServiceRequest.status != "draft")
        .order_by(ServiceRequest.id).limit(1)
    ).scalar_one_or_none()
    if verification is not None and "meter_verification" in TYPES:
        replied = db.session.execute(
            select(RequestMessage.id).where(RequestMessage.request_id == verification.id,
                                            RequestMessage.staff_username == "operator",
                                            RequestMessage.text.like("Памятка%")).limit(1)
        ).first()
        if replied is None:
            memo = request_documents.render("Памятка к поверке", verification.number,
                                            [["Доступ к прибору", "свободный"], ["Документы", "паспорт прибора учёта"]])
            staff_requests.post_message(verification.id, "operator", "Памятка к визиту техника во вложении.", memo,
                                        "памятка.pdf")
            done.append(f"an operator's reply with a PDF on {verification.number}")
    return "staff requests: " + ("; ".join(done) if done else "already present")
