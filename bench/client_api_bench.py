"""Client API benchmark: submit a meter reading and the account summary, through Kabinet's client
API and through bare Flask + SQLAlchemy apps doing the same database work, side by side.

    .venv/bin/python bench/client_api_bench.py            # ~8 minutes
    .venv/bin/python bench/client_api_bench.py --quick    # ~3 minutes

The bare apps (bench/bare_client_api.py) are two: ``bare-orm`` runs Kabinet's own statements
and models on a plain SQLAlchemy Session (the difference is the platform's overhead), and
``bare-core`` hand-written SQL on a Core connection (the least Python there can be). All run
under the same gunicorn settings against the same PostgreSQL database; rounds alternate their
order so that the noisy machine affects them alike. Two shapes of load, each
with --clients concurrent clients (default 50), from bench/http_load.py:

  throughput  closed loop: the next request as soon as the answer arrives. Kabinet's requests
              per second as a share of each bare app's (target >= 70%).
  latency     paced: each client thinks an exponential --think seconds between requests (the
              offered load a phone app makes); p99 at 50 clients (target < 50 ms). A closed loop
              cannot show this: with zero think time a request waits for the 49 before it.

The database (kabinet_bench_*) and the processes are removed at the end.
"""
import argparse
import json
import os
import statistics
import sys
import time
from datetime import date, timedelta
from decimal import Decimal

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import engine_bench  # noqa: E402  (Resources, gunicorn helpers, machine facts)
import http_load  # noqa: E402

ROOT = engine_bench.ROOT


def seed(res, url, customers, accounts_each, months):
    """Customers with verified accounts, one electricity meter each with ``months`` of readings
    and bills; returns ([(access_token, [account ids], [meter ids])], today's period)."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.models.accounts import Account, CustomerAccount, Supplier, SupplierService, Tariff
    from app.models.billing import Bill, BillLine
    from app.models.customers import Customer
    from app.models.meters import Meter, Reading
    from app.models.workflow import utcnow
    from app.services import customer_sessions, periods

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": engine_bench.base_env(res, url)["SECRET_KEY"],
                      "CUSTOMER_ACCESS_TOKEN_SECONDS": 7200, "DAILY_CHECK_SECONDS": 0})
    res.apps.append(app)
    today = date.today()
    current = periods.month_start(today)
    clients = []
    with app.app_context():
        upgrade()
        supplier = Supplier(code="bench", name="ООО «Бенч-Энерго»", kind="electricity", inn="7701234567",
                            kpp="770101001", bank_name="ПАО СБЕРБАНК", bic="044525225",
                            correspondent_account="30101810400000000225", settlement_account="40702810938000012345",
                            reading_window_start_day=1, reading_window_end_day=31)
        service = SupplierService(code="electricity", name="Электроэнергия", unit="кВт·ч", meter_kind="electricity")
        service.tariffs.append(Tariff(zone=1, price=Decimal("6.43"), valid_from=date(2020, 1, 1)))
        supplier.services = [service]
        db.session.add(supplier)
        db.session.flush()
        for c in range(customers):
            customer = Customer(phone=f"+7999{c:07d}", full_name=f"Клиент {c}", consent_at=utcnow())
            db.session.add(customer)
            db.session.flush()
            account_ids, meter_ids = [], []
            for a in range(accounts_each):
                account = Account(supplier=supplier, number=f"B{c:06d}{a:02d}", address=f"г. Москва, д. {c}, кв. {a}")
                db.session.add(account)
                db.session.flush()
                db.session.add(CustomerAccount(customer_id=customer.id, account_id=account.id, verified_at=utcnow()))
                meter = Meter(account=account, kind="electricity", serial=f"M{c:06d}{a:02d}", service=service,
                              zones=1, decimals=2)
                db.session.add(meter)
                db.session.flush()
                for back in range(months, 0, -1):
                    period = periods.add_months(current, -back)
                    db.session.add(Reading(meter_id=meter.id, period=period, zone=1, source="billing",
                                           value=Decimal(1000 + 100 * (months - back))))
                    total = Decimal("643.00")
                    bill = Bill(account_id=account.id, period=period, issued_on=period + timedelta(days=2),
                                total_due=total, charged=total)
                    bill.lines.append(BillLine(service_id=service.id, service_code="electricity",
                                               service_name="Электроэнергия", unit="кВт·ч", volume=Decimal(100),
                                               tariff=Decimal("6.43"), charge=total, total=total))
                    db.session.add(bill)
                account_ids.append(account.id)
                meter_ids.append(meter.id)
            tokens = customer_sessions.start(customer, "password")
            clients.append((tokens["access_token"], account_ids, meter_ids))
        db.session.commit()
        base_value = 1000 + 100 * months
    return clients, base_value


def start_bare(res, url, args, mode):
    """A bare app (BARE_MODE ``orm`` or ``core``) under the same gunicorn settings as Kabinet's."""
    port = engine_bench.free_port()
    env = engine_bench.base_env(res, url, {"PYTHONPATH": os.pathsep.join((BENCH, ROOT)), "BARE_MODE": mode})
    cmd = [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-w", str(args.web_workers),
           "-k", "gthread", "--threads", str(args.web_threads), "-b", f"127.0.0.1:{port}",
           "--timeout", "60", "bare_client_api:create_app()"]
    proc = res.spawn(cmd, env, f"bare-{mode}.log")
    base = f"http://127.0.0.1:{port}"
    engine_bench.wait_http(proc, base + "/health")
    return proc, base


def calls(clients, base_value):
    """The request makers of both endpoints; a reading climbs by 0.01 per call (an edit of the
    period's reading, never lower, never abnormal)."""

    def summary(index, n):
        token, _accounts, _meters = clients[index % len(clients)]
        return "GET", "/api/v1/client/accounts/summary", {"Authorization": f"Bearer {token}"}, None, (200,)

    def reading(index, n):
        token, _accounts, meters = clients[index % len(clients)]
        meter = meters[n % len(meters)]
        value = f"{Decimal(base_value + 50) + Decimal(n) / 100:.2f}"
        return ("POST", f"/api/v1/client/meters/{meter}/readings", {"Authorization": f"Bearer {token}"},
                {"values": [{"zone": 1, "value": value}]}, (200, 201))

    return {"summary": summary, "reading": reading}


def measure(targets, makers, args):
    """Alternating rounds; returns {endpoint: {target: {shape: [figures per round]}}}."""
    results = {}
    for endpoint, make in makers.items():  # warm-up: first requests fill caches and pools
        for base in targets.values():
            http_load.run(base, args.clients, 1.5, make)
    for round_no in range(args.rounds):
        order = list(targets.items()) if round_no % 2 == 0 else list(reversed(targets.items()))
        for endpoint, make in makers.items():
            for name, base in order:
                for shape, think in (("throughput", 0.0), ("latency", args.think)):
                    figures = http_load.run(base, args.clients, args.seconds, make, think_seconds=think)
                    results.setdefault(endpoint, {}).setdefault(name, {}).setdefault(shape, []).append(figures)
                    print(f"round {round_no + 1} {endpoint:8} {name:8} {shape:10} {figures['req_per_s']:7.1f} req/s "
                          f"p50 {figures['p50_ms']:.1f} p99 {figures['p99_ms']:.1f} ms errors {figures['errors']}",
                          flush=True)
    return results


def summarise(results):
    table = {}
    for endpoint, by_target in results.items():
        row = {}
        for name, shapes in by_target.items():
            row[name] = {
                "req_per_s": statistics.median(f["req_per_s"] for f in shapes["throughput"]),
                "latency_p50_ms": statistics.median(f["p50_ms"] for f in shapes["latency"]),
                "latency_p99_ms": statistics.median(f["p99_ms"] for f in shapes["latency"]),
                "paced_req_per_s": statistics.median(f["req_per_s"] for f in shapes["latency"]),
                "errors": sum(sum(f["errors"].values()) for s in shapes.values() for f in s),
            }
        for mode in ("orm", "core"):
            row[f"ratio_{mode}"] = row["kabinet"]["req_per_s"] / row[f"bare-{mode}"]["req_per_s"]
        table[endpoint] = row
    return table


def print_table(table, args):
    print(f"\n{args.clients} clients; gunicorn {args.web_workers} workers x {args.web_threads} threads; "
          f"medians of {args.rounds} rounds of {args.seconds:.0f} s")
    print("| endpoint | app | closed-loop req/s | paced req/s | paced p50 ms | paced p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    for endpoint, row in table.items():
        for name in ("kabinet", "bare-orm", "bare-core"):
            figures = row[name]
            print(f"| {endpoint} | {name} | {figures['req_per_s']:.0f} | {figures['paced_req_per_s']:.0f} | "
                  f"{figures['latency_p50_ms']:.1f} | {figures['latency_p99_ms']:.1f} | {figures['errors']} |")
        verdict_p99 = "met" if row["kabinet"]["latency_p99_ms"] < 50 else "MISSED"
        for mode in ("orm", "core"):
            ratio = row[f"ratio_{mode}"]
            print(f"| {endpoint} | Kabinet / bare-{mode} | {ratio * 100:.0f}% "
                  f"({'met' if ratio >= 0.7 else 'MISSED'}, target >= 70%) | | | p99 {verdict_p99} (< 50 ms) | |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--pg-url", default=os.environ.get("KABINET_BENCH_POSTGRES_URL",
                                                           "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--redis-url", default=os.environ.get("KABINET_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--accounts-each", type=int, default=2)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--think", type=float, default=1.0, help="mean think time of the paced load (s)")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.seconds = args.seconds or (5.0 if args.quick else 10.0)
    if args.quick:
        args.customers = min(args.customers, 200)

    os.environ["CUSTOMER_ACCESS_TOKEN_SECONDS"] = "7200"  # the gunicorn apps inherit it
    res = engine_bench.Resources(args.pg_url, args.redis_url)
    try:
        url = res.database("client_api")
        started = time.perf_counter()
        clients, base_value = seed(res, url, args.customers, args.accounts_each, args.months)
        print(f"seeded {len(clients)} customers x {args.accounts_each} accounts, {args.months} months "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
        kabinet, kabinet_base = engine_bench.start_gunicorn(res, url, argparse.Namespace(
            rest_jobs="inprocess", web_workers=args.web_workers, web_threads=args.web_threads))
        targets = {"kabinet": kabinet_base, **{f"bare-{mode}": start_bare(res, url, args, mode)[1]
                                                for mode in ("orm", "core")}}
        results = measure(targets, calls(clients, base_value), args)
        table = summarise(results)
        print(f"\n{engine_bench.machine()}; load average {engine_bench.loadavg()}")
        print_table(table, args)
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({"args": vars(args), "table": table}, handle, indent=2, default=str)
    finally:
        res.close()


if __name__ == "__main__":
    main()
