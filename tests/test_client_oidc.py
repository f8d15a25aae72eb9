"""Federated sign-in (ID-9): OpenID Connect with PKCE against a local fake provider.

The fake (tests/support/fake_oidc.py) is a real HTTP server on 127.0.0.1: discovery, /authorize,
/token (client credentials, code, redirect URI and PKCE verifier checked), /jwks, /userinfo.

Every flow is bound to the app that started it: /start gets ``app_challenge`` (S256 of an
``app_verifier`` the test keeps, as the app keeps it in memory) and /complete needs the verifier.
"""
import base64
import hashlib
import os
import socket
import uuid
from typing import NamedTuple
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select, update

from app.errors import Invalid
from app.extensions import db
from app.models.customers import Customer, CustomerSession, FederatedIdentity, OidcLogin, SecurityEvent
from app.models.workflow import utcnow
from app.services import oidc, passwords, phones, secrets
from tests.conftest import ApiClient, build_app
from tests.support.customers import PASSWORD, bearer, new_phone, register, sign_in
from tests.support.fake_oidc import FakeOidcProvider

OIDC = "/api/v1/client/oidc"
REDIRECT = "https://app.kabinet.example/oidc/callback"
APP_SCHEME = "ru.kabinet.app:/oidc/callback"
EN = {"Accept-Language": "en"}
RU = {"Accept-Language": "ru"}


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def fake():
    provider = FakeOidcProvider()
    yield provider
    provider.stop()


def _providers(fake):
    entry = {"issuer": fake.issuer, "client_id": fake.client_id, "client_secret": fake.client_secret,
             "allowed_redirect_uris": [REDIRECT, APP_SCHEME]}
    return {
        "fake": {**entry, "title": {"ru": "Госуслуги (тест)", "en": "Gosuslugi (test)"},
                 "scopes": ["openid", "phone", "email", "profile"]},
        # The same fake, registered as a second provider: a state of one must not finish the other.
        "other": {**entry, "title": "Other", "token_endpoint_auth_method": "client_secret_post"},
        "down": {**entry, "issuer": f"http://127.0.0.1:{_closed_port()}", "title": "Down"},
    }


@pytest.fixture(scope="module", params=["sqlite", "pg"])
def oidc_app(request, fake, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('oidc') / 'kabinet.db'}"
    else:
        url = request.getfixturevalue("make_pg_database")()
    return build_app(url, OIDC_PROVIDERS=_providers(fake), OIDC_HTTP_TIMEOUT_SECONDS=0.5,
                     OIDC_START_LIMIT_PER_IP="1000 per minute", SIGN_IN_LIMIT_PER_IP="1000 per minute")


@pytest.fixture(autouse=True)
def fresh(fake):
    fake.reset()
    oidc.clear_cache()
    yield


# --- helpers ------------------------------------------------------------------------------------

def error(response):
    body = response.get_json()
    assert set(body) == {"error"} and {"code", "message", "fields"} <= set(body["error"]) <= {"code", "message", "fields", "params"}, body
    return body["error"]


def s256(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def new_app_verifier():
    """What the app makes for each sign-in: 384 random bits, 64 characters of BASE64URL."""
    return base64.urlsafe_b64encode(os.urandom(48)).decode()


class Flow(NamedTuple):
    code: str
    state: str
    app_verifier: str


def start(client, provider="fake", consent=False, redirect_uri=REDIRECT, headers=None, app_verifier=None):
    challenge = s256(app_verifier or new_app_verifier())
    return client.post(f"{OIDC}/{provider}/start",
                       json={"redirect_uri": redirect_uri, "consent": consent, "app_challenge": challenge},
                       headers=headers or {})


def authorize(authorization_url):
    """What the app's browser tab does: open the URL; the fake approves and redirects back."""
    answer = requests.get(authorization_url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    return query["code"][0], query["state"][0]


def begin(client, provider="fake", consent=False, redirect_uri=REDIRECT):
    """Start a flow as the app does and go through the provider: (code, state, app_verifier)."""
    app_verifier = new_app_verifier()
    started = start(client, provider, consent, redirect_uri, app_verifier=app_verifier)
    assert started.status_code == 200, started.get_json()
    body = started.get_json()
    code, state = authorize(body["authorization_url"])
    assert state == body["state"]
    return Flow(code, state, app_verifier)


def finish(client, flow, provider="fake", headers=None, **body):
    """POST /complete with the flow's code, state and app verifier; ``body`` overrides (None drops)."""
    sent = {"code": flow.code, "state": flow.state, "app_verifier": flow.app_verifier, **body}
    return client.post(f"{OIDC}/{provider}/complete", json={key: value for key, value in sent.items()
                                                          if value is not None}, headers=headers or {})


def oidc_sign_in(app, fake, claims, consent=False, provider="fake", headers=None, client=None):
    client = client or app.test_client()
    fake.claims = claims
    return finish(client, begin(client, provider, consent), provider, headers=headers)


def new_sub():
    return f"sub-{uuid.uuid4().hex}"


def new_email():
    return f"user-{uuid.uuid4().hex[:10]}@example.ru"


def person(phone=None, email=None, phone_verified=True, email_verified=True, **extra):
    claims = {"sub": new_sub(), "name": "Смирнова Ольга Игоревна", **extra}
    if phone:
        claims.update(phone_number=phone, phone_number_verified=phone_verified)
    if email:
        claims.update(email=email, email_verified=email_verified)
    return claims


def make_customer(app, phone=None, email=None, email_confirmed=True, full_name="Орлов Игорь Петрович"):
    with app.app_context():
        customer = Customer(phone=phone or new_phone(), full_name=full_name, email=email,
                            email_confirmed_at=utcnow() if email and email_confirmed else None,
                            consent_at=utcnow(), password_hash=passwords.hash_secret(PASSWORD),
                            notification_preferences={})
        db.session.add(customer)
        db.session.commit()
        return customer.id


def count(app, model, *where):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def identities(app, customer_id):
    with app.app_context():
        return [(row.provider, row.subject) for row in db.session.execute(
            select(FederatedIdentity).where(FederatedIdentity.customer_id == customer_id)).scalars()]


def events(app, customer_id):
    with app.app_context():
        return [(row.kind, row.details) for row in db.session.execute(
            select(SecurityEvent).where(SecurityEvent.customer_id == customer_id).order_by(SecurityEvent.id)).scalars()]


def customer_id_of(app, phone):
    with app.app_context():
        return db.session.execute(select(Customer.id).where(Customer.phone == phone)).scalar_one()


# --- the providers and the start ----------------------------------------------------------------

def test_providers_are_listed_with_titles_in_the_callers_language(oidc_app):
    client = oidc_app.test_client()
    russian = client.get(f"{OIDC}/providers", headers=RU).get_json()
    assert russian["count"] == 3
    assert {row["name"]: row["title"] for row in russian["result"]} == {
        "fake": "Госуслуги (тест)", "other": "Other", "down": "Down"}
    english = client.get(f"{OIDC}/providers", headers=EN).get_json()
    assert {row["name"]: row["title"] for row in english["result"]}["fake"] == "Gosuslugi (test)"
    assert all(set(row) == {"name", "title"} for row in english["result"])  # nothing secret leaves


def test_start_gives_a_pkce_url_and_keeps_verifier_nonce_and_secret_on_the_server(oidc_app, fake):
    app_verifier = new_app_verifier()
    started = start(oidc_app.test_client(), consent=True, app_verifier=app_verifier)
    assert started.status_code == 200
    body = started.get_json()
    assert set(body) == {"authorization_url", "state", "expires_in"} and body["expires_in"] == 600
    url = urlsplit(body["authorization_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{fake.url}/authorize"
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert query["client_id"] == fake.client_id and query["response_type"] == "code"
    assert query["redirect_uri"] == REDIRECT and query["state"] == body["state"]
    assert query["scope"].split() == ["openid", "phone", "email", "profile"]
    assert query["code_challenge_method"] == "S256" and query["nonce"]
    assert "client_secret" not in query and fake.client_secret not in body["authorization_url"]
    with oidc_app.app_context():
        row = db.session.execute(select(OidcLogin).where(OidcLogin.nonce == query["nonce"])).scalar_one()
        # only a keyed hash of the state is stored; the verifier matches the challenge sent
        assert row.state != body["state"] and row.state == secrets.keyed_hash("oidc-state", body["state"])
        challenge = base64.urlsafe_b64encode(hashlib.sha256(row.code_verifier.encode()).digest()).rstrip(b"=").decode()
        assert challenge == query["code_challenge"] and row.code_verifier not in body["authorization_url"]
        assert 43 <= len(row.code_verifier) <= 128
        assert row.provider == "fake" and row.consent is True and row.used_at is None
        # the app's challenge is kept (never its verifier) and is not the provider's PKCE challenge
        assert row.app_challenge == s256(app_verifier) and app_verifier not in (row.code_verifier, row.nonce)
        assert query["code_challenge"] != row.app_challenge and row.app_challenge not in body["authorization_url"]
        assert timedelta(seconds=590) < row.expires_at - row.created_at <= timedelta(seconds=600)
    # a native app's own scheme works too, when it is on the list
    assert start(oidc_app.test_client(), redirect_uri=APP_SCHEME).status_code == 200


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example/oidc/callback",
    "https://app.kabinet.example/oidc/callback/../../steal",
    "https://app.kabinet.example/oidc/callback?next=https://evil.example",
    "https://app.kabinet.example.evil.example/oidc/callback",
    "HTTPS://APP.KABINET.EXAMPLE/oidc/callback",
])
def test_start_refuses_a_redirect_uri_that_is_not_allowed(oidc_app, fake, redirect_uri):
    before = count(oidc_app, OidcLogin)
    refused = start(oidc_app.test_client(), redirect_uri=redirect_uri, headers=EN)
    assert refused.status_code == 422
    body = error(refused)
    assert body["code"] == "oidc_redirect_uri_not_allowed"
    assert body["fields"] == {"redirect_uri": ["This redirect URI is not allowed for the provider."]}
    assert count(oidc_app, OidcLogin) == before and fake.requests == []


_RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
_RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize("challenge", [
    None,                                   # missing
    "",
    _RFC7636_CHALLENGE[:-1],                # 42 characters
    _RFC7636_CHALLENGE + "A",               # 44
    _RFC7636_CHALLENGE + "=",               # padded
    _RFC7636_CHALLENGE + "\n",              # a trailing newline
    " " + _RFC7636_CHALLENGE[1:],
    _RFC7636_CHALLENGE[:-1] + "N",          # trailing bits not zero: not the encoding of 32 bytes
    _RFC7636_CHALLENGE[:-2] + "+/",         # standard base64, not BASE64URL
    hashlib.sha256(b"verifier").hexdigest(),  # hex, 64 characters
    _RFC7636_VERIFIER + "x" * 20,           # a verifier where the challenge should be
    "plain",
    43,
    ["x" * 43],
])
def test_start_refuses_an_app_challenge_that_is_not_s256(oidc_app, fake, challenge):
    before = count(oidc_app, OidcLogin)
    body = {"redirect_uri": REDIRECT, "consent": True}
    if challenge is not None:
        body["app_challenge"] = challenge
    refused = oidc_app.test_client().post(f"{OIDC}/fake/start", json=body, headers=EN)
    assert refused.status_code == 422
    fields = error(refused)["fields"]
    assert set(fields) == {"app_challenge"}
    if challenge is None:
        assert fields == {"app_challenge": ["Missing data for required field."]}
    elif isinstance(challenge, str):
        assert fields == {"app_challenge": [
            "Expected app_challenge: BASE64URL(SHA-256) without padding, 43 characters."]}
    assert count(oidc_app, OidcLogin) == before and fake.requests == []


def test_the_rfc_7636_example_challenge_is_accepted_and_the_service_checks_the_format_too(oidc_app, fake):
    assert s256(_RFC7636_VERIFIER) == _RFC7636_CHALLENGE
    assert start(oidc_app.test_client(), app_verifier=_RFC7636_VERIFIER).status_code == 200
    with oidc_app.test_request_context(headers=RU):
        with pytest.raises(Invalid) as refused:
            oidc.start("fake", REDIRECT, _RFC7636_CHALLENGE + "=")
        assert refused.value.fields == {"app_challenge": ["oidc_app_challenge_invalid"]}


def test_an_unknown_provider_is_404_in_the_error_shape(oidc_app):
    client = oidc_app.test_client()
    refused = start(client, provider="nope", headers=EN)
    assert refused.status_code == 404
    assert error(refused) == {"code": "oidc_provider_unknown", "message": "This sign-in provider is not configured.",
                              "fields": {}}
    completed = finish(client, Flow("x", "y", new_app_verifier()), provider="nope")
    assert completed.status_code == 404 and error(completed)["message"] == "Такой способ входа не настроен."


def test_bad_bodies_are_refused_before_anything_happens(oidc_app, fake):
    client = oidc_app.test_client()
    assert error(client.post(f"{OIDC}/fake/start", json={}))["fields"] == {
        "redirect_uri": ["Обязательное поле."], "app_challenge": ["Обязательное поле."]}
    assert client.post(f"{OIDC}/fake/start", data="redirect_uri=x").status_code == 400
    missing = client.post(f"{OIDC}/fake/complete", json={"code": "x"}, headers=EN)
    assert missing.status_code == 422 and error(missing)["fields"] == {
        "state": ["Missing data for required field."], "app_verifier": ["Missing data for required field."]}
    assert fake.requests == []


# --- matching and signing in --------------------------------------------------------------------

def test_a_customer_is_matched_by_verified_phone_then_signs_in_by_the_link(oidc_app, fake):
    phone, _ = register(oidc_app)
    customer_id = customer_id_of(oidc_app, phone)
    claims = person(phone=f"8 ({phone[2:5]}) {phone[5:8]}-{phone[8:10]}-{phone[10:]}", name="Иванова Мария")
    signed_in = oidc_sign_in(oidc_app, fake, claims)
    assert signed_in.status_code == 200, signed_in.get_json()
    body = signed_in.get_json()
    assert body["customer"] == {"id": customer_id, "phone": phone, "full_name": "Иванова Мария Петровна"}
    assert identities(oidc_app, customer_id) == [("fake", claims["sub"])]
    sessions = oidc_app.test_client().get("/api/v1/client/auth/sessions", headers=bearer(body)).get_json()
    current = [row for row in sessions["result"] if row["current"]]
    assert current[0]["method"] == "oidc:fake"
    kinds = events(oidc_app, customer_id)
    assert ("federated_identity_linked", {"provider": "fake", "matched_by": "phone"}) in kinds
    assert kinds[-1][0] == "signed_in" and kinds[-1][1]["method"] == "oidc:fake"
    # the token request carried the PKCE verifier and the redirect URI
    [token_call] = fake.calls("/token")
    assert token_call["code_verifier"] and token_call["redirect_uri"] == REDIRECT
    assert "client_secret" not in token_call  # client_secret_basic: in the Authorization header

    # The portal now says other things (another phone, unverified): the link decides.
    changed = {"sub": claims["sub"], "phone_number": new_phone(), "phone_number_verified": False,
               "email": new_email(), "email_verified": False, "name": "Кто-то Другой"}
    again = oidc_sign_in(oidc_app, fake, changed)
    assert again.status_code == 200 and again.get_json()["customer"]["id"] == customer_id
    assert identities(oidc_app, customer_id) == [("fake", claims["sub"])]
    with oidc_app.app_context():
        customer = db.session.get(Customer, customer_id)
        assert customer.phone == phone and customer.full_name == "Иванова Мария Петровна"
        link = db.session.execute(select(FederatedIdentity).where(FederatedIdentity.subject == claims["sub"])).scalar_one()
        assert link.last_login_at is not None
    # the answer is the one every sign-in gives
    password = sign_in(oidc_app, phone).get_json()
    assert set(body) == set(password) and set(body["customer"]) == set(password["customer"])


def test_a_customer_is_matched_by_a_verified_email_equal_to_a_confirmed_one(oidc_app, fake):
    email = new_email()
    customer_id = make_customer(oidc_app, email=email.upper())
    claims = person(email=email)
    signed_in = oidc_sign_in(oidc_app, fake, claims)
    assert signed_in.status_code == 200, signed_in.get_json()
    assert signed_in.get_json()["customer"]["id"] == customer_id
    assert identities(oidc_app, customer_id) == [("fake", claims["sub"])]
    assert ("federated_identity_linked", {"provider": "fake", "matched_by": "email"}) in events(oidc_app, customer_id)


def test_an_email_the_customer_never_confirmed_does_not_match(oidc_app, fake):
    email = new_email()
    customer_id = make_customer(oidc_app, email=email, email_confirmed=False)
    refused = oidc_sign_in(oidc_app, fake, person(email=email), consent=True, headers=EN)
    assert refused.status_code == 422
    assert error(refused) == {"code": "oidc_no_account", "fields": {},
                              "message": "No account found: the provider gave no verified phone. "
                                         "Register with your phone number."}
    assert identities(oidc_app, customer_id) == []


@pytest.mark.parametrize("verified", [False, "true", None, 1])
def test_unverified_phone_or_email_never_matches(oidc_app, fake, verified):
    phone, email = new_phone(), new_email()
    customer_id = make_customer(oidc_app, phone=phone, email=email)
    customers_before = count(oidc_app, Customer)
    claims = person(phone=phone, email=email, phone_verified=verified, email_verified=verified)
    refused = oidc_sign_in(oidc_app, fake, claims, consent=True)
    assert refused.status_code == 422 and error(refused)["code"] == "oidc_no_account"
    assert identities(oidc_app, customer_id) == []
    assert count(oidc_app, Customer) == customers_before
    assert count(oidc_app, CustomerSession, CustomerSession.customer_id == customer_id) == 0


def test_a_new_customer_is_opened_only_with_consent(oidc_app, fake):
    phone, email = new_phone(), new_email()
    claims = person(phone=phone, email=email, name=None, family_name="Кузнецов", given_name="Артём",
                    middle_name="Сергеевич")
    del claims["name"]
    before = count(oidc_app, Customer)
    refused = oidc_sign_in(oidc_app, fake, claims, consent=False, headers=EN)
    assert refused.status_code == 422
    body = error(refused)
    with oidc_app.app_context():
        masked = phones.masked(phone)
    assert "***" in masked and phone[-2:] in masked
    assert body["code"] == "oidc_consent_required" and masked in body["message"] and phone not in body["message"]
    assert body["message"].startswith("There is no account with the phone")
    russian = oidc_sign_in(oidc_app, fake, claims, consent=False)
    assert "дайте согласие на обработку персональных данных" in error(russian)["message"]
    assert count(oidc_app, Customer) == before

    opened = oidc_sign_in(oidc_app, fake, claims, consent=True)
    assert opened.status_code == 201, opened.get_json()
    tokens = opened.get_json()
    assert tokens["customer"]["phone"] == phone and tokens["customer"]["full_name"] == "Кузнецов Артём Сергеевич"
    assert count(oidc_app, Customer) == before + 1
    customer_id = tokens["customer"]["id"]
    with oidc_app.app_context():
        customer = db.session.get(Customer, customer_id)
        assert customer.email == email and customer.email_confirmed_at is not None
        assert customer.consent_at is not None and customer.password_hash is None and customer.status == "active"
    kinds = [kind for kind, _ in events(oidc_app, customer_id)]
    assert kinds == ["registered", "federated_identity_linked", "signed_in"]
    assert oidc_app.test_client().get("/api/v1/client/auth/sessions", headers=bearer(tokens)).status_code == 200

    again = oidc_sign_in(oidc_app, fake, claims)  # no consent needed: the link is there
    assert again.status_code == 200 and again.get_json()["customer"]["id"] == customer_id
    assert count(oidc_app, Customer) == before + 1


def test_an_unverified_email_is_not_kept_on_a_new_account_and_a_nameless_one_is_refused(oidc_app, fake):
    phone = new_phone()
    opened = oidc_sign_in(oidc_app, fake, person(phone=phone, email=new_email(), email_verified=False), consent=True)
    assert opened.status_code == 201
    with oidc_app.app_context():
        customer = db.session.get(Customer, opened.get_json()["customer"]["id"])
        assert customer.email is None and customer.email_confirmed_at is None
    nameless = {"sub": new_sub(), "phone_number": new_phone(), "phone_number_verified": True}
    refused = oidc_sign_in(oidc_app, fake, nameless, consent=True)
    assert refused.status_code == 422 and error(refused)["code"] == "oidc_claims_insufficient"
    assert count(oidc_app, Customer, Customer.phone == nameless["phone_number"]) == 0


def test_phone_and_email_of_different_customers_are_refused(oidc_app, fake):
    phone, email = new_phone(), new_email()
    by_phone = make_customer(oidc_app, phone=phone)
    by_email = make_customer(oidc_app, email=email)
    refused = oidc_sign_in(oidc_app, fake, person(phone=phone, email=email), consent=True, headers=EN)
    assert refused.status_code == 409
    body = error(refused)
    assert body["code"] == "oidc_match_conflict" and "different accounts" in body["message"]
    assert identities(oidc_app, by_phone) == [] and identities(oidc_app, by_email) == []
    for customer_id in (by_phone, by_email):
        assert ("federated_sign_in_refused", {"provider": "fake", "reason": "oidc_match_conflict"}) in events(
            oidc_app, customer_id)
        assert count(oidc_app, CustomerSession, CustomerSession.customer_id == customer_id) == 0


def test_a_second_portal_account_with_the_same_phone_does_not_take_over(oidc_app, fake):
    phone = new_phone()
    customer_id = make_customer(oidc_app, phone=phone)
    first = person(phone=phone)
    assert oidc_sign_in(oidc_app, fake, first).status_code == 200
    stranger = person(phone=phone)  # another sub: e.g. the number was reassigned at the portal
    refused = oidc_sign_in(oidc_app, fake, stranger, consent=True)
    assert refused.status_code == 409 and error(refused)["code"] == "oidc_already_linked"
    assert identities(oidc_app, customer_id) == [("fake", first["sub"])]


def test_a_closed_accounts_link_is_dropped_and_matching_starts_afresh(oidc_app, fake):
    phone = new_phone()
    closed_id = make_customer(oidc_app, phone=phone)
    claims = person(phone=phone)
    assert oidc_sign_in(oidc_app, fake, claims).status_code == 200
    with oidc_app.app_context():
        db.session.execute(update(Customer).where(Customer.id == closed_id).values(status="closed", phone=None))
        db.session.commit()
    reopened = oidc_sign_in(oidc_app, fake, claims, consent=True)
    assert reopened.status_code == 201
    assert reopened.get_json()["customer"]["id"] != closed_id
    assert identities(oidc_app, closed_id) == []


def test_userinfo_supplies_claims_the_id_token_lacks(oidc_app, fake):
    phone = new_phone()
    customer_id = make_customer(oidc_app, phone=phone)
    fake.userinfo_only = ("phone_number", "phone_number_verified")
    signed_in = oidc_sign_in(oidc_app, fake, person(phone=phone))
    assert signed_in.status_code == 200 and signed_in.get_json()["customer"]["id"] == customer_id
    assert len(fake.calls("/userinfo")) == 1


def test_client_secret_post_is_used_when_configured(oidc_app, fake):
    phone = new_phone()
    make_customer(oidc_app, phone=phone)
    assert oidc_sign_in(oidc_app, fake, person(phone=phone), provider="other").status_code == 200
    [token_call] = fake.calls("/token")
    assert token_call["client_secret"] == fake.client_secret and token_call["client_id"] == fake.client_id


# --- refusals of the flow -----------------------------------------------------------------------

def test_a_state_works_once(oidc_app, fake):
    phone = new_phone()
    customer_id = make_customer(oidc_app, phone=phone)
    client = oidc_app.test_client()
    fake.claims = person(phone=phone)
    flow = begin(client)
    assert finish(client, flow).status_code == 200
    replay = finish(client, flow, headers=EN)
    assert replay.status_code == 401
    assert error(replay) == {"code": "oidc_state_used", "fields": {},
                             "message": "This sign-in has already been completed: start again."}
    assert count(oidc_app, CustomerSession, CustomerSession.customer_id == customer_id) == 1
    assert len(fake.calls("/token")) == 1  # the replay never reached the provider


@pytest.mark.parametrize("thief", ["another_apps_own_verifier", "made_up_verifier", "the_challenge"])
def test_a_stolen_redirect_without_the_apps_verifier_is_refused_and_spends_the_flow(oidc_app, fake, thief):
    """Another app registered the same URL scheme and caught the redirect: it has code and state.

    Whatever it sends instead of the real app's verifier (even the verifier of a flow it started
    itself, or the challenge it may have seen), the code never reaches the provider, and the flow
    is spent: the real app, if it gets the redirect at all, is told to start again.
    """
    phone = new_phone()
    customer_id = make_customer(oidc_app, phone=phone)
    real_app, malicious_app = oidc_app.test_client(), oidc_app.test_client()
    fake.claims = person(phone=phone)
    flow = begin(real_app)
    stolen = {
        "another_apps_own_verifier": begin(malicious_app).app_verifier,
        "made_up_verifier": new_app_verifier(),
        "the_challenge": s256(flow.app_verifier),  # 43 characters of the verifier alphabet
    }[thief]
    fake.requests.clear()

    # a missing or malformed verifier is a field error: nothing is tried, nothing changes
    missing = finish(malicious_app, flow, app_verifier=None, headers=EN)
    assert missing.status_code == 422
    assert error(missing)["fields"] == {"app_verifier": ["Missing data for required field."]}

    refused = finish(malicious_app, flow, app_verifier=stolen, headers=EN)
    assert refused.status_code == 401
    assert error(refused) == {"code": "oidc_app_mismatch", "fields": {},
                              "message": "The sign-in was not started by this app: start again."}
    assert fake.requests == []  # the code was never exchanged: it is still unused at the provider
    with oidc_app.app_context():
        login = db.session.execute(
            select(OidcLogin).where(OidcLogin.state == secrets.keyed_hash("oidc-state", flow.state))).scalar_one()
        assert login.used_at is not None

    # no second try for the thief, and the real app's own verifier is too late as well
    retry = finish(malicious_app, flow, app_verifier=stolen)
    assert retry.status_code == 401 and error(retry)["code"] == "oidc_state_used"
    late = finish(real_app, flow, headers=EN)
    assert late.status_code == 401 and error(late)["code"] == "oidc_state_used"
    assert fake.calls("/token") == []
    assert count(oidc_app, CustomerSession, CustomerSession.customer_id == customer_id) == 0
    assert identities(oidc_app, customer_id) == []

    # the user starts again and signs in
    again = finish(real_app, begin(real_app))
    assert again.status_code == 200 and again.get_json()["customer"]["id"] == customer_id


def test_the_app_mismatch_message_is_in_russian_by_default(oidc_app, fake):
    client = oidc_app.test_client()
    fake.claims = person(phone=new_phone())
    refused = finish(client, begin(client), app_verifier=new_app_verifier())
    assert refused.status_code == 401
    assert error(refused) == {"code": "oidc_app_mismatch", "fields": {},
                              "message": "Вход был начат не в этом приложении: начните вход заново."}


@pytest.mark.parametrize("app_verifier", [
    "",
    "a" * 42,                    # shorter than RFC 7636 allows
    "a" * 129,                   # longer
    "a" * 42 + "+",              # outside the unreserved set
    "a" * 42 + "=",
    "a" * 42 + " ",
    "a" * 43 + "\n",
    "я" * 43,
    43,
    None,
])
def test_a_malformed_app_verifier_is_a_field_error_that_leaves_the_flow_alone(oidc_app, fake, app_verifier):
    phone = new_phone()
    customer_id = make_customer(oidc_app, phone=phone)
    client = oidc_app.test_client()
    fake.claims = person(phone=phone)
    flow = begin(client)
    body = {"code": flow.code, "state": flow.state}
    if app_verifier is not None:
        body["app_verifier"] = app_verifier
    refused = client.post(f"{OIDC}/fake/complete", json=body, headers=EN)
    assert refused.status_code == 422
    fields = error(refused)["fields"]
    assert set(fields) == {"app_verifier"}
    if isinstance(app_verifier, str):
        assert fields == {"app_verifier": [
            "Expected app_verifier: 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_', '~'."]}
    assert fake.calls("/token") == []
    # nothing was tried, so the flow is still the real app's to finish
    signed_in = finish(client, flow)
    assert signed_in.status_code == 200 and signed_in.get_json()["customer"]["id"] == customer_id


@pytest.mark.parametrize("length", [43, 128])
def test_the_real_app_completes_with_its_verifier(oidc_app, fake, length):
    """The happy path with the binding, on SQLite and PostgreSQL (``oidc_app`` runs on both)."""
    phone = new_phone()
    customer_id = make_customer(oidc_app, phone=phone)
    client = oidc_app.test_client()
    fake.claims = person(phone=phone)
    app_verifier = (new_app_verifier() * 3)[:length - 4] + "-._~"
    started = start(client, app_verifier=app_verifier)
    assert started.status_code == 200
    code, state = authorize(started.get_json()["authorization_url"])
    signed_in = finish(client, Flow(code, state, app_verifier))
    assert signed_in.status_code == 200, signed_in.get_json()
    assert signed_in.get_json()["customer"]["id"] == customer_id
    [token_call] = fake.calls("/token")
    # the app's verifier stays between the app and us: the provider sees only our own PKCE verifier
    assert app_verifier not in token_call.values() and token_call["code_verifier"] != app_verifier
    assert all(app_verifier not in str(params) for _path, params in fake.requests)
    with oidc_app.app_context():
        login = db.session.execute(
            select(OidcLogin).where(OidcLogin.state == secrets.keyed_hash("oidc-state", state))).scalar_one()
        assert login.app_challenge == s256(app_verifier) and login.used_at is not None


def test_an_expired_unknown_or_foreign_state_is_refused(oidc_app, fake):
    phone = new_phone()
    customer_id = make_customer(oidc_app, phone=phone)
    client = oidc_app.test_client()
    fake.claims = person(phone=phone)

    flow = begin(client)
    with oidc_app.app_context():
        db.session.execute(update(OidcLogin).where(OidcLogin.state == secrets.keyed_hash("oidc-state", flow.state))
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    expired = finish(client, flow)
    assert expired.status_code == 401 and error(expired)["code"] == "oidc_state_expired"

    unknown = finish(client, flow, state="made-up")
    assert unknown.status_code == 401 and error(unknown)["code"] == "oidc_state_invalid"

    flow = begin(client, provider="other")
    foreign = finish(client, flow, provider="fake")
    assert foreign.status_code == 401 and error(foreign)["code"] == "oidc_state_invalid"
    assert fake.calls("/token") == []
    assert count(oidc_app, CustomerSession, CustomerSession.customer_id == customer_id) == 0
    # the refusal did not spend the other provider's flow
    assert finish(client, flow, provider="other").status_code == 200


def test_a_wrong_pkce_verifier_is_refused_by_the_provider_and_mapped_to_401(oidc_app, fake):
    phone = new_phone()
    customer_id = make_customer(oidc_app, phone=phone)
    client = oidc_app.test_client()
    fake.claims = person(phone=phone)
    flow = begin(client)
    with oidc_app.app_context():
        db.session.execute(update(OidcLogin).where(OidcLogin.state == secrets.keyed_hash("oidc-state", flow.state))
                           .values(code_verifier="x" * 64))
        db.session.commit()
    refused = finish(client, flow, headers=EN)
    assert refused.status_code == 401
    assert error(refused) == {"code": "oidc_code_rejected", "fields": {},
                              "message": "The provider did not confirm the sign-in: start again."}
    assert [call["code_verifier"] for call in fake.calls("/token")] == ["x" * 64]
    assert count(oidc_app, CustomerSession, CustomerSession.customer_id == customer_id) == 0


def test_a_code_the_provider_does_not_know_is_refused(oidc_app, fake):
    client = oidc_app.test_client()
    fake.claims = person(phone=new_phone())
    flow = begin(client)
    refused = finish(client, flow, code="forged-code")
    assert refused.status_code == 401 and error(refused)["code"] == "oidc_code_rejected"


@pytest.mark.parametrize("failure", ["wrong_key", "unknown_kid", "wrong_aud", "wrong_iss", "wrong_nonce", "expired",
                                     "alg_none", "hs256_public_key", "tampered", "userinfo_other_sub"])
def test_an_id_token_that_does_not_verify_is_refused(oidc_app, fake, failure):
    phone = new_phone()
    customer_id = make_customer(oidc_app, phone=phone)
    fake.fail = failure
    claims = person(phone=phone)
    if failure == "userinfo_other_sub":
        fake.userinfo_only = ("phone_number", "phone_number_verified")
    refused = oidc_sign_in(oidc_app, fake, claims, consent=True, headers=EN)
    assert refused.status_code == 401, refused.get_json()
    assert error(refused) == {"code": "oidc_token_invalid", "fields": {},
                              "message": "The provider's answer did not pass verification: start again."}
    assert identities(oidc_app, customer_id) == []
    assert count(oidc_app, CustomerSession, CustomerSession.customer_id == customer_id) == 0
    assert count(oidc_app, FederatedIdentity, FederatedIdentity.subject.in_([claims["sub"], "someone-else"])) == 0


def test_keys_and_discovery_are_cached_and_a_rotated_key_is_fetched(oidc_app, fake):
    phone = new_phone()
    make_customer(oidc_app, phone=phone)
    claims = person(phone=phone)
    assert oidc_sign_in(oidc_app, fake, claims).status_code == 200
    assert oidc_sign_in(oidc_app, fake, claims).status_code == 200
    assert len(fake.calls("/.well-known/openid-configuration")) == 1 and len(fake.calls("/jwks")) == 1
    fake.rotate_key(f"key-{uuid.uuid4().hex[:8]}")
    assert oidc_sign_in(oidc_app, fake, claims).status_code == 200
    assert len(fake.calls("/jwks")) == 2


# --- the provider failing -----------------------------------------------------------------------

@pytest.mark.parametrize("failure", ["token_500", "token_bad_json", "token_slow", "no_id_token"])
def test_a_failing_token_endpoint_is_502(oidc_app, fake, failure):
    phone = new_phone()
    customer_id = make_customer(oidc_app, phone=phone)
    fake.fail = failure
    fake.slow_seconds = 1.5  # the app waits 0.5 s
    refused = oidc_sign_in(oidc_app, fake, person(phone=phone), headers=EN)
    assert refused.status_code == 502
    assert error(refused) == {"code": "oidc_provider_error", "fields": {},
                              "message": "The sign-in provider is not answering properly: try again later or "
                                         "sign in by phone."}
    assert count(oidc_app, CustomerSession, CustomerSession.customer_id == customer_id) == 0


@pytest.mark.parametrize("failure", [None, "discovery_500", "discovery_other_issuer"])
def test_a_provider_that_is_down_or_inconsistent_is_502_at_start(oidc_app, fake, failure):
    before = count(oidc_app, OidcLogin)
    fake.fail = failure
    refused = start(oidc_app.test_client(), provider="down" if failure is None else "fake")
    assert refused.status_code == 502
    body = error(refused)
    assert body["code"] == "oidc_provider_error" and body["message"].startswith("Сервис входа временно не отвечает")
    assert count(oidc_app, OidcLogin) == before


def test_the_endpoints_are_in_the_openapi_document(oidc_app):
    paths = ApiClient(oidc_app, "admin").get("/api/v1/_openapi").get_json()["paths"]
    assert {"/api/v1/client/oidc/providers", "/api/v1/client/oidc/{provider}/start",
            "/api/v1/client/oidc/{provider}/complete"} <= set(paths)
    assert "502" in paths["/api/v1/client/oidc/{provider}/complete"]["post"]["responses"]
    schemas = ApiClient(oidc_app, "admin").get("/api/v1/_openapi").get_json()["components"]["schemas"]
    assert "app_challenge" in schemas["OidcStartSchema"]["required"]
    assert "app_verifier" in schemas["OidcCompleteSchema"]["required"]


@pytest.mark.parametrize("entry, problem", [
    ({"issuer": "http://portal.example"}, "is not https"),
    ({"issuer": "https://portal.example", "client_secret": None}, "client_secret"),
    ({"issuer": "https://portal.example", "authorization_params": {"state": "fixed"}}, "may not set ['state']"),
    ({"issuer": "https://portal.example", "token_endpoint_auth_method": "none"}, "token_endpoint_auth_method"),
    ({}, "issuer or discovery_url"),
])
def test_a_misconfigured_provider_is_an_error_not_a_silent_default(entry, problem):
    base = {"client_id": "kabinet", "client_secret": "top-secret-value", "allowed_redirect_uris": [REDIRECT]}
    with pytest.raises(RuntimeError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        oidc._parse("portal", {**base, **entry})
    with pytest.raises(RuntimeError, match="the name must be"):
        oidc._parse("Portal With Spaces", {**base, "issuer": "https://portal.example"})
    parsed = oidc._parse("portal", {**base, "issuer": "https://portal.example/", "scopes": ["phone"]})
    assert parsed.discovery_url == "https://portal.example/.well-known/openid-configuration"
    assert parsed.scopes == ("openid", "phone") and "top-secret-value" not in repr(parsed)


def test_a_misconfigured_provider_stops_the_start(tmp_path):
    from app import create_app

    with pytest.raises(RuntimeError, match="is not https"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}", "OIDC_PROVIDERS": {
            "portal": {"issuer": "http://portal.example", "client_id": "k", "client_secret": "s"}}})
