"""The restricted environment for analysts' scripts and conditions.

Scripts are compiled with RestrictedPython's policy (no imports, no names or attributes that
start with an underscore, so ``().__class__.__base__.__subclasses__()`` does not compile),
extended here to route ``**``, ``*`` and ``<<`` through size-checked helpers so one expression
cannot eat the memory. Run time is bounded by a line tracer with a deadline, which stops
endless loops in any thread (signals would only work in the main thread).
"""
import ast
import math
import operator
import sys
import time
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

from RestrictedPython import RestrictingNodeTransformer, compile_restricted
from RestrictedPython.Eval import default_guarded_getitem
from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
)
from RestrictedPython.PrintCollector import PrintCollector
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

MAX_INT_BITS = 100_000
MAX_SEQUENCE_LENGTH = 1_000_000


class ScriptRefused(Exception):
    """A script does not compile under the policy, or broke a limit while running."""


class ScriptTimeout(ScriptRefused):
    pass


class _GuardedOperators(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus guarded ``**``, ``*`` and ``<<``."""

    _GUARDED = {ast.Pow: "_pow_", ast.Mult: "_mul_", ast.LShift: "_lshift_"}

    def visit_Import(self, node):
        self.error(node, "imports are not allowed")

    visit_ImportFrom = visit_Import

    def visit_BinOp(self, node):
        node = self.node_contents_visit(node)
        guard = self._GUARDED.get(type(node.op))
        if guard is None:
            return node
        func = ast.copy_location(ast.Name(id=guard, ctx=ast.Load()), node)
        return ast.copy_location(ast.Call(func=func, args=[node.left, node.right], keywords=[]), node)


def _guarded_pow(base, exp):
    if isinstance(base, int) and isinstance(exp, int) and exp > 0 and abs(base) > 1:
        if exp * base.bit_length() > MAX_INT_BITS:
            raise ScriptRefused("number too large")
    return base**exp


def _guarded_mul(left, right):
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(count, int):
            if len(seq) * count > MAX_SEQUENCE_LENGTH:
                raise ScriptRefused("sequence too long")
    return left * right


def _guarded_lshift(left, right):
    if isinstance(right, int) and right > MAX_INT_BITS:
        raise ScriptRefused("number too large")
    return left << right


_INPLACE = {
    "+=": operator.add, "-=": operator.sub, "*=": _guarded_mul, "/=": operator.truediv,
    "//=": operator.floordiv, "%=": operator.mod, "**=": _guarded_pow, "<<=": _guarded_lshift,
    ">>=": operator.rshift, "|=": operator.or_, "&=": operator.and_, "^=": operator.xor,
}


def _inplacevar(op, left, right):
    func = _INPLACE.get(op)
    if func is None:
        raise ScriptRefused(f"operator {op} is not allowed")
    return func(left, right)


def _safe_range(*args):
    result = range(*args)
    if len(result) > MAX_SEQUENCE_LENGTH:
        raise ScriptRefused("range too long")
    return result


def _write_guard(obj):
    # Item and attribute writes only on plain containers built from task data.
    if isinstance(obj, (dict, list, set)):
        return obj
    raise ScriptRefused(f"cannot modify a {type(obj).__name__}")


def add_years(value, years):
    value = _as_date(value)
    try:
        return value.replace(year=value.year + years)
    except ValueError:  # 29 February
        return value.replace(year=value.year + years, day=28)


def _as_date(value):
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def today():
    return datetime.now(timezone.utc).date().isoformat()


def now():
    return datetime.now(timezone.utc).isoformat()


def add_days(value, days):
    return (_as_date(value) + timedelta(days=days)).isoformat()


def add_years_iso(value, years):
    return add_years(value, years).isoformat()


_BUILTINS = dict(safe_builtins)
_BUILTINS.update(
    range=_safe_range, min=min, max=max, sum=sum, sorted=sorted, enumerate=enumerate, any=any,
    all=all, list=list, dict=dict, set=set, tuple=tuple, zip=zip, reversed=reversed,
    filter=filter, map=map,
)
_BUILTINS.pop("__build_class__", None)  # no class statements in analysts' scripts

_GUARDS = {
    "__builtins__": _BUILTINS,
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": _write_guard,
    "_inplacevar_": _inplacevar,
    "_print_": PrintCollector,
    "_pow_": _guarded_pow,
    "_mul_": _guarded_mul,
    "_lshift_": _guarded_lshift,
}

HELPERS = {
    "math": math,  # a module, but its attributes are plain functions and constants
    "today": today,
    "now": now,
    "add_days": add_days,
    "add_years": add_years_iso,
    "timedelta": timedelta,
}


@lru_cache(maxsize=4096)
def _compile(source, mode):
    # Cached because the policy's AST pass costs more than running a typical script.
    try:
        return compile_restricted(source, filename="<script>", mode=mode, policy=_GuardedOperators)
    except SyntaxError as exc:
        errors = exc.args[0] if exc.args and isinstance(exc.args[0], tuple) else (str(exc),)
        return ScriptRefused("; ".join(errors))


def compile_checked(source, mode="exec"):
    """The code object, or ScriptRefused with the policy's messages."""
    result = _compile(source, mode)
    if isinstance(result, ScriptRefused):
        raise ScriptRefused(*result.args)
    return result


class _Deadline:
    """A tracer that raises once the time is up; restores any tracer in place.

    It traces opcodes, not lines: CPython 3.11 runs ``while True: pass`` without a line event.
    """

    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        self.until = time.monotonic() + self.seconds
        self.ticks = 0
        self.previous = sys.gettrace()
        sys.settrace(self._global)
        return self

    def __exit__(self, *exc):
        sys.settrace(self.previous)
        return False

    def _global(self, frame, event, arg):
        if frame.f_code.co_filename != "<script>":
            return None
        frame.f_trace_opcodes = True
        return self._local

    def _local(self, frame, event, arg):
        self.ticks += 1
        if self.ticks % 256 == 0 and time.monotonic() > self.until:
            raise ScriptTimeout(f"script ran longer than {self.seconds:g} s")
        return self._local


class RestrictedEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment, with restricted compile and a deadline."""

    def __init__(self, helpers=None, time_limit=1.0):
        super().__init__(dict(HELPERS, **(helpers or {})))
        self.time_limit = time_limit

    def evaluate(self, expression, context, external_context=None):
        code = compile_checked(expression, "eval")
        scope = dict(_GUARDS)
        scope.update(self.globals)
        scope.update(external_context or {})
        scope.update(context)
        with _Deadline(self.time_limit):
            return eval(code, scope)

    def execute(self, script, context, external_context=None):
        self.check_for_overwrite(context, external_context or {})
        code = compile_checked(script, "exec")
        injected = dict(_GUARDS)
        injected.update(self.globals)
        injected.update(external_context or {})
        context.update(injected)
        try:
            with _Deadline(self.time_limit):
                exec(code, context)
        finally:
            for key in list(context):
                value = context[key]
                if (key in injected and injected[key] is value) or callable(value) or key == "printed":
                    context.pop(key)
        return True


def script_engine(helpers=None, time_limit=1.0):
    return PythonScriptEngine(environment=RestrictedEnvironment(helpers, time_limit))
