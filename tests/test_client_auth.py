"""Registration by phone, sign-in, one-time codes, tokens and recovery through the client API."""
import threading
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models.notifications import MASK
from app.models.customers import Customer, CustomerSession, OneTimeCode
from app.models.workflow import utcnow
from tests.conftest import PASSWORD as STAFF_PASSWORD
from tests.conftest import build_app
from tests.support.customers import (
    AUTH,
    PASSWORD,
    bearer,
    delivered,
    last_code,
    new_phone,
    register,
    sent_messages,
    sign_in,
)

EN = {"Accept-Language": "en"}


def count(app, model, *where):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def shift_code(app, challenge_id, **columns):
    """Move a code's clock: e.g. created_at / expires_at into the past."""
    with app.app_context():
        db.session.execute(update(OneTimeCode).where(OneTimeCode.public_id == challenge_id).values(**columns))
        db.session.commit()


def error(response):
    return response.get_json()["error"]


# --- registration -----------------------------------------------------------------------------

def test_registration_normalises_the_phone_sends_a_code_and_signs_in(app):
    client = app.test_client()
    digits = new_phone()[2:]
    typed = f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}"
    started = client.post(f"{AUTH}/register", json={"phone": typed, "full_name": "  Петров   Пётр ", "consent": True})
    assert started.status_code == 202
    body = started.get_json()
    assert body["channel"] == "sms" and 290 <= body["expires_in"] <= 300 and body["resend_after"] == 60
    phone = "+7" + digits
    code = last_code(app, phone)  # what the phone received
    [text] = delivered(app, phone)
    assert len(code) == 6 and code.isdigit() and text == f"Код для регистрации в Кабинете: {code}. Никому его не сообщайте."
    [message] = sent_messages(app, phone)
    assert message.channel == "sms" and message.queue == "high" and message.template == "otp_register"
    assert message.status == "sent"
    # stored: a keyed hash of the code, and the delivered message with the code masked
    assert code not in message.body and message.context["code"] == MASK and code not in str(message.context)
    with app.app_context():
        stored = db.session.execute(select(OneTimeCode).where(OneTimeCode.public_id == body["challenge_id"])).scalar_one()
        assert code not in stored.code_hash and len(stored.code_hash) == 64
    assert client.post(f"{AUTH}/register/verify", json={"challenge_id": body["challenge_id"], "code": code}).status_code == 200
    done = client.post(f"{AUTH}/register/complete",
                       json={"challenge_id": body["challenge_id"], "password": PASSWORD, "password_confirm": PASSWORD})
    assert done.status_code == 201
    tokens = done.get_json()
    assert tokens["customer"]["phone"] == phone and tokens["customer"]["full_name"] == "Петров Пётр"
    sessions = client.get(f"{AUTH}/sessions", headers=bearer(tokens)).get_json()
    assert sessions["count"] == 1 and sessions["result"][0]["current"] and sessions["result"][0]["method"] == "registration"
    with app.app_context():
        customer = db.session.execute(select(Customer).where(Customer.phone == phone)).scalar_one()
        assert customer.consent_at is not None and PASSWORD not in customer.password_hash


def test_registration_refuses_bad_input_with_every_field_and_changes_nothing(app):
    client = app.test_client()
    before = count(app, OneTimeCode)
    refused = client.post(f"{AUTH}/register", json={"phone": "12345", "full_name": " ", "consent": False})
    assert refused.status_code == 422
    fields = error(refused)["fields"]
    assert fields == {"phone": ["Некорректный номер телефона."], "full_name": ["Укажите фамилию, имя и отчество."],
                      "consent": ["Нужно согласие на обработку персональных данных."]}
    english = client.post(f"{AUTH}/register", json={"phone": new_phone()}, headers=EN)
    assert english.status_code == 422
    assert error(english)["fields"] == {"full_name": ["Missing data for required field."],
                                        "consent": ["Missing data for required field."]}
    russian = client.post(f"{AUTH}/register", json={"phone": new_phone(), "full_name": "А", "consent": True, "role": "admin"})
    assert error(russian)["fields"] == {"role": ["Неизвестное поле."]}
    assert client.post(f"{AUTH}/register", data="phone=1").status_code == 400
    assert count(app, OneTimeCode) == before


def test_wrong_expired_and_reused_codes(app):
    client = app.test_client()
    phone = new_phone()
    challenge = client.post(f"{AUTH}/register", json={"phone": phone, "full_name": "Ким Анна", "consent": True}).get_json()["challenge_id"]
    code = last_code(app, phone)
    wrong = "0" * 6 if code != "0" * 6 else "1" * 6
    refused = client.post(f"{AUTH}/register/verify", json={"challenge_id": challenge, "code": wrong}, headers=EN)
    assert refused.status_code == 422 and error(refused)["message"] == "Wrong code. Attempts left: 4."
    premature = client.post(f"{AUTH}/register/complete",
                            json={"challenge_id": challenge, "password": PASSWORD, "password_confirm": PASSWORD})
    assert premature.status_code == 422 and error(premature)["code"] == "code_not_verified"
    assert "challenge_id" in error(premature)["fields"]
    unknown = client.post(f"{AUTH}/register/verify", json={"challenge_id": "f" * 32, "code": code})
    assert unknown.status_code == 422 and error(unknown)["code"] == "code_invalid"
    shift_code(app, challenge, expires_at=utcnow() - timedelta(seconds=1))
    expired = client.post(f"{AUTH}/register/verify", json={"challenge_id": challenge, "code": code})
    assert expired.status_code == 422 and error(expired)["code"] == "code_expired"
    shift_code(app, challenge, expires_at=utcnow() + timedelta(minutes=5))
    assert client.post(f"{AUTH}/register/verify", json={"challenge_id": challenge, "code": code}).status_code == 200
    done = {"challenge_id": challenge, "password": PASSWORD, "password_confirm": PASSWORD}
    assert client.post(f"{AUTH}/register/complete", json=done).status_code == 201
    reused = client.post(f"{AUTH}/register/complete", json=done)
    assert reused.status_code == 409 and error(reused)["code"] == "code_used"
    assert count(app, Customer, Customer.phone == phone) == 1


def test_attempts_run_out_even_for_the_right_code(app):
    client = app.test_client()
    phone = new_phone()
    challenge = client.post(f"{AUTH}/register", json={"phone": phone, "full_name": "Ли Ян", "consent": True}).get_json()["challenge_id"]
    code = last_code(app, phone)
    wrong = "0" * 6 if code != "0" * 6 else "1" * 6
    for left in (4, 3, 2, 1, 0):
        refused = client.post(f"{AUTH}/register/verify", json={"challenge_id": challenge, "code": wrong})
        assert refused.status_code == 422 and f"Осталось попыток: {left}" in error(refused)["message"]
    locked = client.post(f"{AUTH}/register/verify", json={"challenge_id": challenge, "code": code})
    assert locked.status_code == 429 and error(locked)["code"] == "code_attempts"
    assert 1 <= int(locked.headers["Retry-After"]) <= 60  # when a new code may be asked for


def test_a_registered_phone_learns_it_only_after_the_code_and_gets_no_second_account(app):
    phone, _tokens = register(app)
    with app.app_context():  # past the resend cooldown of the first registration
        db.session.execute(update(OneTimeCode).where(OneTimeCode.phone == phone)
                           .values(created_at=utcnow() - timedelta(minutes=2)))
        db.session.commit()
    client = app.test_client()
    again = client.post(f"{AUTH}/register", json={"phone": phone, "full_name": "Кто-то Другой", "consent": True})
    assert again.status_code == 202 and set(again.get_json()) == {"challenge_id", "channel", "expires_in", "resend_after"}
    challenge = again.get_json()["challenge_id"]
    taken = client.post(f"{AUTH}/register/verify", json={"challenge_id": challenge, "code": last_code(app, phone)})
    assert taken.status_code == 409 and error(taken)["code"] == "phone_registered"
    assert "войдите или восстановите пароль" in error(taken)["message"]
    forced = client.post(f"{AUTH}/register/complete",
                         json={"challenge_id": challenge, "password": PASSWORD, "password_confirm": PASSWORD})
    assert forced.status_code == 409
    assert count(app, Customer, Customer.phone == phone) == 1


@pytest.mark.parametrize("password, confirm, problems", [
    ("short1", "short1", {"password": ["password_too_short"]}),
    ("onlyletters", "onlyletters", {"password": ["password_letters_digits"]}),
    ("password1", "password1", {"password": ["password_weak"]}),
    ("Lampa-Sveta-42", "Lampa-Sveta-43", {"password_confirm": ["password_mismatch"]}),
])
def test_password_rules(sqlite_app, password, confirm, problems):
    from app.api.errors import message_for

    client = sqlite_app.test_client()
    phone = new_phone()
    challenge = client.post(f"{AUTH}/register", json={"phone": phone, "full_name": "Орлов Олег", "consent": True}).get_json()["challenge_id"]
    client.post(f"{AUTH}/register/verify", json={"challenge_id": challenge, "code": last_code(sqlite_app, phone)})
    refused = client.post(f"{AUTH}/register/complete",
                          json={"challenge_id": challenge, "password": password, "password_confirm": confirm})
    assert refused.status_code == 422
    with sqlite_app.test_request_context():
        assert error(refused)["fields"] == {k: [message_for(c) for c in v] for k, v in problems.items()}
    assert count(sqlite_app, Customer, Customer.phone == phone) == 0


def test_a_password_holding_the_phone_or_name_is_refused(sqlite_app):
    client = sqlite_app.test_client()
    phone = new_phone()
    challenge = client.post(f"{AUTH}/register", json={"phone": phone, "full_name": "Смирнова Алевтина", "consent": True}).get_json()["challenge_id"]
    client.post(f"{AUTH}/register/verify", json={"challenge_id": challenge, "code": last_code(sqlite_app, phone)})
    for password in (f"x{phone[2:]}", "Алевтина2026"):
        refused = client.post(f"{AUTH}/register/complete",
                              json={"challenge_id": challenge, "password": password, "password_confirm": password})
        assert error(refused)["fields"]["password"] == ["Пароль не должен содержать ваш телефон или имя."]


def test_voice_channel_is_a_setting(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'voice.db'}", OTP_CHANNEL="voice")
    phone = new_phone()
    started = app.test_client().post(f"{AUTH}/register", json={"phone": phone, "full_name": "Голос", "consent": True})
    assert started.get_json()["channel"] == "voice"
    code = last_code(app, phone)
    [message] = sent_messages(app, phone)
    assert message.channel == "voice" and message.queue == "high"
    assert delivered(app, phone) == [f"Ваш код: {', '.join(code)}. Повторяю: {', '.join(code)}."]
    register(app, phone=new_phone())  # the whole flow works with a spoken code


# --- codes: cooldown and rate limits ------------------------------------------------------------

def test_resend_only_after_the_cooldown(app):
    phone, _tokens = register(app)
    client = app.test_client()
    first = client.post(f"{AUTH}/codes", json={"phone": phone, "purpose": "login"})
    assert first.status_code == 202
    again = client.post(f"{AUTH}/codes", json={"phone": phone, "purpose": "login"}, headers=EN)
    assert again.status_code == 429 and error(again)["code"] == "code_cooldown"
    assert 55 <= int(again.headers["Retry-After"]) <= 60
    assert error(again)["message"].startswith("A new code can be requested in ")
    shift_code(app, first.get_json()["challenge_id"], created_at=utcnow() - timedelta(seconds=61))
    assert client.post(f"{AUTH}/codes", json={"phone": phone, "purpose": "login"}).status_code == 202
    assert len([m for m in sent_messages(app, phone) if m.template == "otp_login"]) == 2


def test_code_requests_look_the_same_for_unknown_phones_and_send_nothing(app):
    registered, _tokens = register(app)
    unknown = new_phone()
    client = app.test_client()
    answers = [client.post(f"{AUTH}/codes", json={"phone": phone, "purpose": purpose})
               for phone in (registered, unknown) for purpose in ("login", "recover")]
    assert {a.status_code for a in answers} == {202}
    assert len({frozenset(a.get_json()) for a in answers}) == 1
    assert sent_messages(app, unknown) == []
    signed = client.post(f"{AUTH}/sign-in/code", json={"phone": unknown, "challenge_id": answers[2].get_json()["challenge_id"],
                                                       "code": "123456"})
    assert signed.status_code == 401 and error(signed)["code"] == "sign_in_failed"


def test_code_requests_are_limited_per_phone_and_per_ip(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'limits.db'}", OTP_RESEND_SECONDS=0,
                    OTP_REQUEST_LIMIT_PER_PHONE="2 per hour", OTP_REQUEST_LIMIT_PER_IP="4 per hour")
    client = app.test_client()
    phone = new_phone()
    for _ in range(2):
        assert client.post(f"{AUTH}/codes", json={"phone": phone, "purpose": "login"}).status_code == 202
    limited = client.post(f"{AUTH}/codes", json={"phone": phone, "purpose": "login"})
    assert limited.status_code == 429 and error(limited)["code"] == "rate_limited"
    assert 3500 <= int(limited.headers["Retry-After"]) <= 3600
    # another address may still ask for other phones, this one only up to its own limit
    other_ip = {"REMOTE_ADDR": "10.0.0.7"}
    for _ in range(4):
        assert client.post(f"{AUTH}/codes", json={"phone": new_phone(), "purpose": "login"},
                           environ_base=other_ip).status_code == 202
    assert client.post(f"{AUTH}/codes", json={"phone": new_phone(), "purpose": "login"},
                       environ_base=other_ip).status_code == 429


def test_limits_are_shared_by_web_processes_through_redis(tmp_path, redis_conn, redis_prefix):
    from tests.conftest import REDIS_URL

    settings = dict(RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=f"{redis_prefix}:limits",
                    OTP_RESEND_SECONDS=0, OTP_REQUEST_LIMIT_PER_PHONE="3 per hour")
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = build_app(url, **settings), build_app(url, **settings)
    phone = new_phone()
    answers = [app.test_client().post(f"{AUTH}/codes", json={"phone": phone, "purpose": "login"}).status_code
               for app in (first, second, first, second)]
    assert answers == [202, 202, 202, 429]
    assert list(redis_conn.scan_iter(f"LIMITS:*{redis_prefix}:limits/kabinet/otp-phone/{phone}/*"))


# --- sign-in ------------------------------------------------------------------------------------

def test_password_sign_in_and_the_same_refusal_for_unknown_phones(app):
    phone, _tokens = register(app)
    signed = sign_in(app, phone)
    assert signed.status_code == 200 and signed.get_json()["customer"]["phone"] == phone
    wrong = sign_in(app, phone, "Wrong-pass-2026")
    unknown = sign_in(app, new_phone())
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    assert error(wrong)["code"] == "sign_in_failed"
    assert sign_in(app, "not a phone").status_code == 422


def test_repeated_failures_lock_the_phone_registered_or_not(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'lock.db'}", SIGN_IN_FAILURE_LIMIT="3 per 15 minutes")
    phone, _tokens = register(app)
    unknown = new_phone()
    for candidate in (phone, unknown):
        for _ in range(3):
            assert sign_in(app, candidate, "Wrong-pass-2026").status_code == 401
        locked = sign_in(app, candidate, PASSWORD)
        assert locked.status_code == 429 and error(locked)["code"] == "phone_locked"
        assert 800 <= int(locked.headers["Retry-After"]) <= 900
    # the lock is per phone: another customer signs in
    other, _ = register(app)
    assert sign_in(app, other).status_code == 200


def test_a_success_clears_the_failures(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'clear.db'}", SIGN_IN_FAILURE_LIMIT="3 per 15 minutes")
    phone, _tokens = register(app)
    for _round in range(3):
        for _ in range(2):
            assert sign_in(app, phone, "Wrong-pass-2026").status_code == 401
        assert sign_in(app, phone).status_code == 200


def test_sign_in_attempts_are_limited_per_ip(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'ip.db'}", SIGN_IN_LIMIT_PER_IP="3 per minute")
    client = app.test_client()
    ip = {"REMOTE_ADDR": "10.1.2.3"}
    for _ in range(3):
        assert client.post(f"{AUTH}/sign-in", json={"phone": new_phone(), "password": "x"}, environ_base=ip).status_code == 401
    limited = client.post(f"{AUTH}/sign-in", json={"phone": new_phone(), "password": "x"}, environ_base=ip)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) <= 60


def test_code_sign_in_once_per_code(app):
    phone, _tokens = register(app)
    client = app.test_client()
    challenge = client.post(f"{AUTH}/codes", json={"phone": phone, "purpose": "login"}).get_json()["challenge_id"]
    code = last_code(app, phone)
    wrong_phone = client.post(f"{AUTH}/sign-in/code", json={"phone": new_phone(), "challenge_id": challenge, "code": code})
    assert wrong_phone.status_code == 401
    body = {"phone": phone, "challenge_id": challenge, "code": code}
    signed = client.post(f"{AUTH}/sign-in/code", json=body)
    assert signed.status_code == 200 and signed.get_json()["customer"]["phone"] == phone
    replay = client.post(f"{AUTH}/sign-in/code", json=body)
    assert replay.status_code == 409 and error(replay)["code"] == "code_used"
    # a registration code cannot sign in
    register_code = client.post(f"{AUTH}/register", json={"phone": new_phone(), "full_name": "X Y", "consent": True})
    assert client.post(f"{AUTH}/sign-in/code", json={"phone": phone, "challenge_id": register_code.get_json()["challenge_id"],
                                                      "code": code}).status_code == 401


# --- tokens -------------------------------------------------------------------------------------

def test_refresh_rotates_and_reuse_revokes_the_family(app):
    _phone, first = register(app)
    client = app.test_client()
    second = client.post(f"{AUTH}/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second = second.get_json()
    assert second["refresh_token"] != first["refresh_token"] and second["session_id"] == first["session_id"]
    assert client.get(f"{AUTH}/sessions", headers=bearer(second)).status_code == 200
    stolen = client.post(f"{AUTH}/refresh", json={"refresh_token": first["refresh_token"]})
    assert stolen.status_code == 401 and error(stolen)["code"] == "refresh_reused"
    # the whole family is dead: the newest refresh token and the access tokens
    assert client.post(f"{AUTH}/refresh", json={"refresh_token": second["refresh_token"]}).status_code == 401
    assert client.get(f"{AUTH}/sessions", headers=bearer(second)).status_code == 401
    assert client.post(f"{AUTH}/refresh", json={"refresh_token": "made-up"}).status_code == 401


def test_parallel_refreshes_with_one_token_give_one_pair(pg_app):
    _phone, tokens = register(pg_app)
    results = []
    barrier = threading.Barrier(4)

    def refresh():
        client = pg_app.test_client()
        barrier.wait()
        results.append(client.post(f"{AUTH}/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code)

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # one rotation wins; the others present a spent token, which is reuse: the family dies
    assert sorted(results) == [200, 401, 401, 401]


def test_sign_out_and_sign_out_everywhere(app):
    phone, first = register(app)
    second = sign_in(app, phone).get_json()
    third = sign_in(app, phone).get_json()
    client = app.test_client()
    assert client.post(f"{AUTH}/sign-out", headers=bearer(first)).status_code == 204
    assert client.get(f"{AUTH}/sessions", headers=bearer(first)).status_code == 401
    assert client.post(f"{AUTH}/refresh", json={"refresh_token": first["refresh_token"]}).status_code == 401
    live = client.get(f"{AUTH}/sessions", headers=bearer(second)).get_json()
    assert live["count"] == 2
    assert client.post(f"{AUTH}/sign-out-everywhere", headers=bearer(second)).status_code == 204
    for tokens in (second, third):
        assert client.get(f"{AUTH}/sessions", headers=bearer(tokens)).status_code == 401
        assert client.post(f"{AUTH}/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    assert sign_in(app, phone).status_code == 200


def test_dont_keep_me_signed_in_gives_a_short_session(app):
    phone, _tokens = register(app)
    short = sign_in(app, phone, keep_signed_in=False).get_json()
    long = sign_in(app, phone).get_json()
    with app.app_context():
        sessions = {s.public_id: s for s in db.session.execute(select(CustomerSession)).scalars()}
        assert not sessions[short["session_id"]].persistent and sessions[long["session_id"]].persistent
        short_life = sessions[short["session_id"]].expires_at - sessions[short["session_id"]].created_at
        assert short_life == timedelta(hours=12)


def test_access_tokens_are_checked(app):
    _phone, tokens = register(app)
    client = app.test_client()
    url = f"{AUTH}/sessions"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": tokens["access_token"]}).status_code == 401
    forged = jwt.encode({**jwt.decode(tokens["access_token"], options={"verify_signature": False}), "sub": "1"},
                        "guess", algorithm="HS256")
    assert client.get(url, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    unsigned = jwt.encode(jwt.decode(tokens["access_token"], options={"verify_signature": False}), None, algorithm="none")
    assert client.get(url, headers={"Authorization": f"Bearer {unsigned}"}).status_code == 401
    with app.app_context():
        db.session.execute(update(CustomerSession).where(CustomerSession.public_id == tokens["session_id"])
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    ended = client.get(url, headers=bearer(tokens))
    assert ended.status_code == 401 and error(ended)["code"] == "session_ended"


def test_expired_access_token(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'exp.db'}", CUSTOMER_ACCESS_TOKEN_SECONDS=-1)
    _phone, tokens = register(app)
    assert app.test_client().get(f"{AUTH}/sessions", headers=bearer(tokens)).status_code == 401


def test_staff_and_customer_tokens_do_not_cross(app):
    _phone, tokens = register(app)
    client = app.test_client()
    staff = client.post("/api/v1/security/login",
                        json={"username": "admin", "password": STAFF_PASSWORD, "provider": "db"}).get_json()
    assert client.get(f"{AUTH}/sessions", headers={"Authorization": f"Bearer {staff['access_token']}"}).status_code == 401
    assert client.get("/api/v1/tasks/", headers=bearer(tokens)).status_code == 401
    assert client.get("/api/v1/process-instances/", headers=bearer(tokens)).status_code == 401


# --- recovery and password change --------------------------------------------------------------

def test_recovery_sets_a_new_password_and_ends_every_other_session(app):
    phone, old = register(app)
    client = app.test_client()
    challenge = client.post(f"{AUTH}/codes", json={"phone": phone, "purpose": "recover"}).get_json()["challenge_id"]
    assert sent_messages(app, phone)[-1].template == "otp_recover"
    assert client.post(f"{AUTH}/recover/verify", json={"challenge_id": challenge, "code": last_code(app, phone)}).status_code == 200
    new_password = "Novyi-Parol-77"
    weak = client.post(f"{AUTH}/recover/complete",
                       json={"challenge_id": challenge, "password": "123", "password_confirm": "123"})
    assert weak.status_code == 422
    done = client.post(f"{AUTH}/recover/complete",
                       json={"challenge_id": challenge, "password": new_password, "password_confirm": new_password})
    assert done.status_code == 200 and done.get_json()["customer"]["phone"] == phone
    assert client.get(f"{AUTH}/sessions", headers=bearer(old)).status_code == 401
    assert sign_in(app, phone).status_code == 401
    assert sign_in(app, phone, new_password).status_code == 200
    again = client.post(f"{AUTH}/recover/complete",
                        json={"challenge_id": challenge, "password": new_password, "password_confirm": new_password})
    assert again.status_code == 409


def test_a_login_code_cannot_recover(app):
    phone, _tokens = register(app)
    client = app.test_client()
    challenge = client.post(f"{AUTH}/codes", json={"phone": phone, "purpose": "login"}).get_json()["challenge_id"]
    refused = client.post(f"{AUTH}/recover/verify", json={"challenge_id": challenge, "code": last_code(app, phone)})
    assert refused.status_code == 422 and error(refused)["code"] == "code_invalid"


def test_change_password_needs_the_old_one_and_keeps_only_this_session(app):
    phone, current = register(app)
    other = sign_in(app, phone).get_json()
    client = app.test_client()
    url = f"{AUTH}/password"
    new_password = "Drugoi-Parol-88"
    wrong = client.put(url, json={"old_password": "nope", "password": new_password, "password_confirm": new_password},
                       headers=bearer(current))
    assert wrong.status_code == 422 and list(error(wrong)["fields"]) == ["old_password"]
    mismatch = client.put(url, json={"old_password": PASSWORD, "password": new_password, "password_confirm": "x"},
                          headers=bearer(current))
    assert mismatch.status_code == 422 and list(error(mismatch)["fields"]) == ["password_confirm"]
    assert sign_in(app, phone).status_code == 200  # nothing changed by the refusals
    assert client.put(url, json={"old_password": PASSWORD, "password": new_password, "password_confirm": new_password},
                      headers=bearer(current)).status_code == 204
    assert client.get(f"{AUTH}/sessions", headers=bearer(current)).status_code == 200
    assert client.get(f"{AUTH}/sessions", headers=bearer(other)).status_code == 401
    assert sign_in(app, phone, new_password).status_code == 200


def test_one_customer_never_sees_anothers_sessions(app):
    _a, tokens_a = register(app)
    _b, tokens_b = register(app)
    client = app.test_client()
    mine = client.get(f"{AUTH}/sessions", headers=bearer(tokens_a)).get_json()["result"]
    assert [s["id"] for s in mine] == [tokens_a["session_id"]]
    assert tokens_b["session_id"] not in str(mine)


def test_client_endpoints_are_in_the_openapi_document(app, api):
    spec = api("admin").get("/api/v1/_openapi").get_json()
    paths = spec["paths"]
    for path in ("/client/auth/register", "/client/auth/register/verify", "/client/auth/register/complete",
                 "/client/auth/codes", "/client/auth/sign-in", "/client/auth/sign-in/code", "/client/auth/refresh",
                 "/client/auth/sign-out", "/client/auth/sign-out-everywhere", "/client/auth/password",
                 "/client/auth/recover/verify", "/client/auth/recover/complete", "/client/devices/",
                 "/client/devices/sign-in/pin", "/client/devices/sign-in/biometric"):
        assert f"/api/v1{path}" in paths, path
    assert spec["components"]["securitySchemes"]["customer"]["scheme"] == "bearer"
    assert "RegistrationCodeSchema" in spec["components"]["schemas"]


@pytest.mark.parametrize("trusted, limited_second", [(0, True), (1, False)])
def test_forwarded_addresses_count_only_behind_a_trusted_proxy(tmp_path, trusted, limited_second):
    """Without a trusted proxy a client cannot dodge the per-IP limit by sending X-Forwarded-For;
    behind one, each client's own address is limited, not the balancer's."""
    app = build_app(f"sqlite:///{tmp_path / 'proxy.db'}", TRUSTED_PROXIES=trusted, SIGN_IN_LIMIT_PER_IP="1 per minute")
    client = app.test_client()
    first = client.post(f"{AUTH}/sign-in", json={"phone": new_phone(), "password": "x"},
                        headers={"X-Forwarded-For": "203.0.113.1"})
    second = client.post(f"{AUTH}/sign-in", json={"phone": new_phone(), "password": "x"},
                         headers={"X-Forwarded-For": "203.0.113.2"})
    assert first.status_code == 401
    assert second.status_code == (429 if limited_second else 401)


def test_two_registrations_of_one_phone_at_once_make_one_account(pg_app):
    """Two codes for one phone (asked for past the cooldown), both verified, completed at the
    same moment: one account, and the other answer is the clear 409, never a 500."""
    phone = new_phone()
    client = pg_app.test_client()
    challenges = []
    for _ in range(2):
        challenge = client.post(f"{AUTH}/register", json={"phone": phone, "full_name": "Дубль Дублев",
                                                          "consent": True}).get_json()["challenge_id"]
        assert client.post(f"{AUTH}/register/verify",
                           json={"challenge_id": challenge, "code": last_code(pg_app, phone)}).status_code == 200
        challenges.append(challenge)
        shift_code(pg_app, challenge, created_at=utcnow() - timedelta(minutes=2))
    results = []
    barrier = threading.Barrier(2)

    def complete(challenge):
        barrier.wait()
        results.append(pg_app.test_client().post(f"{AUTH}/register/complete", json={
            "challenge_id": challenge, "password": PASSWORD, "password_confirm": PASSWORD}))

    threads = [threading.Thread(target=complete, args=(c,)) for c in challenges]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in results) == [201, 409]
    assert [error(r)["code"] for r in results if r.status_code == 409] == ["phone_registered"]
    assert count(pg_app, Customer, Customer.phone == phone) == 1


def test_an_account_without_a_password_cannot_be_entered_with_one(app):
    """Accounts opened through a provider have no password; the hash checked in its place for
    timing must never let its own plain text in."""
    phone = new_phone()
    with app.app_context():
        db.session.add(Customer(phone=phone, full_name="Без Пароля", consent_at=utcnow(), password_hash=None,
                                notification_preferences={}))
        db.session.commit()
    for password in ("kabinet-no-such-account", "", PASSWORD):
        refused = sign_in(app, phone, password)
        assert refused.status_code == 401 and error(refused)["code"] == "sign_in_failed", password


def test_parallel_wrong_passwords_cannot_outrun_the_lock(make_pg_database):
    app = build_app(make_pg_database(), SIGN_IN_FAILURE_LIMIT="3 per 15 minutes")
    phone, _tokens = register(app)
    answers = []
    barrier = threading.Barrier(8)

    def guess(n):
        barrier.wait()
        answers.append(sign_in(app, phone, f"Guess-{n}-2026").status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [401] * 3 + [429] * 5
    assert sign_in(app, phone).status_code == 429


def test_wrong_old_passwords_count_as_failed_sign_ins(tmp_path):
    """A stolen access token gives no free guesses at the password."""
    app = build_app(f"sqlite:///{tmp_path / 'guess.db'}", SIGN_IN_FAILURE_LIMIT="3 per 15 minutes")
    phone, tokens = register(app)
    client = app.test_client()
    body = {"password": "Novyi-Parol-77", "password_confirm": "Novyi-Parol-77"}
    for n in range(3):
        assert client.put(f"{AUTH}/password", json={**body, "old_password": f"guess-{n}"},
                          headers=bearer(tokens)).status_code == 422
    locked = client.put(f"{AUTH}/password", json={**body, "old_password": PASSWORD}, headers=bearer(tokens))
    assert locked.status_code == 429 and error(locked)["code"] == "phone_locked"
    assert sign_in(app, phone).status_code == 429  # the same lock as sign-in


def test_taps_refused_by_the_cooldown_do_not_use_up_the_hourly_quota(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'quota.db'}", OTP_REQUEST_LIMIT_PER_PHONE="2 per hour")
    phone, _tokens = register(app)
    _age_codes(app, phone)
    client = app.test_client()
    assert client.post(f"{AUTH}/codes", json={"phone": phone, "purpose": "login"}).status_code == 202
    for _ in range(5):
        tap = client.post(f"{AUTH}/codes", json={"phone": phone, "purpose": "login"})
        assert tap.status_code == 429 and error(tap)["code"] == "code_cooldown"
    _age_codes(app, phone)
    # the registration code and this one used the quota of 2; the five taps did not
    assert error(client.post(f"{AUTH}/codes", json={"phone": phone, "purpose": "login"}))["code"] == "rate_limited"


def _age_codes(app, phone):
    with app.app_context():
        db.session.execute(update(OneTimeCode).where(OneTimeCode.phone == phone)
                           .values(created_at=utcnow() - timedelta(minutes=2)))
        db.session.commit()
