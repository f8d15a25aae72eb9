"""SpiffWorkflow 3.2's depth-limited iterators: loops complete correctly or fail loudly."""
import os

import pytest

from app.extensions import db
from app.workflows import deployment, instances, processor

LOOP_BPMN = open(os.path.join(os.path.dirname(__file__), "bpmn", "loop.bpmn"), encoding="utf-8").read()


@pytest.fixture
def loop_key(app):
    with app.app_context():
        definition, _ = deployment.deploy(LOOP_BPMN)
        return definition.key


def test_a_300_pass_loop_completes_correctly(app, ctx, loop_key):
    instance = instances.start(loop_key, "loop-300", {"passes": 300})
    assert instance.status == "completed"
    data = instances.data_of(instance)
    assert data["counter"] == 300
    workflow = processor.load_workflow(instance)
    ends = [t for t in workflow.tasks.values() if t.task_spec.name == "end"]
    assert len(ends) == 1 and ends[0].state == 64  # COMPLETED: the end event was really reached
    db.session.remove()


def test_an_endless_loop_fails_loudly_instead_of_completing(app, ctx, loop_key, monkeypatch):
    monkeypatch.setitem(app.config, "ENGINE_MAX_TASKS", 600)
    instance = instances.start(loop_key, "loop-endless", {"passes": 10 ** 9})
    assert instance.status == "error"
    assert instance.completed_at is None
    incident = instances.incidents(instance.id)[0]
    assert "EngineLimit" in incident.message and "600 tasks" in incident.message
    kinds = [e.kind for e in instances.history(instance.id)]
    assert "completed" not in kinds and "error" in kinds
    db.session.remove()
