"""Engine benchmark: raw SpiffWorkflow, the engine gateway, the REST API, the inbox, workers.

    .venv/bin/python bench/engine_bench.py            # everything, ~6 minutes
    .venv/bin/python bench/engine_bench.py --quick    # shorter slices and fewer samples, ~2 minutes
    .venv/bin/python bench/engine_bench.py --only a,b --profile

Sections (docs/PERFORMANCE.md explains the figures):
  a  raw SpiffWorkflow cycle in memory (KabinetParser, stock serializer with the spec inside)
  b  the same cycle through the gateway on SQLite and PostgreSQL (service jobs run synchronously
     with service_runner.run_job; no queue)
  c  the REST API under gunicorn with concurrent clients (full process and a minimal one)
  d  the inbox with 100,000 open human tasks (gateway call and GET /api/v1/tasks/), and the
     EXPLAIN (ANALYZE) plan of every statement tasks.inbox() sends
  e  service-task round trip through Redis and a real `python worker.py`; SimpleWorker vs Worker
  f  resident memory of the gunicorn web workers after the load

(a) and (b) run interleaved in rounds so that the noisy machine affects all variants alike;
figures are medians over rounds and ratios are of medians.

Everything the run makes (PostgreSQL databases kabinet_bench_*, Redis keys with the run's
prefix, gunicorn and worker processes, a temporary directory) is removed at the end.
"""
import argparse
import contextlib
import io
import json
import logging
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)
logging.basicConfig(level=logging.WARNING)  # create_app's basicConfig(INFO) becomes a no-op

import redis
import requests
import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event, select

PASSWORD = "Bench-pass-2026!"
ROLES = ("Admin", "Operator", "Dispatcher", "Technician", "Billing", "Analyst")
VISIT = {"visit_date": "2026-12-01", "slot": "09:00-12:00", "technician": "technician"}
PREPARED = {"equipment_ready": True}
FORMS = {"schedule_visit": VISIT, "prepare_visit": PREPARED}

MINIMAL_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_bench_minimal"
                  targetNamespace="http://kabinet.local/bench">
  <bpmn:process id="bench_minimal" name="Bench: start, one user task, end" isExecutable="true">
    <bpmn:laneSet id="LaneSet_bench">
      <bpmn:lane id="Lane_dispatcher" name="Dispatcher"><bpmn:flowNodeRef>approve</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve" />
    <bpmn:userTask id="approve" name="Approve"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def start_data(number, kind="electricity"):
    return {"request_number": number, "customer_phone": "+79161234567", "meter_serial": "SN-1",
            "meter_kind": kind, "overdue": False}


# --- small statistics helpers ------------------------------------------------------------------

def pct(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def med(values):
    return statistics.median(values) if values else float("nan")


def fmt(value, digits=1):
    if value is None or math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}"


def tail(path, chars=2000):
    with open(path, errors="replace") as handle:
        return handle.read()[-chars:]


def loadavg():
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


# --- the run's resources -----------------------------------------------------------------------

class Resources:
    """Databases, Redis prefix, subprocesses and a temp dir, all removed by close()."""

    def __init__(self, pg_url, redis_url):
        self.run_id = uuid.uuid4().hex[:10]
        self.prefix = f"kabinet_bench_{self.run_id}"
        self.pg_admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        self.pg_url = pg_url
        self.redis_url = redis_url
        self.redis = redis.Redis.from_url(redis_url)
        self.tmp = tempfile.mkdtemp(prefix="kabinet-bench-")
        self.databases = []
        self.procs = []
        self.apps = []

    def database(self, label):
        name = f"kabinet_bench_{self.run_id}_{label}"
        with self.pg_admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self.databases.append(name)
        return self.pg_admin.url.set(database=name).render_as_string(hide_password=False)

    def spawn(self, args, env, log_name):
        path = os.path.join(self.tmp, log_name)
        with open(path, "wb") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        proc.log_path = path
        self.procs.append(proc)
        return proc

    def stop(self, proc, timeout=15):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc in self.procs:
            self.procs.remove(proc)

    def redis_cleanup(self):
        conn, prefix = self.redis, self.prefix
        doomed = set(conn.scan_iter(f"*{prefix}*"))
        for key in conn.scan_iter("rq:job:*"):
            parts = key.decode().split(":")
            if len(parts) != 3:
                continue
            origin = conn.hget(key, "origin")
            if origin and prefix in origin.decode():
                job_id = parts[2]
                doomed.add(key)
                doomed.update(conn.scan_iter(f"rq:*{job_id}*"))
        for key in conn.scan_iter("rq:worker:*"):
            try:
                queues = conn.hget(key, "queues")
            except redis.ResponseError:
                continue
            if queues and prefix in queues.decode():
                doomed.add(key)
                conn.srem("rq:workers", key)
        for member in conn.smembers("rq:queues"):
            if prefix in member.decode():
                conn.srem("rq:queues", member)
        if doomed:
            conn.delete(*doomed)
        return len(doomed)

    def close(self):
        for proc in list(self.procs):
            try:
                self.stop(proc, timeout=10)
            except Exception as exc:  # keep cleaning up
                print(f"could not stop {proc.args}: {exc}")
        for app in self.apps:
            try:
                with app.app_context():
                    from app.extensions import db
                    db.session.remove()
                    db.engine.dispose()
            except Exception as exc:  # keep cleaning up; DROP ... WITH (FORCE) follows
                print(f"could not dispose an engine: {exc}")
        with self.pg_admin.connect() as conn:
            for name in self.databases:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.pg_admin.dispose()
        removed = self.redis_cleanup()
        subprocess.run(["rm", "-rf", self.tmp], check=False)
        return removed


# --- apps in this process ------------------------------------------------------------------------

_SYNC_JOBS_KEY = "bench_sync_jobs"


def patch_enqueue():
    """With app.extensions[bench_sync_jobs] set, queued job ids are collected there instead of
    going to a queue, and the bench runs them with service_runner.run_job (section b)."""
    from app.workflows import jobs

    original = jobs.enqueue_service_job

    def enqueue(job_id, queue="default"):
        sink = current_app.extensions.get(_SYNC_JOBS_KEY)
        if sink is not None:
            sink.append(job_id)
            return None
        return original(job_id, queue)

    jobs.enqueue_service_job = enqueue


def build_app(res, url, users=True, **overrides):
    """A migrated app with one user per role and the shipped processes (as tests/conftest.py)."""
    from flask_migrate import upgrade

    from app import create_app
    from app.bootstrap import deploy_shipped, ensure_staff, init_security
    from app.workflows import deployment

    config = {
        "SQLALCHEMY_DATABASE_URI": url,
        "START_TICKER": False,
        "JOBS_BACKEND": "inprocess",
        "WTF_CSRF_ENABLED": False,
        "OUTBOX_LOG_PATH": os.path.join(res.tmp, "outbox.log"),
        "REDIS_URL": None,
        **overrides,
    }
    buf = io.StringIO()
    try:
        with contextlib.redirect_stderr(buf), contextlib.redirect_stdout(buf):
            app = create_app(config)
            res.apps.append(app)
            with app.app_context():
                upgrade()
                init_security(app)
                if users:
                    ensure_staff(app, [(role.lower(), role, role, "Bench") for role in ROLES], PASSWORD,
                                 "bench.local")
                deploy_shipped()
                deployment.deploy(MINIMAL_BPMN, deployed_by="bench")
    except Exception:
        sys.stderr.write(buf.getvalue())
        raise
    logging.getLogger().setLevel(logging.WARNING)
    return app


def rq_app(res, url):
    """A second app on an existing database, enqueueing to RQ under the run's prefix."""
    from app import create_app

    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": url, "START_TICKER": False, "JOBS_BACKEND": "rq",
            "REDIS_URL": res.redis_url, "REDIS_PREFIX": res.prefix,
            "RATELIMIT_STORAGE_URI": "memory://",
            "OUTBOX_LOG_PATH": os.path.join(res.tmp, "outbox.log"),
        })
    res.apps.append(app)
    return app


class StatementCounter:
    def __init__(self, engine):
        self.engine = engine
        self.statements = 0
        self.commits = 0

    def _stmt(self, *args):
        self.statements += 1

    def _commit(self, *args):
        self.commits += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._stmt)
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._stmt)
        event.remove(self.engine, "commit", self._commit)


# --- (a) raw SpiffWorkflow -------------------------------------------------------------------------

class RawCycle:
    """start -> first wait -> serialize -> deserialize -> complete it -> ... -> end, in memory.

    A round trip through JSON at every wait state: after start, after each service task, user task
    and the message, i.e. where the gateway saves and loads. Service tasks are completed inline,
    the message is delivered with BpmnEvent.
    """

    def __init__(self, process="meter_verification", specless=False):
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
        from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
        from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter

        from app.bootstrap import read_shipped, shipped_process
        from app.workflows import scripting, spiff

        self.spiff = spiff
        parser = spiff.KabinetParser()
        if process == "meter_verification":
            bpmn, dmns, _forms = read_shipped(shipped_process(process))
        else:
            bpmn, dmns = MINIMAL_BPMN, []
        parser.add_bpmn_xml(spiff.parse_xml(bpmn), filename=f"{process}.bpmn")
        for index, dmn in enumerate(dmns):
            parser.add_dmn_xml(spiff.parse_xml(dmn), filename=f"decision-{index}.dmn")
        self.spec = parser.get_spec(process)
        self.subprocess_specs = parser.get_subprocess_specs(process)
        # The stock Spiff serializer (spec inside the state), told about the parser's task class.
        config = dict(SPIFF_CONFIG)
        config[spiff.AsyncServiceTask] = ServiceTaskConverter
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
        self.specless = specless
        # The same restricted script engine the gateway uses (the model calls deadline(), add_years()).
        self.engine = scripting.script_engine({"deadline": lambda name, default: default}, 1.0)
        self.last_state_bytes = 0
        self.round_trips = 0

    def _round_trip(self, workflow):
        if self.specless:
            state = self.spiff.dump_state(workflow)
            workflow = self.spiff.load_state(state, self.spec, self.subprocess_specs)
        else:
            state = self.serializer.serialize_json(workflow)
            workflow = self.serializer.deserialize_json(state)
        workflow.script_engine = self.engine  # not serialised
        self.last_state_bytes = len(state)
        self.round_trips += 1
        return workflow

    def __call__(self, number="MV-1"):
        from SpiffWorkflow.bpmn import BpmnWorkflow
        from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
        from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
        from SpiffWorkflow.bpmn.util.event import BpmnEvent
        from SpiffWorkflow.util.task import TaskState

        workflow = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=self.engine)
        for task in [workflow.task_tree, *workflow.task_tree.children]:
            task.data.update(start_data(number))
        workflow.refresh_timers()
        workflow.do_engine_steps()
        self.round_trips = 0
        while not workflow.is_completed():
            workflow = self._round_trip(workflow)
            tasks = list(workflow.tasks.values())
            service = [t for t in tasks if t.state == TaskState.STARTED
                       and isinstance(t.task_spec, self.spiff.AsyncServiceTask)]
            user = [t for t in tasks if t.state == TaskState.READY and isinstance(t.task_spec, UserTask)]
            if service:
                task = service[0]
                task.data[task.task_spec.result_variable] = {"message_id": 1, "status": "sent"}
                task.complete()
            elif user:
                task = user[0]
                task.task_spec.add_data_from_form(task, FORMS.get(task.task_spec.bpmn_id, {}))
                task.run()
            else:
                waiting = [t for t in workflow.event_manager.tasks.values()
                           if isinstance(t.task_spec.event_definition, MessageEventDefinition)
                           and t.state == TaskState.WAITING]
                if not waiting:
                    raise RuntimeError("raw cycle stuck")
                definition = waiting[0].task_spec.event_definition
                body = {"result": "passed", "request_number": number}
                correlations = definition.calculate_correlations(
                    workflow.script_engine, definition.correlation_properties, body)
                workflow.catch(BpmnEvent(definition, body, correlations))
            workflow.refresh_timers()
            workflow.do_engine_steps()
        return workflow


# --- (b) the gateway -----------------------------------------------------------------------------

class GatewayCycle:
    """The same cycle through app.workflows (instances.start, tasks.complete, messages.send,
    service_runner.run_job on each queued job id). db.session.remove() after each call, as at the
    end of a web request. The bench finds the open task with one indexed select by instance."""

    def __init__(self, app, process="meter_verification"):
        self.app = app
        self.process = process
        self.sink = app.extensions.setdefault(_SYNC_JOBS_KEY, [])  # one per app
        self.counter = 0
        self.tag = uuid.uuid4().hex[:6]

    def _drain(self):
        from app.extensions import db
        from app.workflows import service_runner

        while self.sink:
            service_runner.run_job(self.sink.pop(0))
            db.session.remove()

    def _open_task(self, instance_id):
        from app.extensions import db
        from app.models.workflow import HumanTask

        task = db.session.execute(
            select(HumanTask.id, HumanTask.name)
            .where(HumanTask.instance_id == instance_id, HumanTask.status == "open")
        ).one()
        db.session.remove()
        return task

    def __call__(self):
        from app.extensions import db
        from app.workflows import instances, messages, tasks

        self.counter += 1
        number = f"GW-{self.tag}-{self.counter}"
        dispatcher = tasks.Worker("dispatcher", ["Dispatcher"])
        technician = tasks.Worker("technician", ["Technician"])
        if self.process != "meter_verification":
            instance_id = instances.start(self.process, number, {}, actor="dispatcher").id
            db.session.remove()
            task_id, _name = self._open_task(instance_id)
            tasks.complete(task_id, dispatcher, {})
            db.session.remove()
            return instance_id
        instance_id = instances.start("meter_verification", number, start_data(number), actor="operator").id
        db.session.remove()
        self._drain()
        for worker in (dispatcher, technician):
            task_id, name = self._open_task(instance_id)
            tasks.complete(task_id, worker, FORMS[name])
            db.session.remove()
            self._drain()
        messages.send("verification_report", {"request_number": number}, {"result": "passed"}, actor="technician")
        db.session.remove()
        self._drain()
        return instance_id

    def check(self, instance_id):
        from app.extensions import db
        from app.models.workflow import ProcessInstance

        status = db.session.get(ProcessInstance, instance_id).status
        db.session.remove()
        if status != "completed":
            raise RuntimeError(f"{self.process} instance {instance_id} ended {status}")


class Variant:
    def __init__(self, name, run, ctx=None):
        self.name = name
        self.run = run
        self.ctx = ctx
        self.rates = []
        self.cycle_ms = []

    def slice(self, seconds):
        with (self.ctx() if self.ctx else contextlib.nullcontext()):
            count, started = 0, time.perf_counter()
            while True:
                t0 = time.perf_counter()
                self.run()
                now = time.perf_counter()
                self.cycle_ms.append((now - t0) * 1000)
                count += 1
                if now - started >= seconds:
                    break
        self.rates.append(count / (now - started))


def section_ab(res, args, results, apps):
    print("\n== (a) raw SpiffWorkflow and (b) the gateway, interleaved rounds", flush=True)
    raw_full = RawCycle()
    raw_specless = RawCycle(specless=True)
    raw_minimal = RawCycle("bench_minimal")
    wf = raw_full()
    assert wf.data.get("next_verification") == "2042-12-01", wf.data
    results["raw_state_bytes"] = raw_full.last_state_bytes
    results["raw_round_trips"] = raw_full.round_trips
    raw_specless()
    results["specless_state_bytes"] = raw_specless.last_state_bytes

    variants = [
        Variant("a raw, full process", raw_full),
        Variant("a raw, full, spec-less state (as the gateway)", raw_specless),
        Variant("a raw, minimal process", raw_minimal),
    ]
    from app.extensions import db

    for label, app in (("SQLite", apps["sqlite"]), ("PostgreSQL", apps["pg"])):
        for process, tag in (("meter_verification", "full process"), ("bench_minimal", "minimal process")):
            cycle = GatewayCycle(app, process)
            with app.app_context():
                cycle.check(cycle())  # warm up, and prove the cycle ends
                with StatementCounter(db.engine) as counter:
                    cycle()
                results[f"sql_{label}_{process}"] = (counter.statements, counter.commits)
            variants.append(Variant(f"b gateway {label}, {tag}", cycle, app.app_context))

    rounds, seconds = args.rounds, args.slice
    print("  variants: " + "; ".join(f"[{i + 1}] {v.name}" for i, v in enumerate(variants)), flush=True)
    for r in range(rounds):
        for variant in variants:
            variant.slice(seconds)
        print(f"  round {r + 1}/{rounds} (cycles/s): " + ", ".join(f"[{i + 1}] {v.rates[-1]:.1f}"
                                                                  for i, v in enumerate(variants)), flush=True)
    results["ab"] = {v.name: {"rate": med(v.rates), "rates": v.rates, "cycle_ms_p50": med(v.cycle_ms),
                              "cycle_ms_p95": pct(v.cycle_ms, 95)} for v in variants}


# --- (c) REST under gunicorn ---------------------------------------------------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(res, url, extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "JOBS_BACKEND", "DATABASE_URL")}
    env.update({
        "DATABASE_URL": url,
        "SECRET_KEY": f"bench-{res.run_id}-not-a-secret",
        "STAFF_API_LOGIN_RATE_LIMIT": "100000 per minute",
        "STAFF_2FA_REQUIRED_ROLES": "",  # admin and analyst log in by password (docs/security.md)
        "OUTBOX_LOG_PATH": os.path.join(res.tmp, "outbox.log"),
        "START_TICKER": "0",
        "REDIS_PREFIX": res.prefix,
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra or {})
    return env


def start_worker(res, url, name, burst=False, fork=False):
    env = base_env(res, url, {"REDIS_URL": res.redis_url, "JOBS_BACKEND": "rq"})
    if fork:
        args = [sys.executable, os.path.abspath(__file__), "--_fork-worker"]
    else:
        args = [sys.executable, "worker.py"] + (["--burst"] if burst else [])
    return res.spawn(args, env, f"{name}.log")


def wait_worker_ready(res, proc, timeout=30):
    """A worker is ready once it registered itself on our queues in Redis."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited: {tail(proc.log_path)[-2000:]}")
        for key in res.redis.smembers("rq:workers"):
            try:
                queues = res.redis.hget(key, "queues")
            except redis.ResponseError:
                continue
            pid = res.redis.hget(key, "pid")
            if queues and res.prefix in queues.decode() and pid and int(pid) == proc.pid:
                return
        time.sleep(0.1)
    raise RuntimeError("worker did not register in time")


def start_gunicorn(res, url, args):
    port = free_port()
    extra = {"JOBS_BACKEND": "inprocess"}
    if args.rest_jobs == "rq":
        extra = {"JOBS_BACKEND": "rq", "REDIS_URL": res.redis_url}
    env = base_env(res, url, extra)
    cmd = [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-w", str(args.web_workers),
           "-k", "gthread", "--threads", str(args.web_threads), "-b", f"127.0.0.1:{port}",
           "--timeout", "60", "app:create_app()"]
    proc = res.spawn(cmd, env, "gunicorn.log")
    proc.cmd = " ".join(cmd[1:-1]) + ' "app:create_app()"'
    base = f"http://127.0.0.1:{port}"
    wait_http(proc, base + "/health")
    return proc, base


def wait_http(proc, url, timeout=60):
    """Wait until the server of ``proc`` answers ``url``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {tail(proc.log_path)[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code in (200, 503):
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def login(base, username):
    response = requests.post(base + "/api/v1/security/login",
                             json={"username": username, "password": PASSWORD, "provider": "db"}, timeout=30)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


class RestStats:
    def __init__(self):
        self.lock = threading.Lock()
        self.cycles = 0
        self.cycle_ms = []
        self.requests = 0
        self.polls = 0
        self.errors = {}
        self.latency = {}

    def record(self, kind, ms):
        with self.lock:
            self.requests += 1
            self.latency.setdefault(kind, []).append(ms)

    def error(self, what):
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1


class RestClient:
    def __init__(self, base, headers, stats, poll_interval):
        self.base = base
        self.headers = headers
        self.stats = stats
        self.session = requests.Session()
        self.poll_interval = poll_interval
        self.tag = uuid.uuid4().hex[:6]
        self.count = 0

    def call(self, kind, method, path, user, body=None, expect=200):
        t0 = time.perf_counter()
        response = self.session.request(method, self.base + path, json=body, headers=self.headers[user], timeout=60)
        self.stats.record(kind, (time.perf_counter() - t0) * 1000)
        if response.status_code != expect:
            raise RuntimeError(f"{kind} {response.status_code}: {response.text[:200]}")
        return response.json()

    def find_task(self, user, process_key, instance_id, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            page = self.call("inbox", "GET", f"/api/v1/tasks/?process_key={process_key}&page_size=100", user)
            for task in page["result"]:
                if task["instance_id"] == instance_id:
                    return task
            if time.monotonic() > deadline:
                raise RuntimeError(f"no task for instance {instance_id}")
            with self.stats.lock:
                self.stats.polls += 1
            time.sleep(self.poll_interval)

    def wait_completed(self, business_key, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            page = self.call("search", "GET", f"/api/v1/process-instances/?business_key={business_key}", "operator")
            if page["result"] and page["result"][0]["status"] == "completed":
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{business_key} did not complete")
            with self.stats.lock:
                self.stats.polls += 1
            time.sleep(self.poll_interval)

    def ceiling(self):
        """One authenticated GET with one light query: gunicorn + Flask + FAB/JWT, no engine."""
        self.call("ceiling", "GET", "/api/v1/process-definitions/", "dispatcher")

    def minimal_cycle(self):
        self.count += 1
        instance = self.call("start", "POST", "/api/v1/process-definitions/bench_minimal/start", "dispatcher",
                             {"business_key": f"MIN-{self.tag}-{self.count}", "data": {}}, expect=201)
        task = self.find_task("dispatcher", "bench_minimal", instance["id"])
        self.call("complete", "POST", f"/api/v1/tasks/{task['id']}/complete", "dispatcher", {"data": {}})

    def full_cycle(self):
        self.count += 1
        number = f"REST-{self.tag}-{self.count}"
        instance = self.call("start", "POST", "/api/v1/process-definitions/meter_verification/start", "operator",
                             {"business_key": number, "data": start_data(number)}, expect=201)
        task = self.find_task("dispatcher", "meter_verification", instance["id"])
        self.call("complete", "POST", f"/api/v1/tasks/{task['id']}/complete", "dispatcher", {"data": VISIT})
        task = self.find_task("technician", "meter_verification", instance["id"])
        self.call("complete", "POST", f"/api/v1/tasks/{task['id']}/complete", "technician", {"data": PREPARED})
        self.call("message", "POST", "/api/v1/messages/verification_report", "technician",
                  {"correlation": {"request_number": number}, "payload": {"result": "passed"}})
        self.wait_completed(number)


def rest_load(base, headers, kind, clients, seconds, poll_interval, meter=None):
    stats = RestStats()
    stop = time.monotonic() + seconds

    def loop():
        client = RestClient(base, headers, stats, poll_interval)
        run = {"full": client.full_cycle, "minimal": client.minimal_cycle, "ceiling": client.ceiling}[kind]
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                run()
            except Exception as exc:
                stats.error(str(exc)[:80])
                time.sleep(0.05)
                continue
            with stats.lock:
                stats.cycles += 1
                stats.cycle_ms.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    with (meter or contextlib.nullcontext()):
        threads = [threading.Thread(target=loop, daemon=True) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    elapsed = time.perf_counter() - started
    cycles = max(stats.cycles, 1)
    cpu = {}
    if meter is not None:
        cpu = {"client_ms": meter.client / cycles * 1000, "web_ms": meter.web / cycles * 1000,
               "postgres_ms": meter.postgres / cycles * 1000,
               "busy_cores": (meter.client + meter.web + meter.postgres) / meter.wall,
               "other_cores": meter.other / meter.wall}
    return {
        "cpu_per_cycle": cpu,
        "rate": stats.cycles / elapsed,
        "req_per_s": stats.requests / elapsed,
        "cycles": stats.cycles,
        "requests_per_cycle": stats.requests / max(stats.cycles, 1),
        "polls_per_cycle": stats.polls / max(stats.cycles, 1),
        "cycle_ms_p50": med(stats.cycle_ms),
        "latency_ms_p50": {k: med(v) for k, v in stats.latency.items()},
        "errors": stats.errors,
    }


def section_c(res, args, results, web):
    print(f"\n== (c) REST under gunicorn ({args.web_workers} workers x {args.web_threads} threads, "
          f"jobs {args.rest_jobs}), {args.clients} client threads", flush=True)
    workers = []
    if args.rest_jobs == "rq":
        for i in range(args.rest_rq_workers):
            workers.append(start_worker(res, web["url"], f"rest-worker-{i}"))
        for proc in workers:
            wait_worker_ready(res, proc)
    proc, base = start_gunicorn(res, web["url"], args)
    web["gunicorn"], web["base"] = proc, base
    results["gunicorn_cmd"] = proc.cmd
    headers = {user: login(base, user) for user in ("operator", "dispatcher", "technician", "admin", "analyst")}
    web["headers"] = headers
    # The minimal process is deployed through the API (the in-process build deployed it already,
    # so the API answers 200 "unchanged"; on a fresh database it is 201).
    response = requests.post(base + "/api/v1/process-definitions/", headers=headers["analyst"], timeout=30,
                             json={"bpmn": MINIMAL_BPMN})
    if response.status_code not in (200, 201):
        raise RuntimeError(f"deploy via the API failed: {response.status_code} {response.text[:300]}")
    rest_load(base, headers, "minimal", args.clients, 2, args.poll_interval)  # warm up both workers
    rest_load(base, headers, "full", args.clients, 2, args.poll_interval)
    runs = {"ceiling": [], "minimal": [], "full": []}
    extra = [pid for w in workers for pid in [w.pid]]
    for r in range(args.rest_rounds):
        for kind in runs:
            seconds = args.rest_seconds if kind != "ceiling" else max(args.rest_seconds / 3, 3)
            result = rest_load(base, headers, kind, args.clients, seconds, args.poll_interval,
                               CpuMeter(proc, extra))
            runs[kind].append(result)
            print(f"  round {r + 1}: {kind}: {result['rate']:.1f} cycles/s, {result['req_per_s']:.0f} req/s, "
                  f"errors {sum(result['errors'].values())}", flush=True)
    summary = {}
    for kind, items in runs.items():
        summary[kind] = {
            "rate": med([i["rate"] for i in items]),
            "req_per_s": med([i["req_per_s"] for i in items]),
            "requests_per_cycle": med([i["requests_per_cycle"] for i in items]),
            "polls_per_cycle": med([i["polls_per_cycle"] for i in items]),
            "cycle_ms_p50": med([i["cycle_ms_p50"] for i in items]),
            "latency_ms_p50": {k: med([i["latency_ms_p50"].get(k, float("nan")) for i in items])
                               for k in items[0]["latency_ms_p50"]},
            "errors": {k: v for i in items for k, v in i["errors"].items()},
            "rates": [i["rate"] for i in items],
            "cpu_per_cycle": {k: med([i["cpu_per_cycle"][k] for i in items]) for k in items[0]["cpu_per_cycle"]},
        }
    results["c"] = summary
    results["rss_after_c"] = gunicorn_rss(proc)


# --- (f) memory ----------------------------------------------------------------------------------

def children(pid):
    result = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    result.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return sorted(result)


def rss_mb(pid):
    values = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                values[key] = int(value.split()[0]) / 1024
    return values.get("VmRSS", float("nan")), values.get("VmHWM", float("nan"))


def gunicorn_rss(proc):
    return {pid: rss_mb(pid) for pid in children(proc.pid)}


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICK
        except (OSError, IndexError, ValueError):
            pass
    return total


def postgres_pids():
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as handle:
                    if handle.read().strip() == "postgres":
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


class CpuMeter:
    """CPU seconds spent by the client (this process), the gunicorn workers and every postgres
    process during a block (postgres includes any other load on the server)."""

    def __init__(self, gunicorn_proc, extra_pids=()):
        self.gunicorn_proc = gunicorn_proc
        self.extra_pids = list(extra_pids)

    @staticmethod
    def _machine():
        """Busy CPU seconds of the whole machine (user, nice, system, irq, softirq, steal)."""
        with open("/proc/stat") as handle:
            fields = [int(x) for x in handle.readline().split()[1:9]]
        return (sum(fields[:3]) + sum(fields[5:8])) / _TICK

    def _sample(self):
        web = children(self.gunicorn_proc.pid) + self.extra_pids
        return (time.process_time(), cpu_seconds(web), cpu_seconds(postgres_pids()), self._machine(),
                time.perf_counter())

    def __enter__(self):
        self.start = self._sample()
        return self

    def __exit__(self, *exc):
        end = self._sample()
        self.client, self.web, self.postgres, machine, self.wall = (b - a for a, b in zip(self.start, end))
        self.other = max(machine - self.client - self.web - self.postgres, 0.0)


# --- (d) inbox with 100,000 open tasks -------------------------------------------------------------

INBOX_ROLES = [("Dispatcher", 40), ("Technician", 25), ("Operator", 15), ("Billing", 10), ("Analyst", 8), (None, 2)]


def seed_inbox(url, rows):
    """Bulk insert ``rows`` process_instance rows, each with one open human_task, spread over roles
    (2% in the customer's lane); 20% have no due date; 5% are claimed."""
    engine = sa.create_engine(url)
    cases, bound = [], 0
    for role, share in INBOX_ROLES:
        bound += share
        cases.append(f"WHEN p.id % 100 < {bound} THEN " + ("NULL" if role is None else f"'{role}'"))
    role_expr = "CASE " + " ".join(cases) + " END"
    form = json.dumps({"type": "object", "required": ["visit_date"], "properties": {
        "visit_date": {"type": "string", "format": "date", "title": "Дата визита"},
        "comment": {"type": "string", "maxLength": 500}}}, ensure_ascii=False)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        definition_id = conn.execute(sa.text(
            "SELECT id FROM process_definition WHERE key = 'meter_verification' ORDER BY version DESC LIMIT 1")).scalar()
        conn.execute(sa.text("""
            INSERT INTO process_instance (definition_id, process_key, business_key, status, current_activities,
                                          lock_version, created_at, updated_at)
            SELECT :definition_id, 'meter_verification', 'INBOX-' || g, 'waiting', '|Назначить визит техника|',
                   1, now(), now()
            FROM generate_series(1, :rows) AS g"""), {"definition_id": definition_id, "rows": rows})
        conn.execute(sa.text(f"""
            INSERT INTO human_task (instance_id, process_key, task_guid, name, title, lane, candidate_role,
                                    for_customer, assignee, form_schema, due_at, status, created_at)
            SELECT p.id, 'meter_verification', md5(p.id::text || 'bench')::uuid::text, 'schedule_visit',
                   'Назначить визит техника', coalesce(r.role, 'Customer'), r.role, r.role IS NULL,
                   CASE WHEN r.g % 20 = 0 AND r.role IS NOT NULL THEN lower(r.role) END,
                   CAST(:form AS json),
                   CASE WHEN r.g % 5 = 0 THEN NULL
                        ELSE now() + make_interval(mins => ((r.g * 7919) % 86400) - 43200) END,
                   'open', now()
            FROM process_instance p
            CROSS JOIN LATERAL (SELECT p.id AS g, {role_expr} AS role) r
            WHERE p.business_key LIKE 'INBOX-%'"""), {"form": form})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE human_task"))
        conn.execute(sa.text("VACUUM ANALYZE process_instance"))
        counts = dict(conn.execute(sa.text(
            "SELECT coalesce(candidate_role, 'customer'), count(*) FROM human_task WHERE status = 'open' "
            "GROUP BY 1")).all())
    engine.dispose()
    return time.perf_counter() - t0, counts


def timed(func, n):
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        func()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def capture_statements(engine, func):
    """The SQL ``func`` sends, as (statement, parameters) pairs, via a before_cursor_execute
    listener: exactly what the driver receives, with the driver's own parameters."""
    sent = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        func()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return sent


def explain_inbox(app, worker):
    """EXPLAIN (ANALYZE, BUFFERS) of every statement tasks.inbox(worker) issues (the page, then
    one count per source), captured from the shipped code rather than written out here."""
    from app.extensions import db
    from app.workflows import tasks

    with app.app_context():
        sent = capture_statements(db.engine, lambda: tasks.inbox(worker))
        db.session.remove()
        plans = []
        with db.engine.connect() as conn:
            for statement, parameters in sent:
                if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                    continue
                cursor = conn.connection.dbapi_connection.cursor()
                sql = cursor.mogrify(statement, parameters).decode()  # what psycopg2 sends
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) " + sql)
                plans.append({"sql": sql, "plan": [row[0] for row in cursor.fetchall()]})
                cursor.close()
            conn.rollback()
    return plans


def serialise_page(app, n):
    """One page of 50 serialised as GET /api/v1/tasks/ does it (app/api/staff/tasks.py dump_task)."""
    from app.api.staff.tasks import dump_task
    from app.extensions import db
    from app.workflows import tasks

    with app.app_context():
        rows, _total = tasks.inbox(tasks.Worker("dispatcher", ["Dispatcher"]))

        def page():
            [dump_task(t) for t in rows]

        page()
        samples = timed(page, n)
        db.session.remove()
    return samples


def section_d(res, args, results, web):
    print(f"\n== (d) inbox with {args.inbox_rows:,} open human tasks", flush=True)
    seconds, counts = seed_inbox(web["url"], args.inbox_rows)
    results["inbox_seed"] = {"seconds": seconds, "open_by_role": counts}
    print(f"  seeded in {seconds:.1f} s: {counts}", flush=True)
    app = web["app"]
    from app.extensions import db
    from app.workflows import tasks

    n = args.inbox_samples
    out = {}
    workers = {
        "Dispatcher (largest role)": tasks.Worker("dispatcher", ["Dispatcher"]),
        "Admin (all open tasks)": tasks.Worker("admin", ["Admin"], is_admin=True),
    }
    with app.app_context():
        for label, worker in workers.items():
            def call(worker=worker):
                rows, total = tasks.inbox(worker)
                assert len(rows) == 50 and total > 1000, (len(rows), total)
                db.session.remove()
            call()
            samples = timed(call, n)
            out[f"tasks.inbox() {label}"] = samples
        db.session.remove()
    base, headers = web["base"], web["headers"]
    session = requests.Session()
    for label, user in (("GET /api/v1/tasks/ Dispatcher", "dispatcher"), ("GET /api/v1/tasks/ Admin", "admin")):
        def get(user=user):
            response = session.get(base + "/api/v1/tasks/", headers=headers[user], timeout=30)
            assert response.status_code == 200 and len(response.json()["result"]) == 50, response.status_code
        get()
        get()
        out[label] = timed(get, n)
    out["serialise one page of 50: dump_task per row (GET /api/v1/tasks/)"] = serialise_page(app, n)
    results["inbox_plans"] = {label: explain_inbox(app, worker) for label, worker in workers.items()}
    results["d"] = {k: {"p50": med(v), "p95": pct(v, 95), "n": len(v)} for k, v in out.items()}
    for k, v in results["d"].items():
        print(f"  {k}: p50 {v['p50']:.1f} ms, p95 {v['p95']:.1f} ms", flush=True)
    results["rss_after_d"] = gunicorn_rss(web["gunicorn"])


# --- (e) service tasks through Redis and worker.py ------------------------------------------------

def section_e(res, args, results, pg):
    print("\n== (e) service-task round trip: PostgreSQL + Redis + python worker.py", flush=True)
    app = rq_app(res, pg["url"])
    app.extensions.pop(_SYNC_JOBS_KEY, None)
    from app.extensions import db
    from app.workflows import instances

    probe = sa.create_engine(pg["url"], isolation_level="AUTOCOMMIT", pool_size=1)
    proc = start_worker(res, pg["url"], "worker-latency")
    wait_worker_ready(res, proc)
    start_ms, round_trip_ms, db_ms = [], [], []
    with app.app_context(), probe.connect() as conn:
        for i in range(args.e_samples + 3):
            number = f"LAT-{res.run_id}-{i}"
            t0 = time.perf_counter()
            instance_id = instances.start("meter_verification", number, start_data(number), actor="operator").id
            db.session.remove()
            t1 = time.perf_counter()  # committed and enqueued: a service job is on the queue
            while conn.execute(sa.text("SELECT 1 FROM human_task WHERE instance_id = :i"), {"i": instance_id}).first() is None:
                if time.perf_counter() - t1 > 30:
                    raise RuntimeError(f"worker did not move instance {instance_id}: "
                                       f"{tail(proc.log_path)[-2000:]}")
                time.sleep(0.0005)
            t2 = time.perf_counter()
            row = conn.execute(sa.text(
                "SELECT j.created_at, i.updated_at FROM service_job j JOIN process_instance i ON i.id = j.instance_id "
                "WHERE j.instance_id = :i"), {"i": instance_id}).one()
            if i >= 3:  # the first ones warm the worker up
                start_ms.append((t1 - t0) * 1000)
                round_trip_ms.append((t2 - t1) * 1000)
                db_ms.append((row[1] - row[0]).total_seconds() * 1000)
            time.sleep(0.02)
    res.stop(proc)
    probe.dispose()
    results["e_latency"] = {
        "start_ms_p50": med(start_ms),
        "round_trip_ms_p50": med(round_trip_ms), "round_trip_ms_p95": pct(round_trip_ms, 95),
        "job_created_to_instance_saved_ms_p50": med(db_ms), "n": len(round_trip_ms),
    }
    print(f"  enqueue -> worker -> human task visible: p50 {med(round_trip_ms):.1f} ms, "
          f"p95 {pct(round_trip_ms, 95):.1f} ms (start() itself p50 {med(start_ms):.1f} ms)", flush=True)

    # Throughput: fill the queue with N jobs while no worker runs, then drain it with a burst worker.
    throughput = {"SimpleWorker (worker.py --burst)": [], "Worker, fork per job": []}
    for r in range(args.e_rounds):
        for label, fork in (("SimpleWorker (worker.py --burst)", False), ("Worker, fork per job", True)):
            n = args.e_jobs if not fork else max(args.e_jobs // 2, 10)
            ids = []
            with app.app_context():
                for i in range(n):
                    number = f"THR-{res.run_id}-{r}-{int(fork)}-{i}"
                    ids.append(instances.start("meter_verification", number, start_data(number), actor="operator").id)
                    db.session.remove()
            proc = start_worker(res, pg["url"], f"worker-burst-{r}-{int(fork)}", burst=True, fork=fork)
            try:
                proc.wait(300)
            finally:
                res.stop(proc)
            with app.app_context():
                done = db.session.execute(sa.text(
                    "SELECT count(*), min(updated_at), max(updated_at) FROM service_job "
                    "WHERE status = 'done' AND instance_id = ANY(:ids)"), {"ids": ids}).one()
                db.session.remove()
            count, first, last = done
            if count != n:
                raise RuntimeError(f"{label}: {count}/{n} jobs done; log: {tail(proc.log_path)[-2000:]}")
            rate = (count - 1) / max((last - first).total_seconds(), 1e-6)
            throughput[label].append(rate)
            print(f"  round {r + 1}: {label}: {count} jobs, {rate:.1f} jobs/s", flush=True)
    results["e_throughput"] = {k: {"rate": med(v), "rates": v} for k, v in throughput.items()}


def fork_worker_main():
    """Like worker.py --burst, but RQ's forking Worker (one child process per job)."""
    from rq import Worker

    from app import create_app
    from app.extensions import db, redis_connection
    from app.workflows import jobs

    app = create_app()
    with app.app_context():
        db.engine.dispose()  # no connection inherited by the children
        queues = [jobs.rq_queue(app, name) for name in jobs.QUEUES]
        worker = Worker(queues, connection=redis_connection(app),
                        name=f"{app.config['REDIS_PREFIX']}-fork-{os.getpid()}")
        worker.work(burst=True, with_scheduler=False, logging_level="WARNING")


# --- profile -----------------------------------------------------------------------------------

def profile_gateway(res, args, results, app, process="meter_verification", cycles=30):
    import cProfile
    import pstats

    from app.extensions import db

    cycle = GatewayCycle(app, process)
    statements = {}

    def count(conn, cursor, statement, params, context, executemany):
        key = " ".join(statement.split())[:90]
        statements[key] = statements.get(key, 0) + 1

    with app.app_context():
        for _ in range(3):
            cycle()
        event.listen(db.engine, "before_cursor_execute", count)
        cycle()
        event.remove(db.engine, "before_cursor_execute", count)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(cycles):
            cycle()
        wall, cpu = (time.perf_counter() - wall0) / cycles, (time.process_time() - cpu0) / cycles
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(cycles):
            cycle()
        profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    rows = []
    for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():
        short = filename.split("site-packages/")[-1].replace(ROOT + "/", "")
        rows.append((cumtime, tottime, ncalls, f"{short}:{line}({name})"))
    picks = ("app/workflows/", "psycopg2", "sqlite3", "orm/session.py:2313", "orm/session.py:4330",
             "orm/session.py:1999", "spiff", "json/")
    print(f"\n== profile: gateway on {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}, {process}, "
          f"{cycles} cycles: wall {wall * 1000:.1f} ms/cycle, this process's CPU {cpu * 1000:.1f} ms/cycle")
    print("   cum%   self%  calls/cycle  function")
    for cumtime, tottime, ncalls, name in sorted(rows, reverse=True):
        if any(p in name for p in picks) and cumtime / total > 0.015:
            print(f"  {cumtime / total * 100:5.1f}  {tottime / total * 100:5.1f}  {ncalls / cycles:9.1f}  {name}")
    print(f"  SQL statements in one cycle: {sum(statements.values())}")
    for key, value in sorted(statements.items(), key=lambda kv: -kv[1])[:25]:
        print(f"    {value:3d}  {key}")
    results[f"profile_{process}"] = {"wall_ms": wall * 1000, "cpu_ms": cpu * 1000}


# --- report --------------------------------------------------------------------------------------

def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as handle:
            mem = f"{int(handle.readline().split()[1]) / 1024 / 1024:.0f} GB"
    except OSError:
        pass
    from importlib.metadata import version

    return (f"{cpu}, {os.cpu_count()} cores, {mem} RAM; Linux {platform.release()}; Python {platform.python_version()}; "
            f"SpiffWorkflow {version('SpiffWorkflow')}, SQLAlchemy {version('SQLAlchemy')}, "
            f"gunicorn {version('gunicorn')}, rq {version('rq')}")


def report(results, args):
    lines = []

    def row(section, what, value, target="", verdict=""):
        lines.append(f"| {section} | {what} | {value} | {target} | {verdict} |")

    lines.append("| | measure | median | target | |")
    lines.append("|---|---|---|---|---|")
    ab = results.get("ab")
    if ab:
        raw = ab["a raw, full process"]["rate"]
        raw_min = ab["a raw, minimal process"]["rate"]
        for name, value in ab.items():
            section, label = name.split(" ", 1)
            ratio = ""
            target = verdict = ""
            if section == "b":
                base = raw if "full" in label else raw_min
                ratio = f"; {value['rate'] / base * 100:.0f}% of raw"
                if "PostgreSQL" in label and "full" in label:
                    target, verdict = "≥ 40% of raw", "met" if value["rate"] / base >= 0.4 else "MISSED"
            elif "spec-less" in label:
                ratio = f"; {value['rate'] / raw * 100:.0f}% of raw"
            row(section, label + " (cycles/s)", f"{fmt(value['rate'])} (cycle {fmt(value['cycle_ms_p50'])} ms{ratio})",
                target, verdict)
    c = results.get("c")
    if c:
        v = c["ceiling"]
        row("c", "REST ceiling: authenticated GET /api/v1/process-definitions/ (req/s)", fmt(v["req_per_s"], 0))
        for kind in ("minimal", "full"):
            v = c[kind]
            target, verdict = "≥ 300 cycles/s", "met" if v["rate"] >= 300 else "MISSED"
            label = ("minimal process: start, inbox, complete" if kind == "minimal"
                     else "full meter_verification to completed")
            row("c", f"REST {label} (cycles/s)",
                f"{fmt(v['rate'])} ({fmt(v['req_per_s'], 0)} req/s, {fmt(v['requests_per_cycle'])} req/cycle)",
                target, verdict)
    d = results.get("d")
    if d:
        for name, v in d.items():
            shipped = name.startswith(("tasks.inbox()", "GET"))
            row("d", f"{name} p50 / p95 (ms)", f"{fmt(v['p50'])} / {fmt(v['p95'])}",
                "p95 < 50 ms" if shipped else "", ("met" if v["p95"] < 50 else "MISSED") if shipped else "")
    e = results.get("e_latency")
    if e:
        row("e", "enqueue → worker.py → next human task visible, p50 (ms)",
            f"{fmt(e['round_trip_ms_p50'])} (p95 {fmt(e['round_trip_ms_p95'])})", "p50 < 50 ms",
            "met" if e["round_trip_ms_p50"] < 50 else "MISSED")
        for name, v in results.get("e_throughput", {}).items():
            row("e", f"{name} throughput (jobs/s)", fmt(v["rate"]))
    for key, when in (("rss_after_c", "after (c)"), ("rss_after_d", "after (d)")):
        rss = results.get(key)
        if rss:
            worst = max(v[0] for v in rss.values())
            peak = max(v[1] for v in rss.values())
            row("f", f"gunicorn worker RSS {when}, max of {len(rss)} (MB)", f"{fmt(worst, 0)} (peak {fmt(peak, 0)})",
                "< 200 MB", "met" if worst < 200 else "MISSED")
    return "\n".join(lines)


def print_details(results):
    if "raw_state_bytes" in results:
        print(f"\nraw cycle: {results['raw_round_trips']} JSON round trips per cycle; state with the spec "
              f"{results['raw_state_bytes']:,} bytes, spec-less {results['specless_state_bytes']:,} bytes")
    for key, value in results.items():
        if key.startswith("sql_"):
            _, db_name, process = key.split("_", 2)
            print(f"gateway {db_name} {process}: {value[0]} SQL statements and {value[1]} commits per cycle")
    ab = results.get("ab")
    if ab:
        print("\nper-round rates (cycles/s):")
        for name, value in ab.items():
            print(f"  {name}: " + ", ".join(f"{r:.1f}" for r in value["rates"]))
        raw = ab["a raw, full process"]["rate"]
        sqlite = ab.get("b gateway SQLite, full process", {}).get("rate")
        pg = ab.get("b gateway PostgreSQL, full process", {}).get("rate")
        if sqlite and pg:
            print(f"ratios of medians: PostgreSQL/raw {pg / raw:.2f}, SQLite/raw {sqlite / raw:.2f}, "
                  f"PostgreSQL/SQLite {pg / sqlite:.2f}")
            raw_rounds = ab["a raw, full process"]["rates"]
            pg_rounds = ab["b gateway PostgreSQL, full process"]["rates"]
            print("PostgreSQL/raw within each round: " + ", ".join(f"{p / r:.2f}" for p, r in zip(pg_rounds, raw_rounds)))
    c = results.get("c")
    if c:
        print(f"\nREST: {results.get('gunicorn_cmd')}")
        for kind, v in c.items():
            cpu = v.get("cpu_per_cycle") or {}
            if cpu:
                unit = "request" if kind == "ceiling" else "cycle"
                print(f"  {kind}: CPU per {unit}: client {cpu['client_ms']:.1f} ms, gunicorn workers {cpu['web_ms']:.1f} ms, "
                      f"postgres {cpu['postgres_ms']:.1f} ms; {cpu['busy_cores']:.2f} of {os.cpu_count()} cores busy with these, "
                      f"{cpu['other_cores']:.2f} with anything else (Redis, kernel, other users of the machine)")
            print(f"  {kind}: rates {', '.join(f'{r:.1f}' for r in v['rates'])}; cycle p50 {fmt(v['cycle_ms_p50'])} ms; "
                  f"polls/cycle {fmt(v['polls_per_cycle'])}; request p50 ms "
                  + ", ".join(f"{k} {fmt(x)}" for k, x in v["latency_ms_p50"].items())
                  + (f"; errors {v['errors']}" if v["errors"] else ""))
        if ab:
            pg_min = ab.get("b gateway PostgreSQL, minimal process", {}).get("rate")
            if pg_min:
                print(f"  REST minimal / gateway PostgreSQL minimal (one process, sequential): "
                      f"{c['minimal']['rate'] / pg_min:.2f}")
    for key in ("rss_after_c", "rss_after_d"):
        if key in results:
            print(f"{key}: " + ", ".join(f"pid {pid}: RSS {v[0]:.0f} MB (peak {v[1]:.0f})"
                                         for pid, v in results[key].items()))
    if "e_latency" in results:
        e = results["e_latency"]
        print(f"\nservice task: start() p50 {e['start_ms_p50']:.1f} ms; job row created → instance saved "
              f"(DB clocks) p50 {e['job_created_to_instance_saved_ms_p50']:.1f} ms; n={e['n']}")
        thr = results.get("e_throughput", {})
        if len(thr) == 2:
            simple, fork = (v["rate"] for v in thr.values())
            print(f"SimpleWorker / forking Worker throughput: {simple / fork:.1f}x "
                  f"(rounds: {[round(x, 1) for v in thr.values() for x in v['rates']]})")
    for label, plans in results.get("inbox_plans", {}).items():
        print(f"\ntasks.inbox() {label}: {len(plans)} statements; EXPLAIN (ANALYZE, BUFFERS) of each:")
        for item in plans:
            print("  " + " ".join(item["sql"].split()))
            print("    " + "\n    ".join(item["plan"]))

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short slices, few samples (~2 minutes)")
    parser.add_argument("--only", default="a,b,c,d,e,f", help="sections to run, e.g. a,b")
    parser.add_argument("--profile", action="store_true", help="cProfile the gateway cycle on PostgreSQL")
    parser.add_argument("--pg-url", default=os.environ.get("KABINET_BENCH_POSTGRES_URL",
                                                           "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--redis-url", default=os.environ.get("KABINET_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--rounds", type=int, help="rounds of (a)/(b) (default 3, quick 2)")
    parser.add_argument("--slice", type=float, help="seconds per variant per round (default 4, quick 1.5)")
    parser.add_argument("--clients", type=int, default=8, help="REST client threads")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--rest-jobs", choices=("inprocess", "rq"), default="inprocess",
                        help="how gunicorn runs service jobs in (c)")
    parser.add_argument("--rest-rq-workers", type=int, default=1, help="worker.py processes with --rest-jobs rq")
    parser.add_argument("--rest-seconds", type=float, help="seconds per REST run (default 15, quick 5)")
    parser.add_argument("--rest-rounds", type=int, help="REST rounds (default 2, quick 1)")
    parser.add_argument("--poll-interval", type=float, default=0.01, help="client poll interval (s)")
    parser.add_argument("--inbox-rows", type=int, default=100_000)
    parser.add_argument("--inbox-samples", type=int, help="(default 200, quick 60)")
    parser.add_argument("--e-samples", type=int, help="round trips measured (default 100, quick 30)")
    parser.add_argument("--e-jobs", type=int, help="jobs per throughput round (default 150, quick 50)")
    parser.add_argument("--e-rounds", type=int, help="throughput rounds (default 2, quick 1)")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--_fork-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._fork_worker:
        return fork_worker_main()
    quick = args.quick
    defaults = {"rounds": (3, 2), "slice": (4.0, 1.5), "rest_seconds": (15.0, 5.0), "rest_rounds": (2, 1),
                "inbox_samples": (200, 60), "e_samples": (100, 30), "e_jobs": (150, 50), "e_rounds": (2, 1)}
    for name, (full, short) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, short if quick else full)
    only = set(args.only.split(","))
    if "f" in only:
        only.add("c")
    if "d" in only:
        only.add("c")  # the HTTP half of (d) uses the gunicorn of (c)

    print(f"machine: {machine()}; load average at start {loadavg()}")
    started = time.perf_counter()
    res = Resources(args.pg_url, args.redis_url)
    with res.pg_admin.connect() as conn:
        print(f"PostgreSQL: {conn.execute(sa.text('SHOW server_version')).scalar()}, "
              f"Redis {res.redis.info('server')['redis_version']}; run prefix {res.prefix}")

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    results = {}
    try:
        patch_enqueue()
        apps = {}
        if only & {"a", "b", "e"} or args.profile:
            apps["sqlite"] = build_app(res, f"sqlite:///{os.path.join(res.tmp, 'bench.db')}", users=False)
            pg_url = res.database("gw")
            apps["pg"] = build_app(res, pg_url, users=False)
            apps["pg_url"] = pg_url
        if only & {"a", "b"}:
            section_ab(res, args, results, apps)
        if args.profile:
            profile_gateway(res, args, results, apps["pg"])
            profile_gateway(res, args, results, apps["pg"], "bench_minimal", cycles=150)
        web = {}
        if only & {"c", "d", "f"}:
            web["url"] = res.database("web")
            web["app"] = build_app(res, web["url"])
            section_c(res, args, results, web)
        if "d" in only:
            section_d(res, args, results, web)
        if "e" in only:
            section_e(res, args, results, {"url": apps["pg_url"]})
        if web.get("gunicorn"):
            res.stop(web["gunicorn"])
    finally:
        removed = res.close()
        print(f"\ncleaned up: databases {res.databases}, {removed} Redis keys, subprocesses, {res.tmp}")
    print_details(results)
    print("\n" + report(results, args))
    print(f"\nrun took {time.perf_counter() - started:.0f} s; load average at the end {loadavg()} "
          "(other work on the machine shows here)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1, default=str)


if __name__ == "__main__":
    main()
