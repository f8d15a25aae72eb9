"""Analysts' scripts run restricted: escapes are refused at deploy or stopped at run time."""
import os
import uuid
from xml.sax.saxutils import escape

import pytest

from app.extensions import db
from app.workflows import deployment, instances
from app.workflows.scripting import RestrictedEnvironment, ScriptRefused, ScriptTimeout

BPMN_DIR = os.path.join(os.path.dirname(__file__), "bpmn")
TEMPLATE = open(os.path.join(BPMN_DIR, "script_task.bpmn.tmpl"), encoding="utf-8").read()

COMPILE_TIME_ESCAPES = [
    "import os",
    "from os import system",
    "x = ().__class__.__base__.__subclasses__()",
    "x = [].__class__",
    "__import__('os')",
    "exec('x = 1')",
    "eval('1')",
]
RUN_TIME_ESCAPES = [
    ("x = open('/etc/passwd').read()", NameError),
    ("x = getattr((), 'count')", NameError),
    ("x = type(1)", NameError),
    ("x = globals()", NameError),
    ("x = 10 ** 10 ** 10", ScriptRefused),
    ("x = 'a' * 10 ** 9", ScriptRefused),
    ("x = 1 << 10 ** 9", ScriptRefused),
    ("x = sum(range(10 ** 12))", ScriptRefused),
    ("while True:\n    pass", ScriptTimeout),
    ("while True: pass", ScriptTimeout),
    ("x = [1]\nwhile x:\n    x.append(1)\n    x.pop()", ScriptTimeout),
]


def bpmn(script, key=None):
    return TEMPLATE.replace("{key}", key or f"script_{uuid.uuid4().hex[:8]}").replace("{script}", escape(script))


@pytest.fixture
def env():
    return RestrictedEnvironment(time_limit=0.3)


def test_ordinary_scripts_work(env):
    data = {"amount": 10, "items": [1, 2, 3]}
    env.execute("total = amount * 2\nsquares = [i ** 2 for i in items]\ncount = len(items)\ncount += 1\n"
                "info = {}\ninfo['k'] = 'v'\nnext_date = add_years('2024-02-29', 1)", data)
    assert data["total"] == 20 and data["squares"] == [1, 4, 9] and data["count"] == 4
    assert data["info"] == {"k": "v"} and data["next_date"] == "2025-02-28"
    assert env.evaluate("total > 10 and 'k' in info", data) is True
    assert "add_years" not in data and "__builtins__" not in data  # helpers do not leak into task data


@pytest.mark.parametrize("script", COMPILE_TIME_ESCAPES)
def test_escapes_are_refused_at_compile_time(env, script):
    with pytest.raises(ScriptRefused):
        env.execute(script, {})


@pytest.mark.parametrize("script,error", RUN_TIME_ESCAPES)
def test_escapes_are_stopped_at_run_time(env, script, error):
    with pytest.raises(error):
        env.execute(script, {})


def test_time_limit_holds_in_conditions_too(env):
    with pytest.raises(ScriptTimeout):
        env.evaluate("sum(x * y for x in range(10 ** 6) for y in range(10 ** 6)) > 0", {})


@pytest.mark.parametrize("script", COMPILE_TIME_ESCAPES)
def test_deploy_refuses_escape_naming_the_element(app, api, script):
    response = api("analyst").post("/api/v1/process-definitions/", json={"bpmn": bpmn(script)})
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid_model"
    assert "analyst_script" in error["message"] and "script" in error["message"]


def test_endless_loop_in_a_running_instance_becomes_an_incident(app, ctx):
    definition, _ = deployment.deploy(bpmn("while True:\n    pass"))
    instance = instances.start(definition.key, "loop-1", {})
    assert instance.status == "error"
    incident = instances.incidents(instance.id)[0]
    assert "ScriptTimeout" in incident.message
    assert instance.current_activities == ""
    db.session.remove()
