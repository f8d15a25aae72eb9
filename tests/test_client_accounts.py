"""Accounts through the client API (AC-1..AC-4): lookup and link with address confirmation,
verification by a bill, unlink, summaries with amounts due, security events and contracts; every
refusal changes nothing, and one customer never reaches another's accounts. SQLite and PostgreSQL."""
import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.accounts import Contract, CustomerAccount, CustomerContract, ObjectEvent
from app.models.billing import Autopay, Payment, PaymentItem, SavedCard
from app.models.customers import Customer
from app.models.notifications import OutboxMessage
from app.services import accounts
from app.services.secrets import public_id
from tests.support.billing import make_account, make_bill, make_supplier, next_number
from tests.support.customers import bearer, register

ACCOUNTS = "/api/v1/client/accounts"
CONTRACTS = "/api/v1/client/contracts"
EN = {"Accept-Language": "en"}
_IPS = itertools.count(1)


class Customer_:
    """A registered customer with a test client of its own IP (per-IP limits stay per test)."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        n = next(_IPS)
        self.client.environ_base["REMOTE_ADDR"] = f"10.1.{n // 250}.{n % 250 + 1}"
        _phone, tokens = register(app, client=self.client)
        self.id = tokens["customer"]["id"]
        self.headers = bearer(tokens)

    def get(self, url, **kwargs):
        return self.client.get(url, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)

    def post(self, url, json=None, **kwargs):
        return self.client.post(url, json=json, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)

    def patch(self, url, json=None):
        return self.client.patch(url, json=json, headers=self.headers)

    def delete(self, url, json=None):
        return self.client.delete(url, json=json, headers=self.headers)


def code_of(response):
    return response.get_json()["error"]["code"]


def links_of(app, customer_id):
    with app.app_context():
        rows = db.session.execute(select(CustomerAccount.account_id, CustomerAccount.verified_at, CustomerAccount.alias)
                                  .where(CustomerAccount.customer_id == customer_id)).all()
        return {row.account_id: row for row in rows}


def account_with_bills(app, totals=("1500.00", "1200.00", "1000.00", "900.00"), **values):
    """An account with a bill per month, newest first from 2026-04: ``totals`` in that order."""
    with app.app_context():
        account = make_account(make_supplier(), **values)
        for months, total in enumerate(totals):
            make_bill(account, date(2026, 4 - months, 1), total)
        db.session.commit()
        return account.id, account.number


@pytest.fixture
def customer(app):
    return Customer_(app)


# --- AC-1: lookup and link ------------------------------------------------------------------------

def test_lookup_shows_the_address_and_a_masked_holder_only(app, customer):
    account_id, number = account_with_bills(app, phone="+79160000001")
    found = customer.post(f"{ACCOUNTS}/lookup", json={"number": f" {number[:4]} {number[4:]} "})
    assert found.status_code == 200, found.get_json()
    body = found.get_json()
    assert body["address"] == "г. Москва, ул. Ленина, д. 1, кв. 5"
    assert body["holder"] == "Иванова М. П."
    assert body["linked"] is False
    assert "+79160000001" not in found.get_data(as_text=True)
    assert "Мария" not in found.get_data(as_text=True)


def test_unknown_number_and_ambiguous_supplier(app, customer):
    missing = customer.post(f"{ACCOUNTS}/lookup", json={"number": next_number("X")}, headers=EN)
    assert missing.status_code == 404 and code_of(missing) == "account_number_unknown"
    number = next_number()
    with app.app_context():
        first, second = make_supplier(), make_supplier()
        for supplier in (first, second):
            make_account(supplier, number=number)
        db.session.commit()
        codes = sorted([first.code, second.code])
    both = customer.post(f"{ACCOUNTS}/lookup", json={"number": number})
    assert both.status_code == 409 and code_of(both) == "account_supplier_ambiguous"
    assert sorted(both.get_json()["error"]["fields"]["supplier"]) == codes
    linked = customer.post(ACCOUNTS, json={"number": number, "address_confirmed": True})
    assert linked.status_code == 409 and code_of(linked) == "account_supplier_ambiguous"
    chosen = customer.post(f"{ACCOUNTS}/lookup", json={"number": number, "supplier": codes[1]})
    assert chosen.status_code == 200 and chosen.get_json()["supplier"]["code"] == codes[1]
    assert links_of(app, customer.id) == {}


def test_lookups_are_rate_limited_per_customer(app, customer, monkeypatch):
    monkeypatch.setitem(app.config, "ACCOUNT_LOOKUP_LIMIT_PER_CUSTOMER", "2 per hour")
    _id, number = account_with_bills(app)
    for _ in range(2):
        assert customer.post(f"{ACCOUNTS}/lookup", json={"number": number}).status_code == 200
    refused = customer.post(f"{ACCOUNTS}/lookup", json={"number": number})
    assert refused.status_code == 429 and refused.headers["Retry-After"]


def test_link_needs_the_address_confirmed(app, customer):
    account_id, number = account_with_bills(app)
    for body in ({"number": number}, {"number": number, "address_confirmed": False},
                 {"number": number, "address_confirmed": "yes"}):
        refused = customer.post(ACCOUNTS, json=body)
        assert refused.status_code == 422, body
    assert links_of(app, customer.id) == {}
    unknown = customer.post(ACCOUNTS, json={"number": next_number("X"), "address_confirmed": True})
    assert unknown.status_code == 404 and code_of(unknown) == "account_number_unknown"


def test_link_unverified_then_already_linked(app, customer):
    account_id, number = account_with_bills(app)
    linked = customer.post(ACCOUNTS, json={"number": number, "address_confirmed": True})
    assert linked.status_code == 201, linked.get_json()
    assert linked.get_json()["id"] == account_id and linked.get_json()["verified"] is False
    again = customer.post(ACCOUNTS, json={"number": number, "address_confirmed": True})
    assert again.status_code == 409 and code_of(again) == "account_already_linked"
    assert customer.post(f"{ACCOUNTS}/lookup", json={"number": number}).get_json()["linked"] is True


@pytest.mark.parametrize("period, amount, verified", [
    ("2026-03", "1200.00", True),     # the second-latest bill
    ("2026-02", 1000, True),          # third, as a JSON number
    ("2026-01", "900.00", False),     # the fourth is too old
    ("2026-04", "1499.99", False),    # wrong amount
    ("2026-03", "1500.00", False),    # an amount of another period
])
def test_link_with_a_bill_is_verified_only_when_it_matches(app, customer, period, amount, verified):
    account_id, number = account_with_bills(app)
    linked = customer.post(ACCOUNTS, json={"number": number, "address_confirmed": True, "period": period,
                                           "amount": amount})
    assert linked.status_code == 201, linked.get_json()
    assert linked.get_json()["verified"] is verified
    assert (links_of(app, customer.id)[account_id].verified_at is not None) is verified


def test_amount_with_the_voluntary_insurance_verifies(app, customer):
    with app.app_context():
        account = make_account(make_supplier())
        make_bill(account, date(2026, 4, 1), "1000.00", insurance_amount=Decimal("55.00"))
        db.session.commit()
        number = account.number
    linked = customer.post(ACCOUNTS, json={"number": number, "address_confirmed": True, "period": "2026-04",
                                           "amount": "1055.00"})
    assert linked.get_json()["verified"] is True


def test_half_a_proof_and_bad_formats_are_refused(app, customer):
    _id, number = account_with_bills(app)
    base = {"number": number, "address_confirmed": True}
    for extra, field in (({"period": "2026-04"}, "amount"), ({"amount": "1500.00"}, "period"),
                         ({"period": "04.2026", "amount": "1500.00"}, "period"),
                         ({"period": "2026-04", "amount": "15.005"}, "amount"),
                         ({"period": "2026-04", "amount": True}, "amount")):
        refused = customer.post(ACCOUNTS, json={**base, **extra})
        assert refused.status_code == 422, extra
        assert field in refused.get_json()["error"]["fields"], refused.get_json()
    assert links_of(app, customer.id) == {}


# --- verify -------------------------------------------------------------------------------------

def test_verify_by_bill_and_the_lock_after_five_wrong(app, customer):
    account_id, number = account_with_bills(app)
    customer.post(ACCOUNTS, json={"number": number, "address_confirmed": True})
    url = f"{ACCOUNTS}/{account_id}/verify"
    for attempt in range(5):
        wrong = customer.post(url, json={"period": "2026-04", "amount": f"{attempt}.00"})
        assert wrong.status_code == 422 and code_of(wrong) == "bill_mismatch"
    # Counted before checking: even the right bill is refused while locked.
    locked = customer.post(url, json={"period": "2026-04", "amount": "1500.00"})
    assert locked.status_code == 429 and code_of(locked) == "account_verify_locked"
    assert int(locked.headers["Retry-After"]) > 0
    assert links_of(app, customer.id)[account_id].verified_at is None


def test_a_right_bill_clears_the_count(app, customer):
    account_id, number = account_with_bills(app)
    customer.post(ACCOUNTS, json={"number": number, "address_confirmed": True})
    url = f"{ACCOUNTS}/{account_id}/verify"
    for _ in range(4):
        customer.post(url, json={"period": "2026-04", "amount": "1.00"})
    done = customer.post(url, json={"period": "2026-02", "amount": "1000.00"})
    assert done.status_code == 200 and done.get_json()["verified"] is True
    # Verified stays verified; nothing more is counted.
    assert customer.post(url, json={"period": "2026-04", "amount": "1.00"}).status_code == 200


def test_another_customers_account_is_not_found_and_unchanged(app, customer):
    owner = Customer_(app)
    account_id, number = account_with_bills(app)
    owner.post(ACCOUNTS, json={"number": number, "address_confirmed": True})
    before = links_of(app, owner.id)
    for response in (customer.get(f"{ACCOUNTS}/{account_id}"),
                     customer.post(f"{ACCOUNTS}/{account_id}/verify", json={"period": "2026-04", "amount": "1500.00"}),
                     customer.patch(f"{ACCOUNTS}/{account_id}", json={"alias": "Моя дача"}),
                     customer.delete(f"{ACCOUNTS}/{account_id}", json={"confirm": True}),
                     customer.get(f"{ACCOUNTS}/{account_id}/object-events")):
        assert response.status_code == 404, response.get_json()
        assert code_of(response) == "account_not_found"
    assert links_of(app, owner.id) == before
    assert links_of(app, customer.id) == {}
    assert customer.get(f"{ACCOUNTS}/summary").get_json()["accounts"] == []


# --- list, rename, unlink -------------------------------------------------------------------------

def test_list_get_and_rename(app, customer):
    first_id, first = account_with_bills(app)
    second_id, second = account_with_bills(app)
    for number in (first, second):
        customer.post(ACCOUNTS, json={"number": number, "address_confirmed": True})
    listed = customer.get(ACCOUNTS).get_json()
    assert [row["id"] for row in listed["result"]] == [first_id, second_id] and listed["count"] == 2
    renamed = customer.patch(f"{ACCOUNTS}/{first_id}", json={"alias": "  Дача  "})
    assert renamed.status_code == 200 and renamed.get_json()["alias"] == "Дача"
    assert customer.get(f"{ACCOUNTS}/{first_id}").get_json()["alias"] == "Дача"
    too_long = customer.patch(f"{ACCOUNTS}/{first_id}", json={"alias": "x" * 65})
    assert too_long.status_code == 422
    assert customer.patch(f"{ACCOUNTS}/{first_id}", json={"alias": None}).get_json()["alias"] is None


def test_unlink_needs_confirmation_and_stops_the_autopay(app, customer):
    account_id, number = account_with_bills(app)
    customer.post(ACCOUNTS, json={"number": number, "address_confirmed": True})
    with app.app_context():
        card = SavedCard(public_id=public_id(), customer_id=customer.id, provider="sandbox", token=public_id(),
                         status="active")
        db.session.add(card)
        db.session.flush()
        autopay = Autopay(public_id=public_id(), customer_id=customer.id, account_id=account_id, card_id=card.id,
                          day_of_month=5, starts_on=date(2026, 5, 5), next_run_on=date(2026, 5, 5))
        db.session.add(autopay)
        db.session.commit()
        autopay_id = autopay.id
    for body in (None, {}, {"confirm": False}):
        refused = customer.delete(f"{ACCOUNTS}/{account_id}", json=body)
        assert refused.status_code == 422 and "confirm" in refused.get_json()["error"]["fields"]
    assert account_id in links_of(app, customer.id)
    done = customer.delete(f"{ACCOUNTS}/{account_id}", json={"confirm": True})
    assert done.status_code == 204
    assert links_of(app, customer.id) == {}
    with app.app_context():
        assert db.session.get(Autopay, autopay_id).active is False
    assert customer.delete(f"{ACCOUNTS}/{account_id}", json={"confirm": True}).status_code == 404


# --- AC-3: summary ------------------------------------------------------------------------------------

def paid(account_id, amount, confirmed_at, status="succeeded", source="kabinet"):
    payment = Payment(public_id=public_id(), purpose="bills", source=source, status=status, amount=Decimal(amount),
                      confirmed_at=confirmed_at)
    payment.items.append(PaymentItem(account_id=account_id, amount=Decimal(amount)))
    db.session.add(payment)


def test_summary_per_account_and_in_total(app, customer):
    other = Customer_(app)
    with app.app_context():
        supplier = make_supplier()
        owing = make_account(supplier)
        make_bill(owing, date(2026, 3, 1), "800.00")
        make_bill(owing, date(2026, 4, 1), "1000.00", issued_on=date(2026, 4, 5),
                  lines=[("electricity", "100", "6.43"), ("cold_water", "5", "52.10")])
        paid(owing.id, "300.00", datetime(2026, 4, 5, 9, 0))                      # counted (issue day)
        paid(owing.id, "50.00", datetime(2026, 4, 20), source="billing")            # counted (imported)
        paid(owing.id, "400.00", datetime(2026, 4, 4, 23, 59))                     # before the bill: in it
        paid(owing.id, "999.00", datetime(2026, 4, 21), status="failed")           # not money
        overpaid = make_account(supplier, address="г. Москва, ул. Мира, д. 2")
        make_bill(overpaid, date(2026, 4, 1), "-120.50")
        settled = make_account(supplier)
        make_bill(settled, date(2026, 4, 1), "200.00")
        paid(settled.id, "200.00", datetime(2026, 4, 2))
        fresh = make_account(supplier)  # no bill yet
        theirs = make_account(supplier)
        make_bill(theirs, date(2026, 4, 1), "5000.00")
        db.session.commit()
        ids = [owing.id, overpaid.id, settled.id, fresh.id]
        numbers = [owing.number, overpaid.number, settled.number, fresh.number]
        theirs_number = theirs.number
    for number in numbers:
        assert customer.post(ACCOUNTS, json={"number": number, "address_confirmed": True}).status_code == 201
    other.post(ACCOUNTS, json={"number": theirs_number, "address_confirmed": True})

    summary = customer.get(f"{ACCOUNTS}/summary")
    assert summary.status_code == 200
    body = summary.get_json()
    rows = {row["id"]: row for row in body["accounts"]}
    assert list(rows) == ids
    assert rows[ids[0]]["amount_due"] == "650.00" and rows[ids[0]]["overpayment"] == "0.00"
    assert rows[ids[0]]["all_paid"] is False and rows[ids[0]]["period"] == "2026-04"
    assert rows[ids[0]]["services"] == ["Электроэнергия", "Холодное водоснабжение"]
    assert rows[ids[1]]["amount_due"] == "0.00" and rows[ids[1]]["overpayment"] == "120.50"
    assert rows[ids[1]]["all_paid"] is True and rows[ids[1]]["address"] == "г. Москва, ул. Мира, д. 2"
    assert rows[ids[2]]["amount_due"] == "0.00" and rows[ids[2]]["all_paid"] is True
    assert rows[ids[3]]["period"] is None and rows[ids[3]]["services"] == [] and rows[ids[3]]["all_paid"] is True
    assert all(row["ebill"] == "off" and row["verified"] is False for row in rows.values())
    assert body["total"] == {"amount_due": "650.00", "overpayment": "120.50", "all_paid": False, "accounts": 4}
    with app.app_context():
        assert accounts.amount_due(ids[0]) == Decimal("650.00")
        assert accounts.amount_due(ids[1]) == Decimal("-120.50")
        assert accounts.amounts_due(ids) == {ids[0]: Decimal("650.00"), ids[1]: Decimal("-120.50"),
                                             ids[2]: Decimal("0.00"), ids[3]: Decimal("0.00")}


def test_summary_ebill_status_follows_the_email(app, customer):
    account_id, number = account_with_bills(app)
    customer.post(ACCOUNTS, json={"number": number, "address_confirmed": True})
    with app.app_context():
        db.session.execute(CustomerAccount.__table__.update().where(CustomerAccount.customer_id == customer.id)
                           .values(ebill=True))
        db.session.commit()
    assert customer.get(f"{ACCOUNTS}/summary").get_json()["accounts"][0]["ebill"] == "email_unconfirmed"
    with app.app_context():
        person = db.session.get(Customer, customer.id)
        person.email, person.email_confirmed_at = "client@example.ru", datetime(2026, 1, 1)
        db.session.commit()
    body = customer.get(f"{ACCOUNTS}/summary").get_json()
    assert body["accounts"][0]["ebill"] == "on"
    assert body["total"]["amount_due"] == "1500.00" and body["total"]["all_paid"] is False


def test_summary_with_no_accounts(app, customer):
    body = customer.get(f"{ACCOUNTS}/summary").get_json()
    assert body == {"accounts": [], "total": {"amount_due": "0.00", "overpayment": "0.00", "all_paid": True,
                                              "accounts": 0}}


# --- AC-4: security events --------------------------------------------------------------------------

def test_object_events_newest_first_with_a_period_filter(app, customer):
    account_id, number = account_with_bills(app)
    customer.post(ACCOUNTS, json={"number": number, "address_confirmed": True})
    start = datetime(2026, 3, 1, 8, 0)
    with app.app_context():
        for day in range(10):
            db.session.add(ObjectEvent(account_id=account_id, occurred_at=start + timedelta(days=day),
                                       object_name="Дача, Заречная 5", event=("armed", "alarm", "disarmed")[day % 3]))
        db.session.commit()
    url = f"{ACCOUNTS}/{account_id}/object-events"
    everything = customer.get(url).get_json()
    assert everything["count"] == 10
    times = [row["occurred_at"] for row in everything["result"]]
    assert times == sorted(times, reverse=True)
    window = customer.get(url, query_string={"from": "2026-03-03", "to": "2026-03-05", "page_size": 2}).get_json()
    assert window["count"] == 3  # the 3rd, 4th and 5th (a bare "to" date includes its day)
    assert [row["occurred_at"][:10] for row in window["result"]] == ["2026-03-05", "2026-03-04"]
    second = customer.get(url, query_string={"from": "2026-03-03", "to": "2026-03-05", "page_size": 2, "page": 1})
    assert [row["occurred_at"][:10] for row in second.get_json()["result"]] == ["2026-03-03"]
    for query in ({"from": "вчера"}, {"from": "2026-03-05", "to": "2026-03-01"}, {"page_size": 0},
                  {"sort": "asc"}):
        assert customer.get(url, query_string=query).status_code == 422, query


# --- AC-2: contracts ------------------------------------------------------------------------------------

def make_contract(app, kind="supply", number=None):
    with app.app_context():
        supplier = make_supplier()
        account = make_account(supplier)
        contract = Contract(supplier=supplier, number=number or next_number("D-"), kind=kind, account=account,
                            holder_name="Иванова Мария Петровна", phone="+79160000002")
        db.session.add(contract)
        db.session.commit()
        return contract.id, contract.number, account.number


def test_contracts_search_add_list_delete(app, customer):
    contract_id, number, account_number = make_contract(app)
    found = customer.get(f"{CONTRACTS}/search", query_string={"number": number})
    assert found.status_code == 200
    assert found.get_json()["kind"] == "supply" and found.get_json()["account"] == account_number
    assert "+79160000002" not in found.get_data(as_text=True)
    missing = customer.get(f"{CONTRACTS}/search", query_string={"number": "NO-SUCH"})
    assert missing.status_code == 404 and code_of(missing) == "contract_unknown"
    added = customer.post(CONTRACTS, json={"number": number})
    assert added.status_code == 201 and added.get_json()["id"] == contract_id
    again = customer.post(CONTRACTS, json={"number": number})
    assert again.status_code == 409 and code_of(again) == "contract_already_added"
    assert [row["id"] for row in customer.get(CONTRACTS).get_json()["result"]] == [contract_id]
    other = Customer_(app)
    assert other.delete(f"{CONTRACTS}/{contract_id}").status_code == 404
    assert customer.delete(f"{CONTRACTS}/{contract_id}").status_code == 204
    assert customer.get(CONTRACTS).get_json()["result"] == []
    assert customer.delete(f"{CONTRACTS}/{contract_id}").status_code == 404


def test_report_concluded_by_grid_connection_barcode(app, customer):
    contract_id, number, _account = make_contract(app, kind="grid_connection", number=f"TP-2026-{next_number()}")
    supply_id, supply_number, _ = make_contract(app)
    unknown = customer.post(f"{CONTRACTS}/report-concluded", json={"barcode": supply_number})
    assert unknown.status_code == 404 and code_of(unknown) == "contract_barcode_unknown"
    cyrillic = "ТП" + number[2:]
    for _ in range(2):  # reporting again changes nothing
        done = customer.post(f"{CONTRACTS}/report-concluded", json={"barcode": f" {cyrillic.lower()} "})
        assert done.status_code == 200, done.get_json()
        assert done.get_json()["id"] == contract_id and done.get_json()["reported_concluded_at"]
    with app.app_context():
        entries = db.session.execute(select(CustomerContract).where(
            CustomerContract.customer_id == customer.id)).scalars().all()
        assert [entry.contract_id for entry in entries] == [contract_id]
        mails = db.session.execute(select(OutboxMessage).where(
            OutboxMessage.template == "contact_centre_supply_concluded",
            OutboxMessage.recipient == app.config["CONTACT_CENTRE_EMAIL"],
            OutboxMessage.body.contains(number))).scalars().all()
        assert len(mails) == 1


def test_openapi_describes_the_account_endpoints(app, api):
    spec = api("admin").get("/api/v1/_openapi").get_json()
    mine = {
        ACCOUNTS: {"get", "post"}, f"{ACCOUNTS}/lookup": {"post"}, f"{ACCOUNTS}/summary": {"get"},
        f"{ACCOUNTS}/{{account_id}}": {"get", "patch", "delete"}, f"{ACCOUNTS}/{{account_id}}/verify": {"post"},
        f"{ACCOUNTS}/{{account_id}}/object-events": {"get"},
        CONTRACTS: {"get", "post"}, f"{CONTRACTS}/search": {"get"}, f"{CONTRACTS}/{{contract_id}}": {"delete"},
        f"{CONTRACTS}/report-concluded": {"post"},
    }
    for path, operations in mine.items():
        assert operations <= set(spec["paths"][path]), path
        for operation in operations:
            assert spec["paths"][path][operation]["security"] == [{"customer": []}], (path, operation)
    registration = "/api/v1/client/registration"
    for path in ("/by-bill", "/by-bill/{ticket}/not-my-address", "/by-bill/{ticket}/code", "/by-bill/complete",
                 "/by-contract"):
        assert "security" not in spec["paths"][registration + path]["post"], path
    assert {"amount_due", "overpayment", "all_paid", "ebill"} <= set(
        spec["components"]["schemas"]["AccountSummary"]["properties"])
