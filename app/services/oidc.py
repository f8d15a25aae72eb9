"""Federated sign-in with OpenID Connect providers (ID-9), e.g. the government portal (ЕСИА).

The authorization code flow with PKCE, run by the backend on behalf of the app: the backend
keeps the PKCE verifier, the nonce and the client secret (``oidc_login`` row); the app only
opens the authorization URL and hands back ``code`` and ``state``.

Because the backend, not the app, answers the provider's PKCE, the flow is bound to the app
instance that started it by a second, PKCE-style pair between the app and us: /start takes
``app_challenge`` = BASE64URL(SHA256(app_verifier)) and /complete must present ``app_verifier``,
checked in constant time before the code is exchanged. Another app that registered the same
custom URL scheme and caught the redirect (RFC 8252 §8.1) has ``code`` and ``state`` but not the
verifier, which never left the real app; its attempt spends the flow. The ID token comes straight
from the provider's token endpoint and is still verified in full: signature by the provider's
JWKS (RS256 or ES256 only, never ``none`` or HMAC), ``iss``, ``aud``/``azp``, ``exp``, ``iat``
and the ``nonce`` of this flow.

A provider account is matched to a customer by its link (provider, ``sub``) or else, once, by a
phone or email the provider says it has VERIFIED: the phone must be an active customer's, the
email an active customer's confirmed email. Unverified claims never match. A new account is
opened only from a verified phone and only when the customer consented at the start.

Nothing here touches Flask's request: the API passes ``ip`` and ``user_agent``.
"""
import base64
import hashlib
import hmac
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import is_secure_transport
from authlib.integrations.requests_client import OAuth2Session
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, DomainError, Invalid, NotFound, Unauthorized
from ..extensions import db
from ..models.customers import Customer, FederatedIdentity, OidcLogin
from ..models.workflow import utcnow
from . import customer_sessions, phones, rate_limits, secrets, security_events

log = logging.getLogger(__name__)

# Asymmetric signatures only: "none" and HS* (which a confused verifier would check with the
# provider's public key as the HMAC secret) are refused whatever the token's header says.
ALGORITHMS = ("RS256", "ES256")
DEFAULT_SCOPES = ("openid", "phone", "email", "profile")
# The name is in URLs and in the session's method "oidc:<name>" (32 characters at most).
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,26}")
_STATE = "oidc-state"
# The app's proof of possession (RFC 7636 §4.1-4.2, S256 only): the challenge is BASE64URL of a
# SHA-256 digest without padding, exactly 43 characters (the last one carries 2 zero bits); the
# verifier is 43-128 characters of the unreserved set.
APP_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]")
APP_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
# Set by the flow itself; a provider's extra authorization parameters cannot replace them.
_FLOW_PARAMS = {"client_id", "response_type", "redirect_uri", "scope", "state", "nonce", "code_challenge",
                "code_challenge_method"}
_IDENTITY_CLAIMS = ("phone_number", "phone_number_verified", "email", "email_verified", "name",
                    "family_name", "given_name", "middle_name")


class ProviderError(DomainError):
    """The provider did not answer as it should (down, 5xx, timeout, not JSON, misconfigured)."""

    status = 502
    code = "oidc_provider_error"


@dataclass(frozen=True)
class Provider:
    name: str
    title: dict
    client_id: str
    client_secret: str = field(repr=False)
    issuer: str | None
    discovery_url: str | None
    scopes: tuple
    redirect_uris: tuple
    token_endpoint_auth_method: str
    # Endpoints given in the configuration instead of (or over) discovery.
    endpoints: dict
    authorization_params: dict
    userinfo: str  # auto | always | never


def _misconfigured(name, problem):
    return RuntimeError(f"OIDC_PROVIDERS[{name!r}]: {problem}")


def _parse(name, entry):
    if not _NAME.fullmatch(name):
        raise _misconfigured(name, "the name must be 1-27 of a-z, 0-9, '_' or '-'")
    if not isinstance(entry, dict):
        raise _misconfigured(name, "expected an object")
    client_id = entry.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise _misconfigured(name, "client_id is required")
    secret = entry.get("client_secret")
    if secret is None and entry.get("client_secret_env"):
        secret = os.environ.get(entry["client_secret_env"])
    if not isinstance(secret, str) or not secret:
        raise _misconfigured(name, "client_secret (or client_secret_env naming a set variable) is required")
    endpoints = {key: entry[key] for key in ("authorization_endpoint", "token_endpoint", "jwks_uri",
                                             "userinfo_endpoint") if entry.get(key)}
    issuer = entry.get("issuer")
    discovery_url = entry.get("discovery_url")
    if not discovery_url and issuer and not {"authorization_endpoint", "token_endpoint", "jwks_uri"} <= set(endpoints):
        discovery_url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    if not discovery_url and not issuer:
        raise _misconfigured(name, "issuer or discovery_url is required")
    for url in filter(None, (issuer, discovery_url, *endpoints.values())):
        if not is_secure_transport(url):
            raise _misconfigured(name, f"{url} is not https (plain http only on the loopback)")
    redirect_uris = entry.get("allowed_redirect_uris") or []
    if not isinstance(redirect_uris, list) or not all(isinstance(uri, str) and uri for uri in redirect_uris):
        raise _misconfigured(name, "allowed_redirect_uris must be a list of URIs")
    title = entry.get("title") or name
    title = {"ru": title, "en": title} if isinstance(title, str) else dict(title)
    method = entry.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in ("client_secret_basic", "client_secret_post"):
        raise _misconfigured(name, "token_endpoint_auth_method: client_secret_basic or client_secret_post")
    userinfo = entry.get("userinfo", "auto")
    if userinfo not in ("auto", "always", "never"):
        raise _misconfigured(name, "userinfo: auto, always or never")
    extra = dict(entry.get("authorization_params") or {})
    if set(extra) & _FLOW_PARAMS:
        raise _misconfigured(name, f"authorization_params may not set {sorted(set(extra) & _FLOW_PARAMS)}")
    scopes = tuple(entry.get("scopes") or DEFAULT_SCOPES)
    if "openid" not in scopes:
        scopes = ("openid", *scopes)
    return Provider(name=name, title=title, client_id=client_id, client_secret=secret, issuer=issuer,
                    discovery_url=discovery_url, scopes=scopes, redirect_uris=tuple(redirect_uris),
                    token_endpoint_auth_method=method, endpoints=endpoints,
                    authorization_params=extra, userinfo=userinfo)


def providers():
    """Every configured provider (a misconfigured one is an error, not silently skipped)."""
    return [_parse(name, entry) for name, entry in (current_app.config.get("OIDC_PROVIDERS") or {}).items()]


def provider(name):
    entry = (current_app.config.get("OIDC_PROVIDERS") or {}).get(name) if isinstance(name, str) else None
    if entry is None:
        raise NotFound("oidc_provider_unknown")
    return _parse(name, entry)


# --- the provider's documents: discovery and keys, cached per process ---------------------------

_cache = {}
_cache_lock = threading.Lock()


def _timeout():
    return current_app.config["OIDC_HTTP_TIMEOUT_SECONDS"]


def _get_json(prov, url, what, headers=None):
    try:
        response = requests.get(url, timeout=_timeout(), headers={"Accept": "application/json", **(headers or {})})
        response.raise_for_status()
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        log.warning("OIDC provider %s: %s %s failed: %s", prov.name, what, url, exc)
        raise ProviderError() from None
    if not isinstance(body, dict):
        log.warning("OIDC provider %s: %s %s is not a JSON object", prov.name, what, url)
        raise ProviderError()
    return body


def _cached(key, ttl, load, refresh=False):
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] > now and not refresh:
        return hit[1]
    value = load()
    with _cache_lock:
        _cache[key] = (now + ttl, value)
    return value


def clear_cache():
    with _cache_lock:
        _cache.clear()


def metadata(prov):
    """The provider's endpoints and issuer (OpenID Connect Discovery, cached for a TTL)."""
    if not prov.discovery_url:
        return {"issuer": prov.issuer, **prov.endpoints}

    def load():
        doc = _get_json(prov, prov.discovery_url, "discovery")
        issuer = doc.get("issuer")
        if not isinstance(issuer, str) or (prov.issuer and issuer != prov.issuer):
            # Discovery 1.0 §4.3: the document must name the issuer it was fetched for.
            log.warning("OIDC provider %s: discovery names issuer %r, configured %r", prov.name, issuer, prov.issuer)
            raise ProviderError()
        merged = {**doc, **prov.endpoints}
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
            url = merged.get(key)
            if key != "userinfo_endpoint" and not url:
                log.warning("OIDC provider %s: discovery has no %s", prov.name, key)
                raise ProviderError()
            if url and (not isinstance(url, str) or not is_secure_transport(url)):
                log.warning("OIDC provider %s: %s %r is not https", prov.name, key, url)
                raise ProviderError()
        return merged

    return _cached(("discovery", prov.discovery_url), current_app.config["OIDC_DISCOVERY_TTL_SECONDS"], load)


def _key_set(prov, jwks_uri, refresh=False):
    def load():
        try:
            return KeySet.import_key_set(_get_json(prov, jwks_uri, "jwks"))
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            log.warning("OIDC provider %s: unreadable JWKS at %s: %s", prov.name, jwks_uri, exc)
            raise ProviderError() from None

    return _cached(("jwks", jwks_uri), current_app.config["OIDC_JWKS_TTL_SECONDS"], load, refresh=refresh)


# --- step 1: the authorization URL ------------------------------------------------------------

def s256(app_verifier):
    """S256 of the app's verifier, as the app computes its ``app_challenge``."""
    return base64.urlsafe_b64encode(hashlib.sha256(app_verifier.encode()).digest()).rstrip(b"=").decode()


def start(provider_name, redirect_uri, app_challenge, consent=False, ip=None):
    """Open a flow: the state, nonce and PKCE verifier stay here; the app gets the URL to open.

    ``app_challenge`` is kept to bind the flow to the app that opened it (see ``complete``).
    """
    prov = provider(provider_name)
    if not isinstance(app_challenge, str) or not APP_CHALLENGE.fullmatch(app_challenge):
        raise Invalid(fields={"app_challenge": ["oidc_app_challenge_invalid"]})
    if redirect_uri not in prov.redirect_uris:
        # Only the app's registered return addresses: anything else would hand the code to a stranger.
        raise Invalid("oidc_redirect_uri_not_allowed", fields={"redirect_uri": ["oidc_redirect_uri_not_allowed"]})
    rate_limits.hit(current_app.config["OIDC_START_LIMIT_PER_IP"], "oidc-start-ip", ip)
    meta = metadata(prov)
    state, nonce, verifier = secrets.token(), secrets.token(), secrets.token(48)
    now = utcnow()
    ttl = current_app.config["OIDC_LOGIN_TTL_SECONDS"]
    # Flows nobody finished are of no use an hour after they expired.
    db.session.execute(OidcLogin.__table__.delete().where(OidcLogin.expires_at < now - timedelta(hours=1)))
    db.session.add(OidcLogin(state=secrets.keyed_hash(_STATE, state), provider=prov.name, nonce=nonce,
                             code_verifier=verifier, app_challenge=app_challenge, redirect_uri=redirect_uri,
                             consent=bool(consent), created_at=now, expires_at=now + timedelta(seconds=ttl)))
    with OAuth2Session(prov.client_id, scope=" ".join(prov.scopes), redirect_uri=redirect_uri,
                       code_challenge_method="S256") as client:
        url, _ = client.create_authorization_url(meta["authorization_endpoint"], state=state,
                                                 code_verifier=verifier, nonce=nonce, **prov.authorization_params)
    db.session.commit()
    return {"authorization_url": url, "state": state, "expires_in": ttl}


# --- step 2: code → tokens → verified claims → customer ---------------------------------------

def _claim_login(prov, state):
    """The flow ``state`` names, marked used (once: a replay finds it used)."""
    login = db.session.execute(
        select(OidcLogin).where(OidcLogin.state == secrets.keyed_hash(_STATE, str(state)))
    ).scalar_one_or_none()
    if login is None or login.provider != prov.name:
        raise Unauthorized("oidc_state_invalid")
    if login.used_at is not None:
        raise Unauthorized("oidc_state_used")
    now = utcnow()
    if login.expires_at <= now:
        raise Unauthorized("oidc_state_expired")
    claimed = db.session.execute(
        update(OidcLogin).where(OidcLogin.id == login.id, OidcLogin.used_at.is_(None)).values(used_at=now)
    ).rowcount
    db.session.commit()
    if claimed != 1:
        raise Unauthorized("oidc_state_used")
    return login


def _check_app(prov, login, app_verifier):
    """The flow was started by this app: its verifier's S256 is the challenge given at /start.

    Called once the flow is spent, so a redirect caught by another app gives it a single try
    that cannot succeed, and the real app, told to start again, is not left with a live flow.
    """
    presented = s256(app_verifier) if isinstance(app_verifier, str) else ""
    if not hmac.compare_digest(presented.encode(), login.app_challenge.encode()):
        log.warning("OIDC provider %s: /complete without the verifier of the app that started the flow "
                    "(flow %s spent)", prov.name, login.id)
        raise Unauthorized("oidc_app_mismatch")


def _exchange(prov, meta, login, code):
    client = OAuth2Session(prov.client_id, prov.client_secret, redirect_uri=login.redirect_uri,
                           token_endpoint_auth_method=prov.token_endpoint_auth_method)
    try:
        with client:
            token = client.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=code,
                                       code_verifier=login.code_verifier, timeout=_timeout())
    except AuthlibBaseError as refused:
        if getattr(refused, "error", None) == "invalid_grant":
            # A wrong, used or expired code, or a verifier that does not match the challenge.
            raise Unauthorized("oidc_code_rejected") from None
        log.warning("OIDC provider %s: token endpoint refused: %s", prov.name, refused)
        raise ProviderError() from None
    except (requests.RequestException, ValueError) as exc:
        log.warning("OIDC provider %s: token endpoint failed: %s", prov.name, exc)
        raise ProviderError() from None
    if not isinstance(token.get("id_token"), str):
        log.warning("OIDC provider %s: the token response has no id_token", prov.name)
        raise ProviderError()
    return token


def verify_id_token(prov, meta, id_token, nonce):
    """The ID token's claims, once its signature and claims check out; else 401."""
    keys = _key_set(prov, meta["jwks_uri"])

    def resolve(obj):
        nonlocal keys
        kid = obj.headers().get("kid")
        if kid is not None and all(key.kid != kid for key in keys):
            keys = _key_set(prov, meta["jwks_uri"], refresh=True)  # the provider rotated its keys
        return keys

    try:
        claims = jwt.decode(id_token, resolve, algorithms=list(ALGORITHMS)).claims
        jwt.JWTClaimsRegistry(
            leeway=current_app.config["OIDC_CLOCK_SKEW_SECONDS"],
            iss={"essential": True, "value": meta["issuer"]},
            aud={"essential": True, "value": prov.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(claims)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        log.warning("OIDC provider %s: ID token refused: %r", prov.name, exc)
        raise Unauthorized("oidc_token_invalid") from None
    if len(claims["sub"]) > 255:
        raise Unauthorized("oidc_token_invalid")
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != prov.client_id:
        log.warning("OIDC provider %s: ID token for several audiences without our azp", prov.name)
        raise Unauthorized("oidc_token_invalid")
    return claims


def _identity_claims(prov, meta, token, id_claims):
    """Phone, email and name: from the ID token, and from userinfo when it lacks them."""
    claims = {key: id_claims[key] for key in _IDENTITY_CLAIMS if key in id_claims}
    needed = prov.userinfo == "always" or (
        prov.userinfo == "auto" and not all(key in id_claims for key in ("phone_number", "email", "name")))
    if needed and meta.get("userinfo_endpoint") and token.get("access_token"):
        info = _get_json(prov, meta["userinfo_endpoint"], "userinfo",
                         headers={"Authorization": f"Bearer {token['access_token']}"})
        if info.get("sub") != id_claims["sub"]:
            # Core 1.0 §5.3.2: a userinfo answer about someone else must not be used.
            log.warning("OIDC provider %s: userinfo sub differs from the ID token's", prov.name)
            raise Unauthorized("oidc_token_invalid")
        claims.update({key: info[key] for key in _IDENTITY_CLAIMS if key in info})
    return claims


def _verified_phone(claims):
    if claims.get("phone_number_verified") is not True or not isinstance(claims.get("phone_number"), str):
        return None
    try:
        return phones.normalise(claims["phone_number"])
    except Invalid:
        return None


def _verified_email(claims):
    email = claims.get("email")
    if claims.get("email_verified") is not True or not isinstance(email, str) or "@" not in email:
        return None
    return email.strip()[:254]


def _full_name(claims):
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        # Russian order: family name, given name, patronymic.
        parts = [claims.get(key) for key in ("family_name", "given_name", "middle_name")]
        name = " ".join(part for part in parts if isinstance(part, str))
    return " ".join(name.split())[:256]


def _refuse(code, customers, prov, ip, user_agent, status=Conflict, **params):
    for customer in customers:
        security_events.record(customer.id, "federated_sign_in_refused", ip=ip, user_agent=user_agent,
                               provider=prov.name, reason=code)
    db.session.commit()
    raise status(code, **params)


def _resolve(prov, claims, login, ip, user_agent):
    """(customer, identity, created): by the link, else by a verified phone or email, else new."""
    subject = claims["sub"]
    identity = db.session.execute(
        select(FederatedIdentity).where(FederatedIdentity.provider == prov.name, FederatedIdentity.subject == subject)
    ).scalar_one_or_none()
    if identity is not None:
        customer = db.session.get(Customer, identity.customer_id)
        if customer.status == "active":
            return customer, identity, False
        # The account was closed: its link goes with its personal data; match afresh.
        db.session.delete(identity)
        db.session.flush()

    phone, email = _verified_phone(claims), _verified_email(claims)
    by_phone = None
    if phone:
        by_phone = db.session.execute(
            select(Customer).where(Customer.phone == phone, Customer.status == "active")).scalar_one_or_none()
    by_email = []
    if email:
        by_email = db.session.execute(
            select(Customer).where(func.lower(Customer.email) == email.lower(), Customer.email_confirmed_at.isnot(None),
                                   Customer.status == "active").order_by(Customer.id)
        ).scalars().all()
    if by_phone is not None and by_email and by_phone not in by_email:
        _refuse("oidc_match_conflict", [by_phone, *by_email], prov, ip, user_agent)
    if by_phone is None and len(by_email) > 1:
        _refuse("oidc_match_conflict", by_email, prov, ip, user_agent)
    customer = by_phone or (by_email[0] if by_email else None)

    if customer is not None:
        linked = db.session.execute(
            select(FederatedIdentity).where(FederatedIdentity.customer_id == customer.id,
                                            FederatedIdentity.provider == prov.name)
        ).scalar_one_or_none()
        if linked is not None:
            # Another account at this provider already signs in here (a recycled phone number?).
            _refuse("oidc_already_linked", [customer], prov, ip, user_agent)
        matched_by = "phone" if by_phone is not None else "email"
        created = False
    else:
        if phone is None:
            raise Invalid("oidc_no_account")
        if not login.consent:
            raise Invalid("oidc_consent_required", phone=phones.masked(phone))
        full_name = _full_name(claims)
        if not full_name:
            raise Invalid("oidc_claims_insufficient")
        customer = Customer(phone=phone, full_name=full_name, email=email,
                            email_confirmed_at=utcnow() if email else None, consent_at=login.created_at,
                            password_hash=None, notification_preferences={})
        db.session.add(customer)
        db.session.flush()
        security_events.record(customer.id, "registered", ip=ip, user_agent=user_agent, method=f"oidc:{prov.name}")
        matched_by, created = "new", True

    identity = FederatedIdentity(customer_id=customer.id, provider=prov.name, subject=subject, created_at=utcnow())
    db.session.add(identity)
    db.session.flush()
    security_events.record(customer.id, "federated_identity_linked", ip=ip, user_agent=user_agent,
                           provider=prov.name, matched_by=matched_by)
    return customer, identity, created


def complete(provider_name, code, state, app_verifier, ip=None, user_agent=None, persistent=None):
    """Finish a flow: (customer, tokens, created). Tokens are those of every other sign-in.

    ``app_verifier`` must hash to the flow's ``app_challenge`` (checked before the code goes to
    the provider); otherwise 401 ``oidc_app_mismatch`` and the flow is spent.
    """
    prov = provider(provider_name)
    rate_limits.hit(current_app.config["SIGN_IN_LIMIT_PER_IP"], "sign-in-ip", ip)
    login = _claim_login(prov, state)
    _check_app(prov, login, app_verifier)
    meta = metadata(prov)
    token = _exchange(prov, meta, login, code)
    id_claims = verify_id_token(prov, meta, token["id_token"], login.nonce)
    claims = {"sub": id_claims["sub"], **_identity_claims(prov, meta, token, id_claims)}
    for attempt in (1, 2):
        try:
            customer, identity, created = _resolve(prov, claims, login, ip, user_agent)
            identity.last_login_at = utcnow()
            tokens = customer_sessions.start(customer, f"oidc:{prov.name}", persistent=persistent, ip=ip,
                                             user_agent=user_agent)
            db.session.commit()
            return customer, tokens, created
        except IntegrityError:
            # A concurrent sign-in linked or registered the same person first: match again.
            db.session.rollback()
            if attempt == 2:
                raise
