"""Billing import benchmark: 100,000 accounts with their meters into a fresh PostgreSQL database.

    .venv/bin/python bench/import_bench.py                     # 100,000 accounts, ~130,000 meters
    .venv/bin/python bench/import_bench.py --accounts 20000 --formats csv

For each format (CSV, JSON) it makes its own database (kabinet_bench_import_<pid>_<format>),
imports the accounts file and then the meters file twice through ``billing_import.import_file``
(the code the CLI and the admin upload call): the first run creates every row, the second finds
every row unchanged (idempotency). It checks those counts, prints seconds and rows/s per run,
and drops the databases at the end. "Python CPU" is this process's CPU time in the run (parsing,
checking, building statements); the rest of the wall time is PostgreSQL and waiting for a CPU.
docs/PERFORMANCE.md has the figures.
"""
import argparse
import contextlib
import csv
import io
import json
import logging
import os
import random
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)
logging.basicConfig(level=logging.WARNING)  # create_app's basicConfig(INFO) becomes a no-op

import sqlalchemy as sa

SUPPLIERS = [{"code": "bench-energo", "name": "ООО «Бенч-Энергосбыт»", "kind": "electricity", "inn": "7701234567",
              "kpp": "770101001", "bank_name": "ПАО СБЕРБАНК", "bic": "044525225",
              "correspondent_account": "30101810400000000225", "settlement_account": "40702810938000012345"}]
SERVICES = [{"supplier_code": "bench-energo", "code": code, "name": name, "unit": unit, "meter_kind": code}
            for code, name, unit in (("electricity", "Электроэнергия", "кВт·ч"),
                                     ("cold_water", "Холодная вода", "м³"), ("hot_water", "Горячая вода", "м³"))]
STREETS = ["ул. Ленина", "ул. Садовая", "пр-т Мира", "ул. Гагарина", "Лесная ул.", "ул. Пушкина"]
NAMES = ["Иванова Мария Петровна", "Петров Иван Сергеевич", "Сидоров Пётр Ильич", "Кузнецова Анна Викторовна"]


def generate(accounts, rng):
    """Accounts and meters as lists of dicts with the import's column names. Every account has an
    electricity meter; every third one also a water meter (≈1.33 meters per account). One phone in
    ten is written the way people type it (``8 (916) …``) and goes through libphonenumber."""
    account_rows, meter_rows = [], []
    for index in range(accounts):
        number = f"77{index:08d}"
        mobile = f"9{rng.randrange(10**9):09d}"
        account_rows.append({
            "supplier_code": "bench-energo", "number": number,
            "address": f"г. Москва, {rng.choice(STREETS)}, д. {index % 200 + 1}, кв. {index % 300 + 1}",
            "holder_name": rng.choice(NAMES),
            "phone": f"8 ({mobile[:3]}) {mobile[3:6]}-{mobile[6:8]}-{mobile[8:]}" if index % 10 == 0 else f"+7{mobile}",
            "prepaid": "0", "insurance_opt_out": "1" if index % 7 == 0 else "0", "closed": "0"})
        kinds = ["electricity"] + (["cold_water"] if index % 3 == 0 else [])
        for kind in kinds:
            year = 2015 + index % 10
            meter_rows.append({
                "supplier_code": "bench-energo", "account_number": number, "serial": f"{kind[0].upper()}-{index:08d}",
                "kind": kind, "zones": str(1 + index % 2) if kind == "electricity" else "1",
                "decimals": "1" if kind == "electricity" else "3", "location": "Прихожая",
                "installed_on": f"{year}-03-01", "last_verified_on": f"{year}-03-01",
                "verification_interval_years": "16" if kind == "electricity" else "6"})
    return account_rows, meter_rows


def encode(rows, file_format):
    if file_format == "json":
        return json.dumps(rows, ensure_ascii=False).encode()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode()


def build_app(url, tmp):
    from flask_migrate import upgrade

    from app import create_app

    buf = io.StringIO()
    with contextlib.redirect_stderr(buf), contextlib.redirect_stdout(buf):
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "START_TICKER": False, "JOBS_BACKEND": "inprocess",
                          "REDIS_URL": None, "OUTBOX_LOG_PATH": os.path.join(tmp, "outbox.log")})
        with app.app_context():
            upgrade()
    logging.getLogger().setLevel(logging.WARNING)
    return app


def run_format(admin, pg_url, file_format, accounts_file, meters_file, counts, tmp):
    from app.extensions import db
    from app.services import billing_import

    name = f"kabinet_bench_import_{os.getpid()}_{file_format}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    results = []
    try:
        app = build_app(sa.make_url(pg_url).set(database=name).render_as_string(hide_password=False), tmp)
        with app.app_context():
            for kind, rows in (("suppliers", SUPPLIERS), ("services", SERVICES)):
                assert billing_import.import_file(kind, encode(rows, "json"), "json").status == "done"
            for attempt, expect in ((1, "created"), (2, "unchanged")):
                for kind, data in (("accounts", accounts_file), ("meters", meters_file)):
                    started, cpu = time.perf_counter(), time.process_time()
                    batch = billing_import.import_file(kind, data, file_format, filename=f"{kind}.{file_format}",
                                                       started_by="bench")
                    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
                    stats = batch.stats
                    if batch.status != "done" or stats[expect] != counts[kind]:
                        raise SystemExit(f"{file_format} {kind} run {attempt}: expected {counts[kind]} {expect}, "
                                         f"got {batch.status} {stats} {batch.errors[:3]}")
                    results.append((file_format, kind, attempt, expect, counts[kind], len(data), cpu, seconds))
                    print(f"  {file_format} {kind:8} run {attempt}: {seconds:6.2f} s (Python CPU {cpu:.2f} s)  {stats}",
                          flush=True)
            db.session.remove()
            db.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--formats", default="csv,json")
    parser.add_argument("--pg-url", default=os.environ.get("KABINET_TEST_POSTGRES_URL",
                                                           "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        version = conn.execute(sa.text("SHOW server_version")).scalar()
    started = time.perf_counter()
    account_rows, meter_rows = generate(args.accounts, random.Random(args.seed))
    counts = {"accounts": len(account_rows), "meters": len(meter_rows)}
    print(f"PostgreSQL {version}; {counts['accounts']:,} accounts, {counts['meters']:,} meters "
          f"(generated in {time.perf_counter() - started:.1f} s); load average {os.getloadavg()[0]:.2f}")
    results = []
    with tempfile.TemporaryDirectory(prefix="kabinet-import-bench-") as tmp:
        for file_format in args.formats.split(","):
            files = (encode(account_rows, file_format), encode(meter_rows, file_format))
            results += run_format(admin, args.pg_url, file_format, *files, counts, tmp)
    admin.dispose()

    print("\n| format | file | run | result | rows | MB | seconds | rows/s | Python CPU s |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|")
    for file_format, kind, attempt, expect, rows, size, cpu, seconds in results:
        print(f"| {file_format} | {kind} | {attempt} | all {expect} | {rows:,} | {size / 1e6:.1f} | {seconds:.2f} "
              f"| {rows / seconds:,.0f} | {cpu:.2f} |")
    for file_format in args.formats.split(","):
        first = sum(r[-1] for r in results if r[0] == file_format and r[2] == 1)
        again = sum(r[-1] for r in results if r[0] == file_format and r[2] == 2)
        print(f"{file_format}: accounts + meters {first:.1f} s on the first import, {again:.1f} s on the re-import")
    print(f"load average at the end {os.getloadavg()[0]:.2f}; run took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
