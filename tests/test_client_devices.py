"""Devices: PIN and biometric (device key pair) sign-in, PIN change, revocation."""
import base64

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests.conftest import build_app
from tests.support.customers import AUTH, PASSWORD, bearer, register, sign_in

DEVICES = "/api/v1/client/devices"


def public_pem(private_key):
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_der_b64(private_key):
    return base64.b64encode(private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


def sign(private_key, challenge):
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        raw = private_key.sign(challenge.encode())
    else:
        raw = private_key.sign(challenge.encode(), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(raw).decode()


def add_device(app, tokens, **body):
    response = app.test_client().post(DEVICES + "/", json={"name": "Pixel 9", "platform": "android", **body},
                                      headers=bearer(tokens))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def pin_sign_in(app, device, pin):
    return app.test_client().post(f"{DEVICES}/sign-in/pin", json={
        "device_id": device["device"]["id"], "device_secret": device["device_secret"], "pin": pin})


def biometric_sign_in(app, device, private_key, challenge=None):
    client = app.test_client()
    credentials = {"device_id": device["device"]["id"], "device_secret": device["device_secret"]}
    if challenge is None:
        answer = client.post(f"{DEVICES}/sign-in/challenge", json=credentials)
        assert answer.status_code == 200, answer.get_json()
        challenge = answer.get_json()["challenge"]
    return challenge, client.post(f"{DEVICES}/sign-in/biometric", json={
        **credentials, "challenge": challenge, "signature": sign(private_key, challenge)})


def error(response):
    return response.get_json()["error"]


def test_pin_sign_in_on_a_registered_device(app):
    phone, tokens = register(app)
    device = add_device(app, tokens, pin="2580")
    assert device["device"]["pin"] is True and device["device"]["biometric"] is False
    signed = pin_sign_in(app, device, "2580")
    assert signed.status_code == 200 and signed.get_json()["customer"]["phone"] == phone
    listed = app.test_client().get(DEVICES + "/", headers=bearer(tokens)).get_json()
    assert [d["id"] for d in listed["result"]] == [device["device"]["id"]]
    assert "secret" not in str(listed)
    stranger = pin_sign_in(app, {**device, "device_secret": "guessed"}, "2580")
    assert stranger.status_code == 401 and error(stranger)["code"] == "device_unknown"


def test_wrong_pins_count_down_and_then_lock_the_pin(app):
    _phone, tokens = register(app)
    device = add_device(app, tokens, pin="2580")
    for left in (4, 3, 2, 1):
        wrong = pin_sign_in(app, device, "1397")
        assert wrong.status_code == 401 and f"Осталось попыток: {left}" in error(wrong)["message"]
    locked = pin_sign_in(app, device, "1397")
    assert locked.status_code == 403 and error(locked)["code"] == "pin_locked"
    assert pin_sign_in(app, device, "2580").status_code == 403  # the right PIN no longer works
    # the password sets a new PIN
    client = app.test_client()
    set_pin = client.put(f"{DEVICES}/{device['device']['id']}/pin", json={"pin": "3691"}, headers=bearer(tokens))
    assert set_pin.status_code == 204
    assert pin_sign_in(app, device, "3691").status_code == 200


def test_a_right_pin_resets_the_count(sqlite_app):
    _phone, tokens = register(sqlite_app)
    device = add_device(sqlite_app, tokens, pin="2580")
    for _round in range(3):
        for _ in range(3):
            assert pin_sign_in(sqlite_app, device, "1397").status_code == 401
        assert pin_sign_in(sqlite_app, device, "2580").status_code == 200


def test_pin_rules_and_change_needs_the_old_pin_or_the_password(app):
    _phone, tokens = register(app)
    client = app.test_client()
    for pin, code in (("12", "pin_format"), ("1234567", "validation_error"), ("12a4", "pin_format"),
                      ("1111", "pin_simple"), ("1234", "pin_simple")):
        refused = client.post(DEVICES + "/", json={"name": "x", "pin": pin}, headers=bearer(tokens))
        assert refused.status_code == 422 and "pin" in error(refused)["fields"], (pin, refused.get_json())
    assert client.get(DEVICES + "/", headers=bearer(tokens)).get_json()["count"] == 0
    device = add_device(app, tokens, pin="2580")
    url = f"{DEVICES}/{device['device']['id']}/pin"
    unproven = client.put(url, json={"pin": "3691"}, headers=bearer(tokens))
    assert unproven.status_code == 422 and error(unproven)["code"] == "pin_change_unproven"
    assert client.put(url, json={"pin": "3691", "old_pin": "0000"}, headers=bearer(tokens)).status_code == 422
    assert client.put(url, json={"pin": "3691", "old_pin": "2580"}, headers=bearer(tokens)).status_code == 204
    assert client.put(url, json={"pin": "4702", "password": PASSWORD}, headers=bearer(tokens)).status_code == 204
    assert pin_sign_in(app, device, "3691").status_code == 401
    assert pin_sign_in(app, device, "4702").status_code == 200


def test_biometric_sign_in_with_an_ec_key_and_one_use_challenges(app):
    phone, tokens = register(app)
    key = ec.generate_private_key(ec.SECP256R1())
    device = add_device(app, tokens, public_key=public_pem(key))
    assert device["device"]["biometric"] is True
    challenge, signed = biometric_sign_in(app, device, key)
    assert signed.status_code == 200 and signed.get_json()["customer"]["phone"] == phone
    _, replay = biometric_sign_in(app, device, key, challenge=challenge)
    assert replay.status_code == 401 and error(replay)["code"] == "challenge_invalid"
    impostor = ec.generate_private_key(ec.SECP256R1())
    _, forged = biometric_sign_in(app, device, impostor)
    assert forged.status_code == 401 and error(forged)["code"] == "signature_invalid"
    # a failed signature spends the challenge too
    client = app.test_client()
    credentials = {"device_id": device["device"]["id"], "device_secret": device["device_secret"]}
    challenge = client.post(f"{DEVICES}/sign-in/challenge", json=credentials).get_json()["challenge"]
    client.post(f"{DEVICES}/sign-in/biometric", json={**credentials, "challenge": challenge, "signature": "AAAA"})
    _, late = biometric_sign_in(app, device, key, challenge=challenge)
    assert late.status_code == 401


def test_biometric_with_ed25519_enrolled_later_and_removed(app):
    _phone, tokens = register(app)
    device = add_device(app, tokens, pin="2580")
    client = app.test_client()
    credentials = {"device_id": device["device"]["id"], "device_secret": device["device_secret"]}
    not_set = client.post(f"{DEVICES}/sign-in/challenge", json=credentials)
    assert not_set.status_code == 403 and error(not_set)["code"] == "biometric_not_set"
    key = ed25519.Ed25519PrivateKey.generate()
    url = f"{DEVICES}/{device['device']['id']}/biometric"
    assert client.put(url, json={"public_key": public_der_b64(key)}, headers=bearer(tokens)).status_code == 204
    assert biometric_sign_in(app, device, key)[1].status_code == 200
    assert client.put(url, json={"public_key": None}, headers=bearer(tokens)).status_code == 204
    assert client.post(f"{DEVICES}/sign-in/challenge", json=credentials).status_code == 403


def test_keys_that_are_not_accepted(app):
    _phone, tokens = register(app)
    client = app.test_client()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p384 = ec.generate_private_key(ec.SECP384R1())
    for key, code in (("not a key", "Открытый ключ не распознан (ожидается PEM или DER в base64)."),
                      ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "Открытый ключ не распознан (ожидается PEM или DER в base64)."),
                      (public_pem(rsa_key), "Поддерживаются ключи EC P-256 и Ed25519."),
                      (public_pem(p384), "Поддерживаются ключи EC P-256 и Ed25519.")):
        refused = client.post(DEVICES + "/", json={"name": "x", "public_key": key}, headers=bearer(tokens))
        assert refused.status_code == 422 and error(refused)["fields"] == {"public_key": [code]}
    assert client.get(DEVICES + "/", headers=bearer(tokens)).get_json()["count"] == 0


def test_revoking_a_device_ends_its_pin_key_and_sessions(app):
    _phone, tokens = register(app)
    key = ec.generate_private_key(ec.SECP256R1())
    device = add_device(app, tokens, pin="2580", public_key=public_pem(key))
    pin_tokens = pin_sign_in(app, device, "2580").get_json()
    client = app.test_client()
    assert client.delete(f"{DEVICES}/{device['device']['id']}", headers=bearer(tokens)).status_code == 204
    assert pin_sign_in(app, device, "2580").status_code == 401
    credentials = {"device_id": device["device"]["id"], "device_secret": device["device_secret"]}
    assert client.post(f"{DEVICES}/sign-in/challenge", json=credentials).status_code == 401
    # both the session the device was registered from and the PIN session end
    assert client.get(f"{AUTH}/sessions", headers=bearer(pin_tokens)).status_code == 401
    assert client.get(f"{AUTH}/sessions", headers=bearer(tokens)).status_code == 401
    assert client.delete(f"{DEVICES}/{device['device']['id']}", headers=bearer(pin_tokens)).status_code == 401


def test_one_customer_cannot_touch_anothers_device(app):
    _a, tokens_a = register(app)
    _b, tokens_b = register(app)
    device_b = add_device(app, tokens_b, pin="2580")
    client = app.test_client()
    url = f"{DEVICES}/{device_b['device']['id']}"
    assert client.delete(url, headers=bearer(tokens_a)).status_code == 404
    assert client.put(f"{url}/pin", json={"pin": "3691", "password": PASSWORD}, headers=bearer(tokens_a)).status_code == 404
    assert client.put(f"{url}/biometric", json={"public_key": None}, headers=bearer(tokens_a)).status_code == 404
    assert client.get(DEVICES + "/", headers=bearer(tokens_a)).get_json()["count"] == 0
    assert pin_sign_in(app, device_b, "2580").get_json()["customer"]["id"] != tokens_a["customer"]["id"]


def test_a_password_change_revokes_the_other_devices(app):
    phone, tokens = register(app)
    this_device = add_device(app, tokens, pin="2580")
    other_tokens = sign_in(app, phone).get_json()
    other_device = add_device(app, other_tokens, pin="3691")
    new_password = "Smena-Parolya-55"
    changed = app.test_client().put(f"{AUTH}/password", headers=bearer(tokens), json={
        "old_password": PASSWORD, "password": new_password, "password_confirm": new_password})
    assert changed.status_code == 204
    assert pin_sign_in(app, this_device, "2580").status_code == 200
    assert pin_sign_in(app, other_device, "3691").status_code == 401


def test_pin_sign_in_attempts_are_limited_per_ip(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'pin-ip.db'}", SIGN_IN_LIMIT_PER_IP="2 per minute")
    _phone, tokens = register(app)
    device = add_device(app, tokens, pin="2580")
    assert pin_sign_in(app, device, "2580").status_code == 200
    assert pin_sign_in(app, device, "2580").status_code == 200
    limited = pin_sign_in(app, device, "2580")
    assert limited.status_code == 429 and "Retry-After" in limited.headers


def test_an_unknown_key_algorithm_is_a_clear_refusal(app):
    _phone, tokens = register(app)
    refused = app.test_client().post(DEVICES + "/", json={"name": "x", "public_key": "MAwwBQYDKgMEAwMAAQI="},
                                     headers=bearer(tokens))
    assert refused.status_code == 422 and list(error(refused)["fields"]) == ["public_key"]


def test_a_second_device_from_one_session_leaves_the_session_with_the_first(app):
    _phone, tokens = register(app)
    first = add_device(app, tokens, pin="2580")
    add_device(app, tokens, pin="3691", name="Tablet")
    client = app.test_client()
    assert client.delete(f"{DEVICES}/{first['device']['id']}", headers=bearer(tokens)).status_code == 204
    assert client.get(f"{AUTH}/sessions", headers=bearer(tokens)).status_code == 401


def test_wrong_old_pins_count_as_failed_sign_ins(tmp_path):
    app = build_app(f"sqlite:///{tmp_path / 'pin-guess.db'}", SIGN_IN_FAILURE_LIMIT="3 per 15 minutes")
    _phone, tokens = register(app)
    device = add_device(app, tokens, pin="2580")
    client = app.test_client()
    url = f"{DEVICES}/{device['device']['id']}/pin"
    for guess in ("1397", "4802", "5913"):
        assert client.put(url, json={"pin": "3691", "old_pin": guess}, headers=bearer(tokens)).status_code == 422
    locked = client.put(url, json={"pin": "3691", "old_pin": "2580"}, headers=bearer(tokens))
    assert locked.status_code == 429 and error(locked)["code"] == "phone_locked"
