"""Demo service requests for `make run`: Мария has a saved draft and a submitted meter
verification with a chat in both directions, then every other kind of request from its own
demo module (each idempotent). DEMO ONLY."""
from sqlalchemy import select

from .demo_appeals import load_demo_appeals
from .demo_grid_connection import load_demo_grid_connection
from .demo_meter_works import load_demo_meter_works
from .demo_offices import load_demo_offices
from .demo_paid_services import load_demo_paid_services
from .demo_staff_requests import load_demo_staff_requests
from .demo_support_chat import load_demo_support_chat
from .extensions import db
from .models.accounts import Account
from .models.customers import Customer
from .models.meters import Meter
from .models.requests import ServiceRequest
from .services import service_requests


# After Мария's meter verification: that one is added only while she has no request at all.
_PROCESS_DEMOS = (load_demo_grid_connection, load_demo_meter_works, load_demo_paid_services, load_demo_appeals,
                  load_demo_offices, load_demo_support_chat, load_demo_staff_requests)


def load_demo_requests():
    return "; ".join([_maria_verification()] + [load() for load in _PROCESS_DEMOS])


def _maria_verification():
    maria = db.session.execute(select(Customer).where(Customer.phone == "+79161234567")).scalar_one_or_none()
    if maria is None:
        return "no demo requests (Мария is missing)"
    if db.session.execute(select(ServiceRequest.id).where(ServiceRequest.customer_id == maria.id).limit(1)).first():
        return "demo requests already present"
    electricity, cold = db.session.execute(
        select(Meter.id).join(Account, Account.id == Meter.account_id)
        .where(Account.number.in_(("7712345678", "5012345678"))).order_by(Account.number.desc(), Meter.id)
    ).scalars().all()[:2]
    service_requests.create_draft(maria.id, "meter_verification",
                                  {"meter_id": cold, "comment": "Удобно в будни после 18:00"})
    submitted = service_requests.create_draft(maria.id, "meter_verification", {"meter_id": electricity})
    service_requests.submit(maria.id, submitted.id)
    service_requests.customer_message(maria.id, submitted.id, "Подскажите, нужно ли быть дома во время поверки?")
    service_requests.staff_message(submitted.id, "operator", "Да, техник придёт в согласованное время.")
    return f"demo requests: a draft and {submitted.number} (submitted, with a chat)"
