"""Demo grid connection (PR-1) for `make run`: Мария's application for her house, checked by the
operator, with the contract offer and technical conditions issued and waiting for her to accept
or decline them in the app. DEMO ONLY."""
from sqlalchemy import select

from .demo_steps import settle
from .extensions import db
from .models.customers import Customer
from .models.requests import ServiceRequest
from .models.workflow import HumanTask
from .services import request_documents, service_requests
from .workflows import tasks

FORM = {
    "object_type": "house", "object_address": "Московская обл., г. Истра, СНТ «Ромашка», уч. 42",
    "cadastral_number": "50:08:0040213:1234", "requested_power_kw": 12, "phases": 3, "voltage_kv": 0.4,
    "reason": "new", "comment": "Строим дом, нужен свет на участке",
}
CHECKED = {"has_ownership_document": True, "has_passport": True, "has_site_plan": True}
OFFER = {"connection_point": "Опора № 14 ВЛ-0,4 кВ «Лесная»", "substation": "ТП-312, фидер 5",
         "network_works": "Ответвление от опоры № 14 до границы участка, установка прибора учёта",
         "customer_works": "Вводное устройство и внутренняя проводка объекта"}


def load_demo_grid_connection():
    maria = db.session.execute(select(Customer).where(Customer.phone == "+79161234567")).scalar_one_or_none()
    if maria is None:
        return "no demo grid connection (Мария is missing)"
    if db.session.execute(select(ServiceRequest.id).where(ServiceRequest.customer_id == maria.id,
                                                          ServiceRequest.type == "grid_connection").limit(1)).first():
        return "demo grid connection already present"
    req = service_requests.create_draft(maria.id, "grid_connection", FORM)
    # Her scanned documents, stood in for by one generated PDF.
    scan = request_documents.render("Выписка из ЕГРН (демо)", req.number, [
        ("Объект", FORM["object_address"]), ("Кадастровый номер", FORM["cadastral_number"]),
        ("Правообладатель", maria.full_name)])
    service_requests.add_attachment(maria.id, req.id, scan, "Выписка ЕГРН.pdf")
    service_requests.submit(maria.id, req.id)
    operator = tasks.Worker("operator", ["Operator"])
    for name, data in (("check_completeness", CHECKED), ("prepare_offer", OFFER)):
        settle(req.process_instance_id)
        task = db.session.execute(select(HumanTask).where(HumanTask.instance_id == req.process_instance_id,
                                                          HumanTask.name == name, HumanTask.status == "open")
                                  ).scalar_one()
        tasks.complete(task.id, operator, data)
    settle(req.process_instance_id)
    return f"demo grid connection: {req.number} waits for Мария to accept the offer"


