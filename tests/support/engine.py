"""Small helpers over the engine's tables for integration tests (no mocks: real rows)."""
import os

from sqlalchemy import select

from app.extensions import db
from app.models.workflow import HumanTask, Incident, ProcessEvent, ProcessInstance, ServiceJob
from app.workflows import deployment, instances

BPMN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bpmn")


def read_bpmn(name):
    with open(os.path.join(BPMN_DIR, name), encoding="utf-8") as handle:
        return handle.read()


def deploy(app, name):
    """Deploy ``tests/bpmn/<name>`` (idempotent); returns the process key."""
    with app.app_context():
        definition, _created = deployment.deploy(read_bpmn(name), deployed_by="tests")
        key = definition.key
        db.session.remove()
    return key


def start(app, key, business_key=None, data=None):
    with app.app_context():
        instance = instances.start(key, business_key=business_key, data=data or {}, actor="tests")
        result = snapshot(instance)
        db.session.remove()
    return result


def snapshot(instance):
    return {"id": instance.id, "status": instance.status, "next_timer_at": instance.next_timer_at,
            "business_key": instance.business_key}


def _rows(app, model, instance_id, order):
    with app.app_context():
        try:
            rows = db.session.execute(
                select(model).where(model.instance_id == instance_id).order_by(order)
            ).scalars().all()
            return [{c.name: getattr(row, c.name) for c in model.__table__.columns} for row in rows]
        finally:
            db.session.remove()


def jobs(app, instance_id):
    return _rows(app, ServiceJob, instance_id, ServiceJob.id)


def events(app, instance_id):
    return _rows(app, ProcessEvent, instance_id, ProcessEvent.id)


def human_tasks(app, instance_id):
    return _rows(app, HumanTask, instance_id, HumanTask.id)


def incidents(app, instance_id):
    return _rows(app, Incident, instance_id, Incident.id)


def instance(app, instance_id):
    with app.app_context():
        try:
            row = db.session.get(ProcessInstance, instance_id)
            result = {c.name: getattr(row, c.name) for c in ProcessInstance.__table__.columns if c.name != "state"}
            result["data"] = instances.data_of(row)
            return result
        finally:
            db.session.remove()


def status(app, instance_id):
    with app.app_context():
        try:
            return db.session.execute(
                select(ProcessInstance.status).where(ProcessInstance.id == instance_id)
            ).scalar_one()
        finally:
            db.session.remove()
