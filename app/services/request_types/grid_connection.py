"""PR-1 grid connection up to 15 kW for an individual: the object, the power asked for and the
documents attached as the request's files; the process ``grid_connection`` checks them, issues
the contract offer and technical conditions, bills the fee, connects and issues the act."""
from decimal import Decimal

from ...errors import Invalid
from . import RequestType, base_data, register

LIMIT_KW = 15
# The fee for an individual's connection up to 15 kW (the invoice's amount), set here rather than
# in configuration: it is the tariff regulator's figure, the same for every deployment.
FEE = "550.00"

OBJECT_TYPES = {
    "house": "Жилой дом",
    "garden_house": "Садовый дом",
    "garage": "Гараж",
    "land_plot": "Земельный участок (строительство)",
    "other": "Другой объект",
}

_KW = {"type": "number", "exclusiveMinimum": 0, "maximum": LIMIT_KW}

SCHEMA = {
    "type": "object",
    "required": ["object_type", "object_address", "cadastral_number", "requested_power_kw", "phases",
                 "voltage_kv", "reason"],
    "additionalProperties": False,
    "properties": {
        "object_type": {"type": "string", "title": "Объект", "enum": list(OBJECT_TYPES),
                        "x-enum-titles": OBJECT_TYPES},
        "object_address": {"type": "string", "title": "Адрес объекта", "minLength": 5, "maxLength": 500},
        "cadastral_number": {"type": "string", "title": "Кадастровый номер участка или объекта",
                             "pattern": r"^\d{2}:\d{2}:\d{6,7}:\d{1,7}$", "examples": ["50:20:0010203:1234"]},
        "requested_power_kw": {**_KW, "title": "Максимальная мощность, кВт (всего, не больше 15)"},
        "phases": {"type": "integer", "title": "Число фаз", "enum": [1, 3]},
        "voltage_kv": {"type": "number", "title": "Напряжение, кВ", "enum": [0.23, 0.4]},
        "reason": {"type": "string", "title": "Причина", "enum": ["new", "power_increase"],
                   "x-enum-titles": {"new": "Новое присоединение", "power_increase": "Увеличение мощности"}},
        "existing_power_kw": {**_KW, "title": "Ранее присоединённая мощность, кВт"},
        "calculation": {
            "type": "object", "title": "Расчёт мощности (калькулятор)", "additionalProperties": False,
            "required": ["demand_kw", "recommended_kw"],
            "properties": {
                "installed_kw": {"type": "string", "maxLength": 16},
                "demand_kw": {"type": "string", "maxLength": 16},
                "recommended_kw": {"type": "string", "maxLength": 16},
                "suggested_phases": {"type": "integer", "enum": [1, 3]},
                "items": {"type": "array", "maxItems": 100, "items": {
                    "type": "object", "additionalProperties": False,
                    "properties": {"name": {"type": "string", "maxLength": 100},
                                   "power_kw": {"type": "string", "maxLength": 16},
                                   "count": {"type": "integer", "minimum": 1},
                                   "simultaneity": {"type": "string", "maxLength": 8}},
                }},
            },
        },
        "comment": {"type": "string", "title": "Комментарий", "maxLength": 1000},
    },
    "allOf": [
        # A single phase is 230 V, three phases 400 V.
        {"if": {"properties": {"phases": {"const": 1}}, "required": ["phases"]},
         "then": {"properties": {"voltage_kv": {"const": 0.23}}}},
        {"if": {"properties": {"phases": {"const": 3}}, "required": ["phases"]},
         "then": {"properties": {"voltage_kv": {"const": 0.4}}}},
        {"if": {"properties": {"reason": {"const": "power_increase"}}, "required": ["reason"]},
         "then": {"required": ["existing_power_kw"]}},
    ],
}


def _kw(value):
    return Decimal(str(value))  # the form's JSON number, compared exactly


def _process_data(req, customer):
    # Imported here: service_requests imports this package while it loads.
    from .. import service_requests

    form = req.form_data
    if not any(a.uploaded_by == "customer" for a in service_requests.attachments(req.id)):
        raise Invalid("grid_connection_documents_required",
                      fields={"attachments": ["grid_connection_documents_required"]})
    if form["reason"] == "power_increase" and _kw(form["existing_power_kw"]) >= _kw(form["requested_power_kw"]):
        raise Invalid("grid_connection_power_not_increased",
                      fields={"form_data.requested_power_kw": ["grid_connection_power_not_increased"]})
    return {
        **base_data(req, customer),
        "object_type": form["object_type"],
        "object_description": OBJECT_TYPES[form["object_type"]],
        "object_address": form["object_address"],
        "cadastral_number": form["cadastral_number"],
        "requested_power_kw": form["requested_power_kw"],
        "existing_power_kw": form.get("existing_power_kw", 0),
        "phases": form["phases"],
        "voltage_kv": form["voltage_kv"],
        "reason": form["reason"],
        "fee_amount": FEE,
        "sent_back": 0,  # how many times the operator returned it for documents
    }


def prefill(calculation):
    """A draft's form from a power calculation (CL-1): its recommended power and phases (the
    customer's own three phases kept), and the calculation itself for the operator to see."""
    phases = max(calculation.phases or 1, calculation.suggested_phases)
    return {
        "reason": "new",
        "requested_power_kw": int(calculation.recommended_kw),
        "phases": phases,
        "voltage_kv": 0.4 if phases == 3 else 0.23,
        "calculation": {
            "installed_kw": str(calculation.installed_kw), "demand_kw": str(calculation.demand_kw),
            "recommended_kw": str(calculation.recommended_kw), "suggested_phases": calculation.suggested_phases,
            "items": [{"name": line.name, "power_kw": str(line.power_kw), "count": line.count,
                       "simultaneity": str(line.simultaneity)} for line in calculation.items],
        },
    }


register(RequestType(
    key="grid_connection",
    process_key="grid_connection",
    titles={"ru": "Технологическое присоединение до 15 кВт", "en": "Grid connection up to 15 kW"},
    schema=SCHEMA,
    process_data=_process_data,
    # The documents are the customer's uploads: an office walk-in has none to check.
    office=False,
))
