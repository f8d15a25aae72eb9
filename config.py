"""Configuration from the environment.

Nothing set means the embedded default: a SQLite file under ``instance/``, jobs and timers run
in-process, rate limits kept in memory. ``DATABASE_URL`` and ``REDIS_URL`` switch to production.
"""
import json
import os
from datetime import timedelta

BASE_DIR = os.path.abspath(os.path.dirname(__file__))
INSTANCE_DIR = os.path.join(BASE_DIR, "instance")


def _env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _env_json(name, default):
    value = os.environ.get(name)
    return json.loads(value) if value else default


def _database_url():
    url = os.environ.get("DATABASE_URL")
    if url:
        # Heroku-style URLs are still common in deployment tooling.
        return url.replace("postgres://", "postgresql://", 1)
    return "sqlite:///" + os.path.join(INSTANCE_DIR, "kabinet.db")


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-secret-key-change-me")
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    REDIS_URL = os.environ.get("REDIS_URL") or None
    # Prefix for every Redis key and RQ queue name, so several deployments (or test runs)
    # can share one Redis without seeing each other's jobs.
    REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "kabinet")
    # "rq" when Redis is configured, else jobs run on an in-process thread pool.
    JOBS_BACKEND = os.environ.get("JOBS_BACKEND") or ("rq" if REDIS_URL else "inprocess")
    # The in-process ticker fires timers and retries; production runs it inside worker.py.
    # Only the serving process (make run) and worker.py run it; CLI commands do not.
    START_TICKER = _env_bool("START_TICKER", False)
    TICK_SECONDS = float(os.environ.get("TICK_SECONDS", "0.2"))

    # Larger request bodies are refused with 413 before anything parses them.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(16 * 1024 * 1024)))

    # --- Flask-AppBuilder -------------------------------------------------------------------
    APP_NAME = "Kabinet"
    FAB_SECURITY_MANAGER_CLASS = "app.security.KabinetSecurityManager"
    FAB_ADD_SECURITY_API = True
    FAB_API_SWAGGER_UI = True
    FAB_UPDATE_PERMS = True
    AUTH_TYPE = 1  # AUTH_DB
    AUTH_ROLE_ADMIN = "Admin"
    AUTH_ROLE_PUBLIC = "Public"
    AUTH_RATE_LIMITED = True
    AUTH_RATE_LIMIT = os.environ.get("AUTH_RATE_LIMIT", "10 per 20 second")
    STAFF_API_LOGIN_RATE_LIMIT = os.environ.get("STAFF_API_LOGIN_RATE_LIMIT", "10 per minute")
    FAB_PASSWORD_COMPLEXITY_ENABLED = True
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=int(os.environ.get("JWT_ACCESS_MINUTES", "30")))
    BABEL_DEFAULT_LOCALE = "ru"
    LANGUAGES = {"ru": {"flag": "ru", "name": "Русский"}, "en": {"flag": "gb", "name": "English"}}
    WTF_CSRF_ENABLED = _env_bool("WTF_CSRF_ENABLED", True)

    # --- Flask-Limiter (FAB creates the one Limiter) -----------------------------------------
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or (REDIS_URL or "memory://")
    RATELIMIT_KEY_PREFIX = REDIS_PREFIX + ":limits"
    RATELIMIT_HEADERS_ENABLED = True

    # --- Engine ------------------------------------------------------------------------------
    # Extra modules whose import registers service-task handlers (integrations, test doubles).
    SERVICE_HANDLER_MODULES = [m for m in os.environ.get("SERVICE_HANDLER_MODULES", "").split(",") if m]
    SERVICE_TASK_MAX_ATTEMPTS = int(os.environ.get("SERVICE_TASK_MAX_ATTEMPTS", "5"))
    SERVICE_TASK_BACKOFF_SECONDS = float(os.environ.get("SERVICE_TASK_BACKOFF_SECONDS", "2"))
    # A job a worker took but did not finish (killed, lost) is taken again after its lease.
    SERVICE_TASK_LEASE_SECONDS = float(os.environ.get("SERVICE_TASK_LEASE_SECONDS", "60"))
    # A job row queued longer than this without a worker taking it is enqueued again
    # (Redis keeps nothing on disk; the database is the source of truth).
    SERVICE_TASK_REQUEUE_SECONDS = float(os.environ.get("SERVICE_TASK_REQUEUE_SECONDS", "30"))
    SCRIPT_TIME_LIMIT_SECONDS = float(os.environ.get("SCRIPT_TIME_LIMIT_SECONDS", "1.0"))
    # Guard against SpiffWorkflow's depth-limited task iterators (ARCHITECTURE.md trap 10).
    # SpiffWorkflow's engine step is quadratic in the task count, so both are capped.
    ENGINE_MAX_TASKS = int(os.environ.get("ENGINE_MAX_TASKS", "3000"))
    ENGINE_RUN_SECONDS = float(os.environ.get("ENGINE_RUN_SECONDS", "10"))
    # Named deadlines that processes read with deadline("name", default); shortened in tests.
    PROCESS_DEADLINES = _env_json("PROCESS_DEADLINES", {})
    # The embedded default's delivery sink for outbound messages (one line per message).
    OUTBOX_LOG_PATH = os.environ.get("OUTBOX_LOG_PATH", os.path.join(INSTANCE_DIR, "outbox.log"))
    FAB_INDEX_VIEW = "app.views.home.HomeIndexView"
    # Times are stored in UTC; the back-office screens show them in the staff's zone.
    DISPLAY_TIMEZONE = os.environ.get("DISPLAY_TIMEZONE", "Europe/Moscow")

    # --- Customer identity (client API) -------------------------------------------------------
    # Phones without a country code are read as this region's (+7 for RU).
    DEFAULT_PHONE_REGION = os.environ.get("DEFAULT_PHONE_REGION", "RU")
    # How one-time codes reach the phone: sms | voice (a call that reads the code out).
    OTP_CHANNEL = os.environ.get("OTP_CHANNEL", "sms")
    OTP_DIGITS = int(os.environ.get("OTP_DIGITS", "6"))
    OTP_TTL_SECONDS = int(os.environ.get("OTP_TTL_SECONDS", "300"))
    OTP_RESEND_SECONDS = int(os.environ.get("OTP_RESEND_SECONDS", "60"))
    OTP_MAX_ATTEMPTS = int(os.environ.get("OTP_MAX_ATTEMPTS", "5"))
    # Rate limits (Flask-Limiter storage: memory embedded, Redis in production).
    OTP_REQUEST_LIMIT_PER_PHONE = os.environ.get("OTP_REQUEST_LIMIT_PER_PHONE", "5 per hour")
    OTP_REQUEST_LIMIT_PER_IP = os.environ.get("OTP_REQUEST_LIMIT_PER_IP", "30 per hour")
    SIGN_IN_LIMIT_PER_IP = os.environ.get("SIGN_IN_LIMIT_PER_IP", "60 per 10 minutes")
    # Failed sign-ins (password or code) that lock a phone, and for how long (the window).
    SIGN_IN_FAILURE_LIMIT = os.environ.get("SIGN_IN_FAILURE_LIMIT", "5 per 15 minutes")
    PIN_MAX_FAILURES = int(os.environ.get("PIN_MAX_FAILURES", "5"))
    CUSTOMER_ACCESS_TOKEN_SECONDS = int(os.environ.get("CUSTOMER_ACCESS_TOKEN_SECONDS", "900"))
    CUSTOMER_SESSION_DAYS = int(os.environ.get("CUSTOMER_SESSION_DAYS", "30"))
    # "Don't keep me signed in": the session ends after this many hours however it is used.
    CUSTOMER_SHORT_SESSION_HOURS = int(os.environ.get("CUSTOMER_SHORT_SESSION_HOURS", "12"))
    DEVICE_CHALLENGE_SECONDS = int(os.environ.get("DEVICE_CHALLENGE_SECONDS", "120"))

    # --- Email confirmation and profile --------------------------------------------------------

    # --- Outbound delivery (outbox adapters) ----------------------------------------------------

    # --- Staff two-factor -----------------------------------------------------------------------

    # --- Federated sign-in (OpenID Connect) ------------------------------------------------------
