"""PR-1 grid connection up to 15 kW, end to end: the customer through the client API, staff
through /api/v1/tasks, the fee through the real payments flow (sandbox callback), deadlines
shortened through PROCESS_DEADLINES and fired by the timer sweep. Also the calculator's draft (CL-1)."""
import io

from sqlalchemy import select

from app.extensions import db
from app.models.notifications import OutboxMessage
from app.models.requests import ServiceRequest
from app.workflows import jobs, timers
from tests.test_client_payments import Person, post_callback, signed_callback

PDF = b"%PDF-1.4\n" + b"0" * 64
FORM = {
    "object_type": "house", "object_address": "Московская обл., г. Истра, ул. Лесная, д. 7",
    "cadastral_number": "50:08:0040213:1234", "requested_power_kw": 12, "phases": 3, "voltage_kv": 0.4,
    "reason": "new",
}
ALL_PRESENT = {"has_ownership_document": True, "has_passport": True, "has_site_plan": True}
OFFER = {"connection_point": "Опора № 14 ВЛ-0,4 кВ", "substation": "ТП-312, фидер 5",
         "network_works": "Строительство ответвления от опоры № 14", "customer_works": "Вводное устройство"}
WORKS = {"connected_on": "2026-12-01", "meter_serial": "SN-778899", "meter_reading": 0, "seal_number": "PL-0042"}
EN = "en"


# --- helpers ------------------------------------------------------------------------------------

def error(response):
    return response.status_code, response.get_json()["error"]["code"]


def upload(person, request_id, filename="паспорт.pdf"):
    response = person.http.post(f"/api/v1/client/requests/{request_id}/attachments", headers=person.headers,
                                data={"file": (io.BytesIO(PDF), filename)}, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def draft(person, **form):
    response = person.call("POST", "/requests/", json={"type": "grid_connection", "form_data": {**FORM, **form}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def settle(app, request_id):
    """Run the process on to its next wait: service jobs chain (a status, then a document...)."""
    with app.app_context():
        instance_id = db.session.get(ServiceRequest, request_id).process_instance_id
        assert jobs.wait_for_jobs(instance_id), "service jobs did not finish"
        db.session.remove()


def filed(app, person, **form):
    request_id = draft(person, **form)
    upload(person, request_id)
    response = person.call("POST", f"/requests/{request_id}/submit")
    assert response.status_code == 200, response.get_json()
    settle(app, request_id)
    return request_id


def detail(person, request_id):
    response = person.call("GET", f"/requests/{request_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def instance_id(app, request_id):
    with app.app_context():
        found = db.session.get(ServiceRequest, request_id).process_instance_id
        db.session.remove()
    return found


def staff_task(api, role, request_id, app, name):
    found = [t for t in api(role).get("/api/v1/tasks/?page_size=100").get_json()["result"]
             if t["instance_id"] == instance_id(app, request_id) and t["name"] == name]
    assert len(found) == 1, found
    return found[0]


def staff_does(api, role, app, request_id, name, data):
    task = staff_task(api, role, request_id, app, name)
    response = api(role).post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
    assert response.status_code == 200, response.get_json()
    settle(app, request_id)


def customer_task(person, request_id, name):
    found = [t for t in detail(person, request_id)["tasks"] if t["name"] == name]
    assert len(found) == 1, detail(person, request_id)["tasks"]
    return found[0]


def answer(person, request_id, task, data, lang="ru"):
    return person.call("POST", f"/requests/{request_id}/tasks/{task['id']}", json={"data": data}, lang=lang)


def customer_does(app, person, request_id, name, data):
    response = answer(person, request_id, customer_task(person, request_id, name), data)
    assert response.status_code == 200, response.get_json()
    settle(app, request_id)


def to_offer(app, api, person):
    """A filed request whose contract offer waits for the customer."""
    request_id = filed(app, person)
    staff_does(api, "operator", app, request_id, "check_completeness", ALL_PRESENT)
    staff_does(api, "operator", app, request_id, "prepare_offer", OFFER)
    return request_id


def statuses(person, request_id):
    return [h["status"] for h in detail(person, request_id)["history"]]


def pay_the_fee(app, person):
    (invoice,) = [i for i in person.call("GET", "/invoices").get_json()["result"] if i["status"] == "open"]
    paying = person.pay({"items": [{"invoice_id": invoice["id"]}]})
    assert paying.status_code == 201, paying.get_json()
    assert post_callback(app, *signed_callback(app, paying.get_json()["id"])).status_code == 200
    return invoice


def outbox(app, recipient, template):
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage.body).where(
            OutboxMessage.recipient == recipient, OutboxMessage.template == template)).scalars().all()
        db.session.remove()
    return rows


# --- the process --------------------------------------------------------------------------------

def test_main_path_from_application_to_the_act(app, api):
    person = Person(app)
    request_id = filed(app, person)
    assert detail(person, request_id)["status"] == "submitted"
    check = staff_task(api, "operator", request_id, app, "check_completeness")
    assert check["candidate_role"] == "Operator" and check["due_at"] is not None  # the statutory timer

    staff_does(api, "operator", app, request_id, "check_completeness", ALL_PRESENT)
    assert detail(person, request_id)["status"] == "in_progress"
    staff_does(api, "operator", app, request_id, "prepare_offer", OFFER)

    shown = detail(person, request_id)
    assert shown["status"] == "waiting_customer"
    issued = [a for a in shown["attachments"] if a["uploaded_by"] == "staff"]
    assert [a["filename"] for a in issued] == ["Договор ТП.pdf", "Технические условия.pdf"]
    (offer,) = shown["tasks"]
    assert offer["name"] == "accept_offer" and offer["form_schema"]["properties"]["decision"]["enum"] == [
        "accept", "decline"]

    customer_does(app, person, request_id, "accept_offer", {"decision": "accept"})
    shown = detail(person, request_id)
    assert shown["status"] == "awaiting_payment" and shown["tasks"] == []
    invoice = pay_the_fee(app, person)
    assert invoice["amount"] == "550.00" and shown["number"] in invoice["description"]
    assert invoice["number"] in shown["history"][-1]["note"]
    settle(app, request_id)
    assert detail(person, request_id)["status"] == "in_progress"

    works = staff_task(api, "technician", request_id, app, "field_works")
    assert works["due_at"] is not None
    staff_does(api, "technician", app, request_id, "field_works", WORKS)
    shown = detail(person, request_id)
    assert shown["status"] == "completed" and shown["closed_at"] is not None
    assert statuses(person, request_id) == ["draft", "submitted", "in_progress", "waiting_customer",
                                            "awaiting_payment", "in_progress", "completed"]
    documents = [a for a in shown["attachments"] if a["uploaded_by"] == "staff"]
    assert [a["filename"] for a in documents][-1] == "Акт ТП.pdf"
    for document in documents:
        got = person.call("GET", f"/requests/{request_id}/attachments/{document['id']}")
        assert got.status_code == 200 and got.mimetype == "application/pdf" and got.data.startswith(b"%PDF")
    process = api().get(f"/api/v1/process-instances/{instance_id(app, request_id)}").get_json()
    assert process["status"] == "completed" and process["data"]["payment"]["invoice"] == invoice["number"]
    # every change of status reached the customer's phone
    assert len(outbox(app, person.phone, "request_status")) == 5


def test_missing_documents_go_back_to_the_customer_and_the_check_repeats(app, api):
    person = Person(app)
    request_id = filed(app, person)
    staff_does(api, "operator", app, request_id, "check_completeness",
               {**ALL_PRESENT, "has_site_plan": False, "other_missing": "Доверенность представителя"})
    shown = detail(person, request_id)
    assert shown["status"] == "waiting_customer"
    assert shown["history"][-1]["note"] == ("Не хватает документов: План расположения энергопринимающих "
                                            "устройств; Доверенность представителя.")
    task = customer_task(person, request_id, "add_documents")
    listed = task["form_schema"]["properties"]["documents"]["items"]["enum"]
    assert listed == ["План расположения энергопринимающих устройств", "Доверенность представителя"]

    # wrong answers: not confirmed, or a document that was not asked for; nothing moves
    for wrong in ({"documents": listed, "uploaded": False}, {"documents": ["Паспорт"], "uploaded": True},
                  {"documents": [], "uploaded": True}, {"uploaded": True}):
        refused = answer(person, request_id, task, wrong, lang=EN)
        assert error(refused) == (422, "form_invalid"), wrong
    assert customer_task(person, request_id, "add_documents")["id"] == task["id"]

    upload(person, request_id, "план участка.pdf")
    customer_does(app, person, request_id, "add_documents", {"documents": listed, "uploaded": True})
    assert detail(person, request_id)["status"] == "in_progress"
    assert detail(person, request_id)["tasks"] == []
    # the operator checks again; this time it is complete and the offer is next
    staff_does(api, "operator", app, request_id, "check_completeness", ALL_PRESENT)
    assert staff_task(api, "operator", request_id, app, "prepare_offer")
    assert statuses(person, request_id)[1:] == ["submitted", "waiting_customer", "in_progress", "in_progress"]
    process = api().get(f"/api/v1/process-instances/{instance_id(app, request_id)}").get_json()
    assert process["data"]["sent_back"] == 1 and process["data"]["missing_documents"] == []


def test_declining_the_offer_rejects_the_request(app, api):
    person = Person(app)
    request_id = to_offer(app, api, person)
    customer_does(app, person, request_id, "accept_offer", {"decision": "decline", "comment": "Дорого"})
    shown = detail(person, request_id)
    assert shown["status"] == "rejected" and shown["tasks"] == []
    assert shown["history"][-1]["note"] == "Вы отказались от договора."
    assert person.call("GET", "/invoices").get_json()["count"] == 0
    assert api().get(f"/api/v1/process-instances/{instance_id(app, request_id)}").get_json()["status"] == "completed"


def test_a_missed_deadline_escalates_to_the_supervisor_and_the_task_stays(app, api, monkeypatch):
    monkeypatch.setitem(app.config["PROCESS_DEADLINES"], "grid_connection.check", "PT0S")
    person = Person(app)
    request_id = filed(app, person)
    with app.app_context():
        timers.fire_due()
        db.session.remove()
    settle(app, request_id)
    escalation = staff_task(api, "admin", request_id, app, "escalate_check")
    assert escalation["candidate_role"] == "Admin" and escalation["title"] == "Просрочено: проверка комплектности"
    (notice,) = outbox(app, person.phone, "grid_connection_delayed")
    assert detail(person, request_id)["number"] in notice and "проверка комплектности" in notice
    # the operator's check is still there and carries on; the supervisor closes the escalation
    staff_does(api, "operator", app, request_id, "check_completeness", ALL_PRESENT)
    assert staff_task(api, "operator", request_id, app, "prepare_offer")
    assert error(api("admin").post(f"/api/v1/tasks/{escalation['id']}/complete", json={"data": {}})) == (
        422, "form_invalid")
    staff_does(api, "admin", app, request_id, "escalate_check", {"action": "Оператору поручено срочно"})
    assert detail(person, request_id)["status"] == "in_progress"
    assert len(outbox(app, person.phone, "grid_connection_delayed")) == 1  # fired once


# --- refusals -----------------------------------------------------------------------------------

def test_submission_refusals_leave_the_draft(app):
    person = Person(app)
    too_much = draft(person, requested_power_kw=15.5)
    upload(person, too_much)
    refused = person.call("POST", f"/requests/{too_much}/submit")
    assert error(refused) == (422, "request_form_invalid")
    assert refused.get_json()["error"]["fields"] == {"form_data.requested_power_kw": ["Значение не подходит."]}

    wrong_voltage = draft(person, phases=1, voltage_kv=0.4, cadastral_number="50-08")
    upload(person, wrong_voltage)
    fields = person.call("POST", f"/requests/{wrong_voltage}/submit").get_json()["error"]["fields"]
    assert set(fields) == {"form_data.voltage_kv", "form_data.cadastral_number"}

    increase = draft(person, reason="power_increase")
    upload(person, increase)
    fields = person.call("POST", f"/requests/{increase}/submit").get_json()["error"]["fields"]
    assert fields == {"form_data.existing_power_kw": ["Обязательное поле."]}
    person.call("PATCH", f"/requests/{increase}", json={"form_data": {**FORM, "reason": "power_increase",
                                                                      "existing_power_kw": 12}})
    assert error(person.call("POST", f"/requests/{increase}/submit")) == (422, "grid_connection_power_not_increased")

    bare = draft(person)
    refused = person.call("POST", f"/requests/{bare}/submit", lang=EN)
    assert error(refused) == (422, "grid_connection_documents_required")
    assert refused.get_json()["error"]["message"].startswith("Attach the documents")
    for request_id in (too_much, wrong_voltage, increase, bare):
        shown = detail(person, request_id)
        assert shown["status"] == "draft" and shown["tasks"] == []


def test_another_customer_reaches_nothing(app, api):
    person, stranger = Person(app), Person(app)
    request_id = to_offer(app, api, person)
    task = customer_task(person, request_id, "accept_offer")
    document = [a for a in detail(person, request_id)["attachments"] if a["uploaded_by"] == "staff"][0]
    assert error(stranger.call("GET", f"/requests/{request_id}")) == (404, "request_not_found")
    assert error(answer(stranger, request_id, task, {"decision": "decline"})) == (404, "request_not_found")
    assert error(stranger.call("GET", f"/requests/{request_id}/attachments/{document['id']}")) == (
        404, "request_not_found")
    # a staff task is not the customer's to answer; a wrong decision is refused
    operator_task = api("admin").get("/api/v1/tasks/?page_size=100").get_json()["result"]
    staff_ids = [t["id"] for t in operator_task if t["instance_id"] == instance_id(app, request_id)]
    for staff_id in staff_ids:
        assert error(answer(person, request_id, {"id": staff_id}, {})) == (404, "task_not_found")
    assert error(answer(person, request_id, task, {"decision": "maybe"})) == (422, "form_invalid")
    assert detail(person, request_id)["status"] == "waiting_customer"


# --- the calculator's draft (CL-1) ----------------------------------------------------------------

CALCULATION = {"items": [{"appliance": "electric_stove", "count": 1}, {"appliance": "electric_boiler", "count": 1},
                         {"appliance": "lighting", "count": 1}]}


def test_the_calculator_drafts_a_request_that_can_be_completed_and_submitted(app):
    person = Person(app)
    response = person.call("POST", "/power-calculator/draft", json=CALCULATION)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["type"] == "grid_connection" and created["status"] == "draft"
    form = created["form_data"]
    # 7 × 0.65 + 9 × 0.9 + 1 × 0.9 = 13.55 kW → 15 kW, three phases
    assert form["requested_power_kw"] == 15 and form["phases"] == 3 and form["voltage_kv"] == 0.4
    assert form["calculation"]["demand_kw"] == "13.550" and len(form["calculation"]["items"]) == 3
    request_id = created["id"]
    person.call("PATCH", f"/requests/{request_id}", json={"form_data": {**FORM, **form}})
    upload(person, request_id)
    submitted = person.call("POST", f"/requests/{request_id}/submit")
    assert submitted.status_code == 200, submitted.get_json()

    small = person.call("POST", "/power-calculator/draft", json={"items": [{"appliance": "kettle", "count": 1}],
                                                                 "phases": 3}).get_json()["form_data"]
    assert small["requested_power_kw"] == 3 and small["phases"] == 3  # the customer's three phases kept


def test_the_calculator_draft_refusals(app):
    person = Person(app)
    boilers = {"items": [{"appliance": "electric_boiler", "count": 2}]}  # 16.2 kW
    over = person.call("POST", "/power-calculator/draft", json=boilers, lang=EN)
    assert error(over) == (422, "power_over_pr1_limit")
    assert error(person.call("POST", "/power-calculator/draft", json={"items": []})) == (422, "validation_error")
    anonymous = app.test_client().post("/api/v1/client/power-calculator/draft", json=CALCULATION)
    assert anonymous.status_code == 401
    assert person.call("GET", "/requests/").get_json()["count"] == 0


def test_openapi_describes_the_draft(app, api):
    spec = api().get("/api/v1/_openapi").get_json()
    operation = spec["paths"]["/api/v1/client/power-calculator/draft"]["post"]
    assert operation["security"] == [{"customer": []}] and {"201", "401", "422"} <= set(operation["responses"])
    assert operation["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/RequestDetailSchema")


def test_closing_the_request_withdraws_the_unpaid_fee(app, api):
    person = Person(app)
    request_id = to_offer(app, api, person)
    customer_does(app, person, request_id, "accept_offer", {"decision": "accept"})
    (invoice,) = person.call("GET", "/invoices").get_json()["result"]
    assert person.call("POST", f"/requests/{request_id}/close", json={"note": "Передумала"}).status_code == 200
    assert detail(person, request_id)["status"] == "closed"
    (invoice,) = person.call("GET", "/invoices").get_json()["result"]
    assert invoice["status"] == "cancelled"
    assert error(person.pay({"items": [{"invoice_id": invoice["id"]}]})) == (409, "invoice_not_open")
    assert api().get(f"/api/v1/process-instances/{instance_id(app, request_id)}").get_json()["status"] == "cancelled"
