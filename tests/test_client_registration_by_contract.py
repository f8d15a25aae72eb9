"""Registration by contract number (ID-3): a generated password by SMS to the contract's phone,
the seed's phone-mismatch error, the neutral answer for a registered phone, limits. SQLite and
PostgreSQL."""
import itertools
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.accounts import Contract, CustomerAccount, CustomerContract
from app.models.customers import Customer
from app.models.notifications import OutboxMessage
from app.services.registration_by_contract import generate_password
from tests.support.billing import make_account, make_supplier, next_number
from tests.support.customers import PASSWORD, delivered, new_phone, register, sign_in

BY_CONTRACT = "/api/v1/client/registration/by-contract"
PASSWORD_IN_SMS = re.compile(r"\b\w{4}-\w{4}-\w{4}\b")
_IPS = itertools.count(1)


@pytest.fixture
def client(app):
    client = app.test_client()
    n = next(_IPS)
    client.environ_base["REMOTE_ADDR"] = f"10.3.{n // 250}.{n % 250 + 1}"
    return client


def a_contract(app, phone, with_account=True):
    with app.app_context():
        supplier = make_supplier(kind="security")
        account = make_account(supplier) if with_account else None
        contract = Contract(supplier=supplier, number=next_number("ОХР-"), kind="supply", account=account,
                            holder_name="Сидорова Анна Ивановна", phone=phone.replace("+7", "8 "))
        db.session.add(contract)
        db.session.commit()
        return contract.id, contract.number, account.id if account else None


def body(number, phone, **values):
    return {"contract_number": number, "email": f"anna.{phone[-7:]}@example.ru", "phone": phone, "consent": True,
            **values}


def customer_of(app, phone):
    with app.app_context():
        found = db.session.execute(select(Customer).where(Customer.phone == phone)).scalar_one_or_none()
        db.session.expunge_all()
        return found


def code_of(response):
    return response.get_json()["error"]["code"]


def test_generated_passwords_are_strong_and_differ():
    made = {generate_password() for _ in range(50)}
    assert len(made) == 50
    for password in made:
        assert PASSWORD_IN_SMS.fullmatch(password)
        assert all(any(char.isdigit() for char in group) for group in password.split("-"))


def test_registers_links_and_sends_the_password_by_sms(app, client):
    phone = new_phone()
    contract_id, number, account_id = a_contract(app, phone)
    done = client.post(BY_CONTRACT, json=body(number, phone))
    assert done.status_code == 202, done.get_json()
    answer = done.get_json()
    assert answer["sent"] is True and answer["phone"].endswith(phone[-2:]) and phone not in str(answer)
    texts = [text for text in delivered(app, phone) if number in text]
    assert len(texts) == 1
    password = PASSWORD_IN_SMS.search(texts[0]).group(0)
    signed_in = sign_in(app, phone, password, client=client)
    assert signed_in.status_code == 200, signed_in.get_json()
    customer = customer_of(app, phone)
    assert customer.full_name == "Сидорова Анна Ивановна"
    assert customer.pending_email == f"anna.{phone[-7:]}@example.ru"
    with app.app_context():
        link = db.session.execute(select(CustomerAccount).where(CustomerAccount.customer_id == customer.id)).scalar_one()
        assert link.account_id == account_id and link.verified_at is not None
        assert db.session.execute(select(CustomerContract.contract_id).where(
            CustomerContract.customer_id == customer.id)).scalars().all() == [contract_id]
        # Once delivered, the outbox keeps the SMS with the password masked.
        sms = db.session.execute(select(OutboxMessage).where(OutboxMessage.recipient == phone,
                                                             OutboxMessage.template == "registration_password")
                                 ).scalar_one()
        assert password not in sms.body


def test_a_contract_without_an_account_still_registers(app, client):
    phone = new_phone()
    _id, number, _account = a_contract(app, phone, with_account=False)
    assert client.post(BY_CONTRACT, json=body(number, phone)).status_code == 202
    assert customer_of(app, phone) is not None


def test_another_phone_is_the_seeds_clear_error(app, client):
    phone, other = new_phone(), new_phone()
    _id, number, _account = a_contract(app, phone)
    refused = client.post(BY_CONTRACT, json=body(number, other), headers={"Accept-Language": "ru"})
    assert refused.status_code == 422 and code_of(refused) == "contract_phone_mismatch"
    message = refused.get_json()["error"]["message"]
    assert "нельзя отправить SMS" in message and app.config["CONTACT_CENTRE_PHONE"] in message
    english = client.post(BY_CONTRACT, json=body(number, other), headers={"Accept-Language": "en"})
    assert "contact centre" in english.get_json()["error"]["message"]
    assert customer_of(app, other) is None and customer_of(app, phone) is None


def test_other_refusals_create_nothing(app, client):
    phone = new_phone()
    _id, number, _account = a_contract(app, phone)
    for values, status, field in (({"contract_number": "NO-SUCH-1"}, 404, "contract_number"),
                                  ({"consent": False}, 422, "consent"), ({"consent": "true"}, 422, "consent"),
                                  ({"email": "anna"}, 422, "email"), ({"phone": "12345"}, 422, "phone")):
        refused = client.post(BY_CONTRACT, json={**body(number, phone), **values})
        assert refused.status_code == status, (values, refused.get_json())
        assert field in refused.get_json()["error"]["fields"], refused.get_json()
    assert customer_of(app, phone) is None


def test_a_registered_phone_gets_the_same_answer_and_keeps_its_password(app, client):
    phone, _tokens = register(app)
    _id, number, _account = a_contract(app, phone)
    before = customer_of(app, phone)
    answer = client.post(BY_CONTRACT, json=body(number, phone))
    assert answer.status_code == 202
    new = new_phone()
    _id2, number2, _account2 = a_contract(app, new)
    fresh = client.post(BY_CONTRACT, json=body(number2, new))
    assert set(answer.get_json()) == set(fresh.get_json())
    assert answer.get_json()["message"].replace(answer.get_json()["phone"], "") == \
        fresh.get_json()["message"].replace(fresh.get_json()["phone"], "")
    after = customer_of(app, phone)
    assert after.id == before.id and after.password_hash == before.password_hash
    assert sign_in(app, phone, PASSWORD).status_code == 200
    assert any("уже зарегистрирован" in text for text in delivered(app, phone))
    with app.app_context():
        assert db.session.execute(select(CustomerAccount).where(CustomerAccount.customer_id == after.id)).first() is None


def test_limited_per_phone(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTRATION_LIMIT_PER_PHONE", "2 per hour")
    phone = new_phone()
    _id, number, _account = a_contract(app, phone)
    for _ in range(2):
        assert client.post(BY_CONTRACT, json=body(number, phone, contract_number="NO-SUCH-2")).status_code == 404
    limited = client.post(BY_CONTRACT, json=body(number, phone))
    assert limited.status_code == 429 and limited.headers["Retry-After"]
    assert customer_of(app, phone) is None
