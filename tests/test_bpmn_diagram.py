"""The server-drawn BPMN diagram of the request card (app/services/bpmn_diagram.py): the model's
own coordinates when present, else a layered layout; lanes as bands; current steps highlighted;
every name from the model escaped; the SVG well-formed."""
import os
import re

from lxml import etree

from app.services import bpmn_diagram

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SVG = "{http://www.w3.org/2000/svg}"

HOSTILE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="hostile" isExecutable="true">
    <bpmn:laneSet id="ls">
      <bpmn:lane id="l1" name="Operator &lt;img src=x onerror=alert(1)&gt;">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>evil</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="l2" name="Technician">
        <bpmn:flowNodeRef>check</bpmn:flowNodeRef><bpmn:flowNodeRef>retry</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef><bpmn:flowNodeRef>late</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="Старт"/>
    <bpmn:userTask id="evil" name="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; проверка"/>
    <bpmn:boundaryEvent id="late" name="Срок" attachedToRef="evil"><bpmn:timerEventDefinition/></bpmn:boundaryEvent>
    <bpmn:exclusiveGateway id="check" name="Всё в порядке?"/>
    <bpmn:userTask id="retry" name="Исправить"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="evil"/>
    <bpmn:sequenceFlow id="f2" sourceRef="evil" targetRef="check"/>
    <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="end" name="да"/>
    <bpmn:sequenceFlow id="f4" sourceRef="check" targetRef="retry" name="нет"/>
    <bpmn:sequenceFlow id="f5" sourceRef="retry" targetRef="evil"/>
    <bpmn:sequenceFlow id="f6" sourceRef="late" targetRef="retry"/>
  </bpmn:process>
</bpmn:definitions>
"""

WITH_DI = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="d" targetNamespace="t">
  <bpmn:process id="drawn" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:task id="t" name="Шаг"/><bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="a" sourceRef="s" targetRef="t"/><bpmn:sequenceFlow id="b" sourceRef="t" targetRef="e"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="dg"><bpmndi:BPMNPlane id="p" bpmnElement="drawn">
    <bpmndi:BPMNShape id="s_di" bpmnElement="s"><dc:Bounds x="152" y="82" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="t_di" bpmnElement="t"><dc:Bounds x="400" y="300" width="100" height="80"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="e_di" bpmnElement="e"><dc:Bounds x="700" y="82" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="a_di" bpmnElement="a"><di:waypoint x="188" y="100"/><di:waypoint x="300" y="100"/><di:waypoint x="300" y="340"/><di:waypoint x="400" y="340"/></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def nodes(svg):
    root = etree.fromstring(svg.encode())  # well-formed, or this raises
    return {g.get("data-bpmn-id"): g for g in root.iter(f"{SVG}g") if g.get("data-bpmn-id")}


def test_names_are_escaped_and_the_current_step_is_highlighted():
    svg = bpmn_diagram.render(HOSTILE, "hostile", current={"evil"})
    assert "<script" not in svg and "<img" not in svg
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in svg
    drawn = nodes(svg)
    assert set(drawn) == {"start", "evil", "late", "check", "retry", "end"}
    assert "kb-current" in drawn["evil"].get("class").split()
    assert all("kb-current" not in g.get("class") for key, g in drawn.items() if key != "evil")
    lanes = [g.get("data-lane") for g in etree.fromstring(svg.encode()).iter(f"{SVG}g") if g.get("data-lane")]
    assert lanes == ["l1", "l2"]


def test_the_automatic_layout_goes_left_to_right_in_lane_bands():
    model = bpmn_diagram.parse(HOSTILE, "hostile")
    bpmn_diagram._auto_layout(model)
    n = model.nodes
    assert n["start"].x < n["evil"].x < n["check"].x < n["end"].x  # the loop back from retry is cut
    assert n["check"].x < n["retry"].x
    operator, technician = model.lane_bounds["l1"], model.lane_bounds["l2"]
    for node_id, lane in (("start", operator), ("evil", operator), ("check", technician), ("end", technician)):
        assert lane[1] <= n[node_id].y and n[node_id].y + n[node_id].h <= lane[1] + lane[3], node_id
    # the boundary timer sits on the lower edge of its task
    assert n["evil"].x < n["late"].x + n["late"].w / 2 < n["evil"].x + n["evil"].w
    assert abs(n["late"].y + n["late"].h / 2 - (n["evil"].y + n["evil"].h)) < 1


def test_a_step_is_found_by_its_name_too():
    svg = bpmn_diagram.render(HOSTILE, "hostile", current={"Исправить"})
    assert "kb-current" in nodes(svg)["retry"].get("class")


def test_the_models_own_coordinates_are_used():
    svg = bpmn_diagram.render(WITH_DI, "drawn", current={"t"})
    rect = nodes(svg)["t"].find(f"{SVG}rect")
    assert (rect.get("x"), rect.get("y"), rect.get("width"), rect.get("height")) == ("400.0", "300.0", "100.0", "80.0")
    assert 'points="188.0,100.0 300.0,100.0 300.0,340.0 400.0,340.0"' in svg  # the drawn waypoints
    assert re.search(r'data-flow="b" points="\S+', svg)  # an edge without DI is routed


def test_the_shipped_meter_verification_diagram():
    with open(os.path.join(ROOT, "app", "bpmn", "meter_verification.bpmn"), encoding="utf-8") as handle:
        svg = bpmn_diagram.render(handle.read(), "meter_verification", current={"schedule_visit"})
    drawn = nodes(svg)
    assert {"schedule_visit", "prepare_visit", "technician_report", "escalation_timer", "result_gateway"} <= set(drawn)
    assert [k for k, g in drawn.items() if "kb-current" in g.get("class")] == ["schedule_visit"]


def test_entities_in_a_model_are_not_expanded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xml = HOSTILE.replace('<?xml version="1.0" encoding="UTF-8"?>',
                          f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>')
    xml = xml.replace('name="Исправить"', 'name="&x;"')
    svg = bpmn_diagram.render(xml, "hostile")
    assert "TOP-SECRET" not in svg and "недоступна" in svg
