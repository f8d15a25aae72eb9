"""`make run`'s demo data: every state of the shipped processes and of requests, loaded once."""
from collections import Counter
from datetime import date
from decimal import Decimal

from app import create_app
from app.demo import load_demo
from app.demo_billing import MARIA_ACCOUNTS, PETR_ACCOUNT, load_demo_billing
from app.demo_customers import load_demo_customers
from app.extensions import db
from app.models.accounts import Account, CustomerAccount, ObjectEvent, Supplier
from app.models.billing import Autopay, Bill, Invoice, Payment
from app.models.customers import Customer, CustomerDevice
from app.models.meters import Meter, Reading
from app.models.requests import STATUSES, ServiceRequest
from app.models.workflow import Incident, ProcessInstance
from app.services import notifications, service_requests, st00012
from app.services.request_types import TYPES
from tests.conftest import BASE_CONFIG


def test_demo_loads_every_state_once(tmp_path):
    from flask_migrate import upgrade

    app = create_app(dict(BASE_CONFIG, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'demo.db'}",
                          OUTBOX_LOG_PATH=str(tmp_path / "outbox.log")))
    with app.app_context():
        upgrade()
        assert "8 meter verifications" in load_demo()
        statuses = Counter(status for (status,) in db.session.query(ProcessInstance.status)
                           .filter(ProcessInstance.business_key.like("MV-%")))
        # the 8 meter verifications started by hand, one in each state
        assert statuses == {"waiting": 4, "completed": 1, "suspended": 1, "cancelled": 1, "error": 1}
        # Мария's requests, the walk-in's and the guest's: every status but a process's cancel
        request_statuses = Counter(status for (status,) in db.session.query(ServiceRequest.status))
        assert set(request_statuses) == set(STATUSES) - {"cancelled"}
        kinds = {kind for (kind,) in db.session.query(ServiceRequest.type)}
        assert kinds == set(TYPES) - {"security_sms", "supply_service", "address_mismatch", "meter_installation"}
        instances_before, requests_before = db.session.query(ProcessInstance).count(), sum(request_statuses.values())
        assert db.session.query(Incident).count() == 1
        customers = {c.phone: c for c in db.session.query(Customer)}
        maria = customers["+79161234567"]
        assert maria.email_confirmed_at and maria.theme == "dark"
        assert [d.has_pin for d in db.session.query(CustomerDevice).filter_by(customer_id=maria.id)] == [True]
        assert customers["+79031112233"].pending_email == "petr.sidorov@example.ru"
        assert customers[None].status == "closed" and customers[None].full_name == "Учётная запись закрыта"
        assert app.appbuilder.sm.find_user(username="dispatcher").roles[0].name == "Dispatcher"
        billing = _billing_counts()
        assert "already present" in load_demo()  # safe to run again
        assert _billing_counts() == billing
        assert db.session.query(ProcessInstance).count() == instances_before
        assert db.session.query(ServiceRequest).count() == requests_before
        verification = db.session.query(ServiceRequest).filter_by(customer_id=maria.id, type="meter_verification",
                                                                  status="in_progress").one()
        assert verification.process_instance_id is not None
        assert [m.author_kind for m in service_requests.messages(verification.id)] == ["customer", "staff", "staff"]
        assert db.session.query(Customer).count() == 3
        assert notifications.wait_for_delivery()  # the outbox is delivered by jobs after commit
        db.session.remove()
    assert "принята" in (tmp_path / "outbox.log").read_text(encoding="utf-8")


def _billing_counts():
    return {model.__name__: db.session.query(model).count() for model in (
        Supplier, Account, Meter, Reading, Bill, Payment, CustomerAccount, ObjectEvent, Invoice, Autopay)}


def test_demo_billing_data_is_consistent(tmp_path):
    """Мария's accounts, Пётр's unverified link, windows open and closed today, and bills whose
    ST00012 payment codes decode to the supplier's bank details."""
    from flask_migrate import upgrade

    app = create_app(dict(BASE_CONFIG, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'billing.db'}"))
    with app.app_context():
        upgrade()
        load_demo_customers()
        today = date.today()
        load_demo_billing(today)
        counts = _billing_counts()
        assert counts["Supplier"] == 3 and counts["Account"] > 300 and counts["Payment"] >= 3
        assert "already present" in load_demo_billing(today) and _billing_counts() == counts
        links = {(link.customer.phone, link.account.number): link for link in db.session.query(CustomerAccount)}
        maria = [number for (phone, number), link in links.items() if phone == "+79161234567" and link.verified_at]
        assert sorted(maria) == sorted(MARIA_ACCOUNTS.values())
        assert links[("+79031112233", PETR_ACCOUNT)].verified_at is None
        windows = {s.code: range(s.reading_window_start_day, s.reading_window_end_day + 1)
                   for s in db.session.query(Supplier)}
        assert today.day in windows["demo-energo"] and today.day not in windows["demo-voda"]
        electricity = db.session.query(Account).filter_by(number=MARIA_ACCOUNTS["demo-energo"]).one()
        bills = db.session.query(Bill).filter_by(account_id=electricity.id).order_by(Bill.period).all()
        assert len(bills) == 12 and bills[-1].total_due > 0 and bills[-1].insurance_amount == Decimal("45.00")
        for bill in bills:
            assert bill.total_due == bill.debt_at_start - bill.paid_in_period + sum(line.total for line in bill.lines)
        meters = db.session.query(Meter).join(Account).filter(Account.number.in_(MARIA_ACCOUNTS.values())).all()
        assert sorted((m.kind, m.zones) for m in meters) == [("cold_water", 1), ("electricity", 2), ("hot_water", 1)]
        assert db.session.query(Reading).filter(Reading.abnormal.is_(True),
                                                Reading.meter_id.in_([m.id for m in meters])).count() == 1
        for account in db.session.query(Account).filter(Account.number.in_(MARIA_ACCOUNTS.values())):
            bill = db.session.query(Bill).filter_by(account_id=account.id).order_by(Bill.period.desc()).first()
            fields = st00012.decode(st00012.for_bill(bill))
            supplier = account.supplier
            assert (fields["Name"], fields["PersonalAcc"], fields["BIC"], fields["CorrespAcc"], fields["PayeeINN"]) \
                == (supplier.name, supplier.settlement_account, supplier.bic, supplier.correspondent_account,
                    supplier.inn)
            assert fields["persAcc"] == account.number
        db.session.remove()
