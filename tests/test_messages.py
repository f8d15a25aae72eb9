"""Message start events and correlation by business key."""
import os
import uuid

from app.extensions import db
from app.workflows import deployment, instances, messages

TEMPLATE = open(os.path.join(os.path.dirname(__file__), "bpmn", "message_start.bpmn"), encoding="utf-8").read()


def test_message_start_then_correlation_by_business_key(app, ctx):
    suffix = uuid.uuid4().hex[:8]
    start_name, answer_name = f"callback_{suffix}", f"answer_{suffix}"
    bpmn = (TEMPLATE.replace("{key}", f"callback_{suffix}").replace("{start_message}", start_name)
            .replace("{answer_message}", answer_name))
    definition, _ = deployment.deploy(bpmn)
    assert definition.message_starts == [start_name]

    started = messages.send(start_name, {"business_key": "CB-1"}, {"phone": "+79990001122"})
    assert len(started) == 1
    instance = started[0]
    assert instance.business_key == "CB-1" and instance.status == "waiting"
    assert instances.data_of(instance)["request"]["phone"] == "+79990001122"
    assert instance.current_activities == "|Customer answered|"

    # another business key: nobody waits (and no second start: the start message differs)
    try:
        messages.send(answer_name, {"business_key": "CB-2"}, {})
        raise AssertionError("expected a refusal")
    except Exception as exc:
        assert getattr(exc, "code", None) == "message_not_awaited"

    received = messages.send(answer_name, {"business_key": "CB-1"}, {"text": "call after 18:00"})
    assert [i.id for i in received] == [instance.id]
    assert received[0].status == "completed"
    assert instances.data_of(received[0])["answer"] == {"text": "call after 18:00"}
    kinds = [e.kind for e in instances.history(instance.id)]
    assert kinds == ["started", "message", "message", "completed"]
    db.session.remove()
