"""Demo paid services for `make run` (SPEC PR-4, PR-5): the catalogue, and Мария's electrician
call-out waiting for her payment and a paid service done, paid and rated. DEMO ONLY.

Run after ``load_demo_requests`` (that one adds nothing once Мария has any request)."""
from sqlalchemy import select

from .demo_steps import settle_request
from .extensions import db
from .models.customers import Customer
from .models.paid_services import PaidService
from .models.requests import ServiceRequest
from .models.workflow import HumanTask
from .services import invoices, payment_callbacks, payments, service_requests
from .services.paid_services import seed_catalogue
from .workflows import tasks

DISPATCHER = tasks.Worker("dispatcher", ["Dispatcher"])
TECHNICIAN = tasks.Worker("technician", ["Technician"])
OPERATOR = tasks.Worker("operator", ["Operator"])




def _staff_step(req, worker, data):
    task = db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == req.process_instance_id, HumanTask.status == "open",
                                HumanTask.for_customer.is_(False))
    ).scalars().one()
    tasks.complete(task.id, worker, data)
    settle_request(req)


def _callout_awaiting_payment(maria):
    req = service_requests.create_draft(maria.id, "electrician_callout", {
        "address": "г. Москва, ул. Профсоюзная, д. 12, кв. 45", "urgency": "urgent",
        "problem": "После грозы не работают розетки в комнате, автомат не включается"})
    service_requests.submit(maria.id, req.id)
    settle_request(req)
    service_requests.customer_message(maria.id, req.id, "Домофон не работает, позвоните, пожалуйста, заранее.")
    _staff_step(req, DISPATCHER, {"technician": "technician", "visit_date": "2026-12-01", "slot": "10:00-12:00"})
    _staff_step(req, TECHNICIAN, {"visited_on": "2026-12-01", "amount": 3450,
                                  "work_done": "Заменён автоматический выключатель 16 А, проверена линия розеток",
                                  "materials": "Автомат ABB S201 C16 — 1 шт."})
    return req


def _paid_service_done(maria):
    service = db.session.execute(
        select(PaidService).where(PaidService.name == "Установка розетки или выключателя")).scalar_one()
    req = service_requests.create_draft(maria.id, "paid_service", {
        "service_id": service.id, "description": "Две розетки на кухне над столешницей"})
    service_requests.submit(maria.id, req.id)
    settle_request(req)
    service_requests.staff_message(req.id, "operator", "Здравствуйте! Розетки накладные или внутренние?")
    service_requests.customer_message(maria.id, req.id, "Внутренние, подрозетники уже есть.")
    _staff_step(req, OPERATOR, {"price": 1200, "price_comment": "Две розетки, работа и материалы."})
    (offer,) = service_requests.customer_tasks(req)
    service_requests.answer_task(maria.id, req.id, offer.id, {"decision": "accept", "price": "1200.00"})
    settle_request(req)
    invoice_id = next(i.id for i in invoices.open_for_customer(maria.id) if req.number in i.description)
    payment, _created = payments.pay(maria, {"consent": True, "items": [{"invoice_id": invoice_id}]},
                                     f"demo-paid-service-{req.id}")
    payment_callbacks.settle(payment, "succeeded")
    settle_request(req)
    _staff_step(req, TECHNICIAN, {"done_on": "2026-11-28", "work_done": "Установлены две розетки Legrand"})
    service_requests.rate(maria.id, req.id, 5, "Всё аккуратно, спасибо!")
    return req


def load_demo_paid_services():
    added = seed_catalogue()
    db.session.commit()
    maria = db.session.execute(select(Customer).where(Customer.phone == "+79161234567")).scalar_one_or_none()
    if maria is None:
        return f"paid services catalogue ({added} services added); no demo orders (Мария is missing)"
    if db.session.execute(select(ServiceRequest.id).where(
            ServiceRequest.customer_id == maria.id,
            ServiceRequest.type.in_(("electrician_callout", "paid_service"))).limit(1)).first():
        return f"paid services catalogue ({added} services added); demo orders already present"
    callout = _callout_awaiting_payment(maria)
    done = _paid_service_done(maria)
    return (f"paid services: catalogue ({added} services), {callout.number} electrician call-out "
            f"({callout.status}), {done.number} paid service ({done.status}, rated)")
