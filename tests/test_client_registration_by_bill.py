"""Registration by a bill (ID-2) through the client API: by number, period and amount, by the
bill's ST00012 QR payload, or skipping the amount (unverified); the address confirmation and
"this is not my address"; refusals change nothing. SQLite and PostgreSQL."""
import itertools
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.accounts import CustomerAccount
from app.models.billing import Bill
from app.models.customers import Customer, OneTimeCode
from app.models.notifications import OutboxMessage
from app.models.requests import ServiceRequest
from app.models.workflow import HumanTask
from app.services import st00012
from app.workflows import jobs
from tests.support.billing import make_account, make_bill, make_supplier, next_number
from tests.support.customers import AUTH, PASSWORD, last_code, new_phone, register

REGISTRATION = "/api/v1/client/registration"
_IPS = itertools.count(1)


@pytest.fixture
def client(app):
    """A client of its own IP: the per-IP limits stay per test."""
    client = app.test_client()
    n = next(_IPS)
    client.environ_base["REMOTE_ADDR"] = f"10.2.{n // 250}.{n % 250 + 1}"
    return client


def code_of(response):
    return response.get_json()["error"]["code"]


def an_account(app, totals=("1500.00", "1200.00"), supplier=None, number=None):
    with app.app_context():
        account = make_account(supplier or make_supplier(), number=number)
        for months, total in enumerate(totals):
            make_bill(account, date(2026, 4 - months, 1), total)
        db.session.commit()
        return account.id, account.number


def person(phone, **values):
    return {"address_confirmed": True, "surname": "Петров", "name": "Пётр", "patronymic": "Петрович",
            "birth_date": "1980-05-08", "email": f"petrov.{phone[-7:]}@example.ru", "phone": phone,
            "consent": True, **values}


def customers_with_phone(app, phone):
    with app.app_context():
        return db.session.execute(select(Customer).where(Customer.phone == phone)).scalars().all()


def finish(app, client, ticket, phone, **values):
    """Steps 2–4: personal data, the code, the password; returns the final response."""
    started = client.post(f"{REGISTRATION}/by-bill/{ticket}/code", json=person(phone, **values))
    assert started.status_code == 202, started.get_json()
    challenge = started.get_json()["challenge_id"]
    checked = client.post(f"{AUTH}/register/verify", json={"challenge_id": challenge, "code": last_code(app, phone)})
    assert checked.status_code == 200, checked.get_json()
    return client.post(f"{REGISTRATION}/by-bill/complete",
                       json={"challenge_id": challenge, "password": PASSWORD, "password_confirm": PASSWORD})


def test_by_number_period_and_amount_ends_signed_in_and_verified(app, client):
    account_id, number = an_account(app)
    started = client.post(f"{REGISTRATION}/by-bill", json={"number": number, "period": "2026-03", "amount": "1200.00"})
    assert started.status_code == 200, started.get_json()
    body = started.get_json()
    assert body["address"] == "г. Москва, ул. Ленина, д. 1, кв. 5" and body["holder"] == "Иванова М. П."
    assert body["verified"] is True and body["expires_in"] > 0 and "linked" not in body
    phone = new_phone()
    done = finish(app, client, body["ticket"], phone)
    assert done.status_code == 201, done.get_json()
    answer = done.get_json()
    assert answer["access_token"] and answer["account"]["id"] == account_id and answer["account"]["verified"] is True
    mine = client.get("/api/v1/client/accounts", headers={"Authorization": f"Bearer {answer['access_token']}"})
    assert [row["id"] for row in mine.get_json()["result"]] == [account_id]
    with app.app_context():
        customer = db.session.execute(select(Customer).where(Customer.phone == phone)).scalar_one()
        assert customer.full_name == "Петров Пётр Петрович"
        assert customer.birth_date == date(1980, 5, 8)
        assert customer.pending_email == f"petrov.{phone[-7:]}@example.ru" and customer.email_confirmed_at is None
        link = db.session.execute(select(CustomerAccount).where(CustomerAccount.customer_id == customer.id)).scalar_one()
        assert link.verified_at is not None
        assert db.session.execute(select(OutboxMessage).where(
            OutboxMessage.recipient == customer.pending_email, OutboxMessage.template == "email_confirm")).scalar()


def test_skipping_the_amount_registers_unverified(app, client):
    account_id, number = an_account(app)
    started = client.post(f"{REGISTRATION}/by-bill", json={"number": number, "skip_amount": True})
    assert started.status_code == 200 and started.get_json()["verified"] is False
    done = finish(app, client, started.get_json()["ticket"], new_phone(), patronymic=None, birth_date=None)
    assert done.status_code == 201, done.get_json()
    assert done.get_json()["account"]["verified"] is False


def test_by_the_bills_qr_code(app, client):
    account_id, number = an_account(app)
    with app.app_context():
        bill = db.session.execute(select(Bill).where(Bill.account_id == account_id, Bill.period == date(2026, 4, 1))
                                  ).scalar_one()
        payload = st00012.for_bill(bill)
    started = client.post(f"{REGISTRATION}/by-bill", json={"qr": payload})
    assert started.status_code == 200, started.get_json()
    assert started.get_json()["number"] == number and started.get_json()["verified"] is True
    assert finish(app, client, started.get_json()["ticket"], new_phone()).get_json()["account"]["verified"] is True


def test_a_qr_code_tells_apart_suppliers_sharing_a_number(app, client):
    number = next_number()
    with app.app_context():
        first, second = make_supplier(), make_supplier()
        second.settlement_account = "40702810938000099999"
        accounts = [make_account(supplier, number=number) for supplier in (first, second)]
        bills = [make_bill(account, date(2026, 4, 1), total) for account, total in zip(accounts, ("10.00", "20.00"))]
        db.session.commit()
        payload = st00012.for_bill(bills[1])
        second_code = second.code
    started = client.post(f"{REGISTRATION}/by-bill", json={"qr": payload})
    assert started.status_code == 200, started.get_json()
    assert started.get_json()["supplier"]["code"] == second_code
    by_hand = client.post(f"{REGISTRATION}/by-bill", json={"number": number, "skip_amount": True})
    assert by_hand.status_code == 409 and code_of(by_hand) == "account_supplier_ambiguous"


def test_a_qr_code_of_a_bill_with_nothing_due(app, client):
    account_id, _number = an_account(app, totals=("-10.00",))
    with app.app_context():
        payload = st00012.for_bill(db.session.execute(select(Bill).where(Bill.account_id == account_id)).scalar_one())
    started = client.post(f"{REGISTRATION}/by-bill", json={"qr": payload})
    assert started.status_code == 200 and started.get_json()["verified"] is True


def test_refusals_of_the_first_step(app, client):
    _id, number = an_account(app)
    cases = [
        ({"number": next_number("X"), "skip_amount": True}, 404, "account_number_unknown"),
        ({"number": number, "period": "2026-04", "amount": "1.00"}, 422, "bill_mismatch"),
        ({"number": number, "period": "2026-04"}, 422, "validation_error"),
        ({"number": number}, 422, "validation_error"),
        ({}, 422, "validation_error"),
        ({"qr": "ST00012|Name=x"}, 422, None),
        ({"qr": "ST00012|Name=x", "number": number}, 422, "registration_mode"),
        ({"number": number, "skip_amount": "yes"}, 422, "validation_error"),
    ]
    for body, status, code in cases:
        refused = client.post(f"{REGISTRATION}/by-bill", json=body)
        assert refused.status_code == status, (body, refused.get_json())
        if code:
            assert code_of(refused) == code, (body, refused.get_json())


def test_amount_guesses_lock_the_account_for_registration(app, client):
    _id, number = an_account(app)
    for attempt in range(5):
        wrong = client.post(f"{REGISTRATION}/by-bill", json={"number": number, "period": "2026-04",
                                                             "amount": f"{attempt}.00"})
        assert wrong.status_code == 422 and code_of(wrong) == "bill_mismatch"
    locked = client.post(f"{REGISTRATION}/by-bill", json={"number": number, "period": "2026-04", "amount": "1500.00"})
    assert locked.status_code == 429 and code_of(locked) == "account_verify_locked"


def test_tickets_cannot_be_forged_and_expire(app, client, monkeypatch):
    _id, number = an_account(app)
    ticket = client.post(f"{REGISTRATION}/by-bill", json={"number": number, "skip_amount": True}).get_json()["ticket"]
    phone = new_phone()
    forged = ticket[:-2] + ("AA" if not ticket.endswith("AA") else "BB")
    refused = client.post(f"{REGISTRATION}/by-bill/{forged}/code", json=person(phone))
    assert refused.status_code == 422 and code_of(refused) == "registration_ticket_invalid"
    monkeypatch.setitem(app.config, "REGISTRATION_TICKET_SECONDS", -1)
    expired = client.post(f"{REGISTRATION}/by-bill/{ticket}/code", json=person(phone))
    assert expired.status_code == 422 and code_of(expired) == "registration_ticket_expired"
    with app.app_context():
        assert db.session.execute(select(OneTimeCode).where(OneTimeCode.phone == phone)).first() is None


def test_personal_data_refusals_send_nothing(app, client):
    _id, number = an_account(app)
    ticket = client.post(f"{REGISTRATION}/by-bill", json={"number": number, "skip_amount": True}).get_json()["ticket"]
    phone = new_phone()
    future = (date.today() + timedelta(days=2)).isoformat()
    for values, field in (({"address_confirmed": False}, "address_confirmed"), ({"consent": False}, "consent"),
                          ({"birth_date": future}, "birth_date"), ({"email": "not-an-email"}, "email"),
                          ({"surname": ""}, "surname"), ({"phone": "12"}, "phone")):
        refused = client.post(f"{REGISTRATION}/by-bill/{ticket}/code", json={**person(phone), **values})
        assert refused.status_code == 422, values
        assert field in refused.get_json()["error"]["fields"], refused.get_json()
    with app.app_context():
        assert db.session.execute(select(OneTimeCode).where(OneTimeCode.phone == phone)).first() is None


def test_a_registered_phone_gets_the_neutral_answer_then_409_after_the_code(app, client):
    phone, _tokens = register(app)
    with app.app_context():  # past the resend cooldown of the code that registered it
        for code in db.session.execute(select(OneTimeCode).where(OneTimeCode.phone == phone)).scalars():
            code.created_at -= timedelta(minutes=5)
        db.session.commit()
    _id, number = an_account(app)
    ticket = client.post(f"{REGISTRATION}/by-bill", json={"number": number, "skip_amount": True}).get_json()["ticket"]
    started = client.post(f"{REGISTRATION}/by-bill/{ticket}/code", json=person(phone))
    assert started.status_code == 202
    checked = client.post(f"{AUTH}/register/verify", json={"challenge_id": started.get_json()["challenge_id"],
                                                           "code": last_code(app, phone)})
    assert checked.status_code == 409 and code_of(checked) == "phone_registered"
    assert len(customers_with_phone(app, phone)) == 1


def test_complete_refuses_a_code_of_another_registration(app, client):
    phone = new_phone()
    started = client.post(f"{AUTH}/register", json={"phone": phone, "full_name": "Сидоров Сидор", "consent": True})
    challenge = started.get_json()["challenge_id"]
    client.post(f"{AUTH}/register/verify", json={"challenge_id": challenge, "code": last_code(app, phone)})
    refused = client.post(f"{REGISTRATION}/by-bill/complete",
                          json={"challenge_id": challenge, "password": PASSWORD, "password_confirm": PASSWORD})
    assert refused.status_code == 422 and code_of(refused) == "registration_not_by_bill"
    assert customers_with_phone(app, phone) == []


def test_not_my_address_files_one_request_for_the_contact_centre(app, client, api):
    _id, number = an_account(app)
    ticket = client.post(f"{REGISTRATION}/by-bill", json={"number": number, "skip_amount": True}).get_json()["ticket"]
    url = f"{REGISTRATION}/by-bill/{ticket}/not-my-address"
    bad = client.post(url, json={"phone": "123", "comment": "не мой адрес"})
    assert bad.status_code == 422
    phone = new_phone()
    numbers = set()
    for _ in range(2):
        sent = client.post(url, json={"phone": f"8 {phone[2:5]} {phone[5:8]}-{phone[8:10]}-{phone[10:]}",
                                      "comment": "Я живу в кв. 7", "full_name": "Петров Пётр"},
                           headers={"Accept-Language": "en"})
        assert sent.status_code == 202 and "contact centre" in sent.get_json()["message"]
        numbers.add(sent.get_json()["number"])
    [request_number] = numbers  # once per ticket
    with app.app_context():
        req = db.session.execute(select(ServiceRequest).where(ServiceRequest.number == request_number)).scalar_one()
        assert (req.type, req.status, req.customer_id, req.account_id) == ("address_mismatch", "submitted", None, _id)
        assert req.form_data["phone"] == phone and req.form_data["comment"] == "Я живу в кв. 7"
        instance_id = req.process_instance_id
        assert jobs.wait_for_jobs(instance_id)
        # the contact centre's operator checks the address and calls back
        tasks = db.session.execute(select(HumanTask.name, HumanTask.candidate_role, HumanTask.status)
                                   .where(HumanTask.instance_id == instance_id)).all()
        assert [tuple(t) for t in tasks] == [("check_address", "Operator", "open")]
        db.session.remove()
    data = api("operator").get(f"/api/v1/process-instances/{instance_id}").get_json()["data"]
    assert (data["account_number"], data["customer_phone"], data["customer_name"]) == (number, phone, "Петров Пётр")
    # the person follows it by the number, without an account in Kabinet
    public = client.get(f"/api/v1/public/requests/{request_number}")
    assert public.status_code == 200 and public.get_json()["status"] == "submitted"
    # another ticket for the same account is another report
    again = client.post(f"{REGISTRATION}/by-bill", json={"number": number, "skip_amount": True}).get_json()["ticket"]
    other = client.post(f"{REGISTRATION}/by-bill/{again}/not-my-address", json={"phone": new_phone()})
    assert other.status_code == 202 and other.get_json()["number"] != request_number

    # registering by their own bill with the same phone, the person finds the report in their list
    _own_id, own_number = an_account(app)
    own = client.post(f"{REGISTRATION}/by-bill", json={"number": own_number, "skip_amount": True}).get_json()
    done = finish(app, client, own["ticket"], phone)
    assert done.status_code == 201, done.get_json()
    headers = {"Authorization": f"Bearer {done.get_json()['access_token']}"}
    listed = client.get("/api/v1/client/requests/", headers=headers).get_json()["result"]
    assert [r["number"] for r in listed] == [request_number]
