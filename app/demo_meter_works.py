"""Demo meter works for `make run` (PR-2, PR-3): Мария's hot-water meter replacement waits for her
to pick one of the visit slots the dispatcher offered, and her CT/VT verification waits for the
dispatcher to schedule it. DEMO ONLY."""
from datetime import timedelta

from sqlalchemy import select

from .demo_steps import settle
from .extensions import db
from .models.accounts import Account
from .models.customers import Customer
from .models.meters import Meter
from .models.requests import ServiceRequest
from .models.workflow import HumanTask
from .services import periods, service_requests
from .workflows import tasks

MARIA_PHONE = "+79161234567"
KINDS = ("meter_replacement", "ct_vt_verification")


def load_demo_meter_works():
    maria = db.session.execute(select(Customer).where(Customer.phone == MARIA_PHONE)).scalar_one_or_none()
    if maria is None:
        return "no demo meter works (Мария is missing)"
    if db.session.execute(select(ServiceRequest.id).where(ServiceRequest.customer_id == maria.id,
                                                          ServiceRequest.type.in_(KINDS)).limit(1)).first():
        return "demo meter works already present"
    hot = db.session.execute(select(Meter).where(Meter.serial == "ВСГ-15-2231908")).scalar_one_or_none()
    energo = db.session.execute(select(Account).where(Account.number == "7712345678")).scalar_one_or_none()
    if hot is None or energo is None:
        return "no demo meter works (Мария's accounts are missing)"
    today = periods.local_today()
    replacement = _submitted(maria, "meter_replacement", {
        "meter_id": hot.id, "reason": "broken", "preferred_dates": [(today + timedelta(days=3)).isoformat()],
        "preferred_time": "09:00-12:00", "comment": "Счётчик не крутится, вода идёт."})
    slots = [f"{today + timedelta(days=days)} {time}"
             for days, time in ((3, "09:00-12:00"), (3, "12:00-15:00"), (5, "15:00-18:00"))]
    _staff_completes(replacement, tasks.Worker("dispatcher", ["Dispatcher"]),
                     {"slots": slots, "dispatcher_note": "Техник позвонит за час до визита."})
    ct_vt = _submitted(maria, "ct_vt_verification", {
        "account_id": energo.id, "transformer_kind": "current", "count": 3, "model": "ТОП-0,66",
        "ratio": "100/5", "last_verified_on": "2018-04-10", "comment": "Трансформаторы в щитке на лестнице."})
    return (f"demo meter works: {replacement.number} (replacement, waiting for Мария to pick a slot), "
            f"{ct_vt.number} (CT/VT verification, waiting for the dispatcher)")


def _submitted(customer, kind, form):
    req = service_requests.create_draft(customer.id, kind, form)
    service_requests.submit(customer.id, req.id)
    settle(req.process_instance_id)
    return req


def _staff_completes(req, worker, data):
    task = db.session.execute(select(HumanTask).where(HumanTask.instance_id == req.process_instance_id,
                                                      HumanTask.status == "open")).scalars().one()
    tasks.complete(task.id, worker, data)
    settle(req.process_instance_id)


