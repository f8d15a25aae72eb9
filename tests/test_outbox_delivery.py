"""Outbound messages (SPEC NT-3): the outbox delivered by jobs through real providers.

Nothing is mocked: email goes to a local aiosmtpd server, SMS and voice codes to a local HTTP
gateway whose answers each test scripts (tests/support/delivery.py), the embedded default to the
outbox log file; on PostgreSQL + Redis, real ``python worker.py`` processes deliver from RQ.
"""
import email
import email.policy
import re
import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.notifications import MASK, OutboxMessage
from app.models.workflow import utcnow
from app.services import notifications, outbox
from app.services.delivery import Adapter, Delivered
from app.workflows import instances, jobs
from tests.conftest import PASSWORD, build_app
from tests.support.customers import new_phone
from tests.support.delivery import HANG, GatewayServer, SmtpServer, free_port, make_certificates
from tests.support.workers import wait_for

SETTINGS = {"OUTBOX_BACKOFF_SECONDS": 0.05, "OUTBOX_MAX_ATTEMPTS": 3, "SMS_GATEWAY_TIMEOUT": 2,
            "VOICE_GATEWAY_TIMEOUT": 2, "SMTP_TIMEOUT": 5}
SENDER = "Кабинет <noreply@kabinet.test>"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)? (\S+) (\S+) (.*)$")
_MISSING = object()


class RecordingPushAdapter(Adapter):
    """A deployment's own adapter, loaded by DELIVERY_PUSH="tests.test_outbox_delivery:…"."""

    name = "recording"
    channels = ("push",)
    sent = []

    def send(self, message):
        RecordingPushAdapter.sent.append(message)
        return Delivered(self.name, f"push-{message.id}")


# --- apps and servers ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sq(tmp_path_factory):
    directory = tmp_path_factory.mktemp("outbox-sqlite")
    return build_app(f"sqlite:///{directory / 'kabinet.db'}", OUTBOX_LOG_PATH=str(directory / "outbox.log"),
                     **SETTINGS)


@pytest.fixture(scope="module")
def pg(make_pg_database, tmp_path_factory):
    directory = tmp_path_factory.mktemp("outbox-pg")
    return build_app(make_pg_database(), OUTBOX_LOG_PATH=str(directory / "outbox.log"), **SETTINGS)


@pytest.fixture(params=["sq", "pg"])
def oapp(request):
    return request.getfixturevalue(request.param)


@pytest.fixture
def configure():
    """``configure(app, KEY=value, …)``: settings for this test only (read at delivery time)."""
    changed = []

    def apply(app, **values):
        for key, value in values.items():
            changed.append((app, key, app.config.get(key, _MISSING)))
            app.config[key] = value

    yield apply
    for app, key, old in reversed(changed):
        if old is _MISSING:
            app.config.pop(key, None)
        else:
            app.config[key] = old


@pytest.fixture
def gateway():
    server = GatewayServer()
    yield server
    server.close()


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    yield server
    server.stop()


def use_gateway(configure, app, gateway, **extra):
    configure(app, DELIVERY_SMS="http", SMS_GATEWAY_URL=gateway.url("/sms"), SMS_GATEWAY_TOKEN="s3cret", **extra)


def use_smtp(configure, app, server, **extra):
    configure(app, DELIVERY_EMAIL="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, SMTP_SECURITY="none",
              SMTP_FROM=SENDER, **extra)


# --- helpers ------------------------------------------------------------------------------------

def new_address(name="maria"):
    return f"{name}.{uuid.uuid4().hex[:8]}@example.test"


def send(app, channel, recipient, template="otp_login", context=None, **kwargs):
    """Write one message and commit; returns its id."""
    with app.app_context():
        try:
            message = notifications.send(channel, recipient, template,
                                         {"code": "482913"} if context is None else context, **kwargs)
            db.session.commit()
            return message.id
        finally:
            db.session.remove()


def insert(app, **columns):
    """A row written behind the outbox's back (nothing scheduled): a crash or a lost queue entry."""
    values = {"idempotency_key": f"test:{uuid.uuid4().hex}", "channel": "sms", "recipient": new_phone(),
              "template": "test", "body": "Плановое отключение воды 12 марта.", "context": {},
              "queue": "default", "status": "queued", "attempts": 0, **columns}
    with app.app_context():
        try:
            message = OutboxMessage(**values)
            db.session.add(message)
            db.session.commit()
            return message.id
        finally:
            db.session.remove()


def row(app, message_id):
    with app.app_context():
        try:
            message = db.session.get(OutboxMessage, message_id)
            if message is None:
                return None
            return {column.name: getattr(message, column.name) for column in OutboxMessage.__table__.columns}
        finally:
            db.session.remove()


def rows_to(app, recipient):
    with app.app_context():
        try:
            return db.session.execute(select(OutboxMessage.id).where(OutboxMessage.recipient == recipient)).all()
        finally:
            db.session.remove()


def settle(app, ids, timeout=10):
    with app.app_context():
        assert notifications.wait_for_delivery(timeout, ids=ids), [row(app, i)["status"] for i in ids]


def drive(app, message_id, final=("sent", "failed"), timeout=20):
    """Run the ticker (due retries, leases) until the message is final; returns its row."""
    deadline = time.monotonic() + timeout
    while True:
        current = row(app, message_id)
        if current["status"] in final:
            return current
        assert time.monotonic() < deadline, f"message {message_id} stuck in {current}"
        with app.app_context():
            jobs.tick()
            notifications.wait_for_delivery(5, ids=[message_id])
            db.session.remove()
        time.sleep(0.02)


def log_lines(app, recipient):
    try:
        with open(app.config["OUTBOX_LOG_PATH"], encoding="utf-8") as handle:
            return [line.rstrip("\n") for line in handle if f" {recipient} " in line]
    except FileNotFoundError:
        return []


# --- the embedded default: the file sink, after commit ------------------------------------------

def test_a_message_is_delivered_to_the_log_only_after_its_transaction_commits(oapp):
    phone = new_phone()
    with oapp.app_context():
        message = notifications.send("sms", phone, "otp_login", {"code": "482913"}, queue="high",
                                     idempotency_key=f"otp:{uuid.uuid4().hex}")
        message_id = message.id
        time.sleep(0.3)  # a job started at the write would have run by now
        assert log_lines(oapp, phone) == []
        assert message.status == "queued" and message.queue == "high"
        db.session.commit()
        db.session.remove()
    settle(oapp, [message_id])
    [line] = log_lines(oapp, phone)
    match = LOG_LINE.match(line)
    assert match and match.groups()[1:] == ("sms", phone, "Код для входа в Кабинет: 482913. Никому его не сообщайте.")
    sent = row(oapp, message_id)
    assert (sent["status"], sent["attempts"], sent["provider"], sent["queue"]) == ("sent", 1, "file", "high")
    assert sent["sent_at"] is not None and sent["next_attempt_at"] is None and sent["last_error"] is None

    # a body with line breaks stays one line; the same key never makes a second message
    address = new_address()
    key = f"notice:{uuid.uuid4().hex}"
    first = send(oapp, "email", address, "Строка {n}\nВторая строка", {"n": 1}, idempotency_key=key,
                 subject="Тема")
    again = send(oapp, "email", address, "Строка {n}\nВторая строка", {"n": 1}, idempotency_key=key)
    assert again == first
    settle(oapp, [first])
    assert [LOG_LINE.match(line).group(4) for line in log_lines(oapp, address)] == ["Строка 1\\nВторая строка"]


def test_nothing_is_sent_for_a_transaction_that_rolls_back(oapp):
    rolled_back, closed, in_savepoint, kept, released = (new_phone() for _ in range(5))
    with oapp.app_context():
        notifications.send("sms", rolled_back, "otp_login", {"code": "111111"})
        db.session.rollback()
        notifications.send("sms", closed, "otp_login", {"code": "222222"})
        db.session.close()  # ended without a commit: forgotten as well
        savepoint = db.session.begin_nested()
        notifications.send("sms", in_savepoint, "otp_login", {"code": "333333"})
        savepoint.rollback()
        kept_id = notifications.send("sms", kept, "otp_login", {"code": "444444"}).id
        with db.session.begin_nested():  # a released savepoint is not yet a commit
            released_id = notifications.send("sms", released, "otp_login", {"code": "555555"}).id
        time.sleep(0.3)
        assert log_lines(oapp, kept) == [] and log_lines(oapp, released) == []
        db.session.commit()
        db.session.remove()
    settle(oapp, [kept_id, released_id])
    assert len(log_lines(oapp, kept)) == 1 and len(log_lines(oapp, released)) == 1
    for phone in (rolled_back, closed, in_savepoint):
        assert log_lines(oapp, phone) == [] and rows_to(oapp, phone) == []
    with pytest.raises(ValueError):
        with oapp.app_context():
            notifications.send("sms", kept, "otp_login", {"code": "1"}, queue="urgent")


def test_the_notice_of_a_service_task_is_delivered_after_the_job_commits(sq):
    phone = new_phone()
    number = f"MV-{uuid.uuid4().hex[:8]}"
    with sq.app_context():
        instance = instances.start("meter_verification", number, {
            "request_number": number, "customer_phone": phone, "meter_serial": "SN-7",
            "meter_kind": "electricity", "overdue": False}, actor="test")
        assert jobs.wait_for_jobs(instance.id)
        assert notifications.wait_for_delivery(10)
        db.session.remove()
    [line] = log_lines(sq, phone)
    assert f"Заявка {number} на поверку счётчика SN-7 принята." in line
    [(message_id,)] = rows_to(sq, phone)
    assert row(sq, message_id)["status"] == "sent"


# --- the HTTP SMS / voice gateway ---------------------------------------------------------------

def test_the_gateway_gets_json_with_the_token_and_its_id_is_kept(oapp, gateway, configure):
    use_gateway(configure, oapp, gateway)
    phone = new_phone()
    message_id = send(oapp, "sms", phone, queue="high", idempotency_key=f"otp:{uuid.uuid4().hex}")
    settle(oapp, [message_id])
    [request] = gateway.requests
    sent = row(oapp, message_id)
    assert request["path"] == "/sms"
    assert request["json"] == {"to": phone, "text": "Код для входа в Кабинет: 482913. Никому его не сообщайте.",
                               "id": sent["idempotency_key"]}
    assert request["headers"]["Authorization"] == "Bearer s3cret"
    assert request["headers"]["Content-Type"] == "application/json"
    assert (sent["status"], sent["attempts"], sent["provider"], sent["provider_message_id"]) == ("sent", 1, "http",
                                                                                                 "gw-1")
    assert log_lines(oapp, phone) == []  # the gateway, not the file sink


def test_voice_codes_go_to_the_voice_gateway_with_its_own_header(sq, gateway, configure):
    use_gateway(configure, sq, gateway)
    configure(sq, DELIVERY_VOICE="http", VOICE_GATEWAY_URL=gateway.url("/voice"), VOICE_GATEWAY_TOKEN="v-key",
              VOICE_GATEWAY_AUTH_HEADER="X-Api-Key")
    gateway.script((201, {"message_id": 9001}))
    phone = new_phone()
    message_id = send(sq, "voice", phone, "otp_voice", {"spoken_code": "4, 8, 2, 9, 1, 3"}, queue="high")
    settle(sq, [message_id])
    [request] = gateway.requests
    assert request["path"] == "/voice" and request["json"]["to"] == phone
    assert request["json"]["text"] == "Ваш код: 4, 8, 2, 9, 1, 3. Повторяю: 4, 8, 2, 9, 1, 3."
    assert request["headers"]["X-Api-Key"] == "v-key" and "Authorization" not in request["headers"]
    assert row(sq, message_id)["provider_message_id"] == "9001"


def test_a_5xx_answer_is_retried_after_the_backoff_and_then_sent(oapp, gateway, configure):
    use_gateway(configure, oapp, gateway)
    configure(oapp, OUTBOX_BACKOFF_SECONDS=0.5)
    gateway.script((503, {"error": "busy"}))
    message_id = send(oapp, "sms", new_phone())
    settle(oapp, [message_id])
    waiting = row(oapp, message_id)
    assert (waiting["status"], waiting["attempts"]) == ("retry", 1)
    assert "HTTP 503" in waiting["last_error"] and "busy" in waiting["last_error"]
    assert timedelta(seconds=0.3) < waiting["next_attempt_at"] - waiting["updated_at"] <= timedelta(seconds=0.5)
    with oapp.app_context():
        assert outbox.deliver(message_id) is None  # not due yet: nobody may take it early
        assert outbox.sweep() == 0
        db.session.remove()
    assert len(gateway.requests) == 1

    time.sleep(0.5)
    sent = drive(oapp, message_id)
    assert (sent["status"], sent["attempts"], sent["provider_message_id"]) == ("sent", 2, "gw-2")
    first, second = gateway.payloads()
    assert first == second  # the same id on every attempt: the gateway may deduplicate


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_a_4xx_answer_fails_at_once_without_leaking_the_code(sq, gateway, configure, status):
    use_gateway(configure, sq, gateway)
    body = "Код для входа в Кабинет: 482913. Никому его не сообщайте."
    gateway.script((status, {"error": "invalid destination", "echo": body}))
    message_id = send(sq, "sms", new_phone())
    settle(sq, [message_id])
    failed = drive(sq, message_id)
    assert (failed["status"], failed["attempts"], failed["next_attempt_at"]) == ("failed", 1, None)
    assert f"HTTP {status}" in failed["last_error"] and "invalid destination" in failed["last_error"]
    assert "482913" not in failed["last_error"]  # the gateway echoed the text: masked
    with sq.app_context():
        jobs.tick()
        db.session.remove()
    assert len(gateway.requests) == 1


def test_a_final_message_keeps_its_code_only_masked(oapp, gateway, configure):
    """Sent or failed, a one-time code is no use to keep: the row holds the text as staff see it."""
    sent = send(oapp, "sms", new_phone())
    settle(oapp, [sent])
    stored = row(oapp, sent)
    assert stored["status"] == "sent" and "482913" not in stored["body"] and MASK in stored["body"]
    assert stored["context"]["code"] == MASK
    use_gateway(configure, oapp, gateway)
    gateway.script((400, {"error": "invalid destination"}))
    failed = drive(oapp, send(oapp, "sms", new_phone()))
    assert failed["status"] == "failed" and "482913" not in failed["body"] and failed["context"]["code"] == MASK


def test_a_code_that_expired_while_waiting_is_not_sent(sq, gateway, configure):
    use_gateway(configure, sq, gateway)
    gateway.script((503, {}))
    phone = new_phone()
    expires = (utcnow() + timedelta(seconds=1)).isoformat()
    message_id = send(sq, "sms", phone, context={"code": "482913", "expires_at": expires})
    settle(sq, [message_id])
    assert row(sq, message_id)["status"] == "retry"
    time.sleep(1.1)
    failed = drive(sq, message_id)
    assert failed["status"] == "failed" and "expired before it could be delivered" in failed["last_error"]
    assert len(gateway.requests) == 1  # the first attempt only; the stale code never went out again


@pytest.mark.parametrize("expires_at", ["next week", 20261122, "2026-11-22T10:00:00+03:00x"])
def test_an_expiry_that_is_not_a_time_means_no_expiry(sq, expires_at):
    """A BPMN notice's context comes from process data: a stray ``expires_at`` never breaks delivery."""
    phone = new_phone()
    message_id = send(sq, "sms", phone, "verification_passed", {"meter": "SN-1", "expires_at": expires_at})
    settle(sq, [message_id])
    assert row(sq, message_id)["status"] == "sent"


def test_an_expiry_with_a_zone_is_compared_in_utc(sq):
    past = (utcnow() - timedelta(minutes=1)).isoformat() + "+00:00"
    message_id = send(sq, "sms", new_phone(), context={"code": "482913", "expires_at": past})
    settle(sq, [message_id])
    assert row(sq, message_id)["status"] == "failed"


@pytest.mark.parametrize("status", [429, 500, 502])
def test_throttling_and_server_errors_are_transient(sq, gateway, configure, status):
    use_gateway(configure, sq, gateway)
    gateway.script((status, {"error": "later"}))
    message_id = send(sq, "sms", new_phone())
    settle(sq, [message_id])
    assert row(sq, message_id)["status"] == "retry"
    assert drive(sq, message_id)["status"] == "sent"


def test_timeouts_and_an_unreachable_gateway_are_retried_until_attempts_run_out(sq, gateway, configure):
    use_gateway(configure, sq, gateway, SMS_GATEWAY_TIMEOUT=0.3)
    gateway.script((200, None, 1.5))  # answers too late: the attempt counts as failed
    message_id = send(sq, "sms", new_phone())
    settle(sq, [message_id])
    first = row(sq, message_id)
    assert first["status"] == "retry" and "did not answer within 0.3 s" in first["last_error"]

    configure(sq, SMS_GATEWAY_URL=f"http://127.0.0.1:{free_port()}/sms")  # nothing listens there
    failed = drive(sq, message_id)
    assert (failed["status"], failed["attempts"]) == ("failed", 3)  # OUTBOX_MAX_ATTEMPTS
    assert "gateway unreachable: ConnectionError" in failed["last_error"]
    assert len(gateway.requests) == 1


def test_retries_exhausted_end_in_failed_with_the_last_error(oapp, gateway, configure):
    use_gateway(configure, oapp, gateway)
    gateway.default = (500, {"error": "gateway down"}, 0)
    message_id = send(oapp, "sms", new_phone())
    failed = drive(oapp, message_id)
    assert (failed["status"], failed["attempts"], failed["next_attempt_at"]) == ("failed", 3, None)
    assert "HTTP 500" in failed["last_error"] and "gateway down" in failed["last_error"]
    assert failed["sent_at"] is None
    with oapp.app_context():
        jobs.tick()
        assert outbox.deliver(message_id) is None  # a failed message is never taken again
        db.session.remove()
    assert len(gateway.requests) == 3


def test_invalid_recipients_and_impossible_configurations_fail_at_once(sq, gateway, configure):
    use_gateway(configure, sq, gateway)
    cases = [
        ("sms", "unknown", "invalid phone number 'unknown'"),  # what notify_customer writes without a phone
        ("sms", "12345", "invalid phone number '12345'"),
        ("voice", "+7916abc4567", "invalid phone number"),
        ("email", "no-at-sign.example.test", "invalid email address"),
        ("email", "a@b@example.test", "invalid email address"),
        ("fax", "+79161234567", "unknown channel 'fax'"),
    ]
    ids = [send(sq, channel, recipient) for channel, recipient, _ in cases]
    settle(sq, ids)
    for message_id, (_channel, _recipient, error) in zip(ids, cases):
        failed = row(sq, message_id)
        assert (failed["status"], failed["attempts"]) == ("failed", 1), failed
        assert error in failed["last_error"]
    assert gateway.requests == []

    configurations = [
        ({"DELIVERY_SMS": "carrier-pigeon"}, "sms", "unknown delivery adapter 'carrier-pigeon' for sms"),
        ({"DELIVERY_EMAIL": "http"}, "email", "delivery adapter 'http' cannot carry email"),
        ({"DELIVERY_SMS": "http", "SMS_GATEWAY_URL": None}, "sms", "SMS_GATEWAY_URL is not set"),
        ({"DELIVERY_EMAIL": "smtp", "SMTP_HOST": None}, "email", "SMTP_HOST is not set"),
        ({"DELIVERY_PUSH": "tests.nowhere:Adapter"}, "push", "cannot load delivery adapter"),
    ]
    for settings, channel, error in configurations:
        configure(sq, **settings)
        message_id = send(sq, channel, new_address() if channel == "email" else new_phone())
        settle(sq, [message_id])
        failed = row(sq, message_id)
        assert failed["status"] == "failed" and error in failed["last_error"], failed


def test_a_deployments_own_adapter_is_loaded_by_its_path(sq, configure):
    configure(sq, DELIVERY_PUSH="tests.test_outbox_delivery:RecordingPushAdapter")
    device = f"device-{uuid.uuid4().hex}"
    message_id = send(sq, "push", device, "Показания приняты: {value} кВт·ч", {"value": 1234})
    settle(sq, [message_id])
    sent = row(sq, message_id)
    assert (sent["status"], sent["provider"], sent["provider_message_id"]) == ("sent", "recording",
                                                                              f"push-{message_id}")
    [outgoing] = [m for m in RecordingPushAdapter.sent if m.id == message_id]
    assert (outgoing.recipient, outgoing.body, outgoing.attempt) == (device, "Показания приняты: 1234 кВт·ч", 1)
    assert log_lines(sq, device) == []


# --- SMTP ---------------------------------------------------------------------------------------

def test_email_reaches_a_real_smtp_server_with_a_cyrillic_subject_and_body(oapp, smtp_server, configure):
    use_smtp(configure, oapp, smtp_server)
    address = new_address()
    subject = "Подтверждение адреса — Кабинет «Энергосбыт»"
    message_id = send(oapp, "email", address, "Здравствуйте, {name}!\nСчёт за март: {amount} ₽.",
                      {"name": "Мария Петровна", "amount": "1 234,56"}, subject=subject)
    settle(oapp, [message_id])
    [received] = smtp_server.messages
    assert received["mail_from"] == "noreply@kabinet.test" and received["rcpt_tos"] == [address]
    raw = received["content"]
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0].lower()  # headers are 7-bit: encoded words
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == subject
    assert parsed["From"].addresses[0].display_name == "Кабинет"
    assert parsed["To"] == address
    assert parsed.get_content_charset() == "utf-8"
    assert parsed.get_content() == "Здравствуйте, Мария Петровна!\nСчёт за март: 1 234,56 ₽.\n"
    sent = row(oapp, message_id)
    assert (sent["status"], sent["attempts"], sent["provider"]) == ("sent", 1, "smtp")
    assert sent["provider_message_id"] == parsed["Message-ID"] and parsed["Message-ID"].endswith("@kabinet.test>")


def test_smtp_refusals_permanent_transient_and_a_server_that_is_down(sq, smtp_server, configure):
    use_smtp(configure, sq, smtp_server)
    unknown, busy = new_address("nobody"), new_address("later")
    smtp_server.sink.refuse[unknown] = "550 5.1.1 No such mailbox"
    smtp_server.sink.refuse[busy] = "451 4.3.0 Try again later"
    refused_id, busy_id = send(sq, "email", unknown, subject="Тест"), send(sq, "email", busy, subject="Тест")
    injected_id = send(sq, "email", "x@example.test\r\nBcc: victim@example.test", subject="Тест")
    settle(sq, [refused_id, busy_id, injected_id])

    refused = row(sq, refused_id)
    assert (refused["status"], refused["attempts"]) == ("failed", 1)
    assert "550" in refused["last_error"] and "No such mailbox" in refused["last_error"]
    injected = row(sq, injected_id)
    assert injected["status"] == "failed" and "invalid email address" in injected["last_error"]
    waiting = row(sq, busy_id)
    assert waiting["status"] == "retry" and "451" in waiting["last_error"]
    assert smtp_server.messages == []

    del smtp_server.sink.refuse[busy]  # the mailbox is back
    sent = drive(sq, busy_id)
    assert (sent["status"], sent["attempts"]) == ("sent", 2)
    assert [m["rcpt_tos"] for m in smtp_server.messages] == [[busy]]

    configure(sq, SMTP_PORT=free_port())  # nothing listens: retried, then failed
    down_id = send(sq, "email", new_address())
    failed = drive(sq, down_id)
    assert (failed["status"], failed["attempts"]) == ("failed", 3)
    assert "ConnectionRefusedError" in failed["last_error"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # aiosmtpd on implicit TLS
def test_smtp_with_starttls_and_login(sq, configure, tmp_path):
    import ssl

    ca, cert, key = make_certificates(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    server = SmtpServer(tls_context=tls, credentials=("kabinet", "relay-pass-1"))
    try:
        configure(sq, DELIVERY_EMAIL="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, SMTP_SECURITY="starttls",
                  SMTP_CA_FILE=ca, SMTP_USERNAME="kabinet", SMTP_PASSWORD="relay-pass-1", SMTP_FROM=SENDER)
        address = new_address()
        sent_id = send(sq, "email", address, "Письмо по защищённому каналу", {}, subject="Проверка TLS")
        settle(sq, [sent_id])
        assert row(sq, sent_id)["status"] == "sent"
        [received] = server.messages
        assert received["tls"] and received["rcpt_tos"] == [address] and received["login"] == b"kabinet"

        configure(sq, SMTP_PASSWORD="wrong")  # 535: permanent
        wrong_id = send(sq, "email", new_address(), subject="Тест")
        settle(sq, [wrong_id])
        wrong = row(sq, wrong_id)
        assert (wrong["status"], wrong["attempts"]) == ("failed", 1) and "535" in wrong["last_error"], wrong["last_error"]

        configure(sq, SMTP_PASSWORD="relay-pass-1", SMTP_CA_FILE=None)  # the relay's CA is not trusted
        untrusted_id = send(sq, "email", new_address(), subject="Тест")
        settle(sq, [untrusted_id])
        untrusted = row(sq, untrusted_id)
        assert untrusted["status"] == "retry" and "CERTIFICATE_VERIFY_FAILED" in untrusted["last_error"]
        configure(sq, SMTP_CA_FILE=ca)
        assert drive(sq, untrusted_id)["status"] == "sent"

        configure(sq, SMTP_SECURITY="none", SMTP_USERNAME=None)  # the relay insists on TLS
        plain_id = send(sq, "email", new_address(), subject="Тест")
        settle(sq, [plain_id])
        plain = row(sq, plain_id)
        assert plain["status"] == "failed" and "530" in plain["last_error"]
        assert len(server.messages) == 2
    finally:
        server.stop()

    implicit = SmtpServer(tls_context=tls, credentials=("kabinet", "relay-pass-1"), implicit_tls=True)
    try:  # SMTP_SECURITY=ssl: TLS from the first byte (port 465 style)
        configure(sq, SMTP_PORT=implicit.port, SMTP_SECURITY="ssl", SMTP_USERNAME="kabinet")
        implicit_id = send(sq, "email", new_address(), "Через SMTPS", {}, subject="Проверка SMTPS")
        settle(sq, [implicit_id])
        assert row(sq, implicit_id)["status"] == "sent", row(sq, implicit_id)["last_error"]
        [received] = implicit.messages
        assert received["tls"] and received["login"] == b"kabinet"
    finally:
        implicit.stop()


# --- idempotency and the ticker's sweep ---------------------------------------------------------

def test_the_same_delivery_job_run_twice_sends_once(oapp, gateway, configure):
    use_gateway(configure, oapp, gateway)
    gateway.default = (200, None, 0.3)  # slow enough for both runs to overlap
    message_id = insert(oapp, recipient=new_phone())
    start = threading.Barrier(2)
    results = []

    def run():
        with oapp.app_context():
            start.wait()
            results.append(outbox.deliver(message_id))
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results, key=str) == [None, "sent"]
    # and once more, later, through the job backend
    with oapp.app_context():
        assert outbox.deliver(message_id) is None
        outbox.enqueue(oapp, message_id)
        outbox.enqueue(oapp, message_id, "high")
        db.session.remove()
    time.sleep(0.5)
    assert len(gateway.requests) == 1
    sent = row(oapp, message_id)
    assert (sent["status"], sent["attempts"]) == ("sent", 1)


def test_the_ticker_takes_back_stuck_messages_and_leaves_live_ones(oapp):
    now = utcnow()
    phones = [new_phone() for _ in range(7)]
    killed = insert(oapp, recipient=phones[0], status="sending", attempts=1, next_attempt_at=now - timedelta(seconds=1))
    last = insert(oapp, recipient=phones[1], status="sending", attempts=3, next_attempt_at=now - timedelta(seconds=1))
    live = insert(oapp, recipient=phones[2], status="sending", attempts=1, next_attempt_at=now + timedelta(minutes=1))
    lost = insert(oapp, recipient=phones[3], updated_at=now - timedelta(minutes=2))
    fresh = insert(oapp, recipient=phones[4], updated_at=now)
    due = insert(oapp, recipient=phones[5], status="retry", attempts=1, next_attempt_at=now - timedelta(seconds=1))
    later = insert(oapp, recipient=phones[6], status="retry", attempts=1, next_attempt_at=now + timedelta(minutes=1))
    with oapp.app_context():
        assert jobs.tick() >= 3
        db.session.remove()
    settle(oapp, [killed, lost, due])

    taken_back = row(oapp, killed)
    assert (taken_back["status"], taken_back["attempts"]) == ("sent", 2)
    lost_for_good = row(oapp, last)
    assert (lost_for_good["status"], lost_for_good["attempts"]) == ("failed", 3)
    assert "was lost (lease expired)" in lost_for_good["last_error"]
    assert (row(oapp, lost)["status"], row(oapp, due)["status"]) == ("sent", "sent")
    assert row(oapp, due)["attempts"] == 2
    # untouched: a lease still running, a queued row younger than OUTBOX_REQUEUE_SECONDS, a retry not due
    assert (row(oapp, live)["status"], row(oapp, live)["attempts"]) == ("sending", 1)
    assert row(oapp, fresh)["status"] == "queued" and row(oapp, later)["status"] == "retry"
    assert [len(log_lines(oapp, phone)) for phone in phones] == [1, 0, 0, 1, 0, 1, 0]
    with oapp.app_context():  # leave nothing for the other tests' sweeps
        db.session.query(OutboxMessage).filter(OutboxMessage.id.in_([live, fresh, later])).delete()
        db.session.commit()
        db.session.remove()


def test_wait_for_delivery_reports_a_backlog_that_does_not_drain(sq):
    stuck = insert(sq, status="sending", attempts=1, next_attempt_at=utcnow() + timedelta(minutes=5))
    try:
        with sq.app_context():
            started = time.monotonic()
            assert notifications.wait_for_delivery(0.3, ids=[stuck]) is False
            assert 0.3 <= time.monotonic() - started < 2
            response = sq.test_client().get("/health")
            assert response.status_code == 200
            backlog = response.get_json()["outbox"]
            assert backlog["ok"] and backlog["sending"] >= 1 and backlog["oldest_seconds"] >= 0
    finally:
        with sq.app_context():
            db.session.query(OutboxMessage).filter(OutboxMessage.id == stuck).delete()
            db.session.commit()
            db.session.remove()


# --- the staff screen ---------------------------------------------------------------------------

def sign_in(app, username, client=None, **data):
    client = client or app.test_client()
    response = client.post("/login/", data={"username": username, "password": PASSWORD, **data})
    assert response.status_code == 302 and "/login" not in response.headers["Location"], username
    return client


def page(response):
    return response.get_data(as_text=True)


def test_staff_see_the_outbox_with_codes_masked_and_admins_retry_failed_messages(sq):
    otp_phone, notice_phone, sent_phone = new_phone(), new_phone(), new_phone()
    otp = insert(sq, recipient=otp_phone, template="otp_login", status="failed", attempts=3,
                 body="Код для входа в Кабинет: 739184. Никому его не сообщайте.", context={"code": "739184"},
                 last_error="DeliveryError: gateway answered HTTP 500")
    notice = insert(sq, recipient=notice_phone, status="failed", attempts=1, last_error="HTTP 400: bad number")
    sent = insert(sq, recipient=sent_phone, status="sent", attempts=1, provider="http", sent_at=utcnow())

    operator = sign_in(sq, "operator")
    listing = page(operator.get("/outbox/list/"))
    assert "Исходящие сообщения" in listing and "не отправлено" in listing and "отправлено" in listing
    assert otp_phone in listing and sent_phone in listing
    assert "Мониторинг" in page(operator.get("/"))
    failed_only = page(operator.get("/outbox/list/?_flt_3_status=failed"))
    assert otp_phone in failed_only and notice_phone in failed_only and sent_phone not in failed_only
    shown = page(operator.get(f"/outbox/show/{otp}"))
    assert MASK in shown and "739184" not in shown
    assert "HTTP 500" in shown
    assert "739184" not in listing
    # read-only for everyone: no add / edit / delete routes
    assert operator.get("/outbox/add").status_code == 404
    assert operator.post(f"/outbox/delete/{notice}").status_code == 404
    # the operator may look but not retry
    operator.post("/outbox/action_post", data={"action": "retry_failed", "rowid": [str(notice)]})
    assert row(sq, notice)["status"] == "failed"

    dispatcher = sign_in(sq, "dispatcher")
    assert dispatcher.get("/outbox/list/").status_code == 403
    assert "Мониторинг" not in page(dispatcher.get("/"))

    admin = sign_in(sq, "admin")
    done = admin.post("/outbox/action_post", data={"action": "retry_failed",
                                                   "rowid": [str(notice), str(otp), str(sent)]},
                      follow_redirects=True)
    text = page(done)
    assert f"Снова в очереди: 1 (№ {notice})" in text
    assert f"Одноразовые коды и ссылки не отправляются повторно (№ {otp})" in text
    assert f"пропущены № {sent}" in text
    settle(sq, [notice])
    again = row(sq, notice)
    assert (again["status"], again["attempts"]) == ("sent", 1)  # fresh attempts
    assert row(sq, otp)["status"] == "failed" and row(sq, sent)["attempts"] == 1
    assert len(log_lines(sq, notice_phone)) == 1 and log_lines(sq, otp_phone) == []

    # the single-message action on the show page is a POST too
    assert admin.get(f"/outbox/action/retry_failed/{otp}").status_code == 405


def test_the_retry_action_refuses_a_post_without_the_csrf_token(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'csrf.db'}", WTF_CSRF_ENABLED=True,
                    OUTBOX_LOG_PATH=str(tmp_path / "outbox.log"))
    failed = insert(app, status="failed", attempts=3, last_error="HTTP 500")
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page(client.get("/login/"))).group(1)
    sign_in(app, "admin", client, csrf_token=token)
    refused = client.post("/outbox/action_post", data={"action": "retry_failed", "rowid": [str(failed)]},
                          follow_redirects=True)
    assert "Форма устарела" in page(refused)
    assert row(app, failed)["status"] == "failed"
    listing = page(client.get("/outbox/list/"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', listing).group(1)
    client.post("/outbox/action_post", data={"action": "retry_failed", "rowid": [str(failed)], "csrf_token": token})
    settle(app, [failed])
    assert row(app, failed)["status"] == "sent"


# --- real RQ and real worker.py processes (PostgreSQL + Redis) ----------------------------------

def worker_settings(gateway, smtp_server, **extra):
    return {"DELIVERY_SMS": "http", "SMS_GATEWAY_URL": gateway.url("/sms"), "SMS_GATEWAY_TOKEN": "s3cret",
            "DELIVERY_EMAIL": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp_server.port,
            "SMTP_SECURITY": "none", "SMTP_FROM": SENDER, "OUTBOX_BACKOFF_SECONDS": 0.2, **extra}


def run_burst(stack):
    worker = stack.workers.start(f"burst-{uuid.uuid4().hex[:4]}", args=["--burst"], wait=False)
    assert worker.proc.wait(timeout=60) == 0, worker.log()[-3000:]
    return worker


def test_workers_deliver_from_rq_urgent_codes_first_and_each_message_once(rq_stack, gateway, smtp_server):
    stack = rq_stack(**worker_settings(gateway, smtp_server))
    phones = [new_phone() for _ in range(3)]
    otp_phone, address = new_phone(), new_address()
    with stack.app.app_context():
        ids = [notifications.send("sms", phone, "Плановое отключение {date}", {"date": "12.03"}).id
               for phone in phones]
        ids.append(notifications.send("email", address, "Счёт за март: {amount} ₽", {"amount": "1 234,56"},
                                      subject="Счёт за март — Кабинет").id)
        ids.append(notifications.send("sms", otp_phone, "otp_login", {"code": "605142"}, queue="high").id)
        # written but not committed: nothing is on the queues yet
        assert (stack.workers.queue("high").count, stack.workers.queue("default").count) == (0, 0)
        db.session.commit()
        db.session.remove()
    assert (stack.workers.queue("high").count, stack.workers.queue("default").count) == (1, 4)

    run_burst(stack)  # one worker, queues in priority order: the code goes out first
    assert [p["to"] for p in gateway.payloads()] == [otp_phone, *phones]
    assert gateway.requests[0]["json"]["text"] == "Код для входа в Кабинет: 605142. Никому его не сообщайте."
    [received] = smtp_server.messages
    parsed = email.message_from_bytes(received["content"], policy=email.policy.default)
    assert parsed["Subject"] == "Счёт за март — Кабинет" and parsed.get_content() == "Счёт за март: 1 234,56 ₽\n"
    for message_id in ids:
        sent = row(stack.app, message_id)
        assert (sent["status"], sent["attempts"]) == ("sent", 1), sent
    assert row(stack.app, ids[-1])["provider_message_id"] == "gw-1"

    # the same jobs again (a duplicate queue entry, a ticker's requeue): nothing is sent twice
    with stack.app.app_context():
        for message_id in ids:
            outbox.enqueue(stack.app, message_id, "default")
            outbox.enqueue(stack.app, message_id, "high")
        db.session.remove()
    assert stack.workers.queue("default").count == len(ids)
    run_burst(stack)
    assert stack.workers.queue("default").count == 0 and stack.workers.queue("high").count == 0
    assert len(gateway.requests) == 4 and len(smtp_server.messages) == 1
    assert all(row(stack.app, message_id)["attempts"] == 1 for message_id in ids)


def test_a_message_of_a_killed_worker_is_taken_back_and_retried_on_another(rq_stack, gateway, smtp_server):
    stack = rq_stack(**worker_settings(gateway, smtp_server, OUTBOX_LEASE_SECONDS=2, SMS_GATEWAY_TIMEOUT=30))
    gateway.script((200, None, HANG), (503, {"error": "busy"}))  # the first call never returns
    first = stack.workers.start("first")
    phone = new_phone()
    message_id = send(stack.app, "sms", phone, queue="high")
    wait_for(lambda: len(gateway.requests) == 1 and row(stack.app, message_id)["status"] == "sending", 20,
             message="the first worker did not start sending")
    first.kill()  # SIGKILL while the gateway holds the request
    assert first.proc.returncode == -9
    stuck = row(stack.app, message_id)
    assert (stuck["status"], stuck["attempts"]) == ("sending", 1)

    stack.workers.start("second")  # its ticker takes the message back after the lease
    wait_for(lambda: row(stack.app, message_id)["status"] == "sent", 30,
             message=lambda: f"not delivered: {row(stack.app, message_id)}")
    sent = row(stack.app, message_id)
    assert sent["attempts"] == 3  # killed, then 503, then delivered
    assert "HTTP 503" in sent["last_error"] and sent["provider_message_id"] == "gw-3"
    payloads = gateway.payloads()
    assert len(payloads) == 3 and all(p == payloads[0] for p in payloads)  # one id for the gateway to deduplicate
