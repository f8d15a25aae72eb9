"""Pay by QR (BL-7): a bill's ST00012 payload decoded with its services to choose from, and paid
for an account the payer has not linked (a grandson paying his grandmother's bill), whole or by
service; fields typed by hand; every refusal; on SQLite and PostgreSQL."""
import uuid
from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.models.billing import Bill, Payment
from app.services import accounts as account_service
from app.services import st00012
from tests.support.billing import make_account, make_bill, make_supplier
from tests.test_client_payments import DEC, Person, error, post_callback, signed_callback

FIELDS = {"Name": "ООО «Водоканал»", "PersonalAcc": "40702810900000000001", "BankName": "ПАО СБЕРБАНК",
          "BIC": "044525225", "CorrespAcc": "30101810400000000225", "PayeeINN": "7700000001",
          "persAcc": "99-000123", "Purpose": "Оплата по л/с 99-000123"}


def grandmothers_bill(app):
    """A bill (electricity 64.30 + cold water 435.70) of an account nobody in the test linked;
    returns (payload, account id, bill total)."""
    with app.app_context():
        supplier = make_supplier()
        account = make_account(supplier)
        bill = make_bill(account, DEC, "500.00", lines=[("electricity", "10", "6.43"), ("cold_water", "1", "435.70")])
        db.session.commit()
        payload = st00012.for_bill(db.session.get(Bill, bill.id))
        result = payload, account.id, account.number
        db.session.remove()
        return result


def payment_row(app, payment_id):
    with app.app_context():
        payment = db.session.execute(select(Payment).where(Payment.public_id == payment_id)).scalar_one()
        result = {"purpose": payment.purpose, "amount": payment.amount,
                  "items": [(i.account_id, i.service_code, i.amount, i.payee) for i in payment.items]}
        db.session.remove()
        return result


def pay_qr(person, body, key=None):
    return person.call("POST", "/payments/qr", {"consent": True, **body}, key=key or uuid.uuid4().hex)


def test_a_bills_code_decodes_with_its_services(app):
    grandson = Person(app)
    payload, _account_id, number = grandmothers_bill(app)
    decoded = grandson.call("POST", "/payments/qr/decode", {"payload": payload})
    assert decoded.status_code == 200, decoded.get_json()
    body = decoded.get_json()
    assert body["amount"] == "500.00" and body["period"] == "2025-12" and body["account_number"] == number
    assert body["account_known"] is True and body["supplier"]["name"].startswith("ООО «Энергосбыт")
    assert body["fields"]["persAcc"] == number and body["fields"]["Sum"] == "50000"
    assert body["services"] == [{"code": "electricity", "name": "Электроэнергия", "amount": "64.30"},
                                {"code": "cold_water", "name": "Холодное водоснабжение", "amount": "435.70"}]
    # a payload with another sum (a guessed account number) shows no bill
    guessed = st00012.encode({**st00012.decode(payload), "Sum": "12300", "amount": None, "period": None,
                              "account_number": None})
    other = grandson.call("POST", "/payments/qr/decode", {"payload": guessed}).get_json()
    assert other["account_known"] is True and other["services"] == []
    unknown = grandson.call("POST", "/payments/qr/decode", {"payload": st00012.encode(FIELDS)}).get_json()
    assert unknown["supplier"] is None and unknown["account_known"] is False and unknown["amount"] is None


def test_broken_payloads_are_refused(app):
    person = Person(app)
    for payload in ("hello", "ST00012|Name=x", "ST00019|Name=x"):
        assert person.call("POST", "/payments/qr/decode", {"payload": payload}).status_code == 422, payload
    assert error(person.call("POST", "/payments/qr/decode", {})) == (422, "validation_error")


def test_paying_someone_elses_bill_whole_or_by_service(app):
    grandson = Person(app)
    payload, account_id, _number = grandmothers_bill(app)
    whole = pay_qr(grandson, {"payload": payload})
    assert whole.status_code == 201, whole.get_json()
    row = payment_row(app, whole.get_json()["id"])
    assert row["purpose"] == "qr" and row["amount"] == Decimal("500.00")
    ((item_account, service, amount, payee),) = row["items"]
    assert item_account == account_id and service is None and payee["persAcc"] == _number and "amount" not in payee

    chosen = pay_qr(grandson, {"payload": payload, "amount": "64.30",
                               "services": [{"code": "electricity", "amount": "64.30"}]})
    assert chosen.status_code == 201
    assert [(s, a) for _, s, a, _ in payment_row(app, chosen.get_json()["id"])["items"]] == [("electricity", Decimal("64.30"))]
    # the callback settles it, and the grandmother's account owes that much less
    post_callback(app, *signed_callback(app, whole.get_json()["id"]))
    with app.app_context():
        assert account_service.amount_due(account_id) == Decimal("0.00")
        db.session.remove()

    assert error(pay_qr(grandson, {"payload": payload, "amount": "100.00",
                                   "services": [{"code": "electricity", "amount": "64.30"}]})) == (422, "payment_services_sum")
    assert error(pay_qr(grandson, {"payload": payload, "services": [{"code": "gas", "amount": "500.00"}]})) \
        == (422, "payment_service_unknown")


def test_fields_typed_by_hand(app):
    person = Person(app)
    key = uuid.uuid4().hex
    typed = pay_qr(person, {"fields": FIELDS, "amount": "1234.50"}, key=key)
    assert typed.status_code == 201, typed.get_json()
    ((account_id, _service, amount, payee),) = payment_row(app, typed.get_json()["id"])["items"]
    assert account_id is None and amount == Decimal("1234.50") and payee["Name"] == FIELDS["Name"]
    assert pay_qr(person, {"fields": FIELDS, "amount": "1234.5"}, key=key).get_json()["id"] == typed.get_json()["id"]
    assert error(pay_qr(person, {"fields": FIELDS, "amount": "1"}, key=key)) == (409, "idempotency_key_reused")
    refusals = [
        ({"fields": FIELDS}, "payment_amount_required"),
        ({"fields": FIELDS, "amount": "10", "services": [{"code": "electricity", "amount": "10"}]},
         "payment_services_unknown_account"),
        ({"fields": {**FIELDS, "BIC": "123"}, "amount": "10"}, "qr_field_invalid"),
        ({"fields": {k: v for k, v in FIELDS.items() if k != "Name"}, "amount": "10"}, "qr_field_missing"),
        ({"fields": FIELDS, "payload": "ST00012|Name=x", "amount": "10"}, "validation_error"),
        ({"amount": "10"}, "validation_error"),
        ({"fields": FIELDS, "amount": "10", "consent": False}, "payment_consent_required"),
        ({"fields": FIELDS, "amount": "0.001"}, "validation_error"),
    ]
    for body, code in refusals:
        assert error(pay_qr(person, body)) == (422, code), body
    assert person.payments_count() == 1
