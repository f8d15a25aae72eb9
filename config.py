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
    # The ticker looks for once-a-day tasks (reminders, autopay, e-bills) this often; 0 turns
    # that off (run them with `flask kabinet daily` from cron instead).
    DAILY_CHECK_SECONDS = float(os.environ.get("DAILY_CHECK_SECONDS", "300"))

    # How many proxies (load balancers) in front of the web processes may set X-Forwarded-For.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
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
    # Email attachments (bill PDFs) wait here until their message is final; workers on other
    # machines need it on a shared volume.
    OUTBOX_FILES_DIR = os.environ.get("OUTBOX_FILES_DIR", os.path.join(INSTANCE_DIR, "outbox_files"))
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
    # Where links in emails point (the public address of the web tier, no trailing slash).
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    # An email confirmation link works this many seconds (24 h) and once.
    EMAIL_CONFIRM_MAX_AGE = int(os.environ.get("EMAIL_CONFIRM_MAX_AGE", str(24 * 3600)))
    # Confirmation emails: one per address per cooldown, and a cap per account.
    EMAIL_CONFIRM_COOLDOWN = os.environ.get("EMAIL_CONFIRM_COOLDOWN", "1 per minute")
    EMAIL_CONFIRM_LIMIT_PER_CUSTOMER = os.environ.get("EMAIL_CONFIRM_LIMIT_PER_CUSTOMER", "10 per day")
    # The youngest customer a birth date may describe (years).
    PROFILE_MIN_AGE = int(os.environ.get("PROFILE_MIN_AGE", "14"))

    # --- Accounts, registration by bill and by contract (AC, ID-2, ID-3; docs/accounts.md) -----
    # The contact centre: reports of concluded supply contracts go to its email; the phone is what
    # the ID-3 phone-mismatch error tells the customer to call.
    CONTACT_CENTRE_EMAIL = os.environ.get("CONTACT_CENTRE_EMAIL", "contact-centre@kabinet.local")
    CONTACT_CENTRE_PHONE = os.environ.get("CONTACT_CENTRE_PHONE", "8 800 000-00-00")
    # Lookups of an account or contract by number show its address: per customer and per IP.
    ACCOUNT_LOOKUP_LIMIT_PER_CUSTOMER = os.environ.get("ACCOUNT_LOOKUP_LIMIT_PER_CUSTOMER", "30 per hour")
    ACCOUNT_LOOKUP_LIMIT_PER_IP = os.environ.get("ACCOUNT_LOOKUP_LIMIT_PER_IP", "60 per hour")
    # Period + amount attempts per customer and account (per account at registration); counted
    # before checking, so the 6th attempt within the window is refused (locked for an hour).
    ACCOUNT_VERIFY_LIMIT = os.environ.get("ACCOUNT_VERIFY_LIMIT", "5 per hour")
    # How long the address confirmation of a registration by bill may be carried on.
    REGISTRATION_TICKET_SECONDS = int(os.environ.get("REGISTRATION_TICKET_SECONDS", "900"))
    # Registration by contract: attempts per IP and per phone.
    REGISTRATION_LIMIT_PER_IP = os.environ.get("REGISTRATION_LIMIT_PER_IP", "30 per hour")
    REGISTRATION_LIMIT_PER_PHONE = os.environ.get("REGISTRATION_LIMIT_PER_PHONE", "5 per hour")

    # --- Bills (BL-1..BL-3) -----------------------------------------------------------------------
    # "Send the bill PDF to my email", per customer.
    BILL_EMAIL_LIMIT = os.environ.get("BILL_EMAIL_LIMIT", "5 per hour")
    # E-bills go out for bills issued this many days back at most (an import of old months or a
    # late-enabled e-bill does not flood the mailbox with history).
    EBILL_MAX_AGE_DAYS = int(os.environ.get("EBILL_MAX_AGE_DAYS", "45"))

    # --- Power calculator (CL-1; docs/power-calculator.md) ---------------------------------------
    # Its public endpoints (no sign-in), per IP; "send the PDF to my email", per customer.
    POWER_CALCULATOR_LIMIT_PER_IP = os.environ.get("POWER_CALCULATOR_LIMIT_PER_IP", "60 per minute")
    POWER_CALCULATOR_EMAIL_LIMIT = os.environ.get("POWER_CALCULATOR_EMAIL_LIMIT", "5 per hour")

    # --- Outbound delivery (outbox adapters) ----------------------------------------------------
    # Adapter per channel (docs/notifications.md): "file" writes a line to OUTBOX_LOG_PATH (the
    # embedded default), "console" to the log, "http" posts to an SMS / voice gateway, "smtp"
    # sends email; "package.module:Class" loads a deployment's own adapter (push: FCM, APNs).
    DELIVERY_SMS = os.environ.get("DELIVERY_SMS", "file")
    DELIVERY_VOICE = os.environ.get("DELIVERY_VOICE", "file")
    DELIVERY_EMAIL = os.environ.get("DELIVERY_EMAIL", "file")
    DELIVERY_PUSH = os.environ.get("DELIVERY_PUSH", "file")
    # Attempts per message, and the pause before attempt n+1: BACKOFF · 2^(n-1) seconds.
    OUTBOX_MAX_ATTEMPTS = int(os.environ.get("OUTBOX_MAX_ATTEMPTS", "5"))
    OUTBOX_BACKOFF_SECONDS = float(os.environ.get("OUTBOX_BACKOFF_SECONDS", "10"))
    # A message a worker took but did not finish (killed) is taken back after this; keep it
    # longer than any adapter's timeout, or a live but slow delivery may be sent twice.
    OUTBOX_LEASE_SECONDS = float(os.environ.get("OUTBOX_LEASE_SECONDS", "120"))
    # A message queued longer than this without a worker taking it is enqueued again.
    OUTBOX_REQUEUE_SECONDS = float(os.environ.get("OUTBOX_REQUEUE_SECONDS", "30"))
    # Generic HTTP gateways: POST {"to", "text", "id"} as JSON with the token in the header.
    SMS_GATEWAY_URL = os.environ.get("SMS_GATEWAY_URL") or None
    SMS_GATEWAY_TOKEN = os.environ.get("SMS_GATEWAY_TOKEN") or None
    SMS_GATEWAY_AUTH_HEADER = os.environ.get("SMS_GATEWAY_AUTH_HEADER", "Authorization")
    SMS_GATEWAY_TIMEOUT = float(os.environ.get("SMS_GATEWAY_TIMEOUT", "10"))
    VOICE_GATEWAY_URL = os.environ.get("VOICE_GATEWAY_URL") or None
    VOICE_GATEWAY_TOKEN = os.environ.get("VOICE_GATEWAY_TOKEN") or None
    VOICE_GATEWAY_AUTH_HEADER = os.environ.get("VOICE_GATEWAY_AUTH_HEADER", "Authorization")
    VOICE_GATEWAY_TIMEOUT = float(os.environ.get("VOICE_GATEWAY_TIMEOUT", "10"))
    # Email over SMTP; SMTP_SECURITY: starttls | ssl | none. Login only when SMTP_USERNAME is set.
    SMTP_HOST = os.environ.get("SMTP_HOST") or None
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "587"))
    SMTP_SECURITY = os.environ.get("SMTP_SECURITY", "starttls")
    SMTP_USERNAME = os.environ.get("SMTP_USERNAME") or None
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD") or None
    SMTP_FROM = os.environ.get("SMTP_FROM", "Кабинет <noreply@kabinet.local>")
    SMTP_TIMEOUT = float(os.environ.get("SMTP_TIMEOUT", "10"))
    # A private CA that signed the relay's certificate (the system store otherwise).
    SMTP_CA_FILE = os.environ.get("SMTP_CA_FILE") or None

    # --- Meters and readings (docs/meters.md) ----------------------------------------------------
    # The deployment's local time zone: "today" for reading windows and reminders.
    TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Moscow")
    # A meter whose verification is due within this many days is flagged and reminded of, once.
    METER_VERIFICATION_REMINDER_DAYS = int(os.environ.get("METER_VERIFICATION_REMINDER_DAYS", "30"))
    # Readings reminders go by push where the customer wants it; with no push adapter deployed they
    # go by this channel instead: "sms", "email" (when confirmed) or "" (not at all).
    PUSH_FALLBACK_CHANNEL = os.environ.get("PUSH_FALLBACK_CHANNEL", "sms")
    # Uploaded photos and files (random names; type checked by content), and the size limit.
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR", os.path.join(INSTANCE_DIR, "uploads"))
    UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", str(5 * 1024 * 1024)))
    # Service requests (docs/requests.md): files per request, and the public status check per IP.
    REQUEST_MAX_ATTACHMENTS = int(os.environ.get("REQUEST_MAX_ATTACHMENTS", "20"))
    REQUEST_STATUS_LIMIT_PER_IP = os.environ.get("REQUEST_STATUS_LIMIT_PER_IP", "30 per 10 minutes")
    # The support chat (docs/processes/support-chat.md): guests opening chats from one address, a
    # customer opening chats, messages into one chat, guests' messages from one address, and guests'
    # reads and claims from one address (polling; it also bounds token guessing).
    SUPPORT_CHAT_OPEN_LIMIT_PER_IP = os.environ.get("SUPPORT_CHAT_OPEN_LIMIT_PER_IP", "5 per hour")
    SUPPORT_CHAT_OPEN_LIMIT_PER_CUSTOMER = os.environ.get("SUPPORT_CHAT_OPEN_LIMIT_PER_CUSTOMER", "10 per hour")
    SUPPORT_CHAT_MESSAGE_LIMIT_PER_CHAT = os.environ.get("SUPPORT_CHAT_MESSAGE_LIMIT_PER_CHAT", "20 per 10 minutes")
    SUPPORT_CHAT_MESSAGE_LIMIT_PER_IP = os.environ.get("SUPPORT_CHAT_MESSAGE_LIMIT_PER_IP", "60 per 10 minutes")
    SUPPORT_CHAT_READ_LIMIT_PER_IP = os.environ.get("SUPPORT_CHAT_READ_LIMIT_PER_IP", "600 per 10 minutes")

    # --- Staff two-factor -----------------------------------------------------------------------
    # Roles that must sign in with a TOTP code (comma-separated); for the others it is optional.
    # Empty turns the requirement off (the test suite does; docs/security.md).
    STAFF_2FA_REQUIRED_ROLES = [role.strip() for role in os.environ.get(
        "STAFF_2FA_REQUIRED_ROLES", "Admin,Analyst").split(",") if role.strip()]
    # The name authenticator apps show next to the account.
    STAFF_2FA_ISSUER = os.environ.get("STAFF_2FA_ISSUER", "Kabinet")
    # Codes of the previous and the next 30-second step are accepted too (clock drift).
    STAFF_2FA_VALID_WINDOW = int(os.environ.get("STAFF_2FA_VALID_WINDOW", "1"))
    # Time from the password to the code (or to a finished forced enrolment), in seconds.
    STAFF_2FA_PENDING_SECONDS = int(os.environ.get("STAFF_2FA_PENDING_SECONDS", "300"))
    STAFF_2FA_ENROL_SECONDS = int(os.environ.get("STAFF_2FA_ENROL_SECONDS", "900"))
    STAFF_2FA_RECOVERY_CODES = int(os.environ.get("STAFF_2FA_RECOVERY_CODES", "10"))
    # Wrong second-factor codes per staff user; then 429 with Retry-After until the window ends.
    STAFF_2FA_FAILURE_LIMIT = os.environ.get("STAFF_2FA_FAILURE_LIMIT", "5 per 15 minutes")

    # --- Federated sign-in (OpenID Connect) ------------------------------------------------------
    # Providers by name (the name is in the URL and in the session method "oidc:<name>": 1-27 of
    # a-z 0-9 _ -), e.g. {"esia": {"issuer": "https://esia.example", "client_id": "...",
    # "client_secret_env": "ESIA_CLIENT_SECRET", "scopes": ["openid", "phone", "email", "profile"],
    # "title": {"ru": "Госуслуги", "en": "Gosuslugi"}, "allowed_redirect_uris": ["ru.kabinet.app:/oidc"]}}.
    # Optional per provider: discovery_url, explicit endpoints, token_endpoint_auth_method
    # (client_secret_basic | client_secret_post), authorization_params, userinfo (auto | always |
    # never). See docs/identity.md.
    OIDC_PROVIDERS = _env_json("OIDC_PROVIDERS", {})
    # How long a started sign-in (state, nonce, PKCE verifier) may be completed.
    OIDC_LOGIN_TTL_SECONDS = int(os.environ.get("OIDC_LOGIN_TTL_SECONDS", "600"))
    # Discovery documents and key sets are cached per process; an unknown "kid" refetches the keys.
    OIDC_DISCOVERY_TTL_SECONDS = int(os.environ.get("OIDC_DISCOVERY_TTL_SECONDS", "3600"))
    OIDC_JWKS_TTL_SECONDS = int(os.environ.get("OIDC_JWKS_TTL_SECONDS", "3600"))
    OIDC_HTTP_TIMEOUT_SECONDS = float(os.environ.get("OIDC_HTTP_TIMEOUT_SECONDS", "10"))
    # Allowed difference between the provider's clock and ours when checking exp and iat.
    OIDC_CLOCK_SKEW_SECONDS = int(os.environ.get("OIDC_CLOCK_SKEW_SECONDS", "60"))
    OIDC_START_LIMIT_PER_IP = os.environ.get("OIDC_START_LIMIT_PER_IP", "30 per 10 minutes")

    # --- Payments (docs/payments.md) ------------------------------------------------------------
    # The acquiring adapter: "sandbox" (a pretend bank with a hosted test page) or "module:Class".
    PAYMENT_PROVIDER = os.environ.get("PAYMENT_PROVIDER", "sandbox")
    # Saved cards per customer (BL-5), checks under way included (docs/cards-and-autopay.md).
    SAVED_CARD_LIMIT = int(os.environ.get("SAVED_CARD_LIMIT", "5"))
    # The sandbox signs its callbacks with this (derived from SECRET_KEY when unset).
    PAYMENT_SANDBOX_SECRET = os.environ.get("PAYMENT_SANDBOX_SECRET") or None
    # Where the sandbox posts its callbacks (this app's public address); the request's host if unset.
    PAYMENT_CALLBACK_BASE_URL = os.environ.get("PAYMENT_CALLBACK_BASE_URL") or None
