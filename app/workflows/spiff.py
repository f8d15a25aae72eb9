"""SpiffWorkflow set up for Kabinet: parser, asynchronous service tasks, spec-less serializer.

Only ``app/workflows`` imports SpiffWorkflow; this module holds the pieces that adapt it.
"""
import json

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from SpiffWorkflow.util.task import TaskIterator

# SpiffWorkflow 3.2 iterators stop at depth 1000, so a gateway loop of ~250 passes reports a
# false completion (ARCHITECTURE.md trap 10). The iterators keep an explicit stack, not
# recursion, so a higher limit is safe; the processor still caps the task count and fails
# loudly beyond it.
ITERATOR_DEPTH_LIMIT = 1_000_000
TaskIterator.__init__.__defaults__ = (None, ITERATOR_DEPTH_LIMIT, True, None)
BpmnTaskIterator.__init__.__defaults__ = (None, ITERATOR_DEPTH_LIMIT, True, False, None)

# Untrusted XML: no entities (no XXE), no DTD loading, no network.
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class UnsafeXML(ValueError):
    pass


def parse_xml(text):
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise UnsafeXML("DOCTYPE and entity declarations are not allowed")
    return etree.fromstring(text.encode("utf-8"), _XML_PARSER)


class AsyncServiceTask(ServiceTask):
    """A service task that a worker runs: the engine evaluates its parameters, leaves the task
    STARTED and the gateway enqueues a job; the worker completes it later."""

    def _execute(self, task):
        task.internal_data["operation_params"] = {
            name: param["value"] for name, param in self.evaluate_params(task).items()
        }
        return None


class KabinetParser(SpiffBpmnParser):
    """Spiff's parser with XSD validation on (it is off by default) and async service tasks."""

    OVERRIDE_PARSER_CLASSES = dict(SpiffBpmnParser.OVERRIDE_PARSER_CLASSES)
    OVERRIDE_PARSER_CLASSES[full_tag("serviceTask")] = (ServiceTaskParser, AsyncServiceTask)

    def __init__(self):
        super().__init__(validator=VALIDATOR)


class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Serialises an instance without its spec (56% of a small instance's JSON); the spec is
    stored once per definition version and passed in when loading."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        dct["spec"] = spec
        dct["subprocess_specs"] = subprocess_specs
        return super().from_dict(dct)


def _config():
    config = dict(SPIFF_CONFIG)
    config.pop(ServiceTask)
    config[AsyncServiceTask] = ServiceTaskConverter
    config[BpmnWorkflow] = SpeclessWorkflowConverter
    return config


REGISTRY = BpmnWorkflowSerializer.configure(_config())
SERIALIZER = BpmnWorkflowSerializer(REGISTRY)
STATE_VERSION_KEY = SERIALIZER.VERSION_KEY


def serialize_spec(spec, subprocess_specs):
    return json.dumps({
        "spec": REGISTRY.convert(spec),
        "subprocess_specs": {name: REGISTRY.convert(sp) for name, sp in subprocess_specs.items()},
    })


_SPECS = {}  # checksum -> (spec, subprocess_specs), restored once per process
_SPECS_KEPT = 256


def load_spec(checksum, read_spec_json):
    """A definition's restored spec, keyed by content so that apps with different databases
    in one process never mix specs up; ``read_spec_json`` is only called on a miss."""
    cached = _SPECS.get(checksum)
    if cached is None:
        dct = json.loads(read_spec_json())
        spec = REGISTRY.restore(dct["spec"])
        subprocess_specs = {name: REGISTRY.restore(sp) for name, sp in dct["subprocess_specs"].items()}
        cached = (spec, subprocess_specs)
        if len(_SPECS) >= _SPECS_KEPT:
            _SPECS.pop(next(iter(_SPECS)))
        _SPECS[checksum] = cached
    return cached


def dump_state(workflow):
    dct = REGISTRY.convert(workflow)
    dct[STATE_VERSION_KEY] = SERIALIZER.VERSION
    return json.dumps(dct, separators=(",", ":"))


def load_state(state, spec, subprocess_specs):
    dct = json.loads(state)
    SERIALIZER.migrate(dct)
    return REGISTRY.restore(dct, spec=spec, subprocess_specs=subprocess_specs)
