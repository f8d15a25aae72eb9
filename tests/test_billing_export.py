"""Export for the billing system: new readings and payments marked in the same transaction,
re-export of a period without touching the marks, the CLI and the admin download."""
import csv
import io
import json
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.models.accounts import ImportBatch
from app.models.billing import Payment, PaymentItem
from app.models.meters import Reading
from app.services import billing_export
from tests.support.billing import make_account, make_meter, make_reading, make_supplier
from tests.test_admin_views import signed_in

OCTOBER = date(2026, 10, 1)


def rows_of(content, file_format="csv"):
    if file_format == "json":
        return json.loads(content)
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def customer_reading(value="120.5", period=OCTOBER):
    supplier = make_supplier()
    meter = make_meter(make_account(supplier), zones=1)
    reading = make_reading(meter, period, value, source="customer", previous_value=Decimal("100"),
                           consumption=Decimal(value) - 100)
    make_reading(make_meter(meter.account, kind="cold_water"), period, "7", source="billing")
    db.session.commit()
    return meter, reading


def payment(account, status="succeeded", source="kabinet", amount="500.00", when=datetime(2026, 11, 3, 12)):
    found = Payment(public_id=uuid.uuid4().hex, purpose="bills", source=source, status=status,
                    amount=Decimal(amount), confirmed_at=when,
                    external_id=uuid.uuid4().hex if source == "billing" else None)
    found.items.append(PaymentItem(account=account, amount=Decimal(amount), service_code="electricity"))
    db.session.add(found)
    db.session.commit()
    return found


def test_new_readings_are_exported_once_and_a_period_again_without_marks(app):
    with app.app_context():
        meter, reading = customer_reading()
        batch, content, filename = billing_export.export("readings", "csv", started_by="test")
        mine = [r for r in rows_of(content) if r["serial"] == meter.serial]
        assert mine == [{"supplier_code": meter.account.supplier.code, "account_number": meter.account.number,
                         "serial": meter.serial, "meter_kind": "electricity", "period": "2026-10", "zone": "1",
                         "value": "120.500", "previous_value": "100.000", "consumption": "20.500", "abnormal": "0",
                         "submitted_at": mine[0]["submitted_at"], "updated_at": mine[0]["updated_at"]}]
        assert filename.startswith("kabinet-readings-new-") and filename.endswith(".csv")
        db.session.expire_all()
        marked = reading.exported_at
        assert marked is not None and batch.stats["marked"] >= 1 and batch.direction == "export"
        # the billing system's own reading of the other meter is not sent back
        assert all(r["meter_kind"] != "cold_water" or r["serial"] != meter.serial for r in rows_of(content))

        _, content, _ = billing_export.export("readings", "json")
        assert [r for r in rows_of(content, "json") if r["serial"] == meter.serial] == []

        batch, content, filename = billing_export.export("readings", "json", period=OCTOBER)
        again = [r for r in rows_of(content, "json") if r["serial"] == meter.serial]
        assert [(r["value"], r["period"]) for r in again] == [("120.500", "2026-10")]
        assert "2026-10" in filename and batch.stats["marked"] == 0
        db.session.expire_all()
        assert reading.exported_at == marked

        # an edit clears the mark (services/readings.py does so): it goes with the next file
        reading.exported_at = None
        db.session.commit()
        _, content, _ = billing_export.export("readings", "csv")
        assert [r["serial"] for r in rows_of(content) if r["serial"] == meter.serial] == [meter.serial]
        db.session.remove()


def test_only_succeeded_kabinet_payments_are_exported_and_marked(app):
    with app.app_context():
        supplier = make_supplier()
        account = make_account(supplier)
        paid = payment(account)
        failed = payment(account, status="failed")
        elsewhere = payment(account, source="billing")
        _, content, _ = billing_export.export("payments", "csv")
        mine = [r for r in rows_of(content) if r["account_number"] == account.number]
        assert [(r["payment_id"], r["amount"], r["service_code"], r["supplier_code"]) for r in mine] == [
            (paid.public_id, "500.00", "electricity", supplier.code)]
        db.session.expire_all()
        assert paid.exported_at is not None and failed.exported_at is None and elsewhere.exported_at is None
        _, content, _ = billing_export.export("payments", "csv")
        assert [r for r in rows_of(content) if r["account_number"] == account.number] == []
        _, content, _ = billing_export.export("payments", "csv", period=date(2026, 11, 1))
        assert [r["payment_id"] for r in rows_of(content) if r["account_number"] == account.number] == [paid.public_id]
        _, content, _ = billing_export.export("payments", "csv", period=date(2026, 12, 1))
        assert [r for r in rows_of(content) if r["account_number"] == account.number] == []
        db.session.remove()


def test_cli_export(app, tmp_path):
    with app.app_context():
        meter, reading = customer_reading(period=date(2026, 9, 1))
        serial, reading_id = meter.serial, reading.id
        db.session.remove()
    runner = app.test_cli_runner()
    out = tmp_path / "readings.json"
    result = runner.invoke(args=["kabinet", "export", "readings", "--format", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert serial in [r["serial"] for r in json.loads(out.read_text())]
    result = runner.invoke(args=["kabinet", "export", "readings", "--period", "2026-09"])
    assert result.exit_code == 0 and serial in result.output and "marked 0" in result.output
    result = runner.invoke(args=["kabinet", "export", "readings", "--since", "2000-01-01"])
    assert result.exit_code == 0 and serial in result.output
    assert runner.invoke(args=["kabinet", "export", "readings", "--period", "09.2026"]).exit_code == 2
    with app.app_context():
        assert db.session.get(Reading, reading_id).exported_at is not None
        db.session.remove()


def test_admin_download(app):
    with app.app_context():
        meter, reading = customer_reading()
        serial, reading_id = meter.serial, reading.id
        db.session.remove()
    client = signed_in(app, "billing")
    response = client.post("/billing/exchange/export", data={"kind": "readings", "format": "csv"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert serial in [r["serial"] for r in rows_of(response.data)]
    refused = client.post("/billing/exchange/export", data={"kind": "readings", "period": "осень"},
                          follow_redirects=True)
    assert "ГГГГ-ММ" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Reading, reading_id).exported_at is not None
        last = db.session.scalars(select(ImportBatch).where(ImportBatch.direction == "export")
                                  .order_by(ImportBatch.id.desc())).first()
        assert (last.kind, last.started_by) == ("readings", "billing")
        db.session.remove()
