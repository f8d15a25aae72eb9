"""Subscriptions (SPEC PR-7) through the client API on SQLite and PostgreSQL: outage
notifications by address or account with their channels, e-bills shown as a subscription, SMS
informing for a security object as a request a manager activates, additional supply services,
and who an outage reaches (``outage_subscribers``, for CT-7)."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.accounts import CustomerAccount
from app.models.requests import ServiceRequest
from app.models.subscriptions import Subscription
from app.services import periods, subscriptions
from app.workflows import jobs
from tests.support.billing import link, make_account, make_supplier
from tests.support.customers import Person

EN = "en"


@pytest.fixture
def person(app):
    return Person(app)


def own_account(app, person, kind="electricity", address="г. Москва, ул. Ленина, д. 1, кв. 5"):
    with app.app_context():
        account = make_account(make_supplier(kind=kind), address=address)
        link(person.id, account)
        db.session.commit()
        return account.id


def subscribe(person, **body):
    return person.call("POST", "/subscriptions", json=body)


def error(response):
    return response.get_json()["error"]


def settle(app, request_id):
    with app.app_context():
        instance_id = db.session.get(ServiceRequest, request_id).process_instance_id
        assert jobs.wait_for_jobs(instance_id), "service jobs did not finish"
        db.session.remove()


def operator_task(api, app, request_id):
    settle(app, request_id)
    with app.app_context():
        instance_id = db.session.get(ServiceRequest, request_id).process_instance_id
    tasks = api("operator").get("/api/v1/tasks/?page_size=100").get_json()["result"]
    mine = [t for t in tasks if t["instance_id"] == instance_id]
    assert len(mine) == 1, tasks
    return mine[0]


def complete(api, app, request_id, data):
    task = operator_task(api, app, request_id)
    response = api("operator").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
    assert response.status_code == 200, response.get_json()
    settle(app, request_id)
    return task


def request_status(person, request_id):
    return person.call("GET", f"/requests/{request_id}").get_json()["status"]


# --- outage notifications -----------------------------------------------------------------------

def test_outage_by_address_is_normalised_and_a_duplicate_refused(app, person):
    created = subscribe(person, kind="outage", channel="sms", address="  Г. Москва ,ул. Ленина,   д. 1 ")
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["address"] == "г. москва, ул. ленина, д. 1"
    assert (body["kind"], body["channel"], body["status"]) == ("outage", "sms", "active")
    again = subscribe(person, kind="outage", channel="sms", address="г. МОСКВА, ул. Ленина, д. 1")
    assert again.status_code == 409 and error(again)["code"] == "subscription_exists"
    # the same address by push is another subscription
    assert subscribe(person, kind="outage", channel="push", address="г. Москва, ул. Ленина, д. 1").status_code == 201
    listed = person.call("GET", "/subscriptions").get_json()["result"]
    assert [(s["channel"], s["address"]) for s in listed] == [("sms", body["address"]), ("push", body["address"])]


def test_outage_refusals(app, person):
    account_id = own_account(app, person)
    cases = [
        ({"kind": "outage", "channel": "fax", "account_id": account_id}, 422, "channel"),
        ({"kind": "outage", "channel": "sms"}, 422, "address"),
        ({"kind": "outage", "channel": "sms", "address": "д.1", "account_id": account_id}, 422, "address"),
        ({"kind": "outage", "channel": "sms", "address": "д.1"}, 422, "address"),
        ({"kind": "weather", "channel": "sms", "address": "г. Москва"}, 422, "kind"),
        ({"kind": "outage", "channel": "sms", "address": "г. Москва", "extra": 1}, 422, "extra"),
    ]
    for body, status, field in cases:
        response = subscribe(person, **body)
        assert response.status_code == status, (body, response.get_json())
        assert field in error(response)["fields"], (body, response.get_json())
    # an account that is not the customer's: 404, as if it did not exist
    with app.app_context():
        stranger = make_account(make_supplier()).id
        db.session.commit()
    response = subscribe(person, kind="outage", channel="sms", account_id=stranger)
    assert response.status_code == 404 and error(response)["code"] == "account_not_found"
    # email only once confirmed
    response = person.call("POST", "/subscriptions", json={"kind": "outage", "channel": "email",
                                                          "account_id": account_id}, lang=EN)
    assert response.status_code == 409 and error(response)["code"] == "email_unconfirmed"
    person.confirm_email()
    assert subscribe(person, kind="outage", channel="email", account_id=account_id).status_code == 201


def test_one_customer_never_deletes_anothers_subscription(app, person):
    other = Person(app)
    mine = subscribe(person, kind="outage", channel="sms", address="г. Тверь, ул. Советская, д. 3").get_json()
    for sub_id in (mine["id"], "999999999", "abc", "ebill-1"):
        response = other.call("DELETE", f"/subscriptions/{sub_id}")
        assert response.status_code == 404 and error(response)["code"] == "subscription_not_found"
    assert [s["id"] for s in person.call("GET", "/subscriptions").get_json()["result"]] == [mine["id"]]
    assert other.call("GET", "/subscriptions").get_json()["result"] == []
    assert person.call("DELETE", f"/subscriptions/{mine['id']}").status_code == 204
    assert person.call("GET", "/subscriptions").get_json()["result"] == []
    assert person.call("DELETE", f"/subscriptions/{mine['id']}").status_code == 404


# --- e-bills: the consent on the account link, shown as a subscription ------------------------

def test_ebill_is_the_account_links_consent(app, person):
    account_id = own_account(app, person)
    refused = subscribe(person, kind="ebill", account_id=account_id)
    assert refused.status_code == 409 and error(refused)["code"] == "email_unconfirmed"
    person.confirm_email()
    created = subscribe(person, kind="ebill", account_id=account_id)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["id"] == f"ebill-{account_id}"
    with app.app_context():
        assert db.session.execute(select(CustomerAccount.ebill).where(
            CustomerAccount.customer_id == person.id, CustomerAccount.account_id == account_id)).scalar() is True
    assert subscribe(person, kind="ebill", account_id=account_id).status_code == 409
    listed = person.call("GET", "/subscriptions").get_json()["result"]
    assert [(s["id"], s["kind"], s["channel"]) for s in listed] == [(f"ebill-{account_id}", "ebill", "email")]
    other = Person(app)
    assert other.call("DELETE", f"/subscriptions/ebill-{account_id}").status_code == 404
    assert person.call("DELETE", f"/subscriptions/ebill-{account_id}").status_code == 204
    with app.app_context():
        assert db.session.execute(select(CustomerAccount.ebill).where(
            CustomerAccount.customer_id == person.id, CustomerAccount.account_id == account_id)).scalar() is False
    assert person.call("GET", "/subscriptions").get_json()["result"] == []


# --- who an outage reaches (CT-7) --------------------------------------------------------------

def test_outage_subscribers_by_account_and_address_prefix(app, person):
    street = f"г. Клин, ул. Мира-{person.id}"
    account_id = own_account(app, person, address=f"{street}, д. 7, кв. 1")
    other = Person(app)
    assert subscribe(person, kind="outage", channel="sms", account_id=account_id).status_code == 201
    assert subscribe(person, kind="outage", channel="push", account_id=account_id).status_code == 201
    assert subscribe(other, kind="outage", channel="sms", address=f"{street.upper()}, д. 9").status_code == 201
    email = other.confirm_email()
    assert subscribe(other, kind="outage", channel="email", address=f"{street}, д. 9").status_code == 201
    with app.app_context():
        # a subscription elsewhere is not reached
        assert subscriptions.outage_subscribers(address_prefix="г. Клин, ул. Нет такой") == []
        by_account = subscriptions.outage_subscribers(account_ids=[account_id])
        assert {(r["customer_id"], r["channel"], r["recipient"]) for r in by_account} == {
            (person.id, "sms", person.phone), (person.id, "push", f"customer:{person.id}")}
        by_street = subscriptions.outage_subscribers(address_prefix=f"  {street.lower()} ")
        assert {(r["customer_id"], r["channel"], r["recipient"]) for r in by_street} == {
            (person.id, "sms", person.phone), (person.id, "push", f"customer:{person.id}"),
            (other.id, "sms", other.phone), (other.id, "email", email)}
        # an email that is no longer confirmed gets nothing
        from app.models.customers import Customer
        db.session.get(Customer, other.id).email_confirmed_at = None
        db.session.commit()
        channels = {r["channel"] for r in subscriptions.outage_subscribers(address_prefix=street)
                    if r["customer_id"] == other.id}
        assert channels == {"sms"}
        assert subscriptions.outage_subscribers() == []


# --- SMS informing for a security object (a request managers activate) ------------------------

def security_body(app, person, **extra):
    account_id = own_account(app, person, kind="security", address="г. Москва, ул. Садовая, д. 2")
    start = (periods_today(app) + timedelta(days=1)).isoformat()
    return {"kind": "security_sms", "account_id": account_id, "phone": "8 (916) 765-43-21", "starts_on": start,
            **extra}


def periods_today(app):
    with app.test_request_context():
        return periods.local_today()


def test_security_sms_is_pending_until_a_manager_activates_it(app, api, person):
    created = subscribe(person, **security_body(app, person, comment="Дача"))
    assert created.status_code == 201, created.get_json()
    sub = created.get_json()
    assert (sub["kind"], sub["channel"], sub["status"], sub["phone"]) == ("security_sms", "sms", "pending",
                                                                          "+79167654321")
    request_id = sub["request_id"]
    task = complete(api, app, request_id, {"activated": True, "note": "Подключено на пульте"})
    assert task["title"] == "Подключить SMS-информирование" and task["candidate_role"] == "Operator"
    assert request_status(person, request_id) == "completed"
    listed = person.call("GET", "/subscriptions").get_json()["result"]
    assert [(s["id"], s["status"]) for s in listed] == [(sub["id"], "active")]
    # the same object again: 409, and no request is left behind
    again = subscribe(person, kind="security_sms", account_id=sub["account_id"], phone="+79167654321",
                      starts_on=sub["starts_on"])
    assert again.status_code == 409 and error(again)["code"] == "subscription_exists"
    requests = person.call("GET", "/requests/").get_json()["result"]
    assert [r["id"] for r in requests] == [request_id]


def test_security_sms_refused_by_the_manager_is_dropped(app, api, person):
    sub = subscribe(person, **security_body(app, person)).get_json()
    complete(api, app, sub["request_id"], {"activated": False})
    assert request_status(person, sub["request_id"]) == "rejected"
    assert person.call("GET", "/subscriptions").get_json()["result"] == []


def test_deleting_a_pending_security_sms_closes_its_request(app, api, person):
    sub = subscribe(person, **security_body(app, person)).get_json()
    settle(app, sub["request_id"])
    assert person.call("DELETE", f"/subscriptions/{sub['id']}").status_code == 204
    assert request_status(person, sub["request_id"]) == "closed"
    assert person.call("GET", "/subscriptions").get_json()["result"] == []
    with app.app_context():
        assert db.session.execute(select(Subscription).where(Subscription.request_id == sub["request_id"])).first() \
            is None


def test_security_sms_refusals(app, person):
    electricity = own_account(app, person)
    body = security_body(app, person)
    cases = [
        ({**body, "account_id": electricity}, "account_id", "SMS informing is only for security accounts."),
        ({**body, "starts_on": (periods_today(app) - timedelta(days=1)).isoformat()}, "starts_on",
         "The start date cannot be in the past."),
        ({**body, "phone": "12"}, "phone", None),
    ]
    for sent, field, text in cases:
        response = person.call("POST", "/subscriptions", json=sent, lang=EN)
        assert response.status_code == 422, response.get_json()
        assert field in error(response)["fields"], response.get_json()
        assert text is None or error(response)["fields"][field] == [text]
    missing = subscribe(person, kind="security_sms", account_id=body["account_id"])
    assert missing.status_code == 422
    # nothing was filed by the refused attempts
    assert person.call("GET", "/requests/").get_json()["result"] == []
    assert person.call("GET", "/subscriptions").get_json()["result"] == []


# --- additional supply services ----------------------------------------------------------------

def test_supply_service_order_is_done_by_an_operator(app, api, person):
    account_id = own_account(app, person)
    draft = person.call("POST", "/requests/", json={"type": "supply_service", "form_data": {
        "service": "meter_sealing", "account_id": account_id, "comment": "После замены"}}).get_json()
    response = person.call("POST", f"/requests/{draft['id']}/submit")
    assert response.status_code == 200, response.get_json()
    task = complete(api, app, draft["id"], {"done": True})
    assert task["title"] == "Выполнить заказ дополнительной услуги"
    assert request_status(person, draft["id"]) == "completed"


def test_supply_service_refusals(app, person):
    with app.app_context():
        stranger = make_account(make_supplier()).id
        db.session.commit()
    for form, status in (({"service": "meter_sealing", "account_id": stranger}, 404),
                         ({"service": "teleportation", "account_id": stranger}, 422)):
        draft = person.call("POST", "/requests/", json={"type": "supply_service", "form_data": form}).get_json()
        response = person.call("POST", f"/requests/{draft['id']}/submit")
        assert response.status_code == status, response.get_json()
        assert request_status(person, draft["id"]) == "draft"
