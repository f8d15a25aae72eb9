"""Message routing by correlation values (gateway point 7).

SpiffWorkflow correlates only inside one instance; here a message reaches exactly the
instances whose subscription rows carry the same correlation values, or starts instances of
definitions with a message start event. A message nobody waits for is an error.
"""
from sqlalchemy import select
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.util.task import TaskState

from ..errors import Conflict, Invalid
from ..extensions import db
from ..models.workflow import MessageSubscription, ProcessDefinition
from . import processor
from .deployment import latest_definition


def _validate(correlation, payload):
    fields = {}
    if not isinstance(correlation, dict) or not correlation:
        fields["correlation"] = ["must be a non-empty object"]
    elif not all(isinstance(v, (str, int, float, bool)) or v is None for v in correlation.values()):
        fields["correlation"] = ["values must be strings or numbers"]
    if not isinstance(payload, dict):
        fields["payload"] = ["must be an object"]
    if fields:
        raise Invalid(fields=fields)


def send(name, correlation, payload, actor=None):
    """Deliver; returns the list of instances that received the message."""
    payload = payload if payload is not None else {}
    _validate(correlation, payload)
    key = processor.correlation_key(correlation)
    candidates = db.session.execute(
        select(MessageSubscription.instance_id, MessageSubscription.task_guid)
        .where(MessageSubscription.message_name == name, MessageSubscription.correlation_key == key)
        .order_by(MessageSubscription.instance_id)
    ).all()
    db.session.rollback()  # release the read snapshot before taking row locks
    received = []
    for instance_id, task_guid in candidates:
        instance = _deliver(instance_id, task_guid, name, correlation, payload, actor)
        if instance is not None:
            received.append(instance)
    if not received and not candidates:
        received = _start_by_message(name, correlation, payload, actor)
    if not received:
        raise Conflict("message_not_awaited", name=name)
    return received


def _deliver(instance_id, task_guid, name, correlation, payload, actor):
    with processor.change(instance_id, actor) as run:
        task = processor.task_by_guid(run.workflow, task_guid)
        if task is None or not task.has_state(TaskState.WAITING):
            return None  # a concurrent message got there first
        _catch(run, task, name, correlation, payload)
    return run.instance


def _catch(run, task, name, correlation, payload):
    definition = task.task_spec.event_definition
    # SpiffWorkflow evaluates correlation retrieval expressions on the payload and only lets
    # the message in when the event carries both (ARCHITECTURE.md trap 10).
    body = dict(payload)
    for prop in definition.correlation_properties:
        if prop.name in correlation:
            body.setdefault(prop.retrieval_expression, correlation[prop.name])
    correlations = definition.calculate_correlations(run.workflow.script_engine, definition.correlation_properties, body)
    run.workflow.catch(BpmnEvent(definition, body, correlations))
    run.event("message", task_name=name, data={"correlation": correlation, "payload": payload})
    run.run_engine()


def _start_by_message(name, correlation, payload, actor):
    keys = [
        key for (key,) in db.session.execute(select(ProcessDefinition.key).distinct())
    ]
    started = []
    for key in keys:
        definition = latest_definition(key)
        if name not in (definition.message_starts or []):
            continue
        run = processor.create(definition, correlation.get("business_key"), {}, actor=actor)
        run.run_engine()
        waiting = [
            t for t in run.workflow.event_manager.tasks.values()
            if t.has_state(TaskState.WAITING) and getattr(t.task_spec.event_definition, "name", None) == name
        ]
        if waiting:
            _catch(run, waiting[0], name, correlation, payload)
        started.append(processor.commit_new(run))
    return started
