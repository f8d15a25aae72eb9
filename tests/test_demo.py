"""`make run`'s demo data: every state of the shipped process, loaded once."""
from collections import Counter

from app import create_app
from app.demo import load_demo
from app.extensions import db
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
        assert app.appbuilder.sm.find_user(username="dispatcher").roles[0].name == "Dispatcher"
        assert "already present" in load_demo()  # safe to run again
        assert db.session.query(ProcessInstance).count() == 8
        assert notifications.wait_for_delivery()  # the outbox is delivered by jobs after commit
        db.session.remove()
    assert "принята" in (tmp_path / "outbox.log").read_text(encoding="utf-8")
