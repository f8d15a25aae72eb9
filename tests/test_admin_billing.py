"""The billing screens (Счета и начисления): every list and card opens for Admin with its rows,
searches by account number and the abnormal flag, card tokens stay masked, roles see only their
screens, and the supplier forms refuse bad bank details, windows and tariffs without saving."""
import html
import uuid
from datetime import date, datetime
from decimal import Decimal

import pytest

from app.extensions import db
from app.models.accounts import Contract, ObjectEvent, Supplier, SupplierService, Tariff
from app.models.billing import Autopay, AutopayRun, Invoice, Payment, PaymentItem, SavedCard
from app.models.customers import Customer
from app.models.workflow import utcnow
from tests.conftest import PASSWORD
from tests.support.billing import link, make_account, make_bill, make_meter, make_reading, make_supplier, next_number
from tests.support.customers import new_phone

def sign_in(app, username):
    client = app.test_client()
    response = client.post("/login/", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302 and "/login" not in response.headers["Location"], username
    return client


def page(response):
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def rows(app):
    """One of everything the screens show, with unique numbers (the database is shared)."""
    with app.app_context():
        customer = Customer(phone=new_phone(), full_name="Иванова Мария Петровна", consent_at=utcnow())
        db.session.add(customer)
        supplier = make_supplier()
        account = make_account(supplier, address=f"г. Москва, ул. Тестовая, д. {uuid.uuid4().hex[:6]}")
        meter = make_meter(account, zones=1)
        make_reading(meter, date(2026, 1, 1), 100)
        abnormal = make_reading(meter, date(2026, 2, 1), 900, previous_value=Decimal(100),
                                consumption=Decimal(800), abnormal=True, source="customer")
        bill = make_bill(account, date(2026, 2, 1), "5143.77", lines=[("electricity", "800", "6.43")],
                         insurance_amount=Decimal("45.00"))
        link(customer.id, account, verified=False)
        db.session.add(Contract(supplier=supplier, number=next_number("C-"), account=account, holder_name="Иванова"))
        db.session.add(ObjectEvent(account=account, occurred_at=datetime(2026, 2, 3, 8, 0), object_name="Дача",
                                   event="alarm", details="Сработал датчик окна"))
        token = f"tok_{uuid.uuid4().hex}wxyz"
        card = SavedCard(public_id=next_number("card_"), customer_id=customer.id, provider="sandbox", token=token,
                         masked_number="•••• 4242", brand="VISA", expires="12/28", status="active")
        db.session.add(card)
        db.session.flush()
        payment = Payment(public_id=next_number("pay_"), customer_id=customer.id, purpose="bills",
                          status="succeeded", amount=bill.total_due, provider="sandbox", confirmed_at=utcnow(),
                          items=[PaymentItem(account=account, bill_id=bill.id, amount=bill.total_due)])
        invoice = Invoice(number=next_number("INV-"), customer_id=customer.id, description="Замена счётчика",
                          amount=Decimal("3200.00"))
        autopay = Autopay(public_id=next_number("ap_"), customer_id=customer.id, account=account, card=card,
                          day_of_month=10, starts_on=date(2026, 3, 10), next_run_on=date(2026, 4, 10))
        db.session.add_all([payment, invoice, autopay])
        db.session.flush()
        db.session.add(AutopayRun(autopay=autopay, period=date(2026, 3, 1), payment_id=payment.id,
                                  status="failed", error="Недостаточно средств"))
        db.session.commit()
        found = {"supplier": supplier.id, "supplier_name": supplier.name, "code": supplier.code, "account": account.id,
                 "number": account.number, "address": account.address, "serial": meter.serial,
                 "reading": abnormal.id, "bill": bill.id, "payment": payment.id, "payment_public": payment.public_id,
                 "invoice": invoice.number, "card": card.id, "token": token, "autopay": autopay.id,
                 "phone": customer.phone,
                 "service": next(s.id for s in supplier.services if s.code == "electricity")}
        db.session.remove()
    return found


def test_every_billing_list_and_card_opens_for_admin_with_its_rows(app, rows):
    client = sign_in(app, "admin")
    number = rows["number"]
    expected = {
        f"/billing/suppliers/list/?_flt_0_code={rows['code']}": rows["supplier_name"],
        f"/billing/suppliers/show/{rows['supplier']}": "044525225",  # bank details, services related
        f"/billing/services/show/{rows['service']}": "6.4300",  # the service's tariffs
        "/billing/tariffs/list/": "Тарифы",
        "/billing/reading-windows/list/": rows["supplier_name"],
        f"/billing/accounts/list/?_flt_0_number={number}": rows["address"],
        f"/billing/accounts/show/{rows['account']}": rows["serial"],  # meters, bills, links… related
        f"/billing/customer-accounts/list/?_flt_0_account={number}": "не подтверждена",
        f"/billing/contracts/list/?_flt_0_supplier={rows['supplier']}": number,
        f"/billing/object-events/list/?_flt_0_account={number}": "Сработал датчик окна",
        f"/billing/meters/list/?_flt_0_account={number}": rows["serial"],
        f"/billing/readings/list/?_flt_0_meter={rows['serial']}": "аномальный расход",
        f"/billing/bills/list/?_flt_0_account={number}": "5\u202f143.77",
        f"/billing/bills/show/{rows['bill']}": "Электроэнергия",  # its lines
        f"/billing/payments/list/?_flt_0_customer={rows['phone'][2:]}": rows["payment_public"],
        f"/billing/payments/show/{rows['payment']}": number,  # its items
        f"/billing/invoices/list/?_flt_0_number={rows['invoice']}": "Замена счётчика",
        "/billing/cards/list/": "•••• 4242",
        f"/billing/autopays/show/{rows['autopay']}": "Недостаточно средств",  # its runs
    }
    for url, text in expected.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert text in page(response), url
    menu = page(client.get("/"))
    for label in ("Счета и начисления", "Поставщики", "Показания", "Аномальные показания", "Платежи"):
        assert label in menu, label


def test_search_finds_by_account_number_and_supplier_and_filters_abnormal_readings(app, rows):
    client = sign_in(app, "admin")
    number = rows["number"]
    row = f"/billing/bills/show/{rows['bill']}"  # the bill's link in the list
    assert row in page(client.get(f"/billing/bills/list/?_flt_0_account={number}"))
    # the account's filters: number, address, supplier ("поставщик содержит" is the third)
    assert row in page(client.get(f"/billing/bills/list/?_flt_1_account={rows['address'][-12:]}"))
    assert row in page(client.get(f"/billing/bills/list/?_flt_0_account={number}"
                                  f"&_flt_2_account={rows['supplier_name'][-8:]}"))
    assert row not in page(client.get(f"/billing/bills/list/?_flt_0_account={number}"
                                      f"&_flt_2_account=no-such-supplier"))
    abnormal = page(client.get(f"/billing/readings/list/?_flt_0_abnormal=y&_flt_0_meter={rows['serial']}"))
    assert "аномальный расход" in abnormal and "900.000" in abnormal
    normal = page(client.get(f"/billing/readings/list/?_flt_1_abnormal=y&_flt_0_meter={rows['serial']}"))
    assert "100.000" in normal and "900.000" not in normal and "аномальный расход" not in normal


def test_card_tokens_are_never_shown_in_full(app, rows):
    client = sign_in(app, "admin")
    for url in ("/billing/cards/list/", f"/billing/cards/show/{rows['card']}",
                f"/billing/autopays/show/{rows['autopay']}"):
        text = page(client.get(url))
        assert rows["token"] not in text and rows["token"][:12] not in text, url
    assert "…wxyz" in page(client.get(f"/billing/cards/show/{rows['card']}"))


@pytest.mark.parametrize("username, allowed, refused", [
    ("billing", ["/billing/suppliers/add", "/billing/tariffs/add", "/billing/payments/list/"], []),
    ("operator", ["/billing/accounts/list/", "/billing/bills/list/", "/billing/readings/list/",
                  "/billing/payments/list/", "/billing/suppliers/list/"],
     ["/billing/suppliers/add", "/billing/tariffs/add"]),
    ("technician", ["/billing/meters/list/"], ["/billing/payments/list/", "/billing/bills/list/",
                                               "/billing/accounts/list/", "/billing/cards/list/"]),
    ("contenteditor", ["/billing/tariffs/list/", "/billing/reading-windows/list/"],
     ["/billing/accounts/list/", "/billing/payments/list/", "/billing/suppliers/add"]),
])
def test_roles_reach_only_their_billing_screens(sqlite_app, username, allowed, refused):
    client = sign_in(sqlite_app, username)
    for url in allowed:
        assert client.get(url).status_code == 200, url
    for url in refused:
        assert client.get(url).status_code in (302, 403), url


def test_imported_data_has_no_forms_and_anonymous_users_are_sent_to_login(app, rows):
    client = sign_in(app, "billing")
    for url in (f"/billing/accounts/edit/{rows['account']}", "/billing/bills/add",
                f"/billing/payments/delete/{rows['payment']}", f"/billing/suppliers/delete/{rows['supplier']}"):
        assert client.get(url).status_code == 404, url
    response = app.test_client().get("/billing/payments/list/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


GOOD_SUPPLIER = {"name": "АО «Водоканал»", "kind": "water", "inn": "7702000029", "kpp": "770201001",
                 "bank_name": "ПАО СБЕРБАНК", "bic": "044525225", "correspondent_account": "30101810400000000225",
                 "settlement_account": "40702810838000002002", "reading_window_start_day": "15",
                 "reading_window_end_day": "25", "abnormal_consumption_factor": "3", "insurance_amount": "",
                 "phone": "", "email": "", "active": "y"}


def supplier_count(app, code):
    with app.app_context():
        try:
            return db.session.query(Supplier).filter_by(code=code).count()
        finally:
            db.session.remove()


@pytest.mark.parametrize("field, value, message", [
    ("bic", "04452522", "БИК: ровно 9 цифр"),
    ("bic", "04452522X", "БИК: ровно 9 цифр"),
    ("inn", "77020000291", "ИНН: ровно 10 или 12 цифр"),
    ("kpp", "7702", "КПП: ровно 9 цифр"),
    ("correspondent_account", "3010181040000000022", "Корреспондентский счёт: ровно 20 цифр"),
    ("settlement_account", "40702 810838000002002", "Расчётный счёт: ровно 20 цифр"),
    ("reading_window_start_day", "0", "День месяца: от 1 до 31."),
    ("reading_window_end_day", "32", "День месяца: от 1 до 31."),
    ("reading_window_end_day", "10", "Последний день приёма не может быть раньше первого."),
    ("insurance_amount", "0", "Значение должно быть больше нуля."),
])
def test_supplier_form_refuses_bad_bank_details_and_windows(app, field, value, message):
    client = sign_in(app, "billing")
    code = f"v{uuid.uuid4().hex[:8]}"
    response = client.post("/billing/suppliers/add", data={**GOOD_SUPPLIER, "code": code, field: value})
    assert response.status_code == 200 and message in page(response)
    assert supplier_count(app, code) == 0
    assert client.post("/billing/suppliers/add", data={**GOOD_SUPPLIER, "code": code}).status_code == 302
    assert supplier_count(app, code) == 1


def test_a_supplier_can_be_switched_off(app):
    client = sign_in(app, "billing")
    code = f"off{uuid.uuid4().hex[:8]}"
    assert client.post("/billing/suppliers/add", data={**GOOD_SUPPLIER, "code": code}).status_code == 302
    with app.app_context():
        supplier_id = db.session.query(Supplier).filter_by(code=code).one().id
        db.session.remove()
    unticked = {key: value for key, value in GOOD_SUPPLIER.items() if key != "active"}
    assert client.post(f"/billing/suppliers/edit/{supplier_id}", data={**unticked, "code": code}).status_code == 302
    with app.app_context():
        assert db.session.get(Supplier, supplier_id).active is False
        db.session.remove()


def test_reading_window_and_tariff_forms_validate(app, rows):
    client = sign_in(app, "billing")
    refused = client.post(f"/billing/reading-windows/edit/{rows['supplier']}",
                          data={"reading_window_start_day": "20", "reading_window_end_day": "5"})
    assert "Последний день приёма не может быть раньше первого." in page(refused)
    client.post(f"/billing/reading-windows/edit/{rows['supplier']}",
                data={"reading_window_start_day": "10", "reading_window_end_day": "20"})
    tariff = {"service": str(rows["service"]), "zone": "1", "price": "7.10", "valid_from": "2027-01-01",
              "valid_to": ""}
    for field, value, message in (("price", "0", "больше нуля"), ("price", "-1", "больше нуля"),
                                  ("valid_to", "2026-12-31", "не может быть раньше даты начала"),
                                  ("zone", "4", "Зона суток: 1, 2 или 3.")):
        response = client.post("/billing/tariffs/add", data={**tariff, field: value})
        assert message in page(response), field
    assert client.post("/billing/tariffs/add", data=tariff).status_code == 302
    with app.app_context():
        supplier = db.session.get(Supplier, rows["supplier"])
        assert (supplier.reading_window_start_day, supplier.reading_window_end_day) == (10, 20)
        prices = db.session.query(Tariff.price).filter_by(service_id=rows["service"],
                                                          valid_from=date(2027, 1, 1)).all()
        assert prices == [(Decimal("7.1000"),)]
        db.session.remove()


def test_a_service_is_added_under_its_supplier(app, rows):
    client = sign_in(app, "billing")
    response = client.post("/billing/services/add", data={
        "supplier": str(rows["supplier"]), "code": "heat", "name": "Отопление", "unit": "Гкал", "meter_kind": "",
        "calculation_rule": "Норматив × площадь × тариф", "legal_reference": "ПП РФ № 354"})
    assert response.status_code == 302
    refused = client.post("/billing/services/add", data={"supplier": str(rows["supplier"]), "code": "Heat pump",
                                                         "name": "X", "unit": ""})
    assert "Код: латиница" in page(refused)
    with app.app_context():
        service = db.session.query(SupplierService).filter_by(supplier_id=rows["supplier"], code="heat").one()
        assert service.meter_kind is None and service.name == "Отопление"
        db.session.remove()
    assert "Отопление" in page(client.get(f"/billing/suppliers/show/{rows['supplier']}"))

