"""Bills through the client API (BL-1..BL-3): lists, lines, the smart bill, the PDF and its QR
code, sending it by email (file sink and a real SMTP server), on SQLite and PostgreSQL."""
import email as email_parser
import email.policy
import io
import os
import time
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.api.client import bills_messages  # noqa: F401  (the codes' texts)
from app.api.errors import MESSAGES
from app.extensions import db
from app.models.accounts import Supplier, Tariff
from app.models.billing import Payment, PaymentItem
from app.models.notifications import OutboxMessage
from app.services import notifications
from tests.support.billing import link, make_account, make_bill, make_supplier
from tests.support.customers import CLIENT, Person, delivered
NOV, DEC, JAN = date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1)


def with_bills(app, person, verified=True, **account_values):
    """A supplier (insurance 50.00), an account linked to ``person`` and its bills of Nov, Dec and
    Jan (Jan with electricity in two zones and cold water). Returns ids and the account number."""
    with app.app_context():
        supplier = make_supplier(insurance_amount=Decimal("50.00"))
        account = make_account(supplier, **account_values)
        link(person.id, account, verified=verified)
        nov = make_bill(account, NOV, "1000.00", insurance_amount=Decimal("50.00"), issued_on=date(2025, 12, 2))
        dec = make_bill(account, DEC, "1200.50", debt_at_start=Decimal("1000.00"), paid_in_period=Decimal("1000.00"),
                        insurance_amount=Decimal("50.00"), issued_on=date(2026, 1, 2))
        jan = make_bill(account, JAN, "1773.52", lines=[("electricity", "150", "6.43"), ("cold_water", "12.5", "52.10")],
                        debt_at_start=Decimal("1200.50"), insurance_amount=Decimal("50.00"),
                        issued_on=date(2026, 2, 2))
        jan.lines[0].benefit, jan.lines[0].recalculation = Decimal("-30.00"), Decimal("12.40")
        db.session.commit()
        return {"supplier": supplier.id, "account": account.id, "number": account.number,
                "bills": {"nov": nov.id, "dec": dec.id, "jan": jan.id}}


def pay(app, account_id, amount, at, source="kabinet", status="succeeded", other=None):
    """A payment with a part on ``account_id`` (and ``other``: (account id, amount))."""
    with app.app_context():
        payment = Payment(public_id=uuid.uuid4().hex, purpose="bills", source=source, status=status,
                          amount=Decimal(amount) + (Decimal(other[1]) if other else 0), created_at=at,
                          confirmed_at=at if status == "succeeded" else None)
        payment.items.append(PaymentItem(account_id=account_id, amount=Decimal(amount)))
        if other:
            payment.items.append(PaymentItem(account_id=other[0], amount=Decimal(other[1])))
        db.session.add(payment)
        db.session.commit()
        return payment.public_id


def outbox_of(app, customer_id):
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage).where(OutboxMessage.customer_id == customer_id,
                                                              OutboxMessage.channel == "email")).scalars().all()
        db.session.expunge_all()
        return rows


def error_of(response, status, code):
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code
    return response.get_json()["error"]


# --- BL-1 ------------------------------------------------------------------------------------------

def test_bills_newest_first_with_debts_payments_insurance_and_status(app):
    person = Person(app)
    data = with_bills(app, person)
    pay(app, data["account"], "1200.50", datetime(2026, 1, 20))  # pays December's bill in full

    response = person.call("GET", f"/accounts/{data['account']}/bills?page_size=2")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["count"] == 3 and body["page"] == 0 and body["page_size"] == 2
    jan, dec = body["result"]
    assert [jan["period"], dec["period"]] == ["2026-01", "2025-12"]
    assert jan["id"] == data["bills"]["jan"] and jan["account_id"] == data["account"]
    assert dec == {**dec, "debt_at_start": "1000.00", "paid_in_period": "1000.00", "charged": "1200.50",
                   "total_due": "1200.50", "insurance_amount": "50.00", "status": "paid", "issued_on": "2026-01-02"}
    assert jan["status"] == "unpaid" and jan["total_due"] == "1773.52"

    older = person.call("GET", f"/accounts/{data['account']}/bills?page=1&page_size=2").get_json()["result"]
    assert [bill["period"] for bill in older] == ["2025-11"] and older[0]["status"] == "paid"


def test_a_bill_shows_its_lines(app):
    person = Person(app)
    data = with_bills(app, person)
    response = person.call("GET", f"/bills/{data['bills']['jan']}")
    assert response.status_code == 200, response.get_json()
    bill = response.get_json()
    assert bill["period"] == "2026-01" and bill["account"]["number"] == data["number"]
    assert bill["account"]["supplier"].startswith("ООО «Энергосбыт")
    electricity, water = bill["lines"]
    assert electricity == {"service_code": "electricity", "service_name": "Электроэнергия", "zone": 1,
                           "unit": "кВт·ч", "tariff": "6.4300", "volume": "150.000", "charge": "964.50",
                           "benefit": "-30.00", "recalculation": "12.40", "total": "964.50"}
    assert water["service_code"] == "cold_water" and water["charge"] == "651.25" and water["unit"] == "м³"


def test_insurance_is_absent_when_the_account_opted_out(app):
    person = Person(app)
    data = with_bills(app, person, insurance_opt_out=True)
    listed = person.call("GET", f"/accounts/{data['account']}/bills").get_json()["result"]
    assert listed and all("insurance_amount" not in bill for bill in listed)
    assert "insurance_amount" not in person.call("GET", f"/bills/{data['bills']['jan']}").get_json()
    details = person.call("GET", f"/bills/{data['bills']['jan']}/details").get_json()
    assert "insurance_amount" not in details["bill"]


def test_an_unverified_link_may_read_its_bills(app):
    person = Person(app)
    data = with_bills(app, person, verified=False)
    assert person.call("GET", f"/accounts/{data['account']}/bills").status_code == 200
    assert person.call("GET", f"/bills/{data['bills']['nov']}").status_code == 200
    assert person.call("GET", f"/bills/{data['bills']['nov']}/details").status_code == 200


def test_paging_refusals(app):
    person = Person(app)
    data = with_bills(app, person)
    for query, field in (("page=-1", "page"), ("page_size=0", "page_size"), ("page_size=101", "page_size"),
                         ("page=x", "page"), ("colour=red", "colour")):
        error = error_of(person.call("GET", f"/accounts/{data['account']}/bills?{query}"), 422, "validation_error")
        assert field in error["fields"]


# --- one customer never reaches another's bills ---------------------------------------------------

def test_another_customers_bill_and_account_are_not_found_on_every_endpoint(app):
    owner, stranger = Person(app), Person(app)
    data = with_bills(app, owner)
    stranger.confirm_email()
    bill = data["bills"]["jan"]
    for method, path in (("GET", f"/bills/{bill}"), ("GET", f"/bills/{bill}/details"), ("GET", f"/bills/{bill}/pdf"),
                         ("GET", f"/bills/{bill}/qr"), ("GET", f"/bills/{bill}/qr-payload"),
                         ("POST", f"/bills/{bill}/send"), ("GET", f"/bills/{10**9}")):
        error = error_of(stranger.call(method, path, json={} if method == "POST" else None), 404, "bill_not_found")
        assert error["message"] == MESSAGES["bill_not_found"][0]
    error_of(stranger.call("GET", f"/accounts/{data['account']}/bills"), 404, "account_not_found")
    error_of(stranger.call("PUT", f"/accounts/{data['account']}/ebill", json={"enabled": True}), 404,
             "account_not_found")
    assert outbox_of(app, stranger.id) == []
    # and without a token nothing at all
    assert owner.http.get(f"{CLIENT}/bills/{bill}").status_code == 401


# --- BL-3 smart bill ------------------------------------------------------------------------------

def test_smart_bill_shows_rules_tariffs_of_the_period_and_twelve_months_of_payments(app):
    person = Person(app)
    data = with_bills(app, person)
    with app.app_context():
        old = db.session.execute(select(Tariff).join(Tariff.service).where(
            Tariff.service.has(supplier_id=data["supplier"], code="electricity"), Tariff.zone == 1)).scalar_one()
        old.valid_to = date(2026, 1, 14)
        service_id = old.service_id
        db.session.add_all([Tariff(service_id=service_id, zone=1, price=Decimal("6.9100"), valid_from=date(2026, 1, 15)),
                            Tariff(service_id=service_id, zone=1, price=Decimal("7.5000"), valid_from=date(2026, 7, 1))])
        other = make_account(db.session.get(Supplier, data["supplier"]))
        db.session.commit()
        other_id = other.id
    today = date.today()
    recent = datetime.combine(today, datetime.min.time()) - timedelta(days=3)
    kabinet = pay(app, data["account"], "500.00", recent, other=(other_id, "99.00"))
    billing = pay(app, data["account"], "700.50", recent - timedelta(days=40), source="billing")
    pay(app, data["account"], "300.00", recent - timedelta(days=10), status="failed")
    pay(app, data["account"], "800.00", recent - timedelta(days=400), source="billing")
    pay(app, other_id, "123.00", recent)

    response = person.call("GET", f"/bills/{data['bills']['jan']}/details")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["bill"]["period"] == "2026-01" and len(body["bill"]["lines"]) == 2
    electricity, water = body["lines"]
    assert electricity["calculation_rule"] == "Объём × тариф зоны суток"
    assert electricity["legal_reference"] == "Постановление Правительства РФ № 354, п. 42"
    assert electricity["charge"] == "964.50" and electricity["benefit"] == "-30.00"
    assert [(t["price"], t["valid_from"], t["valid_to"]) for t in electricity["tariffs"]] == [
        ("6.4300", "2020-01-01", "2026-01-14"), ("6.9100", "2026-01-15", None)]
    assert [t["price"] for t in water["tariffs"]] == ["52.1000"] and water["calculation_rule"] == "Объём × тариф"
    assert [(p["id"], p["amount"], p["source"]) for p in body["payments"]] == [
        (kabinet, "500.00", "kabinet"), (billing, "700.50", "billing")]


# --- BL-2 PDF, QR code, email ---------------------------------------------------------------------

def test_pdf_is_a_pdf_with_the_account_number_and_the_qr_code_its_payload(app):
    pypdf = pytest.importorskip("pypdf")
    pytest.importorskip("app.services.bill_pdf")
    person = Person(app)
    data = with_bills(app, person)
    response = person.call("GET", f"/bills/{data['bills']['jan']}/pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'attachment; filename="bill-{data["number"]}-2026-01.pdf"'
    assert "no-store" in response.headers["Cache-Control"]
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.data)).pages)
    assert data["number"] in text

    png = person.call("GET", f"/bills/{data['bills']['jan']}/qr")
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    payload = person.call("GET", f"/bills/{data['bills']['jan']}/qr-payload").get_json()["payload"]
    assert payload.startswith("ST0001") and f"persAcc={data['number']}" in payload


def test_sending_needs_a_confirmed_email_and_says_where_to_confirm_it(app):
    person = Person(app)
    data = with_bills(app, person)
    bill = data["bills"]["jan"]
    ru = error_of(person.call("POST", f"/bills/{bill}/send", json={}), 409, "email_unconfirmed")
    en = error_of(person.call("POST", f"/bills/{bill}/send", json={}, lang="en"), 409, "email_unconfirmed")
    assert "профил" in ru["message"] and "profile" in en["message"]
    person.confirm_email(confirmed=False)  # an address set but its link not followed
    error_of(person.call("POST", f"/bills/{bill}/send", json={}), 409, "email_unconfirmed")
    assert outbox_of(app, person.id) == []


def test_the_pdf_goes_by_email_with_the_file_named_and_removed_after_delivery(app):
    pytest.importorskip("app.services.bill_pdf")
    person = Person(app)
    data = with_bills(app, person)
    address = person.confirm_email()
    response = person.call("POST", f"/bills/{data['bills']['jan']}/send", json={})
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"sent": True, "email": address}
    [line] = delivered(app, address)
    assert f"[attachments: bill-{data['number']}-2026-01.pdf]" in line and data["number"] in line
    [row] = outbox_of(app, person.id)
    assert row.template == "bill_pdf" and row.status == "sent"
    [attachment] = row.attachments
    assert attachment["content_type"] == "application/pdf"
    assert os.path.dirname(attachment["path"]) == app.config["OUTBOX_FILES_DIR"]
    # Removed just after the row turned final (the drained outbox may be seen a moment before).
    deadline = time.monotonic() + 10
    while os.path.exists(attachment["path"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(attachment["path"])


def test_bill_emails_are_limited_per_customer(app):
    pytest.importorskip("app.services.bill_pdf")
    person = Person(app)
    data = with_bills(app, person)
    person.confirm_email()
    limit = int(app.config["BILL_EMAIL_LIMIT"].split()[0])
    for _ in range(limit):
        assert person.call("POST", f"/bills/{data['bills']['jan']}/send", json={}).status_code == 202
    refused = person.call("POST", f"/bills/{data['bills']['nov']}/send", json={})
    error_of(refused, 429, "bill_email_limit")
    assert int(refused.headers["Retry-After"]) > 0
    assert len(outbox_of(app, person.id)) == limit
    with app.app_context():
        assert notifications.wait_for_delivery(timeout=15)


def test_the_bill_arrives_over_smtp_with_a_readable_pdf(tmp_path):
    pypdf = pytest.importorskip("pypdf")
    pytest.importorskip("app.services.bill_pdf")
    from tests.conftest import build_app
    from tests.support.delivery import SmtpServer

    server = SmtpServer()
    try:
        app = build_app(f"sqlite:///{tmp_path / 'smtp.db'}", DELIVERY_EMAIL="smtp", SMTP_HOST="127.0.0.1",
                        SMTP_PORT=server.port, SMTP_SECURITY="none", SMTP_FROM="Кабинет <noreply@kabinet.test>",
                        OUTBOX_FILES_DIR=str(tmp_path / "files"))
        person = Person(app)
        data = with_bills(app, person)
        address = person.confirm_email()
        assert person.call("POST", f"/bills/{data['bills']['dec']}/send", json={}).status_code == 202
        with app.app_context():
            assert notifications.wait_for_delivery(timeout=15)
        [received] = [m for m in server.messages if address in m["rcpt_tos"]]
        mail = email_parser.message_from_bytes(received["content"], policy=email.policy.default)
        assert data["number"] in str(mail["Subject"])
        assert "12.2025" in mail.get_body(preferencelist=("plain",)).get_content()
        [part] = list(mail.iter_attachments())
        assert part.get_content_type() == "application/pdf"
        assert part.get_filename() == f"bill-{data['number']}-2025-12.pdf"
        text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(part.get_content())).pages)
        assert data["number"] in text
        assert os.listdir(tmp_path / "files") == []  # removed once sent
    finally:
        server.stop()


def test_a_missing_attachment_fails_the_email_for_good(tmp_path):
    """The SMTP adapter cannot send a bill email whose file is gone: a permanent failure, not
    retries; the outbox row says why."""
    from tests.conftest import build_app
    from tests.support.delivery import SmtpServer

    server = SmtpServer()
    try:
        app = build_app(f"sqlite:///{tmp_path / 'gone.db'}", DELIVERY_EMAIL="smtp", SMTP_HOST="127.0.0.1",
                        SMTP_PORT=server.port, SMTP_SECURITY="none", SMTP_FROM="Кабинет <noreply@kabinet.test>",
                        OUTBOX_FILES_DIR=str(tmp_path / "files"))
        with app.app_context():
            attachment = notifications.attachment_file(b"%PDF-1.4", "bill.pdf", "application/pdf")
            os.remove(attachment["path"])
            message = notifications.send("email", "someone@example.ru", "bill_pdf", {}, attachments=[attachment])
            db.session.commit()
            message_id = message.id
            assert notifications.wait_for_delivery(timeout=15)
            db.session.expire_all()
            row = db.session.get(OutboxMessage, message_id)
            assert row.status == "failed" and row.attempts == 1 and "missing" in row.last_error
        assert server.messages == []
    finally:
        server.stop()


# --- e-bill setting ------------------------------------------------------------------------------

def test_ebill_needs_a_confirmed_email_to_turn_on_and_can_always_turn_off(app):
    person = Person(app)
    data = with_bills(app, person, verified=False)
    path = f"/accounts/{data['account']}/ebill"
    error = error_of(person.call("PUT", path, json={"enabled": True}), 409, "email_unconfirmed")
    assert "профил" in error["message"]
    for body in ({"enabled": "yes"}, {}, {"enabled": True, "email": "x@example.ru"}):
        error_of(person.call("PUT", path, json=body), 422, "validation_error")
    error_of(person.call("PUT", path, json=None), 400, "not_json")
    address = person.confirm_email()
    on = person.call("PUT", path, json={"enabled": True})
    assert on.status_code == 200 and on.get_json() == {"account_id": data["account"], "enabled": True, "email": address}
    person.confirm_email(confirmed=False)
    off = person.call("PUT", path, json={"enabled": False})
    assert off.status_code == 200 and off.get_json()["enabled"] is False
    error_of(person.call("PUT", path, json={"enabled": True}), 409, "email_unconfirmed")


def test_openapi_describes_the_bill_endpoints(app, api):
    spec = api().get("/api/v1/_openapi").get_json()
    for path, method in (("/accounts/{account_id}/bills", "get"), ("/bills/{bill_id}", "get"),
                         ("/bills/{bill_id}/details", "get"), ("/bills/{bill_id}/pdf", "get"),
                         ("/bills/{bill_id}/qr", "get"), ("/bills/{bill_id}/qr-payload", "get"),
                         ("/bills/{bill_id}/send", "post"), ("/accounts/{account_id}/ebill", "put")):
        operation = spec["paths"][f"{CLIENT}{path}"][method]
        assert operation["security"] == [{"customer": []}] and "404" in operation["responses"]
    assert "insurance_amount" in spec["components"]["schemas"]["BillSchema"]["properties"]
