"""Fixtures: apps on a throw-away SQLite file and on a fresh PostgreSQL database, real Redis.

PostgreSQL and Redis come from KABINET_TEST_POSTGRES_URL / KABINET_TEST_REDIS_URL (``.ci/run``
sets them), defaulting to the local services; tests that need them are skipped with the reason
when they are not reachable. Each run makes its own database and Redis key prefix and removes
them afterwards.
"""
import os
import uuid

import pytest
import redis
import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from app.bootstrap import deploy_shipped, ensure_staff, init_security
from app.extensions import db

PG_URL = os.environ.get("KABINET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("KABINET_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "Test-pass-2026!"
ROLES = ("Admin", "Operator", "Dispatcher", "Technician", "Billing", "Analyst", "ContentEditor")
BASE_CONFIG = {
    "TESTING": True,
    "WTF_CSRF_ENABLED": False,
    "START_TICKER": False,
    "DAILY_CHECK_SECONDS": 0,  # tests run the daily tasks themselves (app/services/daily.py)
    "SERVICE_HANDLER_MODULES": ["tests.support.handlers"],
    "SERVICE_TASK_BACKOFF_SECONDS": 0.05,
    "SCRIPT_TIME_LIMIT_SECONDS": 0.5,
    "STAFF_API_LOGIN_RATE_LIMIT": "1000 per minute",
    "AUTH_RATE_LIMIT": "1000 per minute",
    "STAFF_2FA_REQUIRED_ROLES": [],  # tests/test_staff_two_factor.py builds apps with the default
    # Every test request comes from 127.0.0.1 into session-wide apps; the per-IP limits have
    # their own tests on apps of their own.
    "OTP_REQUEST_LIMIT_PER_IP": "100000 per hour",
    "SIGN_IN_LIMIT_PER_IP": "100000 per hour",
    "OUTBOX_LOG_PATH": os.path.join(os.environ.get("TMPDIR", "/tmp"), f"kabinet-test-outbox-{os.getpid()}.log"),
    # Files the tests make (bill PDFs for email, reading photos) stay out of the project's instance/.
    "OUTBOX_FILES_DIR": os.path.join(os.environ.get("TMPDIR", "/tmp"), f"kabinet-test-outbox-files-{os.getpid()}"),
    "UPLOAD_DIR": os.path.join(os.environ.get("TMPDIR", "/tmp"), f"kabinet-test-uploads-{os.getpid()}"),
}


def _reachable_postgres():
    try:
        engine = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return engine
    except Exception:
        return None


def _reachable_redis():
    try:
        conn = redis.Redis.from_url(REDIS_URL)
        conn.ping()
        return conn
    except Exception:
        return None


def build_app(database_url, tmp_path=None, **overrides):
    config = dict(BASE_CONFIG, SQLALCHEMY_DATABASE_URI=database_url, **overrides)
    app = create_app(config)
    with app.app_context():
        upgrade()
        init_security(app)
        ensure_staff(app, [(role.lower(), role, role, "Test") for role in ROLES], PASSWORD, "test.local")
        deploy_shipped()
    return app


@pytest.fixture(scope="session")
def postgres_engine():
    engine = _reachable_postgres()
    if engine is None:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    return engine


@pytest.fixture(scope="session")
def redis_conn():
    conn = _reachable_redis()
    if conn is None:
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    return conn


@pytest.fixture(scope="session")
def make_pg_database(postgres_engine):
    """Factory: a fresh PostgreSQL database URL; all are dropped at the end of the run."""
    created = []

    def make():
        name = f"kabinet_test_{uuid.uuid4().hex[:12]}"
        with postgres_engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return postgres_engine.url.set(database=name).render_as_string(hide_password=False)

    yield make
    with postgres_engine.connect() as conn:
        for name in created:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_prefix(redis_conn):
    prefix = f"kabinet_test_{uuid.uuid4().hex[:10]}"
    yield prefix
    keys = [key for pattern in (f"{prefix}*", f"rq:*{prefix}*", f"LIMITS:*{prefix}*")
            for key in redis_conn.scan_iter(pattern)]
    if keys:
        redis_conn.delete(*keys)


@pytest.fixture(scope="session")
def sqlite_app(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite") / "kabinet.db"
    app = build_app(f"sqlite:///{path}")
    yield app


@pytest.fixture(scope="session")
def pg_app(make_pg_database):
    """PostgreSQL with in-process jobs: the engine's locking on the production database."""
    return build_app(make_pg_database())


@pytest.fixture(params=["sqlite", "pg"])
def app(request):
    return request.getfixturevalue(f"{request.param}_app")


class ApiClient:
    """A Flask test client signed in as one staff role (tokens cached per app and user)."""

    _tokens = {}

    def __init__(self, app, username):
        self.app = app
        self.client = app.test_client()
        key = (id(app), username)
        if key not in self._tokens:
            response = self.client.post("/api/v1/security/login",
                                        json={"username": username, "password": PASSWORD, "provider": "db"})
            assert response.status_code == 200, response.get_json()
            self._tokens[key] = response.get_json()["access_token"]
        self.headers = {"Authorization": f"Bearer {self._tokens[key]}"}

    def get(self, url, **kwargs):
        return self.client.get(url, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)

    def post(self, url, json=None, **kwargs):
        return self.client.post(url, json=json, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)


@pytest.fixture
def api(app):
    """``api("dispatcher")`` → a client signed in as that role's test user."""
    return lambda username="admin": ApiClient(app, username)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app
        db.session.remove()


# --- PostgreSQL + Redis stacks with real `python worker.py` processes (tests/support/workers.py) ---

class RqStack:
    """An app on its own PostgreSQL database with jobs on RQ under its own Redis prefix, and
    the pool of worker processes sharing its database, prefix and engine settings."""

    def __init__(self, app, database_url, workers):
        self.app = app
        self.database_url = database_url
        self.workers = workers

    def api(self, username="admin"):
        return ApiClient(self.app, username)


# Engine settings of BASE_CONFIG a worker process must share with the test's app.
WORKER_SETTINGS = ("SERVICE_TASK_BACKOFF_SECONDS", "SCRIPT_TIME_LIMIT_SECONDS", "OUTBOX_LOG_PATH")


@pytest.fixture
def rq_stack(make_pg_database, redis_conn, redis_prefix, tmp_path):
    """Factory: ``rq_stack(**settings)`` → :class:`RqStack`; ``settings`` (e.g.
    SERVICE_TASK_MAX_ATTEMPTS, PROCESS_DEADLINES) go to the app and to its workers. Every worker
    started through a stack is ended when the test ends, whatever happened."""
    from tests.support.workers import WorkerPool

    pools = []

    def make(**settings):
        url = make_pg_database()
        prefix = f"{redis_prefix}:{uuid.uuid4().hex[:8]}"
        app = build_app(url, JOBS_BACKEND="rq", REDIS_URL=REDIS_URL, REDIS_PREFIX=prefix, **settings)
        shared = {key: BASE_CONFIG[key] for key in WORKER_SETTINGS}
        pool = WorkerPool(url, REDIS_URL, prefix, str(tmp_path), {**shared, **settings})
        pools.append(pool)
        return RqStack(app, url, pool)

    try:
        yield make
    finally:
        for pool in pools:
            pool.stop_all()
