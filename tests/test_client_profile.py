"""The client profile (ID-8), email confirmation (ID-7) and closing an account, through the API
and the public confirmation page, on SQLite and PostgreSQL."""
import re
import time
import uuid
from datetime import date, datetime, timedelta
from urllib.parse import urlparse

from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from sqlalchemy import or_, select, update

from app.api.client import messages as _client_messages, profile_messages  # noqa: F401  (the codes' texts)
from app.api.errors import MESSAGES
from app.extensions import db
from app.models.customers import (
    Customer,
    CustomerDevice,
    CustomerSession,
    FederatedIdentity,
    OneTimeCode,
    SecurityEvent,
)
from app.models.notifications import OutboxMessage
from app.services import email_confirmation, notifications, profile, rate_limits
from tests.support.customers import AUTH, PASSWORD, delivered, last_code, new_phone, register

PROFILE = "/api/v1/client/profile"
RU = {"Accept-Language": "ru"}
EN = {"Accept-Language": "en"}
LINK = re.compile(r"(https?://\S+?/confirm-email/(\S+))")


# --- helpers ----------------------------------------------------------------------------------

def new_email(domain="Example.RU"):
    return f"Client.{uuid.uuid4().hex[:10]}@{domain}"


def outbox(app, *conditions):
    with app.app_context():
        rows = db.session.execute(
            select(OutboxMessage).where(*conditions).order_by(OutboxMessage.id)).scalars().all()
        db.session.expunge_all()
        return rows


def fetch(app, model, key):
    with app.app_context():
        row = db.session.get(model, key)
        db.session.expunge_all()
        return row


def rows_of(app, model, *conditions):
    with app.app_context():
        rows = db.session.execute(select(model).where(*conditions).order_by(model.id)).scalars().all()
        db.session.expunge_all()
        return rows


class Person:
    """A customer registered and signed in through the API."""

    def __init__(self, app, full_name="Иванова Мария Петровна"):
        self.app = app
        self.client = app.test_client()
        self.phone, self.tokens = register(app, full_name=full_name, client=self.client)
        self.id = self.tokens["customer"]["id"]

    @property
    def headers(self):
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}

    def call(self, method, path, json=None, headers=None, **kwargs):
        return self.client.open(f"{PROFILE}{path}", method=method, json=json,
                                headers={**self.headers, **(headers or {})}, **kwargs)

    def profile(self):
        response = self.call("GET", "")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def row(self):
        return fetch(self.app, Customer, self.id)

    def events(self, kind=None):
        rows = rows_of(self.app, SecurityEvent, SecurityEvent.customer_id == self.id)
        return [row for row in rows if kind is None or row.kind == kind]

    def emails(self, address=None, template=None):
        rows = outbox(self.app, OutboxMessage.channel == "email", OutboxMessage.customer_id == self.id)
        return [row for row in rows if (address is None or row.recipient == address)
                and (template is None or row.template == template)]

    def link_to(self, address):
        """The confirmation link of the newest email to ``address`` (as the mailbox shows it)."""
        assert self.emails(address, "email_confirm"), f"no confirmation email to {address}"
        links = [LINK.search(text) for text in delivered(self.app, address)]
        links = [found for found in links if found]
        assert links, f"no link reached {address}"
        return links[-1].group(1), links[-1].group(2)

    def change_email(self, address, expect=202):
        response = self.call("PUT", "/email", {"email": address})
        assert response.status_code == expect, response.get_json()
        return response

    def confirmed(self, address=None):
        """Set an email and follow its link; returns the address."""
        address = address or new_email()
        self.change_email(address)
        url, _token = self.link_to(email_confirmation.normalise(address))
        assert self.client.get(urlparse(url).path).status_code == 200
        return email_confirmation.normalise(address)


def ru_en(person, method, path, json=None):
    """The same request in Russian and in English: (ru response, en response)."""
    return person.call(method, path, json, RU), person.call(method, path, json, EN)


def texts(code, **params):
    ru, en = MESSAGES[code]
    return ru.format(**params), en.format(**params)


# --- profile: read and change -----------------------------------------------------------------

def test_profile_shows_the_account_and_every_setting_changes(app):
    person = Person(app)
    shown = person.profile()
    assert shown["id"] == person.id and shown["phone"] == person.phone
    assert shown["full_name"] == "Иванова Мария Петровна"
    assert shown["birth_date"] is None and shown["email"] is None and shown["pending_email"] is None
    assert shown["email_confirmed"] is False
    assert shown["theme"] == "auto" and shown["keep_signed_in"] is True
    prefs = shown["notification_preferences"]
    assert set(prefs) == {"requests", "bills", "readings", "outages", "news"}
    assert all(set(row) == {"push", "sms", "email"} for row in prefs.values())
    assert prefs["requests"] == {"push": True, "sms": True, "email": False}
    assert prefs["news"] == {"push": True, "sms": False, "email": False}

    response = person.call("PATCH", "", {
        "full_name": "  Петрова   Мария  Ивановна ", "birth_date": "1985-04-12", "theme": "dark",
        "keep_signed_in": False,
        "notification_preferences": {"news": {"push": False}, "bills": {"sms": True, "email": False}},
    })
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["full_name"] == "Петрова Мария Ивановна"
    assert body["birth_date"] == "1985-04-12" and body["theme"] == "dark" and body["keep_signed_in"] is False
    assert body["notification_preferences"]["news"] == {"push": False, "sms": False, "email": False}
    assert body["notification_preferences"]["bills"] == {"push": True, "sms": True, "email": False}
    assert person.profile() == body

    row = person.row()
    assert row.full_name == "Петрова Мария Ивановна" and row.birth_date == date(1985, 4, 12)
    assert row.theme == "dark" and row.keep_signed_in is False
    assert row.notification_preferences == {"news": {"push": False}, "bills": {"sms": True, "email": False}}

    # A PATCH merges preferences key by key and leaves the other fields alone.
    body = person.call("PATCH", "", {"notification_preferences": {"news": {"sms": True}}}).get_json()
    assert body["notification_preferences"]["news"] == {"push": False, "sms": True, "email": False}
    assert body["notification_preferences"]["bills"]["sms"] is True and body["theme"] == "dark"
    # The birth date can be cleared; an empty PATCH changes nothing.
    assert person.call("PATCH", "", {"birth_date": None}).get_json()["birth_date"] is None
    assert person.call("PATCH", "", {}).get_json() == person.profile()

    changes = person.events("profile_changed")
    assert changes[0].details["fields"] == ["birth_date", "full_name", "keep_signed_in",
                                            "notification_preferences", "theme"]
    assert changes[1].details["fields"] == ["notification_preferences"]
    assert changes[2].details["fields"] == ["birth_date"]
    assert len(changes) == 3  # the empty PATCH recorded nothing
    # what the senders ask: the stored choices, with the defaults for the rest
    row = person.row()
    assert profile.wants(row, "news", "sms") is True and profile.wants(row, "news", "push") is False
    assert profile.wants(row, "requests", "push") is True and profile.wants(row, "bills", "email") is False


def test_keep_signed_in_decides_the_length_of_new_sessions(app):
    person = Person(app)
    assert person.call("PATCH", "", {"keep_signed_in": False}).status_code == 200
    short = person.client.post(f"{AUTH}/sign-in", json={"phone": person.phone, "password": PASSWORD}).get_json()
    assert person.call("PATCH", "", {"keep_signed_in": True}).status_code == 200
    long = person.client.post(f"{AUTH}/sign-in", json={"phone": person.phone, "password": PASSWORD}).get_json()
    sessions = {row.public_id: row for row in rows_of(app, CustomerSession, CustomerSession.customer_id == person.id)}
    short_session, long_session = sessions[short["session_id"]], sessions[long["session_id"]]
    assert short_session.persistent is False and long_session.persistent is True
    assert short_session.expires_at - short_session.created_at == timedelta(
        hours=app.config["CUSTOMER_SHORT_SESSION_HOURS"])
    assert long_session.expires_at - long_session.created_at == timedelta(days=app.config["CUSTOMER_SESSION_DAYS"])
    # The session the setting was changed from is not cut short.
    first = sessions[person.tokens["session_id"]]
    assert first.persistent is True


def _years_ago(years, days=0):
    today = date.today()
    try:
        day = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        day = today.replace(year=today.year - years, day=28)
    return (day + timedelta(days=days)).isoformat()


_REFUSALS = [
    ({"theme": "blue"}, {"theme": texts("theme_invalid")}),
    ({"theme": 3}, {"theme": ("Ожидается строка.", "Not a valid string.")}),
    ({"birth_date": (date.today() + timedelta(days=1)).isoformat()}, {"birth_date": texts("birth_date_future")}),
    ({"birth_date": "1899-12-31"}, {"birth_date": texts("birth_date_range")}),
    ({"birth_date": _years_ago(14, days=1)}, {"birth_date": texts("birth_date_too_young", min_age=14)}),
    ({"birth_date": "12.04.1985"}, {"birth_date": ("Некорректная дата (ожидается ГГГГ-ММ-ДД).", "Not a valid date.")}),
    ({"full_name": "   "}, {"full_name": texts("full_name_required")}),
    ({"full_name": "Я" * 257}, {"full_name": texts("full_name_too_long")}),
    ({"full_name": None}, {"full_name": ("Поле не может быть пустым.", "Field may not be null.")}),
    ({"keep_signed_in": "yes"}, {"keep_signed_in": ("Ожидается да или нет.", "Not a valid boolean.")}),
    ({"keep_signed_in": 1}, {"keep_signed_in": ("Ожидается да или нет.", "Not a valid boolean.")}),
    ({"notification_preferences": []},
     {"notification_preferences": ("Ожидается объект.", "Not a valid mapping type.")}),
    ({"notification_preferences": {"weather": {"push": True}}},
     {"notification_preferences": {"weather": texts("preference_category_unknown")}}),
    ({"notification_preferences": {"news": {"fax": True}}},
     {"notification_preferences": {"news": {"fax": texts("preference_channel_unknown")}}}),
    ({"notification_preferences": {"news": {"push": "yes"}}},
     {"notification_preferences": {"news": {"push": texts("preference_not_boolean")}}}),
    ({"notification_preferences": {"news": True}},
     {"notification_preferences": {"news": texts("preferences_not_object")}}),
    ({"notification_preferences": {"bills": {"email": True}}},
     {"notification_preferences": {"bills": {"email": texts("preference_email_unconfirmed")}}}),
    ({"nickname": "Маша"}, {"nickname": ("Неизвестное поле.", "Unknown field.")}),
    ({"phone": "+79161112233"}, {"phone": texts("phone_change_by_code")}),
    ({"email": "a@example.ru"}, {"email": texts("email_change_by_link")}),
    # One bad field refuses the whole request: the good ones are not applied either.
    ({"theme": "dark", "full_name": "Новое Имя", "birth_date": "2999-01-01"},
     {"birth_date": texts("birth_date_future")}),
    ({"theme": "dark", "status": "closed"}, {"status": ("Неизвестное поле.", "Unknown field.")}),
]


def test_profile_refusals_change_nothing_and_speak_both_languages(app):
    person = Person(app)
    before = person.profile()
    row_before = person.row()
    for payload, expected in _REFUSALS:
        ru, en = ru_en(person, "PATCH", "", payload)
        for response, language in ((ru, 0), (en, 1)):
            assert response.status_code == 422, (payload, response.get_json())
            error = response.get_json()["error"]
            assert error["code"] == "validation_error"

            def pick(value):
                if isinstance(value, tuple):
                    return [value[language]]
                return {key: pick(item) for key, item in value.items()}

            assert error["fields"] == pick(expected), payload
        assert ru.get_json()["error"]["message"] == "Данные не прошли проверку."
        assert en.get_json()["error"]["message"] == "The data did not pass validation."
    assert person.profile() == before
    row = person.row()
    for column in ("full_name", "birth_date", "theme", "keep_signed_in", "notification_preferences", "phone",
                   "email", "pending_email", "status"):
        assert getattr(row, column) == getattr(row_before, column), column
    assert person.events("profile_changed") == []

    not_json = person.call("PATCH", "", data="theme=dark", headers={"Content-Type": "text/plain"})
    assert not_json.status_code == 400 and not_json.get_json()["error"]["code"] == "not_json"


def test_every_profile_endpoint_needs_a_customer_token(app, api):
    client = app.test_client()
    calls = [("GET", ""), ("PATCH", ""), ("PUT", "/email"), ("POST", "/email/resend"), ("POST", "/email/confirm"),
             ("POST", "/phone"), ("POST", "/phone/confirm"), ("POST", "/close/code"), ("POST", "/close"),
             ("GET", "/security-events")]
    for method, path in calls:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YWRtaW46YWRtaW4="}):
            response = client.open(f"{PROFILE}{path}", method=method, json={}, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.get_json()["error"]["code"] == "unauthorized"
    # A staff token is not a customer token.
    response = client.get(PROFILE, headers=api("admin").headers)
    assert response.status_code == 401


# --- email confirmation -------------------------------------------------------------------------

def test_email_is_confirmed_by_the_link_on_the_public_page(app):
    person = Person(app)
    typed = new_email(domain="Example.COM")
    address = email_confirmation.normalise(typed)
    assert address.endswith("@example.com") and address.split("@")[0] == typed.split("@")[0]

    response = person.change_email(f"  {typed} ")
    assert response.get_json() == {"email": address, "sent": True, "resend_after": 60}
    shown = person.profile()
    assert shown["email"] is None and shown["pending_email"] == address and shown["email_confirmed"] is False

    [message] = person.emails(address)
    assert message.channel == "email" and message.recipient == address and message.template == "email_confirm"
    assert message.subject == "Подтвердите адрес электронной почты"
    assert message.customer_id == person.id
    url, token = person.link_to(address)
    assert url == f"http://127.0.0.1:5000/confirm-email/{token}"
    assert "Иванова Мария Петровна" in message.body and "24 ч." in message.body
    assert address not in token  # the address does not travel in the link

    # The page needs no sign-in.
    page = app.test_client().get(urlparse(url).path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Адрес электронной почты подтверждён" in html and address in html
    assert 'data-code="email_confirmed"' in html
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"

    shown = person.profile()
    assert shown["email"] == address and shown["email_confirmed"] is True and shown["pending_email"] is None
    row = person.row()
    assert row.email == address and row.email_confirmed_at is not None and row.pending_email is None
    assert email_confirmation.confirmed_email(row) == address
    [event] = person.events("email_confirmed")
    assert event.details == {}  # no address in the security log

    # Good once: the same link again is refused, and says why.
    again = app.test_client().get(urlparse(url).path)
    assert again.status_code == 409
    html = again.get_data(as_text=True)
    assert "Адрес уже подтверждён" in html and "Ссылка уже использована" in html
    assert 'data-code="email_already_confirmed"' in html
    api_again = person.call("POST", "/email/confirm", {"token": token}, EN)
    assert api_again.status_code == 409
    assert api_again.get_json()["error"] == {"code": "email_already_confirmed", "fields": {},
                                             "message": "The link has already been used: the address is confirmed."}
    assert person.row().email_confirmed_at == row.email_confirmed_at

    # With a confirmed email, email notifications may be switched on.
    body = person.call("PATCH", "", {"notification_preferences": {"bills": {"email": True}}}).get_json()
    assert body["notification_preferences"]["bills"]["email"] is True


def test_email_change_keeps_the_confirmed_address_until_the_new_link_and_tells_it(app):
    person = Person(app)
    old = person.confirmed()
    assert person.call("PATCH", "", {"notification_preferences": {"bills": {"email": True}}}).status_code == 200

    new = email_confirmation.normalise(new_email())
    person.change_email(new)
    shown = person.profile()
    assert shown["email"] == old and shown["email_confirmed"] is True and shown["pending_email"] == new
    assert shown["notification_preferences"]["bills"]["email"] is True  # the old address still gets them
    [notice] = person.emails(old, "email_change_notice")
    assert notice.subject == "Смена адреса электронной почты в Кабинете"
    assert new in notice.body and "не вы" in notice.body
    assert person.events("email_change_requested")

    # The app confirms through the API with the token of the link.
    _url, token = person.link_to(new)
    response = person.call("POST", "/email/confirm", {"token": token})
    assert response.status_code == 200
    assert response.get_json()["email"] == new and response.get_json()["pending_email"] is None
    assert response.get_json()["email_confirmed"] is True

    # Giving the confirmed address again cancels a pending change and sends nothing.
    other = email_confirmation.normalise(new_email())
    person.change_email(other)
    sent_before = len(person.emails())
    response = person.change_email(new, expect=200)
    assert response.get_json() == {"email": new, "sent": False, "resend_after": 0}
    assert person.profile()["pending_email"] is None and len(person.emails()) == sent_before
    assert person.events("email_change_cancelled")
    # ... and the link of the cancelled address no longer works.
    _url, token = person.link_to(other)
    refused = person.call("POST", "/email/confirm", {"token": token})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "email_link_superseded"
    assert person.profile()["email"] == new


def test_bad_email_addresses_are_refused(app):
    person = Person(app)
    for value, field in (("not-an-email", ("Некорректный адрес электронной почты.", "Not a valid email address.")),
                         ("a" * 250 + "@example.ru", texts("email_too_long")),
                         (None, ("Поле не может быть пустым.", "Field may not be null."))):
        ru, en = ru_en(person, "PUT", "/email", {"email": value})
        assert ru.status_code == en.status_code == 422
        assert ru.get_json()["error"]["fields"]["email"] == [field[0]]
        assert en.get_json()["error"]["fields"]["email"] == [field[1]]
    missing = person.call("PUT", "/email", {}, EN)
    assert missing.get_json()["error"]["fields"] == {"email": ["Missing data for required field."]}
    assert person.row().pending_email is None and person.emails() == []


def test_expired_link_is_refused_clearly(app, monkeypatch):
    person = Person(app)
    address = email_confirmation.normalise(new_email())
    max_age = app.config["EMAIL_CONFIRM_MAX_AGE"]
    with monkeypatch.context() as patched:  # the link was made a second past its lifetime ago
        patched.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - max_age - 1)
        person.change_email(address)
    url, token = person.link_to(address)

    page = app.test_client().get(urlparse(url).path)
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "Не удалось подтвердить адрес" in html and "Срок действия ссылки истёк" in html
    assert 'data-code="email_link_expired"' in html
    ru, en = ru_en(person, "POST", "/email/confirm", {"token": token})
    assert ru.status_code == 422 and ru.get_json()["error"]["code"] == "email_link_expired"
    assert ru.get_json()["error"]["fields"] == {"token": [texts("email_link_expired")[0]]}
    assert en.get_json()["error"]["message"] == "The link has expired: request a new email from your profile."
    shown = person.profile()
    assert shown["email_confirmed"] is False and shown["pending_email"] == address and shown["email"] is None

    # A link just inside its lifetime still works.
    rate_limits_cleared(app, person, address)
    with monkeypatch.context() as patched:
        patched.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - max_age + 30)
        assert person.call("POST", "/email/resend").status_code == 202
    _url, token = person.link_to(address)
    assert person.call("POST", "/email/confirm", {"token": token}).status_code == 200


def rate_limits_cleared(app, person, address):
    with app.test_request_context():
        rate_limits.clear(app.config["EMAIL_CONFIRM_COOLDOWN"], "email-confirm-address", f"{person.id}:{address}")


def test_tampered_or_foreign_links_are_refused(app):
    person = Person(app)
    address = email_confirmation.normalise(new_email())
    person.change_email(address)
    url, token = person.link_to(address)
    payload, timestamp, signature = token.rsplit(".", 2)  # a compressed payload starts with "."
    flipped = payload[:-3] + ("A" if payload[-3] != "A" else "B") + payload[-2:]
    other_salt = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="another-purpose").dumps(
        URLSafeTimedSerializer(app.config["SECRET_KEY"]).loads(token, salt="kabinet.email-confirmation"))
    other_key = URLSafeTimedSerializer("some-other-secret", salt="kabinet.email-confirmation").dumps(
        {"c": person.id, "a": "x", "v": "y"})
    for bad in (f"{flipped}.{timestamp}.{signature}", f"{payload}.{timestamp}.{signature[:-2]}",
                token[:20], "garbage", other_salt, other_key):
        page = app.test_client().get(f"/confirm-email/{bad}")
        assert page.status_code == 422, bad
        html = page.get_data(as_text=True)
        assert "повреждена или неполна" in html and 'data-code="email_link_invalid"' in html
        response = person.call("POST", "/email/confirm", {"token": bad}, EN)
        assert response.status_code == 422 and response.get_json()["error"]["code"] == "email_link_invalid"
        assert response.get_json()["error"]["fields"] == {"token": [texts("email_link_invalid")[1]]}
    empty = person.call("POST", "/email/confirm", {"token": ""}, EN)
    assert empty.status_code == 422 and empty.get_json()["error"]["fields"]["token"] == [texts("email_link_invalid")[1]]
    assert person.profile()["email_confirmed"] is False and person.row().pending_email == address
    assert app.test_client().get(urlparse(url).path).status_code == 200  # the real one still works


def test_link_of_a_superseded_address_is_refused(app):
    person = Person(app)
    first, second = (email_confirmation.normalise(new_email()) for _ in range(2))
    person.change_email(first)
    first_url, first_token = person.link_to(first)
    person.change_email(second)
    second_url, _ = person.link_to(second)

    page = app.test_client().get(urlparse(first_url).path)
    assert page.status_code == 409
    html = page.get_data(as_text=True)
    assert "этот адрес уже не ожидает подтверждения" in html and 'data-code="email_link_superseded"' in html
    response = person.call("POST", "/email/confirm", {"token": first_token}, EN)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "email_link_superseded"
    assert person.profile()["pending_email"] == second and person.profile()["email"] is None

    assert app.test_client().get(urlparse(second_url).path).status_code == 200
    # Still refused after the other address was confirmed.
    assert app.test_client().get(urlparse(first_url).path).status_code == 409
    assert person.profile()["email"] == second


def test_resend_has_a_cooldown_and_needs_an_address_awaiting(app):
    person = Person(app)
    nothing = person.call("POST", "/email/resend", headers=EN)
    assert nothing.status_code == 409 and nothing.get_json()["error"]["code"] == "email_nothing_to_confirm"
    assert nothing.get_json()["error"]["message"] == "There is no email address awaiting confirmation."

    address = email_confirmation.normalise(new_email())
    person.change_email(address)
    ru, en = ru_en(person, "POST", "/email/resend")
    for response in (ru, en):
        assert response.status_code == 429
        assert response.get_json()["error"]["code"] == "email_cooldown"
        assert 1 <= int(response.headers["Retry-After"]) <= 60
    seconds = en.headers["Retry-After"]
    assert en.get_json()["error"]["message"] in {
        f"Another email to this address can be sent in {value} s." for value in (int(seconds), int(seconds) + 1)}
    assert ru.get_json()["error"]["message"].startswith("Письмо на этот адрес можно отправить снова через ")
    # Asking for the same address again is the same resend, and waits the same.
    again = person.call("PUT", "/email", {"email": address})
    assert again.status_code == 429 and again.get_json()["error"]["code"] == "email_cooldown"
    assert len(person.emails(address)) == 1

    # Once the cooldown is over, a new email goes out; either link confirms (once).
    rate_limits_cleared(app, person, address)
    response = person.call("POST", "/email/resend")
    assert response.status_code == 202
    assert response.get_json() == {"email": address, "sent": True, "resend_after": 60}
    assert len(person.emails(address)) == 2
    first_token, second_token = [LINK.search(text).group(2) for text in delivered(app, address)]
    assert person.call("POST", "/email/confirm", {"token": first_token}).status_code == 200
    used = person.call("POST", "/email/confirm", {"token": second_token})
    assert used.status_code == 409 and used.get_json()["error"]["code"] == "email_already_confirmed"
    assert person.events("email_confirmation_sent")
    # Nothing awaits once confirmed.
    assert person.call("POST", "/email/resend").status_code == 409


def test_confirmation_emails_per_account_are_capped(app):
    person = Person(app)
    limit = int(app.config["EMAIL_CONFIRM_LIMIT_PER_CUSTOMER"].split()[0])
    for _ in range(limit):
        person.change_email(new_email())
    refused = person.call("PUT", "/email", {"email": new_email()}, EN)
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "email_send_limit"
    assert int(refused.headers["Retry-After"]) >= 1
    assert len(person.emails(template="email_confirm")) == limit


# --- phone change -----------------------------------------------------------------------------

def test_phone_change_needs_the_code_from_the_new_phone(app):
    person = Person(app)
    old = person.phone
    same = person.call("POST", "/phone", {"phone": old}, EN)
    assert same.status_code == 422 and same.get_json()["error"]["fields"] == {"phone": [texts("phone_same")[1]]}
    bad = person.call("POST", "/phone", {"phone": "12345"}, RU)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"] == {"phone": ["Некорректный номер телефона."]}
    unknown = person.call("POST", "/phone", {"phone": "+79160000000", "force": True}, EN)
    assert unknown.status_code == 422 and unknown.get_json()["error"]["fields"] == {"force": ["Unknown field."]}

    # a sign-in code sent to the old phone before the change must die with the change
    stale = person.client.post(f"{AUTH}/codes", json={"phone": old, "purpose": "login"}).get_json()["challenge_id"]
    stale_code = last_code(app, old)

    new = new_phone()
    started = person.call("POST", "/phone", {"phone": "8 " + new[2:5] + " " + new[5:]})
    assert started.status_code == 202, started.get_json()
    challenge = started.get_json()["challenge_id"]
    assert started.get_json()["resend_after"] == 60
    [code_message] = outbox(app, OutboxMessage.recipient == new)
    assert code_message.template == "otp_phone_change" and code_message.customer_id == person.id
    cooldown = person.call("POST", "/phone", {"phone": new})
    assert cooldown.status_code == 429 and cooldown.get_json()["error"]["code"] == "code_cooldown"

    code = last_code(app, new)
    wrong = "000000" if code != "000000" else "111111"
    ru, en = ru_en(person, "POST", "/phone/confirm", {"challenge_id": challenge, "code": wrong})
    assert ru.status_code == 422 and ru.get_json()["error"]["code"] == "code_wrong"
    assert en.get_json()["error"]["message"] == "Wrong code. Attempts left: 3."
    assert person.profile()["phone"] == old

    done = person.call("POST", "/phone/confirm", {"challenge_id": challenge, "code": code})
    assert done.status_code == 200 and done.get_json()["phone"] == new
    assert person.row().phone == new
    [notice] = outbox(app, OutboxMessage.recipient == old, OutboxMessage.template == "phone_changed")
    assert notice.channel == "sms" and notice.customer_id == person.id
    assert f"+7 {new[2:5]} ***-**-{new[-2:]}" in notice.body and new not in notice.body
    [event] = person.events("phone_changed")
    assert event.details == {}

    used = person.call("POST", "/phone/confirm", {"challenge_id": challenge, "code": code})
    assert used.status_code == 409 and used.get_json()["error"]["code"] == "code_used"
    # The account signs in with the new phone, no longer with the old one.
    sign_in = person.client.post(f"{AUTH}/sign-in", json={"phone": new, "password": PASSWORD})
    assert sign_in.status_code == 200 and sign_in.get_json()["customer"]["id"] == person.id
    assert person.client.post(f"{AUTH}/sign-in", json={"phone": old, "password": PASSWORD}).status_code == 401
    for phone in (old, new):
        assert person.client.post(f"{AUTH}/sign-in/code", json={
            "phone": phone, "challenge_id": stale, "code": stale_code}).status_code == 401


def test_phone_of_another_account_is_told_only_after_the_code(app):
    person, other = Person(app), Person(app)
    started = person.call("POST", "/phone", {"phone": other.phone})
    assert started.status_code == 202  # the same answer as for a free phone
    challenge = started.get_json()["challenge_id"]
    code = last_code(app, other.phone, "otp_phone_change")
    wrong = person.call("POST", "/phone/confirm", {"challenge_id": challenge, "code": "999999" if code != "999999"
                                                                                               else "888888"})
    assert wrong.status_code == 422 and wrong.get_json()["error"]["code"] == "code_wrong"

    taken = person.call("POST", "/phone/confirm", {"challenge_id": challenge, "code": code}, EN)
    assert taken.status_code == 409
    assert taken.get_json()["error"]["code"] == "phone_registered"
    assert taken.get_json()["error"]["fields"] == {"phone": [texts("phone_registered")[1]]}
    assert person.row().phone == person.phone and other.row().phone == other.phone
    assert person.events("phone_changed") == []


# --- one customer never reaches another -----------------------------------------------------------

def test_a_customer_reaches_only_their_own_profile(app):
    alice, bob = Person(app, "Алиса Алексеевна Смирнова"), Person(app, "Борис Борисович Кузнецов")
    assert alice.profile()["id"] == alice.id and bob.profile()["id"] == bob.id
    assert alice.profile()["full_name"] == "Алиса Алексеевна Смирнова"

    assert alice.call("PATCH", "", {"theme": "dark", "full_name": "Алиса С."}).status_code == 200
    assert bob.row().theme == "auto" and bob.row().full_name == "Борис Борисович Кузнецов"
    # Ids in a body are not taken: there is no field for them.
    smuggled = alice.call("PATCH", "", {"id": bob.id, "theme": "light"})
    assert smuggled.status_code == 422 and bob.row().theme == "auto" and alice.row().theme == "dark"

    # Bob's email link is not Alice's to use through the API.
    bob_address = email_confirmation.normalise(new_email())
    bob.change_email(bob_address)
    _url, bob_token = bob.link_to(bob_address)
    foreign = alice.call("POST", "/email/confirm", {"token": bob_token}, EN)
    assert foreign.status_code == 403 and foreign.get_json()["error"]["code"] == "email_link_foreign"
    assert alice.row().email is None and alice.row().pending_email is None
    assert bob.row().pending_email == bob_address and bob.row().email is None

    # Bob's phone challenge is not found for Alice, even with the right code, and costs Bob nothing.
    new = new_phone()
    bob_challenge = bob.call("POST", "/phone", {"phone": new}).get_json()["challenge_id"]
    code = last_code(app, new)
    stolen = alice.call("POST", "/phone/confirm", {"challenge_id": bob_challenge, "code": code})
    assert stolen.status_code == 422 and stolen.get_json()["error"]["code"] == "code_invalid"
    assert alice.row().phone == alice.phone
    [challenge_row] = rows_of(app, OneTimeCode, OneTimeCode.public_id == bob_challenge)
    assert challenge_row.attempts == 0 and challenge_row.verified_at is None
    assert bob.call("POST", "/phone/confirm", {"challenge_id": bob_challenge, "code": code}).status_code == 200

    # The security log lists only the caller's own events.
    events = alice.call("GET", "/security-events?page_size=100").get_json()
    own = {row.id for row in alice.events()}
    assert {item["id"] for item in events["result"]} == own and events["count"] == len(own)
    assert not own & {row.id for row in bob.events()}

    # Closing closes the caller's account only.
    assert alice.call("POST", "/close", {"password": PASSWORD}).status_code == 204
    assert alice.row().status == "closed" and alice.call("GET", "").status_code == 401
    assert bob.row().status == "active" and bob.row().full_name == "Борис Борисович Кузнецов"
    assert bob.profile()["id"] == bob.id
    assert all(event.ip == "127.0.0.1" for event in bob.events())


# --- the security log ----------------------------------------------------------------------------

def test_security_events_filter_by_period_and_paginate(app):
    person = Person(app)
    assert person.call("PATCH", "", {"theme": "light"}).status_code == 200
    body = person.call("GET", "/security-events").get_json()
    kinds = [item["kind"] for item in body["result"]]
    assert kinds[0] == "profile_changed" and set(kinds) == {"registered", "signed_in", "profile_changed"}
    assert body["count"] == 3 and body["page"] == 0 and body["page_size"] == 50
    assert body["result"][0]["details"] == {"fields": ["theme"]}
    assert body["result"][0]["ip"] == "127.0.0.1"

    # Move events to known moments to check the period bounds.
    registered = person.events("registered")[0].id
    with app.app_context():
        db.session.execute(update(SecurityEvent).where(SecurityEvent.id == registered)
                           .values(at=datetime(2025, 1, 10, 12, 0)))
        db.session.commit()

    def ids(query):
        response = person.call("GET", f"/security-events?{query}")
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["result"]], response.get_json()["count"]

    assert ids("since=2025-01-01&until=2025-01-31") == ([registered], 1)
    assert ids("until=2025-01-10") == ([registered], 1)  # a bare date includes its day
    assert ids("until=2025-01-10T12:00:00Z") == ([], 0)  # a date-time is exclusive
    assert ids("since=2025-01-10T12:00:00Z&until=2025-01-10T12:00:01Z") == ([registered], 1)
    assert ids("since=2025-01-10T15:00:00%2B03:00&until=2025-01-10T15:00:01%2B03:00") == ([registered], 1)
    assert ids("since=2025-01-11")[1] == 2
    assert ids(f"since={(date.today() + timedelta(days=2)).isoformat()}") == ([], 0)
    first, total = ids("page=0&page_size=1")
    second, _ = ids("page=1&page_size=1")
    assert total == 3 and len(first) == len(second) == 1 and first != second
    assert ids("page=5&page_size=1") == ([], 3)

    refusals = [
        ("since=yesterday", {"since": texts("period_invalid")}),
        ("until=2025-13-01", {"until": texts("period_invalid")}),
        ("since=2025-02-01&until=2025-01-01", {"until": texts("period_order")}),
        ("since=2025-01-01&until=2025-01-01T00:00:00", {"until": texts("period_order")}),
        ("page=-1", {"page": texts("page_invalid")}),
        ("page=99999999999999999999", {"page": texts("page_invalid")}),
        ("page_size=0", {"page_size": texts("page_size_invalid")}),
        ("page_size=101", {"page_size": texts("page_size_invalid")}),
        ("page=x", {"page": ("Ожидается целое число.", "Not a valid integer.")}),
        ("customer_id=1", {"customer_id": ("Неизвестное поле.", "Unknown field.")}),
    ]
    for query, expected in refusals:
        ru, en = ru_en(person, "GET", f"/security-events?{query}")
        assert ru.status_code == en.status_code == 422, query
        assert ru.get_json()["error"]["fields"] == {key: [value[0]] for key, value in expected.items()}, query
        assert en.get_json()["error"]["fields"] == {key: [value[1]] for key, value in expected.items()}, query


# --- withdrawing consent ----------------------------------------------------------------------

def _closed_state_of(app, person, phones, addresses):
    """Everything the closing must have erased or kept, straight from the database."""
    row = person.row()
    assert row.status == "closed" and row.full_name == "Учётная запись закрыта"
    for column in ("phone", "email", "pending_email", "email_confirmed_at", "birth_date", "password_hash"):
        assert getattr(row, column) is None, column
    assert row.notification_preferences == {}
    assert row.consent_at is not None and row.consent_withdrawn_at is not None and row.closed_at is not None
    assert row.consent_withdrawn_at >= row.consent_at

    sessions = rows_of(app, CustomerSession, CustomerSession.customer_id == person.id)
    assert sessions and all(s.revoked_at is not None and s.ip is None and s.user_agent is None for s in sessions)
    for device in rows_of(app, CustomerDevice, CustomerDevice.customer_id == person.id):
        assert device.revoked_at is not None and device.pin_hash is None and device.public_key is None
        assert device.name == "device"
    assert rows_of(app, OneTimeCode, or_(OneTimeCode.customer_id == person.id, OneTimeCode.phone.in_(phones))) == []
    assert rows_of(app, FederatedIdentity, FederatedIdentity.customer_id == person.id) == []

    events = person.events()
    assert {"registered", "signed_in", "customer_closed"} <= {event.kind for event in events}
    assert all(event.ip is None and event.user_agent is None for event in events)
    assert person.events("customer_closed")[0].details in ({"method": "password"}, {"method": "code"})

    messages = outbox(app, or_(OutboxMessage.customer_id == person.id, OutboxMessage.recipient.in_(phones | addresses)))
    assert messages  # there were some, and every one is redacted
    for message in messages:
        assert message.recipient == "[удалено]" and message.body == "[удалено]" and message.context is None
        assert message.status in ("sent", "failed", "sending")
    return row


def test_withdrawing_consent_closes_the_account_and_erases_personal_data(app):
    person = Person(app)
    first_phone = person.phone
    # A full life: a confirmed email, a pending one, a changed phone, a birth date, a device, a
    # second session, a federated identity.
    confirmed = person.confirmed()
    pending = email_confirmation.normalise(new_email())
    person.change_email(pending)
    _url, pending_token = person.link_to(pending)
    new = new_phone()
    challenge = person.call("POST", "/phone", {"phone": new}).get_json()["challenge_id"]
    moved = person.call("POST", "/phone/confirm", {"challenge_id": challenge, "code": last_code(app, new)})
    assert moved.status_code == 200
    person.phone = new
    assert person.call("PATCH", "", {"birth_date": "1980-01-01", "theme": "dark",
                                     "notification_preferences": {"bills": {"email": True}}}).status_code == 200
    device = person.client.post("/api/v1/client/devices/", json={"name": "Телефон Марии", "pin": "2580"},
                                headers=person.headers)
    assert device.status_code == 201, device.get_json()
    device = device.get_json()
    other_session = person.client.post(f"{AUTH}/sign-in", json={"phone": new, "password": PASSWORD}).get_json()
    with app.app_context():
        db.session.add(FederatedIdentity(customer_id=person.id, provider="esia", subject=uuid.uuid4().hex))
        db.session.commit()

    # Refusals first: nothing is closed.
    ru, en = ru_en(person, "POST", "/close", {})
    assert ru.status_code == 422 and ru.get_json()["error"]["code"] == "close_proof_required"
    assert en.get_json()["error"]["message"] == "Confirm the closing with the password or a code from an SMS."
    wrong = person.call("POST", "/close", {"password": "Not-my-pass-1"}, EN)
    assert wrong.status_code == 422 and wrong.get_json()["error"]["fields"] == {"password": ["The password is wrong."]}
    bad_code = person.call("POST", "/close", {"challenge_id": "nope", "code": "123456"})
    assert bad_code.status_code == 422 and bad_code.get_json()["error"]["code"] == "code_invalid"
    unknown = person.call("POST", "/close", {"password": PASSWORD, "reason": "x"})
    assert unknown.status_code == 422
    assert person.row().status == "active" and person.profile()["phone"] == new
    assert person.events("close_failed")

    closed = person.call("POST", "/close", {"password": PASSWORD})
    assert closed.status_code == 204

    # Every token of the account is dead at once.
    for headers in (person.headers, {"Authorization": f"Bearer {other_session['access_token']}"}):
        response = person.client.get(PROFILE, headers=headers)
        assert response.status_code == 401
    for refresh in (person.tokens["refresh_token"], other_session["refresh_token"]):
        assert person.client.post(f"{AUTH}/refresh", json={"refresh_token": refresh}).status_code == 401
    pin = person.client.post("/api/v1/client/devices/sign-in/pin",
                             json={"device_id": device["device"]["id"], "device_secret": device["device_secret"],
                                   "pin": "2580"})
    assert pin.status_code == 401
    assert person.client.post(f"{AUTH}/sign-in", json={"phone": new, "password": PASSWORD}).status_code == 401

    _closed_state_of(app, person, {first_phone, new}, {confirmed, pending})
    [event] = person.events("customer_closed")
    assert event.details == {"method": "password"}
    # A link sent before the closing leads nowhere.
    page = app.test_client().get(f"/confirm-email/{pending_token}")
    assert page.status_code == 409 and 'data-code="email_link_superseded"' in page.get_data(as_text=True)

    # Both phones are free again: a new account, a new id.
    for phone in (new, first_phone):
        client = app.test_client()
        started = client.post(f"{AUTH}/register", json={"phone": phone, "full_name": "Новый Клиент", "consent": True})
        assert started.status_code == 202, started.get_json()
        challenge = started.get_json()["challenge_id"]
        assert client.post(f"{AUTH}/register/verify",
                           json={"challenge_id": challenge, "code": last_code(app, phone)}).status_code == 200
        done = client.post(f"{AUTH}/register/complete",
                           json={"challenge_id": challenge, "password": PASSWORD, "password_confirm": PASSWORD})
        assert done.status_code == 201, done.get_json()
        assert done.get_json()["customer"]["id"] != person.id
    assert person.row().status == "closed" and person.row().phone is None


def test_closing_with_a_code_instead_of_the_password(app):
    person = Person(app)
    started = person.call("POST", "/close/code")
    assert started.status_code == 202
    challenge = started.get_json()["challenge_id"]
    code = last_code(app, person.phone, "otp_close_account")
    [message] = outbox(app, OutboxMessage.template == "otp_close_account", OutboxMessage.recipient == person.phone)
    assert message.channel == "sms" and message.customer_id == person.id
    assert code in delivered(app, person.phone)[-1] and code not in message.body  # masked once delivered
    again = person.call("POST", "/close/code")
    assert again.status_code == 429 and again.get_json()["error"]["code"] == "code_cooldown"

    wrong = person.call("POST", "/close", {"challenge_id": challenge, "code": "000000" if code != "000000" else "1"})
    assert wrong.status_code == 422 and wrong.get_json()["error"]["code"] == "code_wrong"
    assert person.row().status == "active"
    # A code of another purpose (a phone change code) does not close the account.
    new = new_phone()
    other = person.call("POST", "/phone", {"phone": new}).get_json()["challenge_id"]
    misused = person.call("POST", "/close", {"challenge_id": other, "code": last_code(app, new)})
    assert misused.status_code == 422 and person.row().status == "active"

    assert person.call("POST", "/close", {"challenge_id": challenge, "code": code}).status_code == 204
    assert person.call("GET", "").status_code == 401
    _closed_state_of(app, person, {person.phone, new}, set())
    assert person.events("customer_closed")[0].details == {"method": "code"}


def test_openapi_describes_the_profile_endpoints(app, api):
    spec = api("admin").get("/api/v1/_openapi").get_json()
    paths = {path: set(ops) for path, ops in spec["paths"].items() if path.startswith(PROFILE)}
    assert paths == {
        PROFILE: {"get", "patch"}, f"{PROFILE}/email": {"put"}, f"{PROFILE}/email/resend": {"post"},
        f"{PROFILE}/email/confirm": {"post"}, f"{PROFILE}/phone": {"post"}, f"{PROFILE}/phone/confirm": {"post"},
        f"{PROFILE}/close/code": {"post"}, f"{PROFILE}/close": {"post"}, f"{PROFILE}/security-events": {"get"},
    }
    for path in paths:
        for operation in spec["paths"][path].values():
            assert operation["security"] == [{"customer": []}], path
    assert "email_confirmed" in spec["components"]["schemas"]["ProfileSchema"]["properties"]


def test_phone_change_codes_are_limited_per_account(app):
    person = Person(app)
    limit = int(app.config["OTP_REQUEST_LIMIT_PER_PHONE"].split()[0])
    for _ in range(limit):
        assert person.call("POST", "/phone", {"phone": new_phone()}).status_code == 202
    target = new_phone()
    refused = person.call("POST", "/phone", {"phone": target}, EN)
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert outbox(app, OutboxMessage.recipient == target) == []
    assert len(rows_of(app, OneTimeCode, OneTimeCode.customer_id == person.id,
                       OneTimeCode.purpose == "phone_change")) == limit


def test_a_used_link_does_not_come_back_when_its_address_is_asked_for_again(app):
    person = Person(app)
    first = person.confirmed()
    _url, first_token = person.link_to(first)
    person.confirmed()  # another address replaces the first
    rate_limits_cleared(app, person, first)  # (a minute later)
    person.change_email(first)  # ... and the first is asked for again: it waits for a new link
    assert person.profile()["pending_email"] == first
    old = person.call("POST", "/email/confirm", {"token": first_token})
    assert old.status_code == 409 and old.get_json()["error"]["code"] == "email_link_superseded"
    assert person.profile()["pending_email"] == first
    _url, fresh = person.link_to(first)
    assert fresh != first_token
    assert person.call("POST", "/email/confirm", {"token": fresh}).get_json()["email"] == first


def test_the_confirmation_email_arrives_over_smtp_and_its_link_confirms(tmp_path):
    """The whole way: profile → outbox → SMTP adapter → a real SMTP server → the link → the page."""
    import email as email_parser
    import email.policy

    from tests.conftest import build_app
    from tests.support.delivery import SmtpServer

    server = SmtpServer()
    try:
        app = build_app(f"sqlite:///{tmp_path / 'smtp.db'}", DELIVERY_EMAIL="smtp", SMTP_HOST="127.0.0.1",
                        SMTP_PORT=server.port, SMTP_SECURITY="none", SMTP_FROM="Кабинет <noreply@kabinet.test>",
                        PUBLIC_BASE_URL="https://kabinet.example")
        person = Person(app)
        address = new_email()
        assert person.call("PUT", "/email", {"email": address}).status_code == 202
        with app.app_context():
            assert notifications.wait_for_delivery(timeout=15)
        [received] = [m for m in server.messages if address.lower() in [r.lower() for r in m["rcpt_tos"]]]
        mail = email_parser.message_from_bytes(received["content"], policy=email.policy.default)
        assert "Кабинет" in str(mail["From"]) and mail["Subject"]
        text = mail.get_body(preferencelist=("plain",)).get_content()
        link = LINK.search(text)
        assert link and link.group(1).startswith("https://kabinet.example/confirm-email/")
        assert person.profile()["email_confirmed"] is False
        page = app.test_client().get(urlparse(link.group(1)).path)
        assert page.status_code == 200 and "подтвержд" in page.get_data(as_text=True)
        assert person.profile()["email_confirmed"] is True
    finally:
        server.stop()
