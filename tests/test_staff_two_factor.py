"""Staff two-factor sign-in (SPEC ID-10): TOTP enrolment by QR code, the second step of the HTML
and API logins, replay and brute-force refusals, recovery codes, required and optional roles,
Admin reset.

The suite's BASE_CONFIG turns the requirement off; these apps are built with the default
(Admin and Analyst must use it). Every test makes its own staff users, so TOTP steps, recovery
codes and failure counters of one test do not leak into another; ``clock`` moves the TOTP clock
so a test can use "the next code" without waiting 30 seconds.
"""
import os
import re
import subprocess
import sys
import time
import uuid

import pyotp
import pytest

from app.api.errors import MESSAGES, message_for
from app.bootstrap import ensure_staff
from app.extensions import db
from app.services import staff_two_factor
from app.views.common import STALE_FORM
from config import Config
from tests.conftest import PASSWORD, build_app

REQUIRED = ["Admin", "Analyst"]
INVALID_RU = "Неверный или уже использованный код подтверждения."
INVALID_EN = "The verification code is wrong or has already been used."
CODE_RE = re.compile(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module", params=["sqlite", "pg"])
def tf_app(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('two_factor') / 'kabinet.db'}"
    else:
        url = request.getfixturevalue("make_pg_database")()
    return build_app(url, STAFF_2FA_REQUIRED_ROLES=REQUIRED)


class Clock:
    """The TOTP clock of the service; codes are computed for it as an authenticator app would."""

    def __init__(self):
        self.now = time.time()

    def code(self, secret, steps=0):
        return pyotp.TOTP(secret).at(self.now + 30 * steps)

    def tick(self, steps=1):
        self.now += 30 * steps


@pytest.fixture
def clock(monkeypatch):
    value = Clock()
    monkeypatch.setattr(staff_two_factor, "_now", lambda: value.now)
    return value


def new_user(app, role):
    name = f"{role.lower()}_{uuid.uuid4().hex[:8]}"
    with app.app_context():
        ensure_staff(app, [(name, role, role, "Test")], PASSWORD, "2fa.test")
        db.session.remove()
    return name


def user_of(app, name):
    return app.appbuilder.sm.find_user(username=name)


def user_id(app, name):
    with app.app_context():
        found = user_of(app, name).id
        db.session.remove()
        return found


def record(app, name):
    with app.app_context():
        found = staff_two_factor.record_of(user_of(app, name).id)
        result = None if found is None else {
            "confirmed": found.confirmed_at is not None, "last_step": found.last_step,
            "hashes": list(found.recovery_code_hashes or []), "secret_encrypted": found.secret_encrypted}
        db.session.remove()
        return result


def enrolled_user(app, clock, role):
    """A user enrolled through the service: ``(login, secret, recovery codes)``; the clock is
    moved past the step used to confirm."""
    name = new_user(app, role)
    with app.app_context():
        user = user_of(app, name)
        _record, secret = staff_two_factor.begin_enrolment(user)
        codes = staff_two_factor.confirm_enrolment(user, clock.code(secret))
        db.session.remove()
    clock.tick()
    return name, secret, codes


def password_step(client, name, next_url=None):
    url = "/login/" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"username": name, "password": PASSWORD})


def signed_in_as(client):
    with client.session_transaction() as session:
        return session.get("_user_id")


def text(response):
    return response.get_data(as_text=True)


def api_login(app, name, headers=None, **extra):
    return app.test_client().post("/api/v1/security/login", headers=headers or {},
                                  json={"username": name, "password": PASSWORD, "provider": "db", **extra})


def shown_key(page):
    """The enrolment key a page shows for typing by hand (``ABCD EFGH …`` → ``ABCDEFGH…``)."""
    page = page if isinstance(page, str) else text(page)
    return re.search(r'id="two-factor-secret"[^>]*>([A-Z2-7 ]+)<', page).group(1).replace(" ", "")


def wrong_codes(clock, secret, count):
    """Six-digit codes that are none of the valid window's."""
    valid = {clock.code(secret, steps) for steps in (-1, 0, 1)}
    return [code for code in (f"{n:06d}" for n in range(count + 3)) if code not in valid][:count]


def html_sign_in(app, clock, name, secret):
    client = app.test_client()
    assert password_step(client, name).headers["Location"].endswith("/two-factor/verify")
    response = client.post("/two-factor/verify", data={"code": clock.code(secret)})
    assert response.status_code == 302, text(response)
    clock.tick()
    return client


# --- configuration ------------------------------------------------------------------------------

@pytest.mark.skipif("STAFF_2FA_REQUIRED_ROLES" in __import__("os").environ, reason="set in the environment")
def test_admin_and_analyst_are_required_by_default():
    assert Config.STAFF_2FA_REQUIRED_ROLES == ["Admin", "Analyst"]
    assert Config.STAFF_2FA_ISSUER == "Kabinet" and Config.STAFF_2FA_VALID_WINDOW == 1


# --- enrolment ----------------------------------------------------------------------------------

def test_required_role_enrols_by_qr_code_before_it_is_signed_in(tf_app, clock):
    name = new_user(tf_app, "Analyst")
    client = tf_app.test_client()
    response = password_step(client, name, next_url="/work/inbox/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/two-factor/enrol")
    assert signed_in_as(client) is None
    # not signed in: every other page still sends to the login
    assert "/login/" in client.get("/work/inbox/").headers["Location"]
    assert "/login/" in client.get("/two-factor/").headers["Location"]

    page = text(client.get("/two-factor/enrol"))
    assert "<svg" in page and 'class="two-factor-qr"' in page and "Подключение двухфакторного входа" in page
    secret = re.search(r'id="two-factor-secret"[^>]*>([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    assert len(secret) == 32
    # a reload shows the same key (the phone may have scanned it already)
    assert secret in text(client.get("/two-factor/enrol")).replace(" ", "")

    wrong = client.post("/two-factor/enrol", data={"code": str((int(clock.code(secret)) + 1) % 1000000).zfill(6)})
    assert wrong.status_code == 401 and INVALID_RU in text(wrong)
    assert record(tf_app, name)["confirmed"] is False and signed_in_as(client) is None

    done = client.post("/two-factor/enrol", data={"code": clock.code(secret)})
    assert done.status_code == 200
    codes = CODE_RE.findall(text(done))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "больше они показаны не будут" in text(done) and 'href="/work/inbox/"' in text(done)
    assert signed_in_as(client) is not None
    assert client.get("/work/inbox/").status_code == 200

    stored = record(tf_app, name)
    assert stored["confirmed"] and len(stored["hashes"]) == 10
    assert secret not in stored["secret_encrypted"]
    assert not any(code in "".join(stored["hashes"]) or code.replace("-", "") in "".join(stored["hashes"])
                   for code in codes)


def test_secret_is_encrypted_under_secret_key_and_qr_carries_the_provisioning_uri(tf_app, monkeypatch):
    name = new_user(tf_app, "Operator")
    with tf_app.app_context():
        user = user_of(tf_app, name)
        found, secret = staff_two_factor.begin_enrolment(user)
        assert staff_two_factor.secret_of(found) == secret and secret not in found.secret_encrypted
        uri = staff_two_factor.provisioning_uri(user, secret)
        assert uri.startswith("otpauth://totp/Kabinet:") and f"secret={secret}" in uri and "issuer=Kabinet" in uri
        assert name in uri
        svg = staff_two_factor.qr_svg(uri)
        assert svg.startswith("<svg") and "<path" in svg and 'width="220"' in svg
        monkeypatch.setitem(tf_app.config, "SECRET_KEY", "another-key")
        assert staff_two_factor.secret_of(found) is None  # another key cannot read it
        db.session.remove()


def test_optional_role_signs_in_with_a_password_and_may_enrol_and_disable(tf_app, clock):
    name = new_user(tf_app, "Operator")
    client = tf_app.test_client()
    response = password_step(client, name)
    assert response.status_code == 302 and "two-factor" not in response.headers["Location"]
    assert signed_in_as(client) is not None

    page = text(client.get("/two-factor/"))
    assert "Не подключён" in page and "необязателен" in page and "<svg" not in page
    assert record(tf_app, name) is None
    client.post("/two-factor/begin")
    page = text(client.get("/two-factor/"))
    assert "<svg" in page and "Отменить подключение" in page
    secret = re.search(r'id="two-factor-secret"[^>]*>([A-Z2-7 ]+)<', page).group(1).replace(" ", "")

    refused = client.post("/two-factor/confirm", data={"code": "000000"}, follow_redirects=True)
    assert INVALID_RU in text(refused) and record(tf_app, name)["confirmed"] is False
    done = client.post("/two-factor/confirm", data={"code": clock.code(secret)})
    assert len(CODE_RE.findall(text(done))) == 10 and record(tf_app, name)["confirmed"]
    clock.tick()
    page = text(client.get("/two-factor/"))
    assert 'id="recovery-codes-left">10<' in page and 'id="disable-form"' in page

    # from now on the password alone is not enough
    client.get("/logout/")
    second = tf_app.test_client()
    assert password_step(second, name).headers["Location"].endswith("/two-factor/verify")
    assert signed_in_as(second) is None
    assert second.post("/two-factor/verify", data={"code": clock.code(secret)}).status_code == 302
    clock.tick()

    # turning it off needs a current code
    refused = second.post("/two-factor/disable", data={"code": "123456"}, follow_redirects=True)
    assert INVALID_RU in text(refused) and record(tf_app, name)["confirmed"]
    disabled = second.post("/two-factor/disable", data={"code": clock.code(secret)}, follow_redirects=True)
    assert "Двухфакторный вход отключён." in text(disabled) and record(tf_app, name) is None
    third = tf_app.test_client()
    assert "two-factor" not in password_step(third, name).headers["Location"]
    assert signed_in_as(third) is not None


def test_required_role_cannot_disable(tf_app, clock):
    name, secret, _codes = enrolled_user(tf_app, clock, "Analyst")
    client = html_sign_in(tf_app, clock, name, secret)
    page = text(client.get("/two-factor/"))
    assert "обязателен" in page and 'id="disable-form"' not in page
    refused = client.post("/two-factor/disable", data={"code": clock.code(secret)}, follow_redirects=True)
    assert "отключить его нельзя" in text(refused)
    assert record(tf_app, name)["confirmed"]


def test_an_optional_user_may_cancel_a_started_enrolment(tf_app):
    name = new_user(tf_app, "Billing")
    client = tf_app.test_client()
    password_step(client, name)
    client.post("/two-factor/begin")
    assert record(tf_app, name)["confirmed"] is False
    client.post("/two-factor/cancel")
    assert record(tf_app, name) is None
    assert "two-factor" not in password_step(tf_app.test_client(), name).headers["Location"]


def test_each_password_sign_in_gets_its_own_enrolment_key(tf_app, clock):
    """A phished password must not give away the key the real user is about to confirm."""
    name = new_user(tf_app, "Admin")
    first = tf_app.test_client()
    assert password_step(first, name).headers["Location"].endswith("/two-factor/enrol")
    first_key = shown_key(first.get("/two-factor/enrol"))
    assert shown_key(first.get("/two-factor/enrol")) == first_key  # a reload here: the same key

    second = tf_app.test_client()  # someone else with the same password
    assert password_step(second, name).headers["Location"].endswith("/two-factor/enrol")
    second_key = shown_key(second.get("/two-factor/enrol"))
    assert second_key != first_key

    # the first key no longer confirms; the first session is shown a new key, not the second's
    stale = first.post("/two-factor/enrol", data={"code": clock.code(first_key)})
    assert stale.status_code == 409 and "Ключ подключения сменился" in text(stale)
    assert signed_in_as(first) is None and record(tf_app, name)["confirmed"] is False
    third_key = shown_key(stale)
    assert third_key not in (first_key, second_key)
    assert shown_key(first.get("/two-factor/enrol")) == third_key

    done = first.post("/two-factor/enrol", data={"code": clock.code(third_key)})
    assert done.status_code == 200 and len(CODE_RE.findall(text(done))) == 10 and signed_in_as(first)
    clock.tick()
    # the second session's key is worth nothing: enrolment is done, the code step wants the real key
    assert second.get("/two-factor/enrol").headers["Location"].endswith("/two-factor/verify")
    assert second.post("/two-factor/verify", data={"code": clock.code(second_key)}).status_code == 401
    assert signed_in_as(second) is None
    assert api_login(tf_app, name, totp=clock.code(third_key)).status_code == 200


def test_own_page_does_not_show_a_key_started_in_another_session(tf_app, clock):
    name = new_user(tf_app, "Operator")
    first, second = tf_app.test_client(), tf_app.test_client()
    password_step(first, name)
    password_step(second, name)
    first.post("/two-factor/begin")
    first_key = shown_key(first.get("/two-factor/"))
    assert shown_key(first.get("/two-factor/")) == first_key
    # a session that was never shown the key cannot confirm it, even with its code
    blind = tf_app.test_client()
    password_step(blind, name)
    assert blind.post("/two-factor/confirm", data={"code": clock.code(first_key)}).status_code == 302
    assert record(tf_app, name)["confirmed"] is False
    second_key = shown_key(second.get("/two-factor/"))  # pending, but not this session's
    assert second_key != first_key

    stale = first.post("/two-factor/confirm", data={"code": clock.code(first_key)}, follow_redirects=True)
    assert "Ключ подключения сменился" in text(stale) and record(tf_app, name)["confirmed"] is False
    new_key = shown_key(stale)
    assert new_key not in (first_key, second_key)
    done = first.post("/two-factor/confirm", data={"code": clock.code(new_key)})
    assert len(CODE_RE.findall(text(done))) == 10 and record(tf_app, name)["confirmed"]


def test_the_key_checked_is_the_key_confirmed(tf_app, clock, monkeypatch):
    """Enrolment started again elsewhere while a code is being checked: the code of the old key
    must not confirm the new key (which the other session holds)."""
    name = new_user(tf_app, "Analyst")
    with tf_app.app_context():
        user = user_of(tf_app, name)
        _record, secret = staff_two_factor.begin_enrolment(user)
        read = staff_two_factor.secret_of
        restarted = []

        def restart_meanwhile(found, *args):
            value = read(found, *args)
            if not restarted:
                restarted.append(staff_two_factor.begin_enrolment(user)[1])
            return value

        monkeypatch.setattr(staff_two_factor, "secret_of", restart_meanwhile)
        with pytest.raises(staff_two_factor.Unauthorized):
            staff_two_factor.confirm_enrolment(user, clock.code(secret))
        db.session.remove()
    assert restarted and record(tf_app, name)["confirmed"] is False


# --- the HTML login's second step ----------------------------------------------------------------

def test_html_login_needs_the_code_after_the_password(tf_app, clock):
    name, secret, _codes = enrolled_user(tf_app, clock, "Analyst")
    client = tf_app.test_client()
    wrong_password = client.post("/login/", data={"username": name, "password": "wrong"})
    assert "/login/" in wrong_password.headers["Location"] and signed_in_as(client) is None

    response = password_step(client, name, next_url="/processes/definitions/")
    assert response.headers["Location"].endswith("/two-factor/verify")
    assert signed_in_as(client) is None
    assert "/login/" in client.get("/processes/definitions/").headers["Location"]
    page = text(client.get("/two-factor/verify"))
    assert "Подтверждение входа" in page and name in page and 'name="code"' in page

    for wrong in ("000000", "12345", "abcdef", "", clock.code(secret, steps=-3)):
        refused = client.post("/two-factor/verify", data={"code": wrong})
        assert refused.status_code == 401, wrong
        assert INVALID_RU in text(refused) or "Нужен второй фактор" in text(refused)
        assert signed_in_as(client) is None

    done = client.post("/two-factor/verify", data={"code": clock.code(secret)})
    assert done.status_code == 302 and done.headers["Location"].endswith("/processes/definitions/")
    assert signed_in_as(client) is not None
    assert "meter_verification" in text(client.get("/processes/definitions/"))
    # the pending sign-in is spent: a stranger with the cookie of before gets nothing from it
    client.get("/logout/")
    assert "/login/" in client.get("/two-factor/verify").headers["Location"]
    assert client.post("/two-factor/verify", data={"code": clock.code(secret, steps=1)}).status_code == 302
    assert signed_in_as(client) is None


def test_second_step_without_password_or_after_it_expired_signs_nobody_in(tf_app, clock, monkeypatch):
    name, secret, _codes = enrolled_user(tf_app, clock, "Analyst")
    client = tf_app.test_client()
    response = client.post("/two-factor/verify", data={"code": clock.code(secret)})
    assert "/login/" in response.headers["Location"] and signed_in_as(client) is None

    monkeypatch.setitem(tf_app.config, "STAFF_2FA_PENDING_SECONDS", -1)
    password_step(client, name)
    expired = client.post("/two-factor/verify", data={"code": clock.code(secret)})
    assert "/login/" in expired.headers["Location"] and signed_in_as(client) is None
    assert "истекло" in text(client.get("/login/"))
    assert record(tf_app, name)["last_step"] < int(clock.now // 30)  # the code was not spent


def test_a_code_is_good_once_and_never_after_a_later_one(tf_app, clock):
    name, secret, _codes = enrolled_user(tf_app, clock, "Analyst")
    assert api_login(tf_app, name, totp=clock.code(secret)).status_code == 200
    replay = api_login(tf_app, name, totp=clock.code(secret))
    assert replay.status_code == 401 and replay.get_json()["error"]["code"] == "two_factor_invalid"
    # nor through the HTML login
    client = tf_app.test_client()
    password_step(client, name)
    assert client.post("/two-factor/verify", data={"code": clock.code(secret)}).status_code == 401
    assert signed_in_as(client) is None
    # the next step's code is accepted (clock drift: valid window 1) ...
    assert api_login(tf_app, name, totp=clock.code(secret, steps=1)).status_code == 200
    # ... and after it, the current step's code is an earlier one: refused
    assert api_login(tf_app, name, totp=clock.code(secret)).status_code == 401
    # two steps away is outside the window
    assert api_login(tf_app, name, totp=clock.code(secret, steps=3)).status_code == 401
    clock.tick(2)
    assert client.post("/two-factor/verify", data={"code": clock.code(secret)}).status_code == 302
    assert signed_in_as(client) is not None


def test_recovery_code_signs_in_once(tf_app, clock):
    name, _secret, codes = enrolled_user(tf_app, clock, "Analyst")
    client = tf_app.test_client()
    password_step(client, name)
    done = client.post("/two-factor/verify", data={"code": codes[0]}, follow_redirects=True)
    assert done.status_code == 200 and signed_in_as(client) is not None
    assert "Осталось резервных кодов: 9" in text(done)
    assert len(record(tf_app, name)["hashes"]) == 9

    again = tf_app.test_client()
    password_step(again, name)
    refused = again.post("/two-factor/verify", data={"code": codes[0]})
    assert refused.status_code == 401 and signed_in_as(again) is None
    # typed loosely (capitals, spaces, no dash) it is the same code
    loose = codes[1].upper().replace("-", " ")
    assert again.post("/two-factor/verify", data={"code": loose}).status_code == 302
    # the API takes them too, once
    assert api_login(tf_app, name, recovery_code=codes[2]).status_code == 200
    assert api_login(tf_app, name, recovery_code=codes[2]).status_code == 401
    assert len(record(tf_app, name)["hashes"]) == 7


def test_new_recovery_codes_replace_the_old_ones(tf_app, clock):
    name, secret, old = enrolled_user(tf_app, clock, "Operator")
    client = html_sign_in(tf_app, clock, name, secret)
    refused = client.post("/two-factor/recovery-codes", data={"code": "999999"}, follow_redirects=True)
    assert INVALID_RU in text(refused) and not CODE_RE.findall(text(refused))
    response = client.post("/two-factor/recovery-codes", data={"code": clock.code(secret)})
    new = CODE_RE.findall(text(response))
    assert len(new) == 10 and not set(new) & set(old)
    assert api_login(tf_app, name, recovery_code=old[5]).status_code == 401
    assert api_login(tf_app, name, recovery_code=new[5]).status_code == 200


def test_new_recovery_codes_when_reset_meanwhile_are_refused_cleanly(tf_app, clock, monkeypatch):
    name, secret, _ = enrolled_user(tf_app, clock, "Operator")
    client = html_sign_in(tf_app, clock, name, secret)
    verified = staff_two_factor.verify_any

    def reset_meanwhile(user, code):
        used = verified(user, code)
        staff_two_factor._delete(user.id)  # an Admin resets it right after the code was checked
        return used

    monkeypatch.setattr(staff_two_factor, "verify_any", reset_meanwhile)
    response = client.post("/two-factor/recovery-codes", data={"code": clock.code(secret)}, follow_redirects=True)
    assert response.status_code == 200 and "Двухфакторный вход не подключён." in text(response)
    assert not CODE_RE.findall(text(response)) and record(tf_app, name) is None


# --- API login -----------------------------------------------------------------------------------

def test_api_login_asks_enrolled_users_for_the_second_factor(tf_app, clock):
    name, secret, _codes = enrolled_user(tf_app, clock, "Analyst")
    missing = api_login(tf_app, name)
    assert missing.status_code == 401
    error = missing.get_json()["error"]
    assert error["code"] == "two_factor_required" and error["fields"] == {}
    assert error["message"].startswith("Нужен второй фактор") and "access_token" not in missing.get_json()
    english = api_login(tf_app, name, headers={"Accept-Language": "en"}).get_json()["error"]
    assert english["code"] == "two_factor_required" and english["message"].startswith("A second factor is required")

    wrong = api_login(tf_app, name, totp="000000")
    assert wrong.status_code == 401 and wrong.get_json()["error"] == {
        "code": "two_factor_invalid", "message": INVALID_RU, "fields": {}}
    wrong_en = api_login(tf_app, name, headers={"Accept-Language": "en-GB,en;q=0.9"}, totp=123456)
    assert wrong_en.status_code == 401 and wrong_en.get_json()["error"]["message"] == INVALID_EN

    # a wrong password says nothing about the second factor
    bad_password = tf_app.test_client().post("/api/v1/security/login", json={
        "username": name, "password": "wrong", "provider": "db", "totp": clock.code(secret)})
    assert bad_password.status_code == 401 and "two_factor" not in bad_password.get_data(as_text=True)

    good = api_login(tf_app, name, totp=clock.code(secret), refresh=True)
    assert good.status_code == 200 and good.get_json()["access_token"] and good.get_json()["refresh_token"]
    token = good.get_json()["access_token"]
    tasks = tf_app.test_client().get("/api/v1/tasks/", headers={"Authorization": f"Bearer {token}"})
    assert tasks.status_code == 200


def test_api_login_refuses_required_roles_without_enrolment_and_lets_optional_ones_in(tf_app):
    admin = new_user(tf_app, "Admin")
    refused = api_login(tf_app, admin)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "two_factor_enrolment_required"
    assert "веб-интерфейс" in refused.get_json()["error"]["message"]
    en = api_login(tf_app, admin, headers={"Accept-Language": "en"}).get_json()["error"]["message"]
    assert en.startswith("Two-factor sign-in is required for your role")
    # a code does not help before enrolment
    assert api_login(tf_app, admin, totp="123456").status_code == 403

    operator = new_user(tf_app, "Operator")
    assert api_login(tf_app, operator).status_code == 200
    # extra fields other than the second factor's are still refused by FAB's schema
    assert api_login(tf_app, operator, foo="bar").status_code == 400


def test_failed_second_factors_are_rate_limited_per_user(tf_app, clock):
    name, secret, codes = enrolled_user(tf_app, clock, "Analyst")
    other, other_secret, _ = enrolled_user(tf_app, clock, "Analyst")
    for attempt in range(5):
        assert api_login(tf_app, name, totp=f"{attempt:06d}").status_code == 401
    limited = api_login(tf_app, name, totp=clock.code(secret))  # even the right code, for now
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "two_factor_rate_limited"
    retry_after = int(limited.headers["Retry-After"])
    assert 0 < retry_after <= 15 * 60
    # the message names the wait too (Flask-Limiter rewrites the header, rounding down)
    said = int(re.search(r"через (\d+) с", limited.get_json()["error"]["message"]).group(1))
    assert abs(said - retry_after) <= 1
    assert api_login(tf_app, name, recovery_code=codes[0]).status_code == 429
    assert len(record(tf_app, name)["hashes"]) == 10  # nothing was spent

    client = tf_app.test_client()
    password_step(client, name)
    page = client.post("/two-factor/verify", data={"code": clock.code(secret)})
    assert page.status_code == 429 and int(page.headers["Retry-After"]) > 0
    assert "Слишком много неверных кодов" in text(page) and signed_in_as(client) is None

    # another user is not affected
    assert api_login(tf_app, other, totp=clock.code(other_secret)).status_code == 200


def test_a_good_code_clears_the_count_of_wrong_ones(tf_app, clock):
    name, secret, _codes = enrolled_user(tf_app, clock, "Analyst")
    for code in wrong_codes(clock, secret, 4):
        assert api_login(tf_app, name, totp=code).status_code == 401
    assert api_login(tf_app, name, totp=clock.code(secret)).status_code == 200
    clock.tick()
    for code in wrong_codes(clock, secret, 5):  # five more before the limit, not one
        assert api_login(tf_app, name, totp=code).status_code == 401
    assert api_login(tf_app, name, totp=clock.code(secret)).status_code == 429


# --- Admin ---------------------------------------------------------------------------------------

def test_admin_resets_another_users_second_factor(tf_app, clock):
    admin, admin_secret, _ = enrolled_user(tf_app, clock, "Admin")
    analyst, analyst_secret, _ = enrolled_user(tf_app, clock, "Analyst")
    analyst_session = html_sign_in(tf_app, clock, analyst, analyst_secret)
    assert analyst_session.get("/work/inbox/").status_code == 200

    console = html_sign_in(tf_app, clock, admin, admin_secret)
    listing = text(console.get("/two-factor/staff/"))
    assert f'data-user="{analyst}"' in listing and "подключён" in listing
    analyst_id = user_id(tf_app, analyst)
    admin_id = user_id(tf_app, admin)
    assert f"/two-factor/staff/reset/{analyst_id}" in listing
    assert f"/two-factor/staff/reset/{admin_id}" not in listing

    done = console.post(f"/two-factor/staff/reset/{analyst_id}", follow_redirects=True)
    assert f"сотрудника {analyst} сброшен" in text(done) and record(tf_app, analyst) is None
    own = console.post(f"/two-factor/staff/reset/{admin_id}", follow_redirects=True)
    assert "Свой двухфакторный вход" in text(own) and record(tf_app, admin)["confirmed"]

    # the analyst's open session gets nothing but enrolment now
    blocked = analyst_session.get("/work/inbox/")
    assert blocked.status_code == 302 and blocked.headers["Location"].endswith("/two-factor/")
    api_via_cookie = analyst_session.get("/api/v1/tasks/")
    assert api_via_cookie.status_code == 403
    assert api_via_cookie.get_json()["error"]["code"] == "two_factor_enrolment_required"
    page = text(analyst_session.get("/two-factor/"))
    assert "<svg" in page and "обязателен" in page
    new_secret = re.search(r'id="two-factor-secret"[^>]*>([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    assert new_secret != analyst_secret
    confirmed = analyst_session.post("/two-factor/confirm", data={"code": clock.code(new_secret)})
    assert len(CODE_RE.findall(text(confirmed))) == 10
    assert analyst_session.get("/work/inbox/").status_code == 200

    # other roles cannot see or reset
    operator = tf_app.test_client()
    password_step(operator, new_user(tf_app, "Operator"))
    assert operator.get("/two-factor/staff/").status_code != 200
    operator.post(f"/two-factor/staff/reset/{admin_id}")
    assert record(tf_app, admin)["confirmed"]


def test_reset_user_must_enrol_again_at_the_next_sign_in(tf_app, clock):
    name, _secret, _ = enrolled_user(tf_app, clock, "Analyst")
    admin = new_user(tf_app, "Admin")
    with tf_app.app_context():
        staff_two_factor.admin_reset(user_of(tf_app, admin), user_of(tf_app, name))
        db.session.remove()
    assert api_login(tf_app, name).get_json()["error"]["code"] == "two_factor_enrolment_required"
    assert password_step(tf_app.test_client(), name).headers["Location"].endswith("/two-factor/enrol")


def test_menu_has_the_own_page_for_everyone_and_the_staff_page_for_admins(tf_app, clock):
    technician = tf_app.test_client()
    password_step(technician, new_user(tf_app, "Technician"))
    home = text(technician.get("/", follow_redirects=True))
    assert 'href="/two-factor/"' in home and "Двухфакторный вход" in home
    assert 'href="/two-factor/staff/"' not in home
    admin, secret, _ = enrolled_user(tf_app, clock, "Admin")
    admin_home = html_sign_in(tf_app, clock, admin, secret).get("/", follow_redirects=True)
    assert 'href="/two-factor/staff/"' in text(admin_home)


# --- CSRF (on, as in production) ------------------------------------------------------------------

def test_second_step_form_needs_the_csrf_token(tmp_path, clock):
    app = build_app(f"sqlite:///{tmp_path / 'csrf.db'}", STAFF_2FA_REQUIRED_ROLES=REQUIRED, WTF_CSRF_ENABLED=True)
    name, secret, _ = enrolled_user(app, clock, "Analyst")
    client = app.test_client()

    def token(url):
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text(client.get(url))).group(1)

    response = client.post("/login/", data={"username": name, "password": PASSWORD, "csrf_token": token("/login/")})
    assert response.headers["Location"].endswith("/two-factor/verify")
    forged = client.post("/two-factor/verify", data={"code": clock.code(secret)})
    assert forged.status_code == 302 and forged.headers["Location"].endswith("/two-factor/verify")
    assert signed_in_as(client) is None and record(app, name)["last_step"] < int(clock.now // 30)
    assert STALE_FORM in text(client.get("/two-factor/verify"))
    done = client.post("/two-factor/verify",
                       data={"code": clock.code(secret), "csrf_token": token("/two-factor/verify")})
    assert done.status_code == 302 and signed_in_as(client) is not None


# --- layering ----------------------------------------------------------------------------------------

def test_the_service_does_not_import_the_api_layer():
    probe = "import sys, app.services.staff_two_factor; print(sorted(m for m in sys.modules if m.startswith('app.')))"
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "app.services.staff_two_factor" in loaded.stdout and "app.api" not in loaded.stdout


@pytest.mark.parametrize("first", ["app.security", "app.views.two_factor", "app.workflows.lanes"])
def test_the_modules_import_in_any_order(first):
    probe = f"import {first}, app.security, app.views.two_factor"
    subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)


def test_the_refusals_have_russian_and_english_texts(tf_app):
    codes = ("two_factor_required", "two_factor_invalid", "two_factor_enrolment_required",
             "two_factor_enrolment_stale", "two_factor_rate_limited", "two_factor_not_enrolled",
             "two_factor_already_enrolled", "two_factor_disable_forbidden", "two_factor_reset_self")
    with tf_app.test_request_context(headers={"Accept-Language": "en"}):
        english = [message_for(code, {"retry_after": 5}) for code in codes]
    with tf_app.test_request_context():
        russian = [message_for(code, {"retry_after": 5}) for code in codes]
    assert english[codes.index("two_factor_not_enrolled")] == "Two-factor sign-in is not set up."
    assert russian[codes.index("two_factor_not_enrolled")] == "Двухфакторный вход не подключён."
    fallback = MESSAGES["bad_request"]
    assert all(text_ not in fallback for text_ in english + russian)
    assert all(re.search("[а-я]", ru) and not re.search("[а-я]", en) for ru, en in zip(russian, english))


def test_the_screens_use_the_shared_form_helpers():
    from app.views import common
    from app.views import two_factor as screens

    assert screens.csrf_protected is common.csrf_protected
    assert screens.flash_domain_error is common.flash_domain_error
    assert not hasattr(screens, "STALE_FORM") and not hasattr(screens, "_csrf_ok")


# --- demo ------------------------------------------------------------------------------------------

def test_demo_enrols_admin_and_analyst_with_the_published_secret(tf_app, clock):
    from app.demo import DEMO_TOTP_SECRET, enrol_demo_staff

    with tf_app.app_context():
        assert sorted(enrol_demo_staff()) == ["admin", "analyst"]  # the build's users of those roles
        assert enrol_demo_staff() == []  # once
        db.session.remove()
    assert api_login(tf_app, "admin").status_code == 401
    assert api_login(tf_app, "analyst", totp=clock.code(DEMO_TOTP_SECRET)).status_code == 200
    assert api_login(tf_app, "operator").status_code == 200  # optional roles: password only

    output = tf_app.test_cli_runner().invoke(args=["kabinet", "demo-totp"]).output
    now = time.time()
    assert re.match(r"\d{6} ", output) and "DEMO ONLY" in output
    assert output[:6] in (pyotp.TOTP(DEMO_TOTP_SECRET).at(now), pyotp.TOTP(DEMO_TOTP_SECRET).at(now - 30))


# --- races (PostgreSQL: real concurrency) ----------------------------------------------------------

def test_one_code_used_at_once_by_many_signs_in_once(make_pg_database, clock):
    from concurrent.futures import ThreadPoolExecutor

    app = build_app(make_pg_database(), STAFF_2FA_REQUIRED_ROLES=REQUIRED, STAFF_2FA_FAILURE_LIMIT="100 per minute")
    name, secret, codes = enrolled_user(app, clock, "Analyst")
    code = clock.code(secret)
    with ThreadPoolExecutor(8) as pool:
        totp = list(pool.map(lambda _: api_login(app, name, totp=code).status_code, range(8)))
        recovery = list(pool.map(lambda _: api_login(app, name, recovery_code=codes[0]).status_code, range(8)))
    assert sorted(totp) == [200] + [401] * 7
    assert sorted(recovery) == [200] + [401] * 7
    assert len(record(app, name)["hashes"]) == 9


def test_parallel_wrong_codes_cannot_pass_the_failure_limit(make_pg_database, clock, monkeypatch):
    """Attempts are counted before the code is checked: a burst of guesses gets no more codes
    examined than the limit, however the requests overlap (were they counted after the check,
    all would pass the limit together and every guess would be tried)."""
    from concurrent.futures import ThreadPoolExecutor

    limit, burst = 3, 8
    app = build_app(make_pg_database(), STAFF_2FA_REQUIRED_ROLES=REQUIRED,
                    STAFF_2FA_FAILURE_LIMIT=f"{limit} per 15 minutes")
    name, secret, _codes = enrolled_user(app, clock, "Analyst")
    checking = staff_two_factor._matching_step
    examined = []

    def slow(secret_, code):  # the code check takes a while (as under load): the guesses overlap it
        examined.append(code)
        time.sleep(0.5)
        return checking(secret_, code)

    monkeypatch.setattr(staff_two_factor, "_matching_step", slow)
    guesses = wrong_codes(clock, secret, burst)
    with ThreadPoolExecutor(burst) as pool:
        statuses = list(pool.map(lambda code: api_login(app, name, totp=code).status_code, guesses))
    assert 1 <= statuses.count(401) <= limit and statuses.count(401) + statuses.count(429) == burst, statuses
    assert len(examined) == statuses.count(401), examined
    # used up: even the right code waits
    assert api_login(app, name, totp=clock.code(secret)).status_code == 429
