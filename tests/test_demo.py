"""`make run`'s demo data: every state of the shipped process, loaded once."""
from collections import Counter

from app import create_app
from app.demo import load_demo
from app.extensions import db
from app.models.customers import Customer, CustomerDevice
from app.models.workflow import Incident, ProcessInstance
from app.services import notifications
from tests.conftest import BASE_CONFIG


def test_demo_loads_every_state_once(tmp_path):
    from flask_migrate import upgrade

    app = create_app(dict(BASE_CONFIG, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'demo.db'}",
                          OUTBOX_LOG_PATH=str(tmp_path / "outbox.log")))
    with app.app_context():
        upgrade()
        assert "8 meter verifications" in load_demo()
        statuses = Counter(status for (status,) in db.session.query(ProcessInstance.status))
        assert statuses == {"waiting": 4, "completed": 1, "suspended": 1, "cancelled": 1, "error": 1}
        assert db.session.query(Incident).count() == 1
        customers = {c.phone: c for c in db.session.query(Customer)}
        maria = customers["+79161234567"]
        assert maria.email_confirmed_at and maria.theme == "dark"
        assert [d.has_pin for d in db.session.query(CustomerDevice).filter_by(customer_id=maria.id)] == [True]
        assert customers["+79031112233"].pending_email == "petr.sidorov@example.ru"
        assert customers[None].status == "closed" and customers[None].full_name == "Учётная запись закрыта"
        assert app.appbuilder.sm.find_user(username="dispatcher").roles[0].name == "Dispatcher"
        assert "already present" in load_demo()  # safe to run again
        assert db.session.query(ProcessInstance).count() == 8
        assert db.session.query(Customer).count() == 3
        assert notifications.wait_for_delivery()  # the outbox is delivered by jobs after commit
        db.session.remove()
    assert "принята" in (tmp_path / "outbox.log").read_text(encoding="utf-8")
