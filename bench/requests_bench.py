"""Service requests (issue 5): how long the customer's and the staff's request paths take, in
process (Flask test client) on a fresh PostgreSQL database with in-process jobs.

    .venv/bin/python bench/requests_bench.py            # ~1 minute
    .venv/bin/python bench/requests_bench.py --rounds 20

Issue 5 sets no speed target; these figures are the baseline for later work. Each round files a
grid connection as a customer (draft with a document, submit: the process starts and reaches the
operator's completeness check), reads it back, and has the operator open its card (HTML with the
process diagram) and the staff API's card; plus the diagram alone and a redeploy of every shipped
process that changed nothing (what `make run` does at each start). Medians and p95 in ms.
"""
import argparse
import io
import os
import statistics
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.dirname(BENCH))

import engine_bench  # noqa: E402  (Resources, machine facts)

PDF = b"%PDF-1.4\n" + b"0" * 2048
from app.demo_grid_connection import FORM  # noqa: E402  (a complete grid connection form)


def timed(samples, name, func):
    started = time.perf_counter()
    result = func()
    samples.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    return result


def summary(values):
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    res = engine_bench.Resources(os.environ.get("KABINET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/postgres"),
                                 os.environ.get("KABINET_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    try:
        url = res.database("requests")
        from app.bootstrap import deploy_shipped
        from app.extensions import db
        from app.models.requests import ServiceRequest
        from app.services import bpmn_diagram
        from app.workflows import jobs
        from tests.conftest import PASSWORD, ApiClient, build_app
        from tests.support.customers import Person

        app = build_app(url, UPLOAD_DIR=os.path.join(res.tmp, "uploads"), OUTBOX_FILES_DIR=os.path.join(res.tmp, "out"))
        staff = app.test_client()  # the operator's browser session (CSRF is off in the test config)
        staff.post("/login/", data={"username": "operator", "password": PASSWORD})
        api = ApiClient(app, "operator")
        samples = {}
        person = Person(app)
        for _round in range(args.rounds):
            created = timed(samples, "create draft (client API)", lambda: person.call(
                "POST", "/requests/", json={"type": "grid_connection", "form_data": FORM}).get_json())
            rid = created["id"]
            person.http.post(f"/api/v1/client/requests/{rid}/attachments", headers=person.headers,
                             data={"file": (io.BytesIO(PDF), "plan.pdf")},
                             content_type="multipart/form-data")
            answer = timed(samples, "submit: form check + process start", lambda: person.call(
                "POST", f"/requests/{rid}/submit"))
            assert answer.status_code == 200, answer.get_json()
            with app.app_context():
                jobs.wait_for_jobs(db.session.get(ServiceRequest, rid).process_instance_id)
                db.session.remove()
            timed(samples, "request detail with tasks (client API)", lambda: person.call("GET", f"/requests/{rid}"))
            page = timed(samples, "request card, HTML with diagram (staff)", lambda: staff.get(f"/work/requests/{rid}"))
            assert page.status_code == 200 and b"kb-current" in page.data, page.status_code
            card = timed(samples, "request card (staff API)", lambda: api.get(f"/api/v1/requests/{rid}"))
            assert card.status_code == 200, card.get_json()
        xml = open(os.path.join(engine_bench.ROOT, "app", "bpmn", "grid_connection.bpmn"), encoding="utf-8").read()
        for _round in range(args.rounds):
            timed(samples, "diagram alone (grid_connection)", lambda: bpmn_diagram.render(xml, current=("check_completeness",)))
        with app.app_context():
            for _round in range(5):
                timed(samples, "redeploy of every shipped process, unchanged", deploy_shipped)
            db.session.remove()
        print(f"Machine: {engine_bench.machine()}; {args.rounds} rounds\n")
        print("| path | median ms | p95 ms |\n| --- | --- | --- |")
        for name, values in samples.items():
            median, p95 = summary(values)
            print(f"| {name} | {median:.1f} | {p95:.1f} |")
    finally:
        res.close()


if __name__ == "__main__":
    main()
