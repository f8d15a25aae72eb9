"""The power calculator (SPEC CL-1): household appliances → the capacity to ask for in a grid
connection request (PR-1).

Demand is Σ power × count × simultaneity in exact Decimals; the capacity is the demand rounded
up to the standard steps a connection is granted in. PR-1 covers up to 15 kW: more is still
calculated, flagged and explained. Above 10 kW a single phase is impractical (over 45 A at 220 V), so
three phases are suggested.
"""
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from flask import current_app

from ..errors import Invalid
from . import bills, notifications, periods, power_calculator_pdf, rate_limits, service_requests
from .request_types import grid_connection

PDF = "application/pdf"
KW = Decimal("0.001")  # results to the watt
STEPS = tuple(Decimal(step) for step in (3, 5, 7, 10, 12, 15))  # kW a connection is granted in
PR1_LIMIT = Decimal(15)
THREE_PHASE_ABOVE = Decimal(10)
MAX_ITEMS, MAX_COUNT, MAX_POWER, MAX_NAME = 100, 100, Decimal(100), 100
POWER_DECIMALS, SIMULTANEITY_DECIMALS = 3, 2


# What the customer should know about a result, in Russian and English (the API sends the codes
# with their texts, the PDF prints the Russian ones).
NOTES = {
    "power_over_pr1_limit": (
        "Нагрузка больше 15 кВт: упрощённое присоединение (до 15 кВт) не подходит, заявка подаётся "
        "на присоединение большей мощности.",
        "The load is above 15 kW: the simplified connection (up to 15 kW) does not apply; apply for a "
        "connection of higher capacity."),
    "power_three_phase": ("При такой мощности рекомендуется трёхфазное подключение (380 В).",
                          "A three-phase connection (380 V) is recommended for this capacity."),
    "power_single_phase_too_small": (
        "Выбрано однофазное подключение, но при такой мощности нужно трёхфазное (380 В).",
        "A single phase was chosen, but this capacity needs a three-phase connection (380 V)."),
}


@dataclass(frozen=True)
class Appliance:
    key: str
    name: str
    power_kw: Decimal
    simultaneity: Decimal


def _appliance(key, name, power, simultaneity):
    return Appliance(key, name, Decimal(power), Decimal(simultaneity))


# Typical household ratings and how much of them is on at the same time as the rest.
APPLIANCES = {item.key: item for item in (
    _appliance("electric_stove", "Электроплита", "7", "0.65"),
    _appliance("oven", "Духовой шкаф", "3.5", "0.5"),
    _appliance("kettle", "Электрочайник", "2", "0.3"),
    _appliance("microwave", "Микроволновая печь", "1.2", "0.3"),
    _appliance("washing_machine", "Стиральная машина", "2.2", "0.5"),
    _appliance("dishwasher", "Посудомоечная машина", "2", "0.5"),
    _appliance("water_heater", "Водонагреватель (бойлер)", "2", "0.8"),
    _appliance("air_conditioner", "Кондиционер", "2.5", "0.7"),
    _appliance("floor_heating", "Тёплый пол", "1.5", "0.8"),
    _appliance("lighting", "Освещение", "1", "0.9"),
    _appliance("fridge", "Холодильник", "0.3", "1"),
    _appliance("pump", "Насос (скважина, колодец)", "1", "0.6"),
    _appliance("sauna", "Электрокаменка (сауна)", "9", "0.7"),
    _appliance("electric_boiler", "Электрокотёл", "9", "0.9"),
    _appliance("ev_charger", "Зарядка электромобиля", "7.4", "0.8"),
)}


@dataclass(frozen=True)
class Line:
    appliance: str | None
    name: str
    power_kw: Decimal
    count: int
    simultaneity: Decimal

    @property
    def installed_kw(self):
        return self.power_kw * self.count

    @property
    def load_kw(self):
        return (self.installed_kw * self.simultaneity).quantize(KW, ROUND_HALF_UP)


@dataclass(frozen=True)
class Calculation:
    items: list
    installed_kw: Decimal
    demand_kw: Decimal
    recommended_kw: Decimal
    exceeds_limit: bool
    phases: int | None
    suggested_phases: int

    limit_kw = PR1_LIMIT

    @property
    def notes(self):
        """Codes of what the customer should know (texts in ``NOTES``)."""
        found = []
        if self.exceeds_limit:
            found.append("power_over_pr1_limit")
        if self.suggested_phases == 3:
            found.append("power_three_phase" if self.phases != 1 else "power_single_phase_too_small")
        return found


def catalogue():
    return list(APPLIANCES.values())


def calculate(items, phases=None):
    """``items``: parsed ``[{appliance?, name?, power_kw?, count, simultaneity?}]`` → a Calculation,
    or 422 with codes per ``items.N.field``."""
    if not items:
        raise Invalid(fields={"items": ["power_items_empty"]})
    if len(items) > MAX_ITEMS:
        raise Invalid(fields={"items": ["power_items_too_many"]}, max=MAX_ITEMS)
    lines, problems = [], {}
    for index, item in enumerate(items):
        line, codes = _line(item)
        if codes:
            problems[str(index)] = codes
        else:
            lines.append(line)
    if problems:
        raise Invalid(fields={"items": problems}, max_name=MAX_NAME, max_count=MAX_COUNT, max_power=MAX_POWER,
                      power_decimals=POWER_DECIMALS, simultaneity_decimals=SIMULTANEITY_DECIMALS)
    installed = sum((line.installed_kw for line in lines), Decimal(0))
    demand = sum((line.installed_kw * line.simultaneity for line in lines), Decimal(0)).quantize(KW, ROUND_HALF_UP)
    recommended = capacity(demand)
    return Calculation(items=lines, installed_kw=installed.quantize(KW), demand_kw=demand,
                       recommended_kw=recommended, exceeds_limit=demand > PR1_LIMIT, phases=phases,
                       suggested_phases=3 if recommended > THREE_PHASE_ABOVE else 1)


def capacity(demand):
    """The smallest standard step ≥ ``demand``; above the last step, the whole kW above it."""
    for step in STEPS:
        if demand <= step:
            return step
    return demand.to_integral_value(ROUND_CEILING)


def _decimals(value):
    """Significant decimals: "1.2000" has one."""
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _line(item):
    codes = {}
    key = item.get("appliance")
    known = APPLIANCES.get(key) if key is not None else None
    if key is not None and known is None:
        codes["appliance"] = ["appliance_unknown"]
    name = (item.get("name") or "").strip() or (known.name if known else None)
    power = item.get("power_kw")
    if power is None and known is not None:
        power = known.power_kw
    simultaneity = item.get("simultaneity")
    if simultaneity is None:
        simultaneity = known.simultaneity if known else Decimal(1)
    if key is None and not name:
        codes["name"] = ["appliance_name_required"]
    elif name and len(name) > MAX_NAME:
        codes["name"] = ["appliance_name_too_long"]
    if power is None:
        if key is None:
            codes["power_kw"] = ["power_required"]
    elif not 0 < power <= MAX_POWER:
        codes["power_kw"] = ["power_out_of_range"]
    elif _decimals(power) > POWER_DECIMALS:
        codes["power_kw"] = ["power_decimals"]
    if not 1 <= item["count"] <= MAX_COUNT:
        codes["count"] = ["count_out_of_range"]
    if not 0 < simultaneity <= 1:
        codes["simultaneity"] = ["simultaneity_out_of_range"]
    elif _decimals(simultaneity) > SIMULTANEITY_DECIMALS:
        codes["simultaneity"] = ["simultaneity_decimals"]
    if codes:
        return None, codes
    return Line(key, name, power, item["count"], simultaneity), None


def pdf_filename():
    return f"power-calculation-{periods.local_today():%Y-%m-%d}.pdf"


def send_pdf(customer, calculation):
    """Email the calculation's PDF to the customer's confirmed address through the outbox; at most
    ``POWER_CALCULATOR_EMAIL_LIMIT`` per customer (429 ``power_email_limit``). Returns the address."""
    address = bills.confirmed_email(customer)
    rate_limits.hit(current_app.config["POWER_CALCULATOR_EMAIL_LIMIT"], "power_calculator_email", customer.id,
                    code="power_email_limit")
    notifications.send_pdf_email(
        address, "power_calculation", {"name": customer.full_name, "demand": f"{calculation.demand_kw}",
                                       "recommended": f"{calculation.recommended_kw}"},
        power_calculator_pdf.render(calculation), pdf_filename(), customer_id=customer.id,
        subject="Расчёт мощности для технологического присоединения")
    return address


def grid_connection_draft(customer_id, calculation):
    """A draft grid connection request (PR-1) prefilled from the calculation; 422
    ``power_over_pr1_limit`` when the load is above what PR-1 connects."""
    if calculation.exceeds_limit:
        raise Invalid("power_over_pr1_limit")
    return service_requests.create_draft(customer_id, "grid_connection", grid_connection.prefill(calculation))
