"""Idempotent bulk import of the billing system's data (issue 4 point 2; docs/billing-import.md).

One file holds one kind of record (:data:`KINDS`). A run reads and checks every row first
(types, references, duplicates); a file with any error writes nothing (all or nothing) unless
``partial`` is asked for, which imports the good rows and records the bad ones. Every run leaves
an :class:`ImportBatch` with its counts, errors, checksum and who started it.

Rows are matched to the database by natural keys (supplier code + account number, account +
serial, account + period…) and only what differs is written, so a re-import of the same file
changes nothing (``unchanged``). The work is set-based for 100,000-row files: chunks of
:data:`CHUNK` rows, one SELECT per chunk for the existing rows, one multi-row
``INSERT … ON CONFLICT DO UPDATE`` per chunk for the new and changed ones; no ORM object per row.
"""
import hashlib
import uuid
from collections import defaultdict
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy import text as text_sql
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from ..errors import Invalid
from ..extensions import db
from ..models.accounts import Account, Contract, ImportBatch, ObjectEvent, Supplier, SupplierService, Tariff
from ..models.billing import Bill, BillLine, Payment, PaymentItem
from ..models.meters import Meter, Reading
from ..models.workflow import utcnow
from .billing_import_fields import (
    RowError,
    blank,
    boolean,
    choice,
    day,
    decimal,
    digits,
    error,
    integer,
    moment,
    money,
    period,
    phone,
    read_rows,
    text,
)

CHUNK = 5000
ANALYZE_AFTER = 10_000
FORMATS = ("csv", "json")
# Errors kept in the batch record (the count of all is in its stats).
MAX_ERRORS_KEPT = 1000
METER_KINDS = ("cold_water", "hot_water", "electricity", "heat", "gas")


class Field:
    """A file column: its parser, whether a value is required, what a blank cell means, and the
    model column it fills (``None``: it only names a reference, e.g. ``supplier_code``)."""

    __slots__ = ("name", "parse", "required", "empty", "column")

    def __init__(self, name, parse, required=False, empty=None, column=...):
        self.name, self.parse, self.required, self.empty = name, parse, required, empty
        self.column = name if column is ... else column


def _code(name="supplier_code"):
    return Field(name, text(32), required=True, column=None)


ACCOUNT_REF = [_code(), Field("account_number", text(32), required=True, column=None)]


# --- references ----------------------------------------------------------------------------------

def _chunks(items, size=CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Refs:
    """Looks up what rows refer to, in bulk: suppliers and services (few, loaded once),
    accounts and meters (one SELECT per chunk of distinct keys)."""

    def __init__(self, session):
        self.session = session
        self.suppliers = dict(session.execute(select(Supplier.code, Supplier.id)).all())
        self._services = None

    def services(self):
        """``{(supplier_id, code): (id, name, unit, meter_kind)}``."""
        if self._services is None:
            rows = self.session.execute(select(SupplierService.supplier_id, SupplierService.code, SupplierService.id,
                                               SupplierService.name, SupplierService.unit,
                                               SupplierService.meter_kind))
            self._services = {(r[0], r[1]): tuple(r[2:]) for r in rows}
        return self._services

    def accounts(self, pairs):
        """``{(supplier_id, number): account id}`` for the pairs that exist."""
        found, by_supplier = {}, defaultdict(set)
        for supplier_id, number in pairs:
            by_supplier[supplier_id].add(number)
        for supplier_id, numbers in by_supplier.items():
            for chunk in _chunks(numbers):
                rows = self.session.execute(select(Account.number, Account.id).where(
                    Account.supplier_id == supplier_id, Account.number.in_(chunk)))
                found.update(((supplier_id, number), id_) for number, id_ in rows)
        return found

    def meters(self, pairs):
        """``{(account_id, serial): (meter id, zones)}`` for the pairs that exist."""
        found = {}
        for chunk in _chunks({account_id for account_id, _ in pairs}):
            rows = self.session.execute(select(Meter.account_id, Meter.serial, Meter.id, Meter.zones).where(
                Meter.account_id.in_(chunk)))
            found.update(((a, s), (i, z)) for a, s, i, z in rows if (a, s) in pairs)
        return found


def _fail(row, errors, column, code, /, at=None, **params):
    """Record an error for ``row`` (at file row ``at``, default the row's own) and mark it bad."""
    errors.append(error(at or row["_row"], column, code, **params))
    row["_bad"] = True


def _resolve_suppliers(rows, refs, errors):
    for row in rows:
        supplier_id = refs.suppliers.get(row["supplier_code"])
        if supplier_id is None:
            _fail(row, errors, "supplier_code", "supplier_not_found", code=row["supplier_code"])
        row["supplier_id"] = supplier_id


def _resolve_accounts(rows, refs, errors, required=True):
    wanted = {(r["supplier_id"], r["account_number"]) for r in rows if not r.get("_bad") and r.get("account_number")}
    found = refs.accounts(wanted)
    for row in rows:
        number = row.get("account_number")
        row["account_id"] = found.get((row["supplier_id"], number))
        if row["account_id"] is None and not row.get("_bad") and (number or required):
            _fail(row, errors, "account_number", "account_not_found", number=number, supplier=row["supplier_code"])


def _resolve_meters(rows, refs, errors):
    found = refs.meters({(r["account_id"], r["serial"]) for r in rows if not r.get("_bad")})
    for row in rows:
        if row.get("_bad"):
            continue
        meter = found.get((row["account_id"], row["serial"]))
        if meter is None:
            _fail(row, errors, "serial", "meter_not_found", serial=row["serial"], number=row["account_number"])
        elif row["zone"] > meter[1]:
            _fail(row, errors, "zone", "zone_over_meter", zones=meter[1])
        else:
            row["meter_id"] = meter[0]


def _service(row, refs, errors, column="service_code"):
    """``(id, name, unit, meter_kind)`` of the row's service code, or a recorded error."""
    found = refs.services().get((row["supplier_id"], row[column]))
    if found is None:
        _fail(row, errors, column, "service_not_found", code=row[column])
    return found


# --- writing -------------------------------------------------------------------------------------

def _existing(session, table, key, columns, rows):
    """Existing rows of ``table`` matching ``rows`` on ``key``: ``{key tuple: mapping}``.

    One SELECT per chunk: an IN list per key column (a superset), matched exactly here; on the
    (supplier, number)-style keys the first column has one or few values, so the index is used.
    """
    wanted = {tuple(row[k] for k in key) for row in rows}
    condition = [table.c[k].in_(sorted({w[i] for w in wanted})) for i, k in enumerate(key)]
    query = select(table.c.id, *(table.c[c] for c in dict.fromkeys(list(key) + list(columns)))).where(*condition)
    found = {}
    for mapping in db.session.execute(query).mappings():
        found_key = tuple(mapping[k] for k in key)
        if found_key in wanted:
            found[found_key] = mapping
    return found


def _upsert(table, key, rows, update, where=None):
    """Multi-row ``INSERT … ON CONFLICT (key) DO UPDATE SET update…`` (PostgreSQL or SQLite): a
    row that another run inserted meanwhile is updated instead of failing the file. Returns the
    ids of the rows written (in no particular order)."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(key), set_={c: statement.excluded[c] for c in update}, where=where)
    # RETURNING makes SQLAlchemy send many rows per INSERT ("insertmanyvalues"); without it an
    # ON CONFLICT statement goes row by row (about 10× slower on PostgreSQL).
    return db.session.execute(statement.returning(table.c.id), rows).scalars().all()


def _sync(table, key, fields, rows, stats, touch=(), keep=None, where=None):
    """Write ``rows`` (dicts of column values) by ``key``: new ones inserted, ones whose
    ``fields`` differ updated (with ``touch`` columns such as ``imported_at``), others counted
    unchanged; ``keep(existing)`` true counts ``kept_customer`` and leaves the row alone."""
    for chunk in _chunks(rows):
        existing = _existing(db.session, table, key, list(fields) + (["source"] if keep else []), chunk)
        writes = []
        for row in chunk:
            old = existing.get(tuple(row[k] for k in key))
            if old is None:
                stats["created"] += 1
            elif keep and keep(old):
                stats["kept_customer"] += 1
                continue
            elif any(old[f] != row[f] for f in fields):
                stats["updated"] += 1
            else:
                stats["unchanged"] += 1
                continue
            writes.append(row)
        if writes:
            _upsert(table, key, writes, list(fields) + list(touch), where)


def _columns(row, names):
    return {name: row[name] for name in names}


# --- kinds ---------------------------------------------------------------------------------------

class Kind:
    """One kind of file: its columns, file key (duplicates in a file are errors), how its rows
    find their references (``prepare``) and how they are written (``apply``)."""

    name = table = None
    fields = ()
    file_key = ()
    key = ()  # the model's natural key (a unique constraint)
    touch = ("imported_at",)

    def header_errors(self, header):
        known = {f.name for f in self.fields}
        problems = [error(1, c, "unknown_column", column=c) for c in header if c not in known]
        return problems + [error(1, f.name, "missing_column", column=f.name) for f in self.fields
                           if f.required and f.name not in header]

    def present(self, header):
        return [f for f in self.fields if f.name in header]

    def validate(self, raw_rows, header, errors):
        return [row for row in (_validate(self.present(header), number, raw, errors) for number, raw in raw_rows)
                if row is not None]

    def db_fields(self, present):
        """The compared and written columns: those the file has, besides the key."""
        return [f.column for f in present if f.column and f.column not in self.key]

    def prepare(self, rows, refs, errors):
        """Resolve references in place (``supplier_id``…); rows that fail get ``_bad``."""

    def apply(self, rows, present, stats, now):
        fields = self.db_fields(present)
        touch = [c for c in self.touch if c not in fields]
        rows = [dict(_columns(row, list(self.key) + fields), **dict.fromkeys(touch, now)) for row in rows]
        _sync(self.table.__table__, self.key, fields, rows, stats, touch)


def _validate(fields, number, raw, errors, prefix=""):
    values, ok = {"_row": number}, True
    for field in fields:
        value = raw.get(field.name)
        if blank(value):
            if field.required:
                errors.append(error(number, prefix + field.name, "required"))
                ok = False
            values[field.name] = field.empty
            continue
        try:
            values[field.name] = field.parse(value)
        except RowError as exc:
            errors.append(error(number, prefix + field.name, exc.code, **exc.params))
            ok = False
    return values if ok else None


class Suppliers(Kind):
    name, table, key, touch = "suppliers", Supplier, ("code",), ()
    file_key = ("code",)
    fields = [
        Field("code", text(32), required=True), Field("name", text(256), required=True),
        Field("kind", choice("electricity", "water", "heat", "housing", "security", "gas"), required=True),
        Field("inn", digits(10, 12), required=True), Field("kpp", digits(9)),
        Field("bank_name", text(160), required=True), Field("bic", digits(9), required=True),
        Field("correspondent_account", digits(20), required=True),
        Field("settlement_account", digits(20), required=True),
        Field("reading_window_start_day", integer(1, 31), empty=15),
        Field("reading_window_end_day", integer(1, 31), empty=25),
        Field("phone", text(32)), Field("email", text(254)),
    ]


class Services(Kind):
    """A supplier's billed services (the admin screen edits them too): what tariffs and bill
    lines refer to by ``service_code``."""

    name, table, key, touch = "services", SupplierService, ("supplier_id", "code"), ()
    file_key = ("supplier_code", "code")
    fields = [
        _code(), Field("code", text(32), required=True), Field("name", text(160), required=True),
        Field("unit", text(16), empty=""), Field("meter_kind", choice(*METER_KINDS)),
        Field("calculation_rule", text(4000), empty=""), Field("legal_reference", text(4000), empty=""),
    ]

    def prepare(self, rows, refs, errors):
        _resolve_suppliers(rows, refs, errors)


class Accounts(Kind):
    name, table, key = "accounts", Account, ("supplier_id", "number")
    file_key = ("supplier_code", "number")
    fields = [
        _code(), Field("number", text(32), required=True), Field("address", text(512), required=True),
        Field("holder_name", text(256), empty=""), Field("phone", phone),
        Field("prepaid", boolean, empty=False), Field("insurance_opt_out", boolean, empty=False),
        Field("closed", boolean, empty=False),
    ]

    def prepare(self, rows, refs, errors):
        _resolve_suppliers(rows, refs, errors)


class Contracts(Kind):
    name, table, key = "contracts", Contract, ("supplier_id", "number")
    file_key = ("supplier_code", "number")
    fields = [
        _code(), Field("number", text(32), required=True),
        Field("kind", choice("supply", "grid_connection"), empty="supply"),
        Field("account_number", text(32), column=None), Field("holder_name", text(256), empty=""),
        Field("phone", phone), Field("email", text(254)), Field("concluded_on", day),
    ]

    def db_fields(self, present):
        linked = ["account_id"] if any(f.name == "account_number" for f in present) else []
        return super().db_fields(present) + linked

    def prepare(self, rows, refs, errors):
        _resolve_suppliers(rows, refs, errors)
        _resolve_accounts(rows, refs, errors, required=False)


class Meters(Kind):
    name, table, key = "meters", Meter, ("account_id", "serial")
    file_key = ("supplier_code", "account_number", "serial")
    fields = ACCOUNT_REF + [
        Field("serial", text(64), required=True), Field("kind", choice(*METER_KINDS), required=True),
        Field("service_code", text(32), column=None), Field("zones", integer(1, 3), empty=1),
        Field("decimals", integer(0, 3), empty=2), Field("location", text(128), empty=""),
        Field("installed_on", day), Field("last_verified_on", day),
        Field("verification_interval_years", integer(1, 50)), Field("next_verification_on", day),
        Field("active", boolean, empty=True),
    ]

    def db_fields(self, present):
        fields = super().db_fields(present) + ["service_id"]
        names = {f.name for f in present}
        if {"last_verified_on", "verification_interval_years"} <= names and "next_verification_on" not in names:
            fields.append("next_verification_on")
        return fields

    def prepare(self, rows, refs, errors):
        _resolve_suppliers(rows, refs, errors)
        _resolve_accounts(rows, refs, errors)
        by_kind = {(s, kind): id_ for (s, _code), (id_, _n, _u, kind) in refs.services().items() if kind}
        for row in rows:
            if row.get("_bad"):
                continue
            if row.get("service_code"):
                found = _service(row, refs, errors)
                row["service_id"] = found and found[0]
            else:
                row["service_id"] = by_kind.get((row["supplier_id"], row["kind"]))
            # The next verification is due ``interval`` years after the last one, unless given.
            if not row.get("next_verification_on") and row.get("last_verified_on") \
                    and row.get("verification_interval_years"):
                last = row["last_verified_on"]
                years = row["verification_interval_years"]
                row["next_verification_on"] = (last.replace(year=last.year + years) if (last.month, last.day) != (2, 29)
                                               else date(last.year + years, 3, 1))
            else:
                row.setdefault("next_verification_on", None)


class Readings(Kind):
    """Readings the billing system holds (meter inspections, estimates). A customer's own
    reading of the same meter, period and zone is never overwritten (``kept_customer``)."""

    name, table, key, touch = "readings", Reading, ("meter_id", "period", "zone"), ("updated_at", "source")
    file_key = ("supplier_code", "account_number", "serial", "period", "zone")
    fields = ACCOUNT_REF + [
        Field("serial", text(64), required=True, column=None), Field("period", period, required=True),
        Field("zone", integer(1, 3), empty=1), Field("value", decimal(3, 11), required=True),
        Field("previous_value", decimal(3, 11)),
    ]

    def db_fields(self, present):
        fields = super().db_fields(present)
        return fields + ["consumption"] if "previous_value" in fields else fields

    def prepare(self, rows, refs, errors):
        _resolve_suppliers(rows, refs, errors)
        _resolve_accounts(rows, refs, errors)
        _resolve_meters(rows, refs, errors)
        for row in rows:
            previous = row.get("previous_value")
            row["consumption"] = None if previous is None else row["value"] - previous

    def apply(self, rows, present, stats, now):
        fields = self.db_fields(present)
        table = Reading.__table__
        rows = [dict(_columns(row, list(self.key) + fields), source="billing", submitted_at=now, updated_at=now)
                for row in rows]
        _sync(table, self.key, fields, rows, stats, self.touch,
              keep=lambda old: old["source"] == "customer", where=table.c.source != "customer")


class Tariffs(Kind):
    name, table, key, touch = "tariffs", Tariff, ("service_id", "zone", "valid_from"), ()
    file_key = ("supplier_code", "service_code", "zone", "valid_from")
    fields = [
        _code(), Field("service_code", text(32), required=True, column=None), Field("zone", integer(1, 3), empty=1),
        Field("price", decimal(4, 8), required=True), Field("valid_from", day, required=True),
        Field("valid_to", day),
    ]

    def prepare(self, rows, refs, errors):
        _resolve_suppliers(rows, refs, errors)
        for row in rows:
            if row.get("_bad"):
                continue
            if row.get("valid_to") and row["valid_to"] < row["valid_from"]:
                _fail(row, errors, "valid_to", "valid_to_before_from")
                continue
            found = _service(row, refs, errors)
            row["service_id"] = found and found[0]


class Events(Kind):
    """Security-service events at guarded objects (AC-4)."""

    name, table, key, touch = "events", ObjectEvent, ("account_id", "occurred_at", "object_name", "event"), ()
    file_key = ("supplier_code", "account_number", "occurred_at", "object_name", "event")
    fields = ACCOUNT_REF + [
        Field("occurred_at", moment, required=True), Field("object_name", text(256), required=True),
        Field("event", choice("armed", "alarm", "disarmed"), required=True), Field("details", text(512), empty=""),
    ]

    def prepare(self, rows, refs, errors):
        _resolve_suppliers(rows, refs, errors)
        _resolve_accounts(rows, refs, errors)


class Payments(Kind):
    """Payments made elsewhere (bank, post office): a succeeded ``Payment`` of source billing
    with one item on the account, matched by the billing system's ``external_id``."""

    name, table, key, touch = "payments", Payment, ("external_id",), ()
    file_key = ("external_id",)
    fields = ACCOUNT_REF + [
        Field("external_id", text(64), required=True), Field("amount", money(), required=True),
        Field("paid_at", moment, required=True, column=None),
    ]

    def prepare(self, rows, refs, errors):
        _resolve_suppliers(rows, refs, errors)
        _resolve_accounts(rows, refs, errors)
        for chunk in _chunks(rows):
            foreign = set(db.session.scalars(select(Payment.external_id).where(
                Payment.external_id.in_([r["external_id"] for r in chunk]), Payment.source != "billing")))
            for row in chunk:
                if row["external_id"] in foreign:
                    _fail(row, errors, "external_id", "not_billing_payment", external_id=row["external_id"])

    def apply(self, rows, present, stats, now):
        payments, items = Payment.__table__, PaymentItem.__table__
        for chunk in _chunks(rows):
            ids = [r["external_id"] for r in chunk]
            existing = {r.external_id: r for r in db.session.execute(
                select(Payment.id, Payment.external_id, Payment.amount, Payment.confirmed_at, PaymentItem.account_id)
                .outerjoin(PaymentItem, PaymentItem.payment_id == Payment.id).where(Payment.external_id.in_(ids)))}
            writes, replaced = [], []
            for row in chunk:
                old = existing.get(row["external_id"])
                if old is None:
                    stats["created"] += 1
                elif (old.amount, old.confirmed_at, old.account_id) != (row["amount"], row["paid_at"],
                                                                         row["account_id"]):
                    stats["updated"] += 1
                    replaced.append(old.id)
                else:
                    stats["unchanged"] += 1
                    continue
                writes.append(row)
            if not writes:
                continue
            _upsert(payments, self.key, [
                {"public_id": uuid.uuid4().hex, "external_id": r["external_id"], "amount": r["amount"],
                 "confirmed_at": r["paid_at"], "created_at": r["paid_at"], "purpose": "bills",
                 "source": "billing", "status": "succeeded", "currency": "RUB"} for r in writes],
                ["amount", "confirmed_at"], where=payments.c.source == "billing")
            if replaced:
                db.session.execute(delete(items).where(items.c.payment_id.in_(replaced)))
            payment_ids = dict(db.session.execute(select(Payment.external_id, Payment.id).where(
                Payment.external_id.in_([r["external_id"] for r in writes]))).all())
            db.session.execute(items.insert(), [
                {"payment_id": payment_ids[r["external_id"]], "account_id": r["account_id"], "amount": r["amount"]}
                for r in writes])


BILL_FIELDS = ACCOUNT_REF + [
    Field("period", period, required=True), Field("issued_on", day, required=True), Field("due_on", day),
    Field("debt_at_start", money(signed=True), empty=0), Field("paid_in_period", money(signed=True), empty=0),
    Field("charged", money(signed=True), empty=0), Field("total_due", money(signed=True), required=True),
    Field("insurance_amount", money()),
]
LINE_FIELDS = [
    Field("service_code", text(32)), Field("service_name", text(160)), Field("zone", integer(1, 3), empty=1),
    Field("unit", text(16)), Field("tariff", decimal(4, 8)), Field("volume", decimal(3, 11)),
    Field("charge", money(signed=True), empty=0), Field("benefit", money(signed=True), empty=0),
    Field("recalculation", money(signed=True), empty=0), Field("total", money(signed=True)),
]
LINE_COLUMNS = ["position", "service_id", "service_code", "service_name", "zone", "unit", "tariff", "volume",
                "charge", "benefit", "recalculation", "total"]


class Bills(Kind):
    """Bills with their lines. CSV: one row per line with the bill's columns repeated (a row
    without ``service_code`` is a bill without lines); JSON: one object per bill with ``lines``.
    The file is the whole truth of each bill in it: lines it no longer lists are deleted."""

    name, table, key = "bills", Bill, ("account_id", "period")
    file_key = ("supplier_code", "account_number", "period")
    fields = BILL_FIELDS + LINE_FIELDS

    def header_errors(self, header):
        return super().header_errors([c for c in header if c != "lines"])

    def validate(self, raw_rows, header, errors):
        """Rows become bills: ``{"_row", header values…, "lines": [line values]}``. Rows are
        grouped by the key as written, so one bad row drops its whole bill (in a partial run the
        bill is left as it was rather than imported without that line)."""
        bills, present = {}, self.present(header)
        bill_fields = [f for f in present if f in BILL_FIELDS]
        line_names = {f.name for f in LINE_FIELDS}
        for number, raw in raw_rows:
            group = tuple(str(raw.get(k) or "").strip() for k in self.file_key)
            values = _validate(bill_fields, number, raw, errors)
            nested = raw.get("lines")
            if nested is not None and not isinstance(nested, list):
                errors.append(error(number, "lines", "not_list"))
                values, nested = None, []
            lines = []
            for index, line in enumerate(raw["lines"] if nested is not None else [raw]):
                prefix = f"lines[{index}]." if nested is not None else ""
                if not isinstance(line, dict):
                    errors.append(error(number, prefix.rstrip("."), "not_object"))
                    values = None
                    continue
                unknown = [c for c in line if nested is not None and c not in line_names]
                errors.extend(error(number, prefix + c, "unknown_column", column=c) for c in unknown)
                parsed = _validate(LINE_FIELDS, number, line, errors, prefix)
                if parsed is None or unknown:
                    values = None
                elif parsed["service_code"]:
                    lines.append(parsed)
            bill = bills.get(group)
            if bill is None:
                bill = bills[group] = dict(values, lines=[], _lines={}) if values else {"_row": number, "_bad": True}
            elif nested is not None:
                _fail(bill, errors, None, "duplicate", at=number, first=bill["_row"])
            elif values is None:
                bill["_bad"] = True
            else:
                differs = next((f.name for f in bill_fields if values[f.name] != bill.get(f.name)), None)
                if differs:
                    _fail(bill, errors, differs, "header_differs", at=number, first=bill["_row"])
            if values is None or bill.get("_bad"):
                bill["_bad"] = True
                continue
            for line in lines:
                line_key = (line["service_code"], line["zone"])
                if line_key in bill["_lines"]:
                    _fail(bill, errors, "service_code", "duplicate", at=number, first=bill["_lines"][line_key])
                    break
                bill["_lines"][line_key] = number
                bill["lines"].append(line)
        return [bill for bill in bills.values() if not bill.get("_bad")]

    def db_fields(self, present):
        return [f.column for f in present if f in BILL_FIELDS and f.column and f.column not in self.key]

    def prepare(self, rows, refs, errors):
        _resolve_suppliers(rows, refs, errors)
        _resolve_accounts(rows, refs, errors)
        services = refs.services()
        for bill in rows:
            if bill.get("_bad"):
                continue
            for position, line in enumerate(bill["lines"]):
                _id, name, unit, _kind = services.get((bill["supplier_id"], line["service_code"]), (None,) * 4)
                if not line["service_name"] and not name:
                    _fail(bill, errors, "service_name", "service_name_required", code=line["service_code"])
                    break
                line.update(position=position, service_id=_id, service_name=line["service_name"] or name,
                            unit=line["unit"] or unit or "")
                if line["total"] is None:
                    line["total"] = line["charge"] - line["benefit"] + line["recalculation"]

    def apply(self, rows, present, stats, now):
        for stat in ("lines_created", "lines_updated", "lines_deleted"):
            stats.setdefault(stat, 0)
        fields = self.db_fields(present)
        bills, lines_table = Bill.__table__, BillLine.__table__
        for chunk in _chunks(rows):
            existing = _existing(db.session, bills, self.key, fields, chunk)
            old_lines = defaultdict(dict)
            if existing:
                for line in db.session.execute(select(lines_table).where(
                        lines_table.c.bill_id.in_([b["id"] for b in existing.values()]))).mappings():
                    old_lines[line["bill_id"]][(line["service_code"], line["zone"])] = line
            header_writes, line_writes, doomed = [], [], []
            for bill in chunk:
                old = existing.get((bill["account_id"], bill["period"]))
                changed_lines, gone = self._line_changes(bill, old_lines[old["id"]] if old else {}, stats)
                if old is None:
                    stats["created"] += 1
                elif changed_lines or gone or any(old[f] != bill[f] for f in fields):
                    stats["updated"] += 1
                else:
                    stats["unchanged"] += 1
                    continue
                header_writes.append(dict(_columns(bill, list(self.key) + fields), imported_at=now))
                line_writes.extend((bill, line) for line in changed_lines)
                doomed.extend(gone)
            if header_writes:
                _upsert(bills, self.key, header_writes, fields + ["imported_at"])
            if doomed:
                db.session.execute(delete(lines_table).where(lines_table.c.id.in_(doomed)))
            if line_writes:
                ids = {k: m["id"] for k, m in _existing(db.session, bills, self.key, (), header_writes).items()}
                _upsert(lines_table, ("bill_id", "service_code", "zone"),
                        [dict(_columns(line, LINE_COLUMNS), bill_id=ids[(bill["account_id"], bill["period"])])
                         for bill, line in line_writes], [c for c in LINE_COLUMNS if c not in ("service_code", "zone")])

    @staticmethod
    def _line_changes(bill, old_lines, stats):
        changed, seen = [], set()
        for line in bill["lines"]:
            key = (line["service_code"], line["zone"])
            seen.add(key)
            old = old_lines.get(key)
            if old is None:
                stats["lines_created"] += 1
            elif any(old[c] != line[c] for c in LINE_COLUMNS):
                stats["lines_updated"] += 1
            else:
                continue
            changed.append(line)
        gone = [old["id"] for key, old in old_lines.items() if key not in seen]
        stats["lines_deleted"] += len(gone)
        return changed, gone


KINDS = {kind.name: kind() for kind in (Suppliers, Services, Accounts, Contracts, Meters, Readings, Bills, Payments,
                                       Tariffs, Events)}


# --- a run ---------------------------------------------------------------------------------------

def _duplicates(kind, rows, errors):
    seen, kept = {}, []
    for row in rows:
        key = tuple(row[k] for k in kind.file_key)
        if key in seen:
            errors.append(error(row["_row"], kind.file_key[-1], "duplicate", first=seen[key]))
            continue
        seen[key] = row["_row"]
        kept.append(row)
    return kept


def import_file(kind, data, file_format, filename="", started_by="", partial=False):
    """Import one file; returns its :class:`ImportBatch` (committed, ``status`` done or failed).

    All or nothing by default: any error leaves the database as it was. With ``partial`` the
    rows without errors are imported and the others listed (``stats["skipped"]``).
    """
    if kind not in KINDS:
        raise Invalid("import_kind_unknown", fields={"kind": ["import_kind_unknown"]}, kind=kind)
    if file_format not in FORMATS:
        raise Invalid("import_format_unknown", fields={"format": ["import_format_unknown"]}, format=file_format)
    spec = KINDS[kind]
    batch = ImportBatch(direction="import", kind=kind, filename=(filename or "")[-256:], file_format=file_format,
                        checksum=hashlib.sha256(data).hexdigest(), started_by=started_by[:128], started_at=utcnow())
    stats = {"rows": 0, "created": 0, "updated": 0, "unchanged": 0, "skipped": 0}
    if kind == "readings":
        stats["kept_customer"] = 0
    errors = []
    try:
        header, raw_rows, problems = read_rows(data, file_format)
    except RowError as exc:
        return _finish(batch, stats, [error(None, None, exc.code, **exc.params)], ok=False)
    stats["rows"] = len(raw_rows) + len(problems)
    errors.extend(problems)
    header_problems = spec.header_errors(header)
    if header_problems:  # a wrong column name would misread every row: never partial
        return _finish(batch, stats, errors + header_problems, ok=False)
    rows = _duplicates(spec, spec.validate(raw_rows, header, errors), errors)
    spec.prepare(rows, Refs(db.session), errors)
    if errors and not partial:
        db.session.rollback()
        return _finish(batch, stats, errors, ok=False)
    rows = [row for row in rows if not row.get("_bad")]
    stats["skipped"] = len({e["row"] for e in errors})
    try:
        spec.apply(rows, spec.present(header), stats, utcnow())
        _analyze_after_bulk(spec, stats)
    except DBAPIError as exc:
        db.session.rollback()
        for name in ("created", "updated", "unchanged", "kept_customer"):
            stats.pop(name, None)
        detail = str(exc.orig).strip().splitlines()[0][:300]
        return _finish(batch, stats, errors + [error(None, None, "write_failed", detail=detail)], ok=False)
    return _finish(batch, stats, errors, ok=True)


def _analyze_after_bulk(spec, stats):
    """After a big first load PostgreSQL's statistics still describe an empty table, and the
    next file (meters after accounts) would plan its lookups as scans; autovacuum catches up
    only later, so the import refreshes them itself."""
    if stats["created"] >= ANALYZE_AFTER and db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text_sql(f"ANALYZE {spec.table.__tablename__}"))


def _finish(batch, stats, errors, ok):
    stats["errors"] = len(errors)
    errors.sort(key=lambda e: e["row"] or 0)
    batch.stats, batch.errors = stats, errors[:MAX_ERRORS_KEPT]
    batch.status = "done" if ok else "failed"
    batch.finished_at = utcnow()
    db.session.add(batch)
    db.session.commit()
    return batch


def recent_batches(limit=50, offset=0):
    query = select(ImportBatch).order_by(ImportBatch.id.desc())
    total = db.session.scalar(select(db.func.count()).select_from(ImportBatch))
    return db.session.scalars(query.limit(limit).offset(offset)).all(), total
