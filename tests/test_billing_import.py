"""Billing import: idempotent re-imports, changed values, precise refusals that write nothing,
customers' readings kept, bills with lines, payments made elsewhere, the CLI and the admin upload."""
import csv
import io
import json
import os
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.accounts import Account, ImportBatch
from app.models.billing import Bill, BillLine, Payment, PaymentItem
from app.models.meters import Meter, Reading
from app.services import billing_import
from tests.support.billing import make_account, make_meter, make_reading, make_supplier, next_number
from tests.test_admin_views import signed_in, text

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "docs", "samples")
ORDER = ["suppliers", "services", "accounts", "contracts", "meters", "tariffs", "readings", "bills", "payments",
         "events"]


def csv_file(header, *rows, delimiter=";"):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerows([header, *rows])
    return ("\ufeff" + out.getvalue()).encode()


def run(kind, data, file_format="csv", **kwargs):
    batch = billing_import.import_file(kind, data, file_format, filename=f"{kind}.{file_format}", **kwargs)
    return batch.status, batch.stats, [(e["row"], e["column"], e["code"]) for e in batch.errors]


def counts(stats, *names):
    return tuple(stats[name] for name in names)


ACCOUNT_HEADER = ["supplier_code", "number", "address", "holder_name", "phone", "prepaid", "insurance_opt_out"]


def test_accounts_reimport_changes_nothing_and_a_changed_value_is_updated(app):
    with app.app_context():
        supplier = make_supplier()
        db.session.commit()
        first, second = next_number(), next_number()
        rows = [(supplier.code, first, "г. Москва, ул. Ленина, д. 1, кв. 5", "Иванова М. П.", "8 (916) 123-45-67",
                 "0", "да"),
                (supplier.code, second, "г. Москва, ул. Ленина, д. 1, кв. 6", "Петров И. С.", "", "1", "0")]
        status, stats, errors = run("accounts", csv_file(ACCOUNT_HEADER, *rows))
        assert (status, errors) == ("done", []) and counts(stats, "created", "updated", "unchanged") == (2, 0, 0)
        status, stats, _ = run("accounts", csv_file(ACCOUNT_HEADER, *rows, delimiter=","))
        assert counts(stats, "created", "updated", "unchanged") == (0, 0, 2)

        changed = [rows[0][:2] + ("г. Москва, ул. Ленина, д. 3, кв. 1",) + rows[0][3:], rows[1]]
        status, stats, _ = run("accounts", csv_file(ACCOUNT_HEADER, *changed))
        assert counts(stats, "created", "updated", "unchanged") == (0, 1, 1)
        account = db.session.scalar(select(Account).where(Account.supplier_id == supplier.id, Account.number == first))
        assert account.address == "г. Москва, ул. Ленина, д. 3, кв. 1"
        assert (account.phone, account.prepaid, account.insurance_opt_out) == ("+79161234567", False, True)

        as_json = json.dumps([dict(zip(ACCOUNT_HEADER, row)) for row in changed]).encode()
        status, stats, _ = run("accounts", as_json, "json")
        assert (status, counts(stats, "created", "updated", "unchanged")) == ("done", (0, 0, 2))
        db.session.remove()


def test_a_file_with_bad_rows_writes_nothing_and_says_where(app):
    with app.app_context():
        supplier = make_supplier()
        db.session.commit()
        good, bad_flag, orphan = next_number(), next_number(), next_number()
        data = csv_file(ACCOUNT_HEADER,
                        (supplier.code, good, "Адрес 1", "", "", "0", "0"),
                        (supplier.code, bad_flag, "Адрес 2", "", "", "может быть", "0"),
                        ("no-such-supplier", orphan, "Адрес 3", "", "12", "0", "0"),
                        (supplier.code, good, "", "", "", "0", "0"))
        status, stats, errors = run("accounts", data)
        assert status == "failed"
        assert errors == [(3, "prepaid", "not_bool"), (4, "phone", "phone_invalid"), (5, "address", "required")]
        numbers = (good, bad_flag, orphan)
        assert db.session.scalar(select(func.count()).select_from(Account).where(Account.number.in_(numbers))) == 0
        batch = db.session.scalars(select(ImportBatch).order_by(ImportBatch.id.desc())).first()
        assert (batch.status, batch.kind, batch.direction) == ("failed", "accounts", "import")
        assert batch.errors[0]["message"] == "Ожидается да/нет (1/0, true/false)."
        assert batch.errors[0]["message_en"] == "Expected yes/no (1/0, true/false)."

        # references are checked before anything is written as well
        data = csv_file(ACCOUNT_HEADER, (supplier.code, good, "Адрес 1", "", "", "0", "0"),
                        ("no-such-supplier", orphan, "Адрес 3", "", "", "0", "0"),
                        (supplier.code, good, "Адрес 1", "", "", "0", "0"))
        status, stats, errors = run("accounts", data)
        assert (status, errors) == ("failed", [(3, "supplier_code", "supplier_not_found"), (4, "number", "duplicate")])
        assert db.session.scalar(select(func.count()).select_from(Account).where(Account.number.in_(numbers))) == 0

        # --partial imports the good rows and lists the others
        status, stats, errors = run("accounts", data, partial=True)
        assert status == "done" and counts(stats, "created", "skipped") == (1, 2)
        assert db.session.scalar(select(func.count()).select_from(Account).where(Account.number.in_(numbers))) == 1
        db.session.remove()


def test_wrong_columns_and_unreadable_files_are_refused_whole(app):
    with app.app_context():
        status, _, errors = run("accounts", csv_file(["supplier_code", "numbr", "address"], ("x", "1", "y")))
        assert status == "failed"
        assert errors == [(1, "numbr", "unknown_column"), (1, "number", "missing_column")]
        assert run("accounts", "номер;адрес\n".encode("cp1251"))[2] == [(None, None, "not_utf8")]
        assert run("accounts", b'{"number": 1}', "json")[2] == [(None, None, "not_list")]
        assert run("accounts", b"[1", "json")[2][0][2] == "bad_json"
        assert run("accounts", b"", "csv")[2] == [(None, None, "no_header")]
        db.session.remove()


METER_HEADER = ["supplier_code", "account_number", "serial", "kind", "zones", "last_verified_on",
                "verification_interval_years"]


def test_meters_find_their_account_and_service_and_the_next_verification(app):
    with app.app_context():
        supplier = make_supplier()
        account = make_account(supplier)
        db.session.commit()
        serial = next_number("E-")
        data = csv_file(METER_HEADER, (supplier.code, account.number, serial, "electricity", "2", "29.02.2024", "16"),
                        (supplier.code, "000", "X-1", "gas", "1", "", ""),
                        (supplier.code, account.number, "X-2", "steam", "4", "", ""))
        status, _, errors = run("meters", data)
        assert errors == [(3, "account_number", "account_not_found"), (4, "kind", "not_choice"),
                          (4, "zones", "out_of_range")]
        status, stats, errors = run("meters", csv_file(METER_HEADER, (supplier.code, account.number, serial,
                                                                      "electricity", "2", "29.02.2024", "16")))
        assert (status, stats["created"]) == ("done", 1)
        meter = db.session.scalar(select(Meter).where(Meter.account_id == account.id))
        assert (meter.serial, meter.zones, meter.service.code) == (serial, 2, "electricity")
        assert meter.next_verification_on == date(2040, 3, 1)
        db.session.remove()


READING_HEADER = ["supplier_code", "account_number", "serial", "period", "zone", "value", "previous_value"]


def test_a_customers_own_reading_is_never_overwritten(app):
    with app.app_context():
        supplier = make_supplier()
        account = make_account(supplier)
        meter = make_meter(account, zones=2)
        make_reading(meter, date(2026, 10, 1), "100.5", zone=1, source="customer")
        db.session.commit()
        rows = [(supplier.code, account.number, meter.serial, "2026-10", 1, "150,0", "90"),
                (supplier.code, account.number, meter.serial, "2026-10", 2, "40.25", "30")]
        for expected in ((1, 0, 1), (0, 1, 1)):
            status, stats, errors = run("readings", csv_file(READING_HEADER, *rows))
            assert (status, errors) == ("done", [])
            assert counts(stats, "created", "unchanged", "kept_customer") == expected
        readings = {r.zone: r for r in db.session.scalars(select(Reading).where(Reading.meter_id == meter.id))}
        assert (readings[1].value, readings[1].source) == (Decimal("100.5"), "customer")
        assert (readings[2].value, readings[2].source, readings[2].consumption) == (
            Decimal("40.25"), "billing", Decimal("10.25"))
        status, _, errors = run("readings", csv_file(READING_HEADER, (supplier.code, account.number, meter.serial,
                                                                      "2026-10", 3, "1", ""),
                                                     (supplier.code, account.number, "nope", "10.2026", 1, "1", "")))
        assert errors == [(2, "zone", "zone_over_meter"), (3, "period", "not_period")]
        db.session.remove()


BILL_HEADER = ["supplier_code", "account_number", "period", "issued_on", "total_due", "debt_at_start",
               "service_code", "service_name", "zone", "tariff", "volume", "charge", "total"]


def _bill_rows(supplier, account, night_volume="32.100", with_water=True):
    head = (supplier.code, account.number, "2026-10", "2026-11-01", "1030.20", "0")
    rows = [head + ("electricity", "", 1, "6.43", "145.5", "935.57", "935.57"),
            head + ("electricity", "Электроэнергия, ночь", 2, "2.91", night_volume, "93.41", "")]
    if with_water:
        rows.append(head + ("cold_water", "", 1, "52.10", "0", "0", "0"))
    return rows


def test_bills_with_lines_reimport_update_and_removed_lines(app):
    with app.app_context():
        supplier = make_supplier()
        account = make_account(supplier)
        db.session.commit()
        status, stats, errors = run("bills", csv_file(BILL_HEADER, *_bill_rows(supplier, account)))
        assert (status, errors) == ("done", [])
        assert counts(stats, "created", "lines_created") == (1, 3)
        bill = db.session.scalar(select(Bill).where(Bill.account_id == account.id))
        assert [(l.service_code, l.zone, l.service_name, l.total) for l in bill.lines] == [
            ("electricity", 1, "Электроэнергия", Decimal("935.57")),
            ("electricity", 2, "Электроэнергия, ночь", Decimal("93.41")),
            ("cold_water", 1, "Холодное водоснабжение", Decimal("0.00"))]
        assert bill.lines[0].service.code == "electricity" and bill.total_due == Decimal("1030.20")

        status, stats, _ = run("bills", csv_file(BILL_HEADER, *_bill_rows(supplier, account)))
        assert counts(stats, "unchanged", "lines_created", "lines_updated", "lines_deleted") == (1, 0, 0, 0)

        nested = [{"supplier_code": supplier.code, "account_number": account.number, "period": "2026-10",
                   "issued_on": "2026-11-01", "total_due": "1030.20", "debt_at_start": 0, "lines": [
                       {"service_code": "electricity", "zone": 1, "tariff": "6.43", "volume": "145.5",
                        "charge": "935.57", "total": "935.57"},
                       {"service_code": "electricity", "service_name": "Электроэнергия, ночь", "zone": 2,
                        "tariff": "2.91", "volume": "33", "charge": "93.41"}]}]
        status, stats, errors = run("bills", json.dumps(nested).encode(), "json")
        assert (status, errors) == ("done", [])
        assert counts(stats, "updated", "lines_updated", "lines_deleted") == (1, 1, 1)
        db.session.expire_all()
        assert [(l.zone, l.volume) for l in bill.lines] == [(1, Decimal("145.500")), (2, Decimal("33.000"))]
        db.session.remove()


def test_bill_rows_that_disagree_or_repeat_a_line_are_refused(app):
    with app.app_context():
        supplier = make_supplier()
        account = make_account(supplier)
        db.session.commit()
        rows = _bill_rows(supplier, account)
        rows[1] = rows[1][:4] + ("999.00",) + rows[1][5:]
        rows.append(rows[0])
        status, _, errors = run("bills", csv_file(BILL_HEADER, *rows))
        assert (status, errors) == ("failed", [(3, "total_due", "header_differs")])
        status, _, errors = run("bills", csv_file(BILL_HEADER, *(_bill_rows(supplier, account)
                                                                  + [_bill_rows(supplier, account)[0]])))
        assert (status, errors) == ("failed", [(5, "service_code", "duplicate")])
        nested = [{"supplier_code": supplier.code, "account_number": account.number, "period": "2026-10",
                   "issued_on": "2026-11-01", "total_due": "1", "lines": [{"service_code": "gas", "charge": "x"}]}]
        status, _, errors = run("bills", json.dumps(nested).encode(), "json")
        assert errors == [(1, "lines[0].charge", "not_decimal")]
        assert db.session.scalar(select(func.count()).select_from(Bill).where(Bill.account_id == account.id)) == 0
        db.session.remove()


PAYMENT_HEADER = ["external_id", "supplier_code", "account_number", "amount", "paid_at"]


def test_payments_made_elsewhere(app):
    with app.app_context():
        supplier = make_supplier()
        account = make_account(supplier)
        db.session.commit()
        external = next_number("SBER-")
        row = (external, supplier.code, account.number, "1 200,50", "2026-11-03 14:22:05")
        assert counts(run("payments", csv_file(PAYMENT_HEADER, row))[1], "created", "unchanged") == (1, 0)
        assert counts(run("payments", csv_file(PAYMENT_HEADER, row))[1], "created", "unchanged") == (0, 1)
        status, stats, _ = run("payments", csv_file(PAYMENT_HEADER, row[:3] + ("1300.00", "2026-11-03T11:22:05Z")))
        assert counts(stats, "updated", "unchanged") == (1, 0)
        payment = db.session.scalar(select(Payment).where(Payment.external_id == external))
        assert (payment.source, payment.status, payment.amount, str(payment.confirmed_at)) == (
            "billing", "succeeded", Decimal("1300.00"), "2026-11-03 11:22:05")
        items = db.session.scalars(select(PaymentItem).where(PaymentItem.payment_id == payment.id)).all()
        assert [(i.account_id, i.amount) for i in items] == [(account.id, Decimal("1300.00"))]
        status, _, errors = run("payments", csv_file(PAYMENT_HEADER, row[:3] + ("-5", "вчера")))
        assert errors == [(2, "amount", "negative"), (2, "paid_at", "not_datetime")]
        db.session.remove()


@pytest.mark.parametrize("file_format", ["csv", "json"])
def test_the_sample_files_import_and_reimport_unchanged(app, file_format):
    with app.app_context():
        for kind in ORDER:
            with open(os.path.join(SAMPLES, f"{kind}.{file_format}"), "rb") as handle:
                data = handle.read()
            first = run(kind, data, file_format)
            assert (kind, first[0], first[2]) == (kind, "done", [])
            again = run(kind, data, file_format)
            assert (kind, again[1]["created"], again[1]["updated"]) == (kind, 0, 0)
        assert db.session.scalar(select(func.count()).select_from(BillLine).join(Bill).join(Account).where(
            Account.number == "7700100001")) == 2
        db.session.remove()


def test_cli_import(app, tmp_path):
    with app.app_context():
        supplier = make_supplier()
        db.session.commit()
        code = supplier.code
        db.session.remove()
    number = next_number()
    good = tmp_path / "accounts.csv"
    good.write_bytes(csv_file(ACCOUNT_HEADER, (code, number, "Адрес", "", "", "0", "0")))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["kabinet", "import", "accounts", str(good), "--by", "ops"])
    assert result.exit_code == 0, result.output
    assert "done" in result.output and "created 1" in result.output
    bad = tmp_path / "accounts.txt"
    bad.write_bytes(csv_file(ACCOUNT_HEADER, (code, number, "Адрес", "", "", "2", "0")))
    result = runner.invoke(args=["kabinet", "import", "accounts", str(bad), "--format", "csv"])
    assert result.exit_code == 1
    assert "row 2, prepaid: Expected yes/no" in result.output and "failed" in result.output
    unknown = runner.invoke(args=["kabinet", "import", "clients", str(good)])
    assert unknown.exit_code == 2 and "one of accounts, bills" in unknown.output
    with app.app_context():
        batch = db.session.scalars(select(ImportBatch).where(ImportBatch.started_by == "ops")).all()[-1]
        assert (batch.filename, batch.stats["created"]) == ("accounts.csv", 1)
        db.session.remove()


def test_admin_upload_shows_counts_and_errors(app):
    with app.app_context():
        supplier = make_supplier()
        db.session.commit()
        code = supplier.code
        db.session.remove()
    client = signed_in(app, "billing")
    assert "Обмен с биллингом" in text(client.get("/billing/exchange/"))
    number = next_number()
    data = csv_file(ACCOUNT_HEADER, (code, number, "Адрес", "", "", "0", "0"))
    page = client.post("/billing/exchange/upload", follow_redirects=True, content_type="multipart/form-data",
                       data={"kind": "accounts", "file": (io.BytesIO(data), "accounts.csv")})
    assert page.status_code == 200 and "Файл загружен" in text(page)
    assert '<td class="stat-created">1</td>' in text(page)
    bad = csv_file(ACCOUNT_HEADER, (code, next_number(), "", "", "", "0", "0"))
    page = client.post("/billing/exchange/upload", follow_redirects=True, content_type="multipart/form-data",
                       data={"kind": "accounts", "format": "csv", "file": (io.BytesIO(bad), "from-billing.txt")})
    assert "Файл не загружен" in text(page)
    assert "<td>2</td><td><code>address</code></td>" in text(page) and "Обязательное значение" in text(page)
    listing = text(client.get("/billing/exchange/"))
    assert "from-billing.txt" in listing and "accounts.csv" in listing

    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 200
    try:
        page = client.post("/billing/exchange/upload", follow_redirects=True, content_type="multipart/form-data",
                           data={"kind": "accounts", "file": (io.BytesIO(data * 10), "big.csv")})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert "Файл больше" in text(page)
    # Other roles do not see the screen
    assert "Обмен с биллингом" not in text(signed_in(app, "dispatcher").get("/billing/exchange/",
                                                                           follow_redirects=True))


def test_admin_upload_without_a_kind_a_file_or_a_known_format_imports_nothing(app):
    client = signed_in(app, "billing")
    data = csv_file(ACCOUNT_HEADER)
    with app.app_context():
        before = db.session.scalar(select(func.count(ImportBatch.id)))
    for form, message in (({"file": (io.BytesIO(data), "accounts.csv")}, "Выберите, что в файле"),
                          ({"kind": "accounts"}, "Выберите файл"),
                          ({"kind": "accounts", "file": (io.BytesIO(data), "accounts.xlsx")}, "Формат файла")):
        page = client.post("/billing/exchange/upload", follow_redirects=True, content_type="multipart/form-data",
                           data=form)
        assert page.status_code == 200 and message in text(page)
    with app.app_context():
        assert db.session.scalar(select(func.count(ImportBatch.id))) == before
