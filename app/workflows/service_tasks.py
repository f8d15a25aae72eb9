"""Service-task handlers: the operations a BPMN service task may name.

A handler is ``handler(params, context) -> JSON-serialisable result``. ``context`` carries the
instance id, business key and the job id; handlers must be idempotent (a retried job runs the
handler again), typically by keying their side effect on ``context.job_id``.
"""
import importlib
from dataclasses import dataclass

_HANDLERS = {}


@dataclass(frozen=True)
class JobContext:
    job_id: int
    instance_id: int
    business_key: str
    attempt: int


class PermanentFailure(Exception):
    """Raised by a handler when retrying cannot help (bad parameters): no more attempts."""


def handler(operation, queue="default"):
    def register(func):
        _HANDLERS[operation] = (func, queue)
        return func

    return register


def is_registered(operation):
    return operation in _HANDLERS


def get(operation):
    return _HANDLERS[operation]


def load_handler_modules(modules):
    from . import builtin_handlers  # noqa: F401

    for module in modules:
        importlib.import_module(module)
