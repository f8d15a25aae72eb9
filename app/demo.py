"""Demo data for `make run`: one staff user per role and meter verifications in every state.

DEMO ONLY: the passwords below are published in the README.
"""
from flask import current_app
from sqlalchemy import select

from .bootstrap import deploy_shipped, ensure_staff, init_security
from .demo_billing import load_demo_billing
from .demo_customers import load_demo_customers
from .demo_requests import load_demo_requests
from .demo_steps import settle
from .extensions import db
from .models.workflow import HumanTask, ProcessInstance
from .workflows import instances, messages, tasks

DEMO_PASSWORD = "Demo-pass-2026!"
DEMO_STAFF = [
    ("admin", "Admin", "Анна", "Админова"),
    ("operator", "Operator", "Олег", "Операторов"),
    ("dispatcher", "Dispatcher", "Дарья", "Диспетчерова"),
    ("technician", "Technician", "Тимур", "Техников"),
    ("billing", "Billing", "Борис", "Биллингов"),
    ("analyst", "Analyst", "Алла", "Аналитикова"),
    ("editor", "ContentEditor", "Елена", "Редакторова"),
]
# DEMO ONLY, published in the README: the TOTP secret of the demo users whose role requires
# two-factor sign-in (admin, analyst); `flask kabinet demo-totp` prints the current code.
DEMO_TOTP_SECRET = "KABINETDEMOONLYNEVERPRODUCTION23"


def _verification(number, meter_kind="electricity", overdue=False):
    return {
        "request_number": number, "customer_phone": "+79161234567", "account_number": "5001234567",
        "meter_serial": f"SN-{number[-4:]}", "meter_kind": meter_kind, "overdue": overdue,
    }


def _complete(instance, worker, data):
    settle(instance.id)
    task = db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == "open")
    ).scalars().first()
    return tasks.complete(task.id, worker, data)


def load_demo():
    app = current_app
    init_security(app)
    created_users = ensure_staff(app, DEMO_STAFF, DEMO_PASSWORD, "kabinet.local")
    enrol_demo_staff()
    deploy_shipped()
    customers = load_demo_customers()
    customers += "; " + load_demo_billing()
    if db.session.execute(select(ProcessInstance.id).limit(1)).first():
        customers += "; " + load_demo_requests()  # idempotent; for databases made before requests existed
        return f"demo data already present ({created_users} staff users added); {customers}{TWO_FACTOR_NOTE}"

    dispatcher = tasks.Worker("dispatcher", ["Dispatcher"])
    technician = tasks.Worker("technician", ["Technician"])
    visit = {"visit_date": "2026-12-01", "slot": "09:00-12:00", "technician": "technician"}

    instances.start("meter_verification", "MV-2026-0001", _verification("MV-2026-0001"), actor="demo")
    claimed = instances.start("meter_verification", "MV-2026-0002", _verification("MV-2026-0002", "cold_water"),
                              actor="demo")
    settle(claimed.id)
    task = db.session.execute(select(HumanTask).where(HumanTask.instance_id == claimed.id)).scalars().first()
    tasks.claim(task.id, dispatcher)
    scheduled = instances.start("meter_verification", "MV-2026-0003", _verification("MV-2026-0003", "heat"),
                                actor="demo")
    _complete(scheduled, dispatcher, visit)
    for number, result in (("MV-2026-0004", "passed"), ("MV-2026-0005", "failed")):
        done = instances.start("meter_verification", number, _verification(number), actor="demo")
        _complete(done, dispatcher, visit)
        _complete(done, technician, {"equipment_ready": True})
        messages.send("verification_report", {"request_number": number}, {"result": result}, actor="demo")
    suspended = instances.start("meter_verification", "MV-2026-0006", _verification("MV-2026-0006", overdue=True),
                                actor="demo")
    settle(suspended.id)  # the acceptance notice goes first: a job changing the instance races the action
    instances.suspend(suspended.id, "demo")
    cancelled = instances.start("meter_verification", "MV-2026-0007", _verification("MV-2026-0007"), actor="demo")
    settle(cancelled.id)
    instances.cancel(cancelled.id, "demo")
    # Filed in an office without a phone: the first notice fails, an incident for the monitor.
    no_contact = dict(_verification("MV-2026-0008"), customer_phone=None)
    failed = instances.start("meter_verification", "MV-2026-0008", no_contact, actor="demo")
    settle(failed.id)
    # After the verifications above: the check for existing instances must not see these first.
    customers += "; " + load_demo_requests()
    return (f"demo data loaded: {created_users} staff users, 8 meter verifications (one with an incident); "
            f"{customers}{TWO_FACTOR_NOTE}")


TWO_FACTOR_NOTE = ("\nDEMO ONLY: admin and analyst sign in with a second factor; "
                   "`.venv/bin/flask kabinet demo-totp` prints their current code")


def enrol_demo_staff():
    """Give the demo users whose role requires two-factor sign-in the published demo secret
    (unless they have enrolled otherwise). Returns their logins."""
    from .services import staff_two_factor

    sm = current_app.appbuilder.sm
    enrolled = []
    for username, *_rest in DEMO_STAFF:
        user = sm.find_user(username=username)
        if user is not None and staff_two_factor.is_required(user) and not staff_two_factor.is_enrolled(user):
            staff_two_factor.enrol_with_secret(user, DEMO_TOTP_SECRET)
            enrolled.append(username)
    return enrolled


