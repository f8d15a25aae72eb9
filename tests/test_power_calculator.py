"""The power calculator (CL-1): exact arithmetic, capacity steps, the 15 kW limit of PR-1, refusals
with codes per field, the PDF's text, the email with the PDF, and the public endpoints' IP limit."""
import io
import ipaddress
import os
import time
import uuid
from decimal import Decimal

import pypdf
import pytest
from sqlalchemy import select

from app.api.client import power_calculator_messages  # noqa: F401  (the codes' texts)
from app.api.errors import MESSAGES
from app.errors import Invalid
from app.extensions import db
from app.models.notifications import OutboxMessage
from app.services import power_calculator, power_calculator_pdf
from tests.support.customers import Person, delivered

PUBLIC = "/api/v1/public/power-calculator"
HOUSE = [{"appliance": "electric_stove", "count": 1}, {"appliance": "kettle", "count": 1},
         {"appliance": "lighting", "count": 1}, {"appliance": "fridge", "count": 1},
         {"name": "Станок", "power_kw": "2.5", "count": 3, "simultaneity": "0.4"}]
BOILERS = [{"appliance": "electric_boiler", "count": 2}]


def new_ip():
    """An address of its own: the limit is per IP and its counts outlive a test."""
    return str(ipaddress.IPv4Address(0x0A000000 + uuid.uuid4().int % 2**24))


def public(app, method, path, json=None, ip=None, lang="ru"):
    """A call without a token."""
    return app.test_client().open(f"{PUBLIC}{path}", method=method, json=json, headers={"Accept-Language": lang},
                                  environ_base={"REMOTE_ADDR": ip or new_ip()})


def codes_of(items, phases=None):
    with pytest.raises(Invalid) as refused:
        power_calculator.calculate(items, phases)
    return refused.value.fields


def item(**values):
    return {"appliance": None, "name": None, "power_kw": None, "count": 1, "simultaneity": None, **values}


def parsed(items):
    return [item(**{key: Decimal(value) if key in ("power_kw", "simultaneity") else value
                    for key, value in entry.items()}) for entry in items]


# --- arithmetic -----------------------------------------------------------------------------------

def test_a_house_sums_exactly_and_rounds_up_to_the_next_step():
    result = power_calculator.calculate(parsed(HOUSE))
    assert [line.load_kw for line in result.items] == [Decimal("4.550"), Decimal("0.600"), Decimal("0.900"),
                                                       Decimal("0.300"), Decimal("3.000")]
    assert result.installed_kw == Decimal("17.800")  # 7 + 2 + 1 + 0.3 + 7.5
    assert result.demand_kw == Decimal("9.350")
    assert result.recommended_kw == 10
    assert not result.exceeds_limit and result.suggested_phases == 1 and result.notes == []


def test_loads_round_half_up_to_the_watt_and_the_demand_is_summed_before_rounding():
    result = power_calculator.calculate(parsed([{"name": "Прибор", "power_kw": "0.3330", "simultaneity": "0.500"}] * 2))
    assert [line.load_kw for line in result.items] == [Decimal("0.167")] * 2
    assert result.demand_kw == Decimal("0.333") and result.recommended_kw == 3


@pytest.mark.parametrize("demand, step", [("0.001", 3), ("3", 3), ("3.001", 5), ("5", 5), ("6.5", 7), ("10", 10),
                                          ("10.001", 12), ("12.5", 15), ("15", 15), ("15.001", 16), ("40.2", 41)])
def test_capacity_steps(demand, step):
    assert power_calculator.capacity(Decimal(demand)) == step


def test_over_15_kw_is_flagged_with_three_phases():
    result = power_calculator.calculate(parsed(BOILERS))
    assert result.demand_kw == Decimal("16.200") and result.recommended_kw == 17
    assert result.exceeds_limit and result.suggested_phases == 3
    assert result.notes == ["power_over_pr1_limit", "power_three_phase"]


def test_above_10_kw_a_chosen_single_phase_is_called_too_small():
    items = parsed([{"name": "Нагреватель", "power_kw": "10.5", "count": 1}])
    assert power_calculator.calculate(items, 3).notes == ["power_three_phase"]
    result = power_calculator.calculate(items, 1)
    assert result.recommended_kw == 12 and result.notes == ["power_single_phase_too_small"]
    assert power_calculator.calculate(parsed([{"name": "Ровно", "power_kw": "10", "count": 1}]), 1).notes == []


def test_the_catalogue_gives_defaults_and_can_be_overridden():
    [line] = power_calculator.calculate(parsed([{"appliance": "sauna", "count": 1, "power_kw": "6",
                                                 "simultaneity": "1"}])).items
    assert (line.name, line.power_kw, line.simultaneity, line.load_kw) == ("Электрокаменка (сауна)", 6, 1,
                                                                           Decimal("6.000"))
    keys = {appliance.key for appliance in power_calculator.catalogue()}
    assert {"electric_stove", "oven", "kettle", "microwave", "washing_machine", "dishwasher", "water_heater",
            "air_conditioner", "floor_heating", "lighting", "fridge", "pump", "sauna", "electric_boiler",
            "ev_charger"} <= keys


# --- refusals -------------------------------------------------------------------------------------

def test_refusals_carry_a_code_per_field():
    assert codes_of([]) == {"items": ["power_items_empty"]}
    assert codes_of([item(appliance="kettle")] * 101) == {"items": ["power_items_too_many"]}
    bad = [item(appliance="toaster"), item(name="  "), item(name="Без мощности"), item(name="x", power_kw=Decimal(0)),
           item(name="x", power_kw=Decimal("100.001")), item(name="x", power_kw=Decimal("1.2345")),
           item(appliance="kettle", count=0), item(appliance="kettle", count=101),
           item(appliance="kettle", simultaneity=Decimal(0)), item(appliance="kettle", simultaneity=Decimal("1.01")),
           item(appliance="kettle", simultaneity=Decimal("0.333")), item(name="д" * 101, power_kw=Decimal(1)),
           item(appliance="kettle", count=100, power_kw=Decimal(100), simultaneity=Decimal(1))]
    assert codes_of(bad) == {"items": {
        "0": {"appliance": ["appliance_unknown"]},
        "1": {"name": ["appliance_name_required"], "power_kw": ["power_required"]},
        "2": {"power_kw": ["power_required"]},
        "3": {"power_kw": ["power_out_of_range"]},
        "4": {"power_kw": ["power_out_of_range"]},
        "5": {"power_kw": ["power_decimals"]},
        "6": {"count": ["count_out_of_range"]},
        "7": {"count": ["count_out_of_range"]},
        "8": {"simultaneity": ["simultaneity_out_of_range"]},
        "9": {"simultaneity": ["simultaneity_out_of_range"]},
        "10": {"simultaneity": ["simultaneity_decimals"]},
        "11": {"name": ["appliance_name_too_long"]},
    }}  # the last line is at every upper bound and passes


def test_the_api_refuses_in_the_callers_language(app):
    refused = public(app, "POST", "/calculate", {"items": [{"name": "x", "power_kw": "0", "count": 1}]})
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "validation_error"
    assert error["fields"] == {"items": {"0": {"power_kw": ["Мощность — больше 0 и не больше 100 кВт."]}}}
    english = public(app, "POST", "/calculate", {"items": [{"appliance": "kettle", "count": 500}]}, lang="en")
    assert english.get_json()["error"]["fields"] == {"items": {"0": {"count": ["The count must be 1 to 100."]}}}


@pytest.mark.parametrize("body, field", [
    ({"items": [{"appliance": "kettle", "count": "2"}]}, "items"),
    ({"items": [{"appliance": "kettle"}]}, "items"),
    ({"items": [{"appliance": "kettle", "count": 1, "colour": "red"}]}, "items"),
    ({"items": [{"name": "x", "power_kw": "NaN", "count": 1}]}, "items"),
    ({"items": [{"appliance": "kettle", "count": 1}], "phases": 2}, "phases"),
    ({"items": "kettle"}, "items"),
    ({}, "items"),
])
def test_malformed_bodies_are_422_on_their_field(app, body, field):
    refused = public(app, "POST", "/calculate", body)
    assert refused.status_code == 422 and field in refused.get_json()["error"]["fields"], refused.get_json()


def test_phases_invalid_has_its_text(app):
    refused = public(app, "POST", "/calculate", {"items": [{"appliance": "kettle", "count": 1}], "phases": 2})
    assert refused.get_json()["error"]["fields"] == {"phases": [MESSAGES["phases_invalid"][0]]}


def test_not_json_is_400(app):
    refused = app.test_client().post(f"{PUBLIC}/calculate", data="items", content_type="text/plain")
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "not_json"


# --- public API -----------------------------------------------------------------------------------

def test_public_calculation_without_a_token_answers_strings(app):
    response = public(app, "POST", "/calculate", {"items": BOILERS, "phases": 1})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["items"] == [{"appliance": "electric_boiler", "name": "Электрокотёл", "power_kw": "9.000", "count": 2,
                              "simultaneity": "0.90", "installed_kw": "18.000", "load_kw": "16.200"}]
    assert (body["installed_kw"], body["demand_kw"], body["recommended_kw"], body["limit_kw"]) == (
        "18.000", "16.200", "17", "15")
    assert body["exceeds_limit"] is True and body["phases"] == 1 and body["suggested_phases"] == 3
    assert body["notes"] == [{"code": "power_over_pr1_limit", "message": MESSAGES["power_over_pr1_limit"][0]},
                             {"code": "power_single_phase_too_small",
                              "message": MESSAGES["power_single_phase_too_small"][0]}]


def test_public_catalogue(app):
    response = public(app, "GET", "/appliances")
    assert response.status_code == 200
    body = response.get_json()
    assert body["count"] == len(body["result"]) >= 15
    assert {"key": "kettle", "name": "Электрочайник", "power_kw": "2.000", "simultaneity": "0.30"} in body["result"]


def test_public_endpoints_are_limited_per_ip(app):
    ip = new_ip()
    limit = int(app.config["POWER_CALCULATOR_LIMIT_PER_IP"].split()[0])
    for _ in range(limit):
        assert public(app, "GET", "/appliances", ip=ip).status_code == 200
    refused = public(app, "POST", "/calculate", {"items": BOILERS}, ip=ip)
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    assert public(app, "GET", "/appliances").status_code == 200  # another IP is not counted


# --- PDF ------------------------------------------------------------------------------------------

def pdf_text(data):
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_the_pdf_shows_the_lines_totals_and_advice_in_russian(app):
    with app.test_request_context():
        text = pdf_text(power_calculator_pdf.render(power_calculator.calculate(parsed(HOUSE + BOILERS))))
    assert "Расчёт мощности для технологического присоединения" in text
    for expected in ("Электроплита", "Станок", "Электрокотёл", "16,2", "Установленная мощность: 35,8 кВт",
                     "Расчётная нагрузка: 25,55 кВт", "Рекомендуемая мощность присоединения: 26 кВт",
                     "Рекомендуемое подключение: трёхфазное (380 В)", "Нагрузка больше 15 кВт"):
        assert expected in text, expected


def test_the_pdf_downloads_without_a_token(app):
    response = public(app, "POST", "/pdf", {"items": HOUSE})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith('attachment; filename=power-calculation-')
    text = pdf_text(response.data)
    assert "Расчётная нагрузка: 9,35 кВт" in text and "однофазное (220 В)" in text
    assert public(app, "POST", "/pdf", {"items": []}).status_code == 422


# --- email ----------------------------------------------------------------------------------------

def outbox_of(app, customer_id):
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage).where(OutboxMessage.customer_id == customer_id,
                                                              OutboxMessage.channel == "email")).scalars().all()
        db.session.expunge_all()
        return rows


def test_the_email_needs_a_signed_in_customer_with_a_confirmed_address(app):
    assert app.test_client().post("/api/v1/client/power-calculator/email", json={"items": HOUSE}).status_code == 401
    person = Person(app)
    refused = person.call("POST", "/power-calculator/email", json={"items": HOUSE})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "email_unconfirmed"
    person.confirm_email(confirmed=False)
    assert person.call("POST", "/power-calculator/email", json={"items": HOUSE}).status_code == 409
    assert person.call("POST", "/power-calculator/email", json={"items": []}).status_code == 422
    assert outbox_of(app, person.id) == []


def test_the_pdf_goes_by_email_attached_and_is_removed_after_delivery(app):
    person = Person(app)
    address = person.confirm_email()
    response = person.call("POST", "/power-calculator/email", json={"items": HOUSE})
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"sent": True, "email": address}
    [line] = delivered(app, address)
    assert "[attachments: power-calculation-" in line and "рекомендуемая мощность присоединения: 10 кВт" in line
    [row] = outbox_of(app, person.id)
    assert row.template == "power_calculation" and row.status == "sent"
    [attachment] = row.attachments
    assert attachment["content_type"] == "application/pdf" and attachment["filename"].endswith(".pdf")
    deadline = time.monotonic() + 10
    while os.path.exists(attachment["path"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(attachment["path"])


def test_calculation_emails_are_limited_per_customer(app):
    person = Person(app)
    person.confirm_email()
    limit = int(app.config["POWER_CALCULATOR_EMAIL_LIMIT"].split()[0])
    for _ in range(limit):
        assert person.call("POST", "/power-calculator/email", json={"items": BOILERS}).status_code == 202
    refused = person.call("POST", "/power-calculator/email", json={"items": BOILERS})
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "power_email_limit"
    assert len(outbox_of(app, person.id)) == limit


def test_openapi_describes_the_calculator(app, api):
    spec = api().get("/api/v1/_openapi").get_json()
    for path, method in (("/appliances", "get"), ("/calculate", "post"), ("/pdf", "post")):
        operation = spec["paths"][f"{PUBLIC}{path}"][method]
        assert "security" not in operation and "429" in operation["responses"]
    operation = spec["paths"]["/api/v1/client/power-calculator/email"]["post"]
    assert operation["security"] == [{"customer": []}] and "409" in operation["responses"]
    assert "demand_kw" in spec["components"]["schemas"]["CalculationSchema"]["properties"]
