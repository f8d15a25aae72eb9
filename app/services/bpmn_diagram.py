"""An SVG picture of a deployed BPMN process with the current steps highlighted (SPEC AD-3).

Drawn on the server, so the request card needs no JavaScript: the model's own diagram
(BPMN DI coordinates) when the file has one, else a left-to-right layered layout made here —
the longest path from a start event decides a step's column and its lane (a staff role) its band.
Every name from the model is escaped: a model is uploaded by analysts, the card is seen by
every working role.
"""
from dataclasses import dataclass, field
from html import escape

from lxml import etree

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"}
ACTIVITIES = {"task", "userTask", "serviceTask", "scriptTask", "businessRuleTask", "manualTask", "sendTask",
              "receiveTask", "callActivity", "subProcess"}
# Sizes of the automatic layout (the usual modeler sizes).
TASK_W, TASK_H, EVENT_D, GATEWAY_D = 110, 64, 36, 46
COLUMN_W, ROW_H, MARGIN, LANE_LABEL_W = 160, 96, 20, 30
GATEWAY_MARKS = {"exclusiveGateway": "×", "parallelGateway": "+", "inclusiveGateway": "○", "eventBasedGateway": "◇",
                 "complexGateway": "*"}
# A model is XML an analyst uploaded: no entities, no network, no billion laughs.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)


@dataclass
class Node:
    id: str
    kind: str
    name: str
    lane: str = None
    attached_to: str = None
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0


@dataclass
class Model:
    nodes: dict = field(default_factory=dict)  # id -> Node, in document order
    flows: list = field(default_factory=list)  # (id, source, target, name)
    lanes: list = field(default_factory=list)  # (id, name)
    lane_bounds: dict = field(default_factory=dict)  # lane id -> (x, y, w, h), from DI
    waypoints: dict = field(default_factory=dict)  # flow id -> [(x, y)], from DI


def _local(tag):
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def parse(bpmn_xml, process_key=None):
    """The flow nodes, sequence flows and lanes of the process ``process_key`` (the first
    process when None), with the DI coordinates when the file has them."""
    data = bpmn_xml.encode("utf-8") if isinstance(bpmn_xml, str) else bpmn_xml
    root = etree.fromstring(data, _PARSER)
    processes = root.findall("bpmn:process", NS)
    process = next((p for p in processes if p.get("id") == process_key), processes[0] if processes else None)
    model = Model()
    if process is None:
        return model
    for element in process:
        kind = _local(element.tag)
        if kind in EVENTS | GATEWAYS | ACTIVITIES:
            node_id = element.get("id")
            model.nodes[node_id] = Node(node_id, kind, element.get("name") or "",
                                        attached_to=element.get("attachedToRef"))
        elif kind == "sequenceFlow":
            model.flows.append((element.get("id"), element.get("sourceRef"), element.get("targetRef"),
                                element.get("name") or ""))
    for lane in process.iterfind(".//bpmn:lane", NS):
        model.lanes.append((lane.get("id"), lane.get("name") or lane.get("id")))
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            node = model.nodes.get((ref.text or "").strip())
            if node is not None:
                node.lane = lane.get("id")
    _read_di(root, model)
    return model


def _read_di(root, model):
    lane_ids = {lane_id for lane_id, _name in model.lanes}
    for shape in root.iterfind(".//bpmndi:BPMNShape", NS):
        bounds = shape.find("dc:Bounds", NS)
        if bounds is None:
            continue
        try:
            box = tuple(float(bounds.get(name)) for name in ("x", "y", "width", "height"))
        except (TypeError, ValueError):
            continue
        element = shape.get("bpmnElement")
        if element in model.nodes:
            node = model.nodes[element]
            node.x, node.y, node.w, node.h = box
        elif element in lane_ids:
            model.lane_bounds[element] = box
    for edge in root.iterfind(".//bpmndi:BPMNEdge", NS):
        try:
            points = [(float(p.get("x")), float(p.get("y"))) for p in edge.iterfind("di:waypoint", NS)]
        except (TypeError, ValueError):
            continue
        if len(points) >= 2:
            model.waypoints[edge.get("bpmnElement")] = points


def _has_di(model):
    return bool(model.nodes) and all(node.w > 0 and node.h > 0 for node in model.nodes.values())


# --- the automatic layout ------------------------------------------------------------------------

def _size(node):
    if node.kind in EVENTS:
        return EVENT_D, EVENT_D
    if node.kind in GATEWAYS:
        return GATEWAY_D, GATEWAY_D
    return TASK_W, TASK_H


def _columns(model):
    """Column of each node: the longest path from a start, loops cut where they close."""
    successors = {node_id: [] for node_id in model.nodes}
    for _id, source, target, _name in model.flows:
        if source in successors and target in successors:
            successors[source].append(target)
    # A boundary event leaves from its host: it takes the host's column.
    for node in model.nodes.values():
        if node.attached_to in successors:
            successors[node.attached_to].append(node.id)
    has_incoming = {target for targets in successors.values() for target in targets}
    back, state = set(), {}
    for root in [n for n in model.nodes if n not in has_incoming] + list(model.nodes):
        if root in state:
            continue
        state[root] = "open"
        stack = [(root, iter(successors[root]))]
        while stack:
            node_id, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node_id] = "done"
                stack.pop()
            elif state.get(child) == "open":
                back.add((node_id, child))  # closes a loop
            elif child not in state:
                state[child] = "open"
                stack.append((child, iter(successors[child])))
    pending = {node_id: 0 for node_id in model.nodes}
    for source, targets in successors.items():
        for target in targets:
            if (source, target) not in back:
                pending[target] += 1
    column = {node_id: 0 for node_id in model.nodes}
    queue = [node_id for node_id, count in pending.items() if count == 0]
    while queue:
        node_id = queue.pop(0)
        for target in successors[node_id]:
            if (node_id, target) in back:
                continue
            step = 0 if model.nodes[target].attached_to == node_id else 1
            column[target] = max(column[target], column[node_id] + step)
            pending[target] -= 1
            if pending[target] == 0:
                queue.append(target)
    return column


def _auto_layout(model):
    column = _columns(model)
    lane_ids = [lane_id for lane_id, _name in model.lanes]
    if any(node.lane is None for node in model.nodes.values()) or not lane_ids:
        lane_ids.append(None)  # steps outside every lane get a band of their own
    rows = {}  # (lane, column) -> rows taken
    band_rows = {lane_id: 1 for lane_id in lane_ids}
    placed = {}
    for node in model.nodes.values():
        if node.attached_to:
            continue
        key = (node.lane, column[node.id])
        placed[node.id] = rows.get(key, 0)
        rows[key] = placed[node.id] + 1
        band_rows[node.lane] = max(band_rows.get(node.lane, 1), rows[key])
    top, band_top = MARGIN, {}
    for lane_id in lane_ids:
        band_top[lane_id] = top
        top += band_rows[lane_id] * ROW_H
    width = MARGIN + LANE_LABEL_W + (max(column.values(), default=0) + 1) * COLUMN_W
    for lane_id in lane_ids:
        if lane_id is not None:
            model.lane_bounds[lane_id] = (MARGIN, band_top[lane_id], width - MARGIN, band_rows[lane_id] * ROW_H)
    for node in model.nodes.values():
        node.w, node.h = _size(node)
        if node.attached_to:
            continue
        center_x = MARGIN + LANE_LABEL_W + column[node.id] * COLUMN_W + COLUMN_W / 2
        center_y = band_top[node.lane] + placed[node.id] * ROW_H + ROW_H / 2
        node.x, node.y = center_x - node.w / 2, center_y - node.h / 2
    for node in model.nodes.values():  # on the lower edge of its host
        host = model.nodes.get(node.attached_to)
        if host is not None:
            node.x, node.y = host.x + host.w - node.w - 8, host.y + host.h - node.h / 2
    model.waypoints = {}


def _route(model, source, target):
    start = (source.x + source.w, source.y + source.h / 2)
    if source.attached_to:
        start = (source.x + source.w / 2, source.y + source.h)
    end = (target.x, target.y + target.h / 2)
    if end[0] <= start[0]:  # backwards (a loop): around below both
        below = max(source.y + source.h, target.y + target.h) + 14
        return [start, (start[0] + 10, start[1]), (start[0] + 10, below), (end[0] - 10, below),
                (end[0] - 10, end[1]), end]
    if abs(start[1] - end[1]) < 1:
        return [start, end]
    middle = (start[0] + end[0]) / 2 if not source.attached_to else start[0]
    if source.attached_to:
        return [start, (start[0], end[1]), end]
    return [start, (middle, start[1]), (middle, end[1]), end]


# --- drawing -------------------------------------------------------------------------------------

def _wrap(text, width):
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    if len(lines) > 4:
        lines = lines[:3] + [lines[3][: width - 1] + "…"]
    return lines


def _text(x, y, text, width, css="kb-label"):
    lines = _wrap(text, width)
    first = y - (len(lines) - 1) * 6.5
    spans = "".join(f'<tspan x="{x:.1f}" y="{first + i * 13:.1f}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    return f'<text class="{css}" text-anchor="middle" dominant-baseline="middle">{spans}</text>'


def _shape(node, current):
    css = "kb-node kb-" + node.kind + (" kb-current" if current else "")
    cx, cy = node.x + node.w / 2, node.y + node.h / 2
    parts = [f'<g class="{css}" data-bpmn-id="{escape(node.id)}" data-kind="{node.kind}">',
             f"<title>{escape(node.name or node.id)}</title>"]
    if node.kind in EVENTS:
        r = min(node.w, node.h) / 2
        width = 3 if node.kind == "endEvent" else 1.5
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" stroke-width="{width}"/>')
        if node.kind.startswith("intermediate") or node.kind == "boundaryEvent":
            parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r - 3:.1f}" stroke-width="1"/>')
        if node.name:
            parts.append(_text(cx, node.y + node.h + 14, node.name, 22, "kb-label kb-outside"))
    elif node.kind in GATEWAYS:
        corners = ((cx, node.y), (node.x + node.w, cy), (cx, node.y + node.h), (node.x, cy))
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in corners)
        parts.append(f'<polygon points="{points}"/>')
        parts.append(f'<text class="kb-mark" x="{cx:.1f}" y="{cy:.1f}" text-anchor="middle" '
                     f'dominant-baseline="central">{GATEWAY_MARKS.get(node.kind, "")}</text>')
        if node.name:
            parts.append(_text(cx, node.y - 12, node.name, 22, "kb-label kb-outside"))
    else:
        parts.append(f'<rect x="{node.x:.1f}" y="{node.y:.1f}" width="{node.w:.1f}" height="{node.h:.1f}" rx="8"/>')
        parts.append(_text(cx, cy, node.name or node.id, max(int(node.w / 6.5), 8)))
    parts.append("</g>")
    return "".join(parts)


STYLE = """
.kb-bpmn{font-family:Arial,sans-serif;font-size:11px}
.kb-lane rect{fill:#fafafa;stroke:#bbb}.kb-lane text{font-size:12px;font-weight:bold;fill:#555}
.kb-node rect,.kb-node circle,.kb-node polygon{fill:#fff;stroke:#333}
.kb-current rect,.kb-current circle,.kb-current polygon{fill:#fff3cd;stroke:#e67e22;stroke-width:4}
.kb-flow{fill:none;stroke:#555;stroke-width:1.3}.kb-mark{font-size:20px}
.kb-label{fill:#222}.kb-outside{font-size:10px;fill:#444}
"""


UNREADABLE = ('<svg xmlns="http://www.w3.org/2000/svg" class="kb-bpmn" width="360" height="40">'
              '<text x="10" y="24">Схема процесса недоступна: модель не читается.</text></svg>')


def render(bpmn_xml, process_key=None, current=()):
    """The SVG (a string) of the process, the flow nodes whose id or name is in ``current``
    highlighted (class ``kb-current``); each node carries its BPMN id in ``data-bpmn-id``."""
    try:
        model = parse(bpmn_xml, process_key)
    except etree.XMLSyntaxError:  # e.g. an entity the parser refuses to expand: draw nothing of it
        return UNREADABLE
    if not _has_di(model):
        _auto_layout(model)
    current = set(current)
    lane_names = dict(model.lanes)
    boxes = [(n.x, n.y, n.x + n.w, n.y + n.h) for n in model.nodes.values()]
    boxes += [(x, y, x + w, y + h) for x, y, w, h in model.lane_bounds.values()]
    boxes += [(x, y, x, y) for points in model.waypoints.values() for x, y in points]
    if not boxes:
        boxes = [(0, 0, 200, 60)]
    left = min(b[0] for b in boxes) - MARGIN
    top = min(b[1] for b in boxes) - MARGIN
    width = max(b[2] for b in boxes) - left + MARGIN
    height = max(b[3] for b in boxes) - top + MARGIN + 20  # room for labels under the last events
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="kb-bpmn" role="img" '
           f'viewBox="{left:.0f} {top:.0f} {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}">',
           f"<style>{STYLE}</style>",
           '<defs><marker id="kb-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    for lane_id, (x, y, w, h) in model.lane_bounds.items():
        name = escape(lane_names.get(lane_id, lane_id))
        out.append(f'<g class="kb-lane" data-lane="{escape(lane_id)}"><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" '
                   f'height="{h:.1f}"/><text transform="translate({x + 18:.1f},{y + h / 2:.1f}) rotate(-90)" '
                   f'text-anchor="middle">{name}</text></g>')
    for flow_id, source, target, name in model.flows:
        if source not in model.nodes or target not in model.nodes:
            continue
        points = model.waypoints.get(flow_id) or _route(model, model.nodes[source], model.nodes[target])
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(f'<polyline class="kb-flow" data-flow="{escape(flow_id or "")}" points="{path}" '
                   f'marker-end="url(#kb-arrow)"/>')
        if name:
            (x1, y1), (x2, y2) = points[0], points[1]
            out.append(_text((x1 + x2) / 2, (y1 + y2) / 2 - 8, name, 20, "kb-label kb-outside"))
    hosts_first = sorted(model.nodes.values(), key=lambda n: n.attached_to is not None)
    for node in hosts_first:
        out.append(_shape(node, node.id in current or (node.name and node.name in current)))
    out.append("</svg>")
    return "\n".join(out)
