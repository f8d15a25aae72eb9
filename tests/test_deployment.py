"""Deployments: validated, versioned, refused with a message naming the element and the fault."""
import re
import uuid

import pytest

from app.bootstrap import read_shipped, shipped
from app.extensions import db
from app.models.workflow import ProcessDefinition

USER_TASK_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="D" targetNamespace="http://t">
  <bpmn:process id="{key}" name="Deploy test" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="lane" name="{lane}"><bpmn:flowNodeRef>ask</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask" />
    <bpmn:userTask id="ask" name="Ask">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="ask.json" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="call" />
    <bpmn:serviceTask id="call" name="Call">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="{operation}" resultVariable="r">
          <spiffworkflow:parameters><spiffworkflow:parameter id="template" type="str" value="&quot;t&quot;" /></spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f3" sourceRef="call" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""
FORM = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def model(key=None, lane="Operator", operation="notify_customer"):
    key = key or f"deploy_{uuid.uuid4().hex[:8]}"
    return key, USER_TASK_BPMN.replace("{key}", key).replace("{lane}", lane).replace("{operation}", operation)


def deploy(api, bpmn, forms=None, dmn=None, user="analyst"):
    return api(user).post("/api/v1/process-definitions/", json={"bpmn": bpmn, "forms": forms or {"ask.json": FORM},
                                                               "dmn": dmn or []}, headers={"Accept-Language": "en"})


def count_definitions(app):
    with app.app_context():
        total = db.session.query(ProcessDefinition).count()
        db.session.remove()
        return total


def test_deploy_versions_and_idempotence(app, api):
    key, bpmn = model()
    first = deploy(api, bpmn)
    assert first.status_code == 201
    assert first.get_json()["key"] == key and first.get_json()["version"] == 1
    assert first.get_json()["forms"] == ["ask.json"]
    same = deploy(api, bpmn)
    assert same.status_code == 200 and same.get_json()["version"] == 1
    changed = deploy(api, bpmn.replace('name="Ask"', 'name="Ask again"'))
    assert changed.status_code == 201 and changed.get_json()["version"] == 2

    shown = api("operator").get(f"/api/v1/process-definitions/{key}").get_json()
    assert shown["version"] == 2 and shown["versions"] == [1, 2] and "Ask again" in shown["bpmn"]
    assert api("operator").get(f"/api/v1/process-definitions/{key}?version=1").get_json()["version"] == 1
    listed = {d["key"]: d for d in api("operator").get("/api/v1/process-definitions/").get_json()["result"]}
    assert listed[key]["versions"] == [1, 2] and "meter_verification" in listed


def test_running_instances_keep_their_version(app, api):
    key, bpmn = model()
    deploy(api, bpmn)
    started = api("operator").post(f"/api/v1/process-definitions/{key}/start", json={"business_key": "b1"}).get_json()
    deploy(api, bpmn.replace('name="Ask"', 'name="Ask v2"'))
    newer = api("operator").post(f"/api/v1/process-definitions/{key}/start", json={"business_key": "b2"}).get_json()
    assert started["version"] == 1 and newer["version"] == 2
    tasks = api("operator").get(f"/api/v1/tasks/?process_key={key}&page_size=100").get_json()["result"]
    titles = {t["instance_id"]: t["title"] for t in tasks}
    assert titles[started["id"]] == "Ask" and titles[newer["id"]] == "Ask v2"


BROKEN = [
    ("<bpmn:definitions", "not well-formed XML"),
    ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "DOCTYPE"),
    ("<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL' id='D' "
     "targetNamespace='http://t'><bpmn:process id='p' isExecutable='false'/></bpmn:definitions>",
     "no executable process"),
    ("<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL' id='D' targetNamespace='http://t'>"
     "<bpmn:process id='p' isExecutable='true'><bpmn:bogus id='b'/></bpmn:process></bpmn:definitions>", "bogus"),
]


@pytest.mark.parametrize("bpmn,fault", BROKEN)
def test_malformed_models_are_refused_and_nothing_is_stored(app, api, bpmn, fault):
    before = count_definitions(app)
    response = deploy(api, bpmn)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid_model" and fault in error["message"]
    assert count_definitions(app) == before


def test_refusals_name_the_element(app, api):
    _key, bpmn = model(operation="launch_rockets")
    error = deploy(api, bpmn).get_json()["error"]
    assert "'call'" in error["message"] and "launch_rockets" in error["message"] and "not registered" in error["message"]
    _key, bpmn = model(lane="Astronauts")
    error = deploy(api, bpmn).get_json()["error"]
    assert "'ask'" in error["message"] and "Astronauts" in error["message"]
    _key, bpmn = model()
    error = deploy(api, bpmn, forms={"other.json": FORM}).get_json()["error"]
    assert "'ask'" in error["message"] and "ask.json" in error["message"]
    error = deploy(api, bpmn, forms={"ask.json": {"type": "object", "required": "answer"}}).get_json()["error"]
    assert "ask.json" in error["message"] and "JSON Schema" in error["message"]
    russian = api("analyst").post("/api/v1/process-definitions/", json={"bpmn": "<x"})
    assert russian.get_json()["error"]["message"].startswith("Модель процесса некорректна")


def test_request_shape_errors(app, api):
    response = api("analyst").post("/api/v1/process-definitions/", json={"dmn": "not a list"})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"bpmn", "dmn"}
    raw = api("analyst").client.post("/api/v1/process-definitions/", data="{not json",
                                     headers={**api("analyst").headers, "Content-Type": "application/json"})
    assert raw.status_code == 400 and raw.get_json()["error"]["code"] == "not_json"


def test_who_may_deploy(app, api):
    _key, bpmn = model()
    assert deploy(api, bpmn, user="technician").status_code == 403
    assert deploy(api, bpmn, user="operator").status_code == 403
    anonymous = app.test_client().post("/api/v1/process-definitions/", json={"bpmn": bpmn})
    assert anonymous.status_code == 401 and anonymous.get_json()["error"]["code"] == "unauthorized"


def test_unknown_keys(app, api):
    assert api().get("/api/v1/process-definitions/nope").status_code == 404
    response = api("operator").post("/api/v1/process-definitions/nope/start", json={})
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "definition_not_found"


def test_shipped_models_deploy_cleanly(app, api):
    for entry in shipped():
        bpmn, dmn, forms = read_shipped(entry)
        assert deploy(api, bpmn, forms=forms, dmn=dmn).status_code == 200  # already deployed, unchanged


def test_migrating_an_instance_to_a_new_version(app, api):
    key, bpmn = model()
    deploy(api, bpmn)
    instance = api("operator").post(f"/api/v1/process-definitions/{key}/start", json={"business_key": "m"}).get_json()
    deploy(api, bpmn.replace('name="Ask"', 'name="Ask, migrated"'))
    url = f"/api/v1/process-instances/{instance['id']}/migrate"
    assert api("technician").post(url, json={"version": 2}).status_code == 403
    assert api("analyst").post(url, json={"version": 9}).status_code == 404
    assert api("analyst").post(url, json={"version": 1}).get_json()["error"]["code"] == "same_version"
    moved = api("analyst").post(url, json={"version": 2})
    assert moved.status_code == 200, moved.get_json()
    body = moved.get_json()
    assert body["version"] == 2 and [t["title"] for t in body["open_tasks"]] == ["Ask, migrated"]
    assert body["events"][-1]["kind"] == "migrated"
    # version 3 drops the task the instance stands at: refused, nothing changes
    without_ask = re.sub(r"<bpmn:userTask.*?</bpmn:userTask>", "", bpmn, flags=re.S)
    without_ask = without_ask.replace('<bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="call" />', "")
    without_ask = without_ask.replace('targetRef="ask"', 'targetRef="call"').replace("<bpmn:flowNodeRef>ask</bpmn:flowNodeRef>", "")
    without_ask = without_ask.replace("<bpmn:incoming>f2</bpmn:incoming>", "<bpmn:incoming>f1</bpmn:incoming>")
    assert deploy(api, without_ask).status_code == 201
    blocked = api("analyst").post(url, json={"version": 3})
    assert blocked.status_code == 409 and blocked.get_json()["error"]["code"] == "migration_blocked"
    assert "Ask, migrated" in blocked.get_json()["error"]["message"]
    assert api("analyst").get(f"/api/v1/process-instances/{instance['id']}").get_json()["version"] == 2
