"""A task's JSON Schema as an HTML form, rendered on the server, and the way back.

``fields_of(schema)`` describes one input per property (string → text, ``format: date`` → date,
``enum`` / ``oneOf`` of consts → select, boolean → checkbox, integer/number → number, anything
else → a JSON text area); ``convert(schema, form)`` turns the submitted strings into the schema's
types, and ``russian_messages`` words jsonschema's English errors for the staff.
"""
import json
import math
import re
from dataclasses import dataclass, field

from ..api.errors import language

_RU_DATE = re.compile(r"^(\d{2})\.(\d{2})\.(\d{4})$")
_INPUT_FORMATS = {"date": "date", "date-time": "datetime-local", "time": "time", "email": "email", "uri": "url"}


@dataclass
class FormField:
    name: str
    title: str
    widget: str  # text | textarea | date | datetime-local | time | email | url | select | multiselect |
    #              checkbox | number | json
    json_type: str
    required: bool = False
    description: str = ""
    options: list = field(default_factory=list)  # [(submitted string, label, schema value)]
    attrs: dict = field(default_factory=dict)  # maxlength, minlength, min, max, step, pattern
    default: object = None


def _main_type(prop):
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None and "enum" in prop:
        values = [v for v in prop["enum"] if v is not None]
        if values and all(isinstance(v, bool) for v in values):
            kind = "boolean"
        elif values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            kind = "integer"
        else:
            kind = "string"
    return kind or "string"


def _options(prop):
    if "enum" in prop:
        return [(_as_string(v), str(v), v) for v in prop["enum"] if v is not None]
    choices = prop.get("oneOf") or prop.get("anyOf")
    if choices and all(isinstance(c, dict) and "const" in c for c in choices):
        return [(_as_string(c["const"]), c.get("title") or str(c["const"]), c["const"]) for c in choices]
    return None


def _as_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fields_of(schema):
    schema = schema or {}
    required = set(schema.get("required") or [])
    result = []
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict) or prop.get("readOnly"):
            continue
        kind = _main_type(prop)
        item = FormField(name=name, title=prop.get("title") or name, widget="text", json_type=kind,
                         required=name in required, description=prop.get("description") or "",
                         default=prop.get("default"))
        options = _options(prop)
        items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
        if kind == "array" and _options(items):
            item.widget, item.options = "multiselect", _options(items)
        elif options is not None and kind != "boolean":
            item.widget, item.options = "select", options
        elif kind == "boolean":
            item.widget = "checkbox"
        elif kind in ("integer", "number"):
            item.widget = "number"
            item.attrs["step"] = "1" if kind == "integer" else "any"
            for key, attr in (("minimum", "min"), ("maximum", "max")):
                if key in prop:
                    item.attrs[attr] = prop[key]
        elif kind == "string":
            item.widget = _INPUT_FORMATS.get(prop.get("format"), "text")
            if "maxLength" in prop:
                item.attrs["maxlength"] = prop["maxLength"]
            if "minLength" in prop:
                item.attrs["minlength"] = prop["minLength"]
            if "pattern" in prop and item.widget == "text":
                item.attrs["pattern"] = prop["pattern"]
        else:
            item.widget = "json"
        result.append(item)
    return result


def _number(raw, integer):
    text = raw.strip().replace(",", ".").replace(" ", "")
    try:
        return int(text)
    except ValueError:
        if integer:
            raise
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(raw)
    return value


def convert(schema, form):
    """``(data, errors)``: the submitted strings as the schema's types; an empty input is left
    out (so ``required`` speaks for it), an unconvertible one becomes a field error."""
    data, errors = {}, {}
    for item in fields_of(schema):
        name = item.name
        if item.widget == "checkbox":
            data[name] = form.get(name) in ("on", "true", "1", "yes")
            continue
        if item.widget == "multiselect":
            lookup = {value: original for value, _label, original in item.options}
            data[name] = [lookup.get(v, v) for v in form.getlist(name)]
            continue
        raw = form.get(name, "")
        if raw.strip() == "":
            continue
        if item.widget == "select":
            lookup = {value: original for value, _label, original in item.options}
            data[name] = lookup.get(raw, raw)
        elif item.widget == "number":
            try:
                data[name] = _number(raw, item.json_type == "integer")
            except ValueError:
                errors[name] = ["Введите целое число." if item.json_type == "integer" else "Введите число."]
        elif item.widget == "json":
            try:
                data[name] = json.loads(raw)
            except ValueError:
                errors[name] = ["Некорректный JSON."]
        elif item.widget == "date" and _RU_DATE.match(raw.strip()):
            day, month, year = _RU_DATE.match(raw.strip()).groups()
            data[name] = f"{year}-{month}-{day}"  # typed by hand where the browser has no date picker
        elif item.widget == "datetime-local" and len(raw) == 16:
            data[name] = raw + ":00"  # the browser sends no seconds; RFC 3339 wants them
        else:
            data[name] = raw.strip()
    return data, errors


def submitted_values(schema, form):
    """What to put back into the inputs when the form is shown again."""
    values = {}
    for item in fields_of(schema):
        if item.widget == "checkbox":
            values[item.name] = form.get(item.name) in ("on", "true", "1", "yes")
        elif item.widget == "multiselect":
            values[item.name] = form.getlist(item.name)
        else:
            values[item.name] = form.get(item.name, "")
    return values


def initial_values(schema):
    values = {}
    for item in fields_of(schema):
        if item.default is None:
            continue
        if item.widget == "checkbox":
            values[item.name] = bool(item.default)
        elif item.widget == "multiselect":
            values[item.name] = [_as_string(v) for v in item.default]
        elif item.widget == "json":
            values[item.name] = json.dumps(item.default, ensure_ascii=False)
        else:
            values[item.name] = _as_string(item.default)
    return values


def field_errors(schema, fields):
    """Split validate_form's ``{path: [messages]}`` into per-field messages and form-wide ones."""
    names = {item.name for item in fields_of(schema)}
    props = (schema or {}).get("properties") or {}
    per_field, general = {}, []
    for path, messages in (fields or {}).items():
        name = path.split(".")[0]
        if name in names:
            per_field.setdefault(name, []).extend(_words(messages, props.get(name) or {}))
        else:
            general.extend(_words(messages, {}))
    return per_field, general


_PATTERNS = [
    (re.compile(r"is a required property$"), lambda p, m: "Обязательное поле."),
    (re.compile(r"is not a '(date|date-time)'$"), lambda p, m: "Введите корректную дату." if m.group(1) == "date"
     else "Введите корректные дату и время."),
    (re.compile(r"is not a '(\w[\w-]*)'$"), lambda p, m: f"Значение не в формате {m.group(1)}."),
    (re.compile(r"is not one of "), lambda p, m: "Выберите значение из списка."),
    (re.compile(r"(is too long|is expected to be empty)$"),
     lambda p, m: f"Слишком длинное значение: не более {p.get('maxLength', '?')} символов."),
    (re.compile(r"(is too short|should be non-empty)$"),
     lambda p, m: f"Слишком короткое значение: не менее {p.get('minLength', '?')} символов."),
    (re.compile(r"is less than( or equal to)? the minimum of (.+)$"), lambda p, m: f"Не меньше {m.group(2)}."),
    (re.compile(r"is greater than( or equal to)? the maximum of (.+)$"), lambda p, m: f"Не больше {m.group(2)}."),
    (re.compile(r"does not match "), lambda p, m: "Значение не соответствует образцу."),
    (re.compile(r"is not of type "), lambda p, m: "Неверный тип значения."),
    (re.compile(r"^Additional properties are not allowed \((.*) (?:was|were) unexpected\)$"),
     lambda p, m: f"Лишние поля: {m.group(1)}."),
]


def _words(messages, prop):
    if language() == "en":
        return list(messages)
    result = []
    for message in messages:
        for pattern, render in _PATTERNS:
            match = pattern.search(message)
            if match:
                result.append(render(prop, match))
                break
        else:
            result.append(message)
    return result
