"""A local fake OpenID Connect provider: a real HTTP server on 127.0.0.1 for the tests.

It speaks the authorization code flow with PKCE as a real provider does: discovery, /authorize
(approves at once and redirects to the redirect URI with code and state), /token (checks the
client's credentials, the code, the redirect URI and the PKCE verifier against the challenge),
/jwks, /userinfo. The claims of the signed-in person are set per test (``fake.claims``), and
``fake.fail`` makes it misbehave in one way (see ``FAILURES``).
"""
import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from joserfc import jwk, jwt
from werkzeug.serving import make_server

# What ``fake.fail`` can be set to.
FAILURES = (
    "token_500",        # the token endpoint answers 500
    "token_bad_json",   # ... 200 with a body that is not JSON
    "token_slow",       # ... after ``slow_seconds``
    "no_id_token",      # ... a token response without id_token
    "wrong_key",        # the ID token is signed by a key not in the JWKS (with the JWKS key's kid)
    "unknown_kid",      # ... by a key not in the JWKS, with a kid of its own
    "wrong_aud",        # the ID token is for another client
    "wrong_iss",        # ... from another issuer
    "wrong_nonce",      # ... with another nonce
    "expired",          # ... expired ten minutes ago
    "alg_none",         # ... unsigned ("alg": "none")
    "hs256_public_key",  # ... HS256 with the provider's public key as the HMAC secret
    "tampered",         # ... signed, then its claims changed
    "userinfo_other_sub",  # userinfo describes someone else
    "discovery_500",    # the discovery document answers 500
    "discovery_other_issuer",  # ... names another issuer
)


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeOidcProvider:
    def __init__(self, client_id="kabinet-app", client_secret="fake-secret"):
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = jwk.RSAKey.generate_key(2048, parameters={"kid": "key-1", "use": "sig"})
        self.claims = {}
        # Claims only /userinfo gives (the ID token carries ``claims`` without these keys).
        self.userinfo_only = ()
        self.fail = None
        self.slow_seconds = 2.0
        self.codes = {}
        self.access_tokens = {}
        self.requests = []  # (path, form or args) of every call, for assertions
        self.app = self._build_app()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.issuer = self.url
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def reset(self):
        self.claims, self.userinfo_only, self.fail = {}, (), None
        self.requests.clear()

    def rotate_key(self, kid):
        self.key = jwk.RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"})

    def calls(self, path):
        return [params for called, params in self.requests if called == path]

    # --- the ID token ---------------------------------------------------------------------------

    def _id_token(self, grant):
        now = int(time.time())
        claims = {key: value for key, value in grant["claims"].items() if key not in grant["userinfo_only"]}
        claims.update(iss=self.issuer, aud=self.client_id, iat=now, exp=now + 300, nonce=grant["nonce"])
        fail = self.fail
        if fail == "wrong_aud":
            claims["aud"] = "someone-else"
        elif fail == "wrong_iss":
            claims["iss"] = "https://impostor.example"
        elif fail == "wrong_nonce":
            claims["nonce"] = "not-the-nonce"
        elif fail == "expired":
            claims.update(iat=now - 1200, exp=now - 600)
        if fail == "alg_none":
            header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
            return f"{header}.{_b64(json.dumps(claims).encode())}."
        if fail == "hs256_public_key":
            header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": self.key.kid}).encode())
            body = _b64(json.dumps(claims).encode())
            secret = self.key.as_pem(private=False)
            signature = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
            return f"{header}.{body}.{_b64(signature)}"
        key = self.key
        if fail == "wrong_key":
            key = jwk.RSAKey.generate_key(2048, parameters={"kid": self.key.kid})
        elif fail == "unknown_kid":
            key = jwk.RSAKey.generate_key(2048, parameters={"kid": "stranger"})
        token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key, algorithms=["RS256"])
        if fail == "tampered":
            header, body, signature = token.split(".")
            changed = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            changed["sub"] = "someone-else"
            token = ".".join((header, _b64(json.dumps(changed).encode()), signature))
        return token

    # --- the HTTP side ----------------------------------------------------------------------------

    def _build_app(self):
        app = Flask("fake_oidc")
        fake = self

        @app.before_request
        def record():
            fake.requests.append((request.path, dict(request.form) if request.method == "POST" else dict(request.args)))

        @app.get("/.well-known/openid-configuration")
        def discovery():
            if fake.fail == "discovery_500":
                return "down", 500
            return jsonify({
                "issuer": "https://impostor.example" if fake.fail == "discovery_other_issuer" else fake.issuer,
                "authorization_endpoint": f"{fake.url}/authorize",
                "token_endpoint": f"{fake.url}/token",
                "jwks_uri": f"{fake.url}/jwks",
                "userinfo_endpoint": f"{fake.url}/userinfo",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            })

        @app.get("/jwks")
        def jwks():
            return jsonify({"keys": [fake.key.as_dict(private=False)]})

        @app.get("/authorize")
        def authorize():
            args = request.args
            problems = []
            if args.get("client_id") != fake.client_id:
                problems.append("client_id")
            if args.get("response_type") != "code":
                problems.append("response_type")
            if "openid" not in args.get("scope", "").split():
                problems.append("scope")
            if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
                problems.append("pkce")
            if not args.get("state") or not args.get("nonce") or not args.get("redirect_uri"):
                problems.append("state/nonce/redirect_uri")
            if problems:
                return jsonify(error="invalid_request", error_description=", ".join(problems)), 400
            code = secrets.token_urlsafe(24)
            fake.codes[code] = {"redirect_uri": args["redirect_uri"], "challenge": args["code_challenge"],
                                "nonce": args["nonce"], "claims": dict(fake.claims),
                                "userinfo_only": tuple(fake.userinfo_only), "used": False}
            separator = "&" if "?" in args["redirect_uri"] else "?"
            return redirect(args["redirect_uri"] + separator + urlencode({"code": code, "state": args["state"]}))

        def client_authenticated():
            auth = request.authorization
            if auth is not None and auth.type == "basic":
                return auth.username == fake.client_id and auth.password == fake.client_secret
            return (request.form.get("client_id") == fake.client_id
                    and request.form.get("client_secret") == fake.client_secret)

        @app.post("/token")
        def token():
            if fake.fail == "token_500":
                return "upstream exploded", 500
            if fake.fail == "token_slow":
                time.sleep(fake.slow_seconds)
            if fake.fail == "token_bad_json":
                return "<html>maintenance</html>", 200, {"Content-Type": "text/html"}
            if not client_authenticated():
                return jsonify(error="invalid_client"), 401
            form = request.form
            if form.get("grant_type") != "authorization_code":
                return jsonify(error="unsupported_grant_type"), 400
            grant = fake.codes.get(form.get("code", ""))
            if grant is None or grant["used"]:
                return jsonify(error="invalid_grant", error_description="unknown or used code"), 400
            grant["used"] = True
            if form.get("redirect_uri") != grant["redirect_uri"]:
                return jsonify(error="invalid_grant", error_description="redirect_uri"), 400
            verifier = form.get("code_verifier", "")
            if _b64(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
                return jsonify(error="invalid_grant", error_description="PKCE verifier"), 400
            access = secrets.token_urlsafe(24)
            fake.access_tokens[access] = grant
            body = {"access_token": access, "token_type": "Bearer", "expires_in": 300}
            if fake.fail != "no_id_token":
                body["id_token"] = fake._id_token(grant)
            return jsonify(body)

        @app.get("/userinfo")
        def userinfo():
            scheme, _, value = request.headers.get("Authorization", "").partition(" ")
            grant = fake.access_tokens.get(value) if scheme == "Bearer" else None
            if grant is None:
                return jsonify(error="invalid_token"), 401
            claims = dict(grant["claims"])
            if fake.fail == "userinfo_other_sub":
                claims["sub"] = "someone-else"
            return jsonify(claims)

        return app
