"""Validated, versioned deployments (gateway point 1)."""
import hashlib
import json

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.specs.MultiChoice import MultiChoice

from ..errors import Conflict, Invalid
from ..extensions import db
from ..models.workflow import ProcessDefinition
from . import service_tasks, spiff
from .lanes import lane_role
from .scripting import ScriptRefused, compile_checked


class InvalidModel(Invalid):
    code = "invalid_model"

    def __init__(self, element, fault):
        super().__init__(element=element, fault=fault)


def form_filename(task_spec):
    extensions = getattr(task_spec, "extensions", None) or {}
    return (extensions.get("properties") or {}).get("formJsonSchemaFilename") or extensions.get(
        "formJsonSchemaFilename"
    )


def _element(task_spec):
    label = f"{type(task_spec).__name__} '{task_spec.bpmn_id or task_spec.name}'"
    if getattr(task_spec, "bpmn_name", None):
        label += f" ({task_spec.bpmn_name})"
    return label


def _check_code(task_spec, source, mode, what):
    if not source:
        return
    try:
        compile_checked(source, mode)
    except ScriptRefused as exc:
        raise InvalidModel(_element(task_spec), f"{what}: {exc}") from None


def _validate_task_spec(task_spec, forms):
    if isinstance(task_spec, ScriptTask):
        _check_code(task_spec, task_spec.script, "exec", "script")
    for attr in ("prescript", "postscript"):
        _check_code(task_spec, getattr(task_spec, attr, None), "exec", attr)
    if isinstance(task_spec, MultiChoice):
        for condition, _target in task_spec.cond_task_specs:
            if condition is not None:
                _check_code(task_spec, condition.args[0], "eval", "condition")
    if isinstance(task_spec, spiff.AsyncServiceTask):
        if not service_tasks.is_registered(task_spec.operation_name):
            raise InvalidModel(_element(task_spec), f"operation '{task_spec.operation_name}' is not registered")
        for name, param in task_spec.operation_params.items():
            _check_code(task_spec, param["value"], "eval", f"parameter '{name}'")
    if isinstance(task_spec, CatchingEvent):
        definition = task_spec.event_definition
        if isinstance(definition, TimerEventDefinition):
            _check_code(task_spec, definition.expression, "eval", "timer expression")
        if isinstance(definition, MessageEventDefinition):
            for prop in definition.correlation_properties:
                if not prop.retrieval_expression.isidentifier():
                    raise InvalidModel(
                        _element(task_spec),
                        f"correlation property '{prop.name}' must be retrieved by a variable name",
                    )
    if isinstance(task_spec, UserTask):
        if task_spec.lane and lane_role(task_spec.lane) is None:
            raise InvalidModel(_element(task_spec), f"lane '{task_spec.lane}' names no staff role nor the customer")
        filename = form_filename(task_spec)
        if filename:
            if filename not in forms:
                raise InvalidModel(_element(task_spec), f"form '{filename}' is not in the deployment")


def _validate_forms(forms):
    if not isinstance(forms, dict):
        raise InvalidModel("forms", "must be an object mapping file names to JSON Schemas")
    for name, schema in forms.items():
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise InvalidModel(f"form '{name}'", f"not a valid JSON Schema: {exc.message}") from None


def _parse(bpmn_xml, dmn_xmls):
    parser = spiff.KabinetParser()
    try:
        parser.add_bpmn_xml(spiff.parse_xml(bpmn_xml), filename="process.bpmn")
        for index, dmn in enumerate(dmn_xmls):
            parser.add_dmn_xml(spiff.parse_xml(dmn), filename=f"decision-{index + 1}.dmn")
    except ValidationException as exc:
        element = f"{exc.tag} '{exc.id}'" if exc.id else (exc.tag or "document")
        if exc.line_number:
            element += f" (line {exc.line_number})"
        raise InvalidModel(element, str(exc).split("\n")[0]) from None
    except etree.XMLSyntaxError as exc:
        raise InvalidModel(f"document (line {exc.lineno})", f"not well-formed XML: {exc.msg}") from None
    except (spiff.UnsafeXML, ValueError) as exc:
        raise InvalidModel("document", str(exc)) from None
    return parser


def _build_specs(parser, key):
    ids = parser.get_process_ids()
    if not ids:
        raise InvalidModel("bpmn:definitions", "no executable process (isExecutable=\"true\")")
    if key is None:
        if len(ids) > 1:
            raise InvalidModel("bpmn:definitions", f"several executable processes {sorted(ids)}: name the key")
        key = ids[0]
    elif key not in ids:
        raise InvalidModel("bpmn:definitions", f"no executable process '{key}' (found {sorted(ids)})")
    try:
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as exc:
        raise InvalidModel(f"{exc.tag} '{exc.id}'", str(exc).split("\n")[0]) from None
    except SpiffWorkflowException as exc:
        raise InvalidModel(key, str(exc)) from None
    return key, spec, subprocess_specs


def _checksum(bpmn_xml, dmn_xmls, forms):
    digest = hashlib.sha256()
    for part in (bpmn_xml, *dmn_xmls, json.dumps(forms, sort_keys=True)):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def deploy(bpmn_xml, dmn_xmls=(), forms=None, key=None, deployed_by=None):
    """Validate and store a new version; returns ``(definition, created)``.

    Deploying content identical to the latest version returns that version unchanged.
    """
    forms = forms or {}
    dmn_xmls = list(dmn_xmls or [])
    _validate_forms(forms)
    parser = _parse(bpmn_xml, dmn_xmls)
    key, spec, subprocess_specs = _build_specs(parser, key)
    message_starts = []
    for each in [spec, *subprocess_specs.values()]:
        for task_spec in each.task_specs.values():
            _validate_task_spec(task_spec, forms)
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, StartEvent) and isinstance(task_spec.event_definition, MessageEventDefinition):
            message_starts.append(task_spec.event_definition.name)

    checksum = _checksum(bpmn_xml, dmn_xmls, forms)
    latest = latest_definition(key)
    if latest is not None and latest.checksum == checksum:
        return latest, False
    definition = ProcessDefinition(
        key=key,
        version=(latest.version + 1) if latest else 1,
        name=spec.description or key,
        bpmn_xml=bpmn_xml,
        dmn_xml=dmn_xmls,
        forms=forms,
        checksum=checksum,
        spec_json=spiff.serialize_spec(spec, subprocess_specs),
        message_starts=message_starts,
        deployed_by=deployed_by,
    )
    db.session.add(definition)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("deploy_race", key=key) from None
    return definition, True


def latest_definition(key):
    return db.session.execute(
        select(ProcessDefinition).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version.desc()).limit(1)
    ).scalar_one_or_none()
