"""Paid services (SPEC PR-5) on SQLite and PostgreSQL: the public catalogue grouped by category
(inactive services and categories hidden), an order of an active service only, the provider's
price never below the service's minimum, the customer accepting (invoice, payment through the
payments API, execution, rating) or declining (rejected), and another customer getting 404."""
import html
import uuid
from decimal import Decimal

import pytest

from app.extensions import db
from app.models.paid_services import PaidService, PaidServiceCategory
from tests.conftest import PASSWORD
from tests.support.paid_flow import (
    complete_staff_task,
    detail,
    error,
    file_request,
    open_invoices,
    pay_invoice,
    settle,
    staff_tasks,
    submit,
)
from tests.test_client_payments import Person


@pytest.fixture
def person(app):
    return Person(app)


@pytest.fixture
def catalogue(app):
    """A category of its own (the database is shared by the session): two active services,
    an inactive one, and a service in an inactive category. Returns their ids by role."""
    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        shown = PaidServiceCategory(name=f"Электромонтаж {tag}", sort_order=5)
        hidden = PaidServiceCategory(name=f"Архив {tag}", active=False)
        rows = {
            "socket": PaidService(category=shown, name="Установка розетки", min_price=Decimal("500.00"), unit="шт.",
                                  sort_order=2),
            "panel": PaidService(category=shown, name="Монтаж щита", min_price=Decimal("1000.00"), unit="щит",
                                 description="До 12 модулей", sort_order=1),
            "retired": PaidService(category=shown, name="Снятый с продажи", min_price=Decimal("100.00"),
                                   active=False),
            "archived": PaidService(category=hidden, name="Из архива", min_price=Decimal("100.00")),
        }
        db.session.add_all([shown, hidden, *rows.values()])
        db.session.commit()
        ids = {key: row.id for key, row in rows.items()}
        ids["category"] = shown.name
        db.session.remove()
    return ids


def order(app, person, service_id, description="Щит в прихожей, 8 автоматов"):
    request_id = file_request(person, "paid_service", {"service_id": service_id, "description": description})
    submit(app, person, request_id)
    return request_id


def offer(app, api, request_id, price, comment=None):
    data = {"price": price, **({"price_comment": comment} if comment else {})}
    response = complete_staff_task(api, "operator", app, request_id, data, name="set_price")
    assert response.status_code == 200, response.get_json()


def answer(person, request_id, data):
    (task,) = detail(person, request_id)["tasks"]
    return person.call("POST", f"/requests/{request_id}/tasks/{task['id']}", {"data": data})


def test_public_catalogue_groups_active_services_by_category(app, catalogue):
    response = app.test_client().get("/api/v1/public/paid-services/")
    assert response.status_code == 200
    body = response.get_json()
    (category,) = [c for c in body["result"] if c["name"] == catalogue["category"]]
    assert category["min_price"] == "500.00"  # "от 500 ₽": the lowest of its services
    assert [(s["name"], s["min_price"], s["unit"]) for s in category["services"]] == [
        ("Монтаж щита", "1000.00", "щит"), ("Установка розетки", "500.00", "шт.")]
    listed = {s["id"] for c in body["result"] for s in c["services"]}
    assert catalogue["retired"] not in listed and catalogue["archived"] not in listed
    assert body["count"] == len(body["result"])


def test_the_catalogue_and_the_kinds_are_described(app, api, person):
    spec = api().get("/api/v1/_openapi").get_json()
    for path in ("/api/v1/public/paid-services/", "/api/v1/public/paid-services/electrician-callout"):
        assert "security" not in spec["paths"][path]["get"], path
    assert "services" in spec["components"]["schemas"]["PaidServiceCategorySchema"]["properties"]
    kinds = person.call("GET", "/requests/types").get_json()
    described = str(kinds)
    assert "paid_service" in described and "electrician_callout" in described


@pytest.mark.parametrize("which", ["retired", "archived", "missing"])
def test_an_unavailable_service_cannot_be_ordered(app, person, catalogue, which):
    service_id = catalogue.get(which, 2**31 - 1)
    request_id = file_request(person, "paid_service", {"service_id": service_id})
    response = person.call("POST", f"/requests/{request_id}/submit", lang="en")
    assert error(response) == (422, "paid_service_unavailable")
    assert response.get_json()["error"]["fields"] == {
        "form_data.service_id": ["This service cannot be ordered now: choose another one from the catalogue."]}
    assert detail(person, request_id)["status"] == "draft"


def test_price_agreed_accepted_paid_performed_and_rated(app, api, person, catalogue):
    stranger = Person(app)
    request_id = order(app, person, catalogue["panel"])
    request = detail(person, request_id)
    assert request["status"] == "in_progress" and "от 1000.00 ₽" in request["history"][-1]["note"]
    assert staff_tasks(api, "technician", app, request_id) == []
    # the provider talks to the customer in the request's chat meanwhile
    chat = person.call("POST", f"/requests/{request_id}/messages", {"text": "Когда сможете приехать?"})
    assert chat.status_code == 201

    # below the service's minimum (the form's bound comes from the process) or not above zero:
    # refused by the form itself, the task stays with the operator, nothing reaches the customer
    (task,) = staff_tasks(api, "operator", app, request_id)
    shown = api("operator").get(f"/api/v1/tasks/{task['id']}").get_json()
    assert shown["form_schema"]["properties"]["price"]["minimum"] == 1000.0
    for price in (999.99, 0):
        refused = complete_staff_task(api, "operator", app, request_id, {"price": price}, name="set_price")
        assert error(refused) == (422, "form_invalid")
    assert [t["name"] for t in staff_tasks(api, "operator", app, request_id)] == ["set_price"]
    request = detail(person, request_id)
    assert request["status"] == "in_progress" and request["tasks"] == []

    offer(app, api, request_id, 1200, comment="Щит, 8 автоматов и работа")
    request = detail(person, request_id)
    assert request["status"] == "waiting_customer"
    assert "1200.00 ₽. Щит, 8 автоматов и работа" in request["history"][-1]["note"]
    (task,) = request["tasks"]
    assert task["name"] == "accept_price"
    assert task["form_schema"]["properties"]["price"]["enum"] == ["1200.00"]
    assert staff_tasks(api, "operator", app, request_id) == []  # a customer's task is not in the inbox

    # another customer cannot see or answer it
    assert error(stranger.call("GET", f"/requests/{request_id}")) == (404, "request_not_found")
    assert error(stranger.call("POST", f"/requests/{request_id}/tasks/{task['id']}",
                               {"data": {"decision": "accept", "price": "1200.00"}})) == (404, "request_not_found")
    # accepting some other price is refused
    assert error(answer(person, request_id, {"decision": "accept", "price": "100.00"}))[0] == 422

    assert answer(person, request_id, {"decision": "accept", "price": "1200.00"}).status_code == 200
    settle(app, request_id)
    request = detail(person, request_id)
    assert request["status"] == "awaiting_payment" and request["tasks"] == []
    (invoice,) = [i for i in open_invoices(person) if request["number"] in i["description"]]
    assert invoice["amount"] == "1200.00" and "Монтаж щита" in invoice["description"]
    assert staff_tasks(api, "technician", app, request_id) == []  # not before the payment

    pay_invoice(app, person, invoice["id"])
    settle(app, request_id)
    assert detail(person, request_id)["status"] == "in_progress"
    assert complete_staff_task(api, "technician", app, request_id,
                               {"done_on": "2026-12-05", "work_done": "Смонтирован щит"}).status_code == 200
    request = detail(person, request_id)
    assert request["status"] == "completed"
    assert [h["status"] for h in request["history"]] == [
        "draft", "submitted", "in_progress", "waiting_customer", "awaiting_payment", "in_progress", "completed"]
    assert person.call("POST", f"/requests/{request_id}/rating", {"rating": 4}).status_code == 200
    assert error(stranger.call("POST", f"/requests/{request_id}/rating", {"rating": 1})) == (404, "request_not_found")


def test_declined_price_rejects_the_request_without_an_invoice(app, api, person, catalogue):
    request_id = order(app, person, catalogue["socket"])
    offer(app, api, request_id, 750)
    assert answer(person, request_id, {"decision": "decline", "price": "750.00"}).status_code == 200
    settle(app, request_id)
    request = detail(person, request_id)
    assert request["status"] == "rejected"
    assert "750.00" in request["history"][-1]["note"]
    assert not [i for i in open_invoices(person) if request["number"] in i["description"]]
    assert staff_tasks(api, "technician", app, request_id) == []
    assert error(person.call("POST", f"/requests/{request_id}/rating", {"rating": 3})) == (409, "request_not_rateable")


def sign_in(app, username):
    client = app.test_client()
    response = client.post("/login/", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302 and "/login" not in response.headers["Location"], username
    return client


def test_content_editors_keep_the_catalogue_and_operators_read_it(app, catalogue):
    editor = sign_in(app, "contenteditor")
    with app.app_context():
        category_id = db.session.query(PaidServiceCategory).filter_by(name=catalogue["category"]).one().id
        db.session.remove()
    name = f"Замена счётчика {uuid.uuid4().hex[:6]}"
    good = {"category": str(category_id), "name": name, "min_price": "1800.00", "unit": "прибор", "code": "",
            "active": "y", "sort_order": "3"}
    for field, value, message in (("min_price", "0", "больше нуля"), ("code", "Bad Code", "Код: латиница"),
                                  ("name", "", "Обязательное поле")):
        refused = editor.post("/content/paid-services/add", data={**good, field: value})
        assert refused.status_code == 200 and message in html.unescape(refused.get_data(as_text=True)), field
    assert editor.post("/content/paid-services/add", data=good).status_code == 302
    with app.app_context():
        added = db.session.query(PaidService).filter_by(name=name).one()
        assert added.code is None and added.min_price == Decimal("1800.00")  # empty code stored as none
        db.session.remove()
    assert name in html.unescape(editor.get("/content/paid-services/list/").get_data(as_text=True))
    assert editor.get("/content/paid-service-categories/list/").status_code == 200

    operator = sign_in(app, "operator")
    assert name in html.unescape(operator.get("/content/paid-services/list/").get_data(as_text=True))
    assert operator.get("/content/paid-service-categories/list/").status_code == 200
    for url in ("/content/paid-services/add", f"/content/paid-services/edit/{added.id}",
                "/content/paid-service-categories/add"):
        assert operator.get(url).status_code in (302, 403), url
    assert operator.post("/content/paid-services/add", data={**good, "name": "Чужая"}).status_code in (302, 403)
    technician = sign_in(app, "technician")
    assert technician.get("/content/paid-services/list/").status_code in (302, 403)
    with app.app_context():
        assert not db.session.query(PaidService).filter_by(name="Чужая").count()
        db.session.remove()
