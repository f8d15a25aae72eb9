"""Client API: devices, PIN and biometric (device key) sign-in (ID-5) and PIN change (ID-6)."""
from flask import g
from flask_appbuilder.api import expose

from ...services import devices
from . import messages  # noqa: F401  (registers the error codes)
from .auth import tokens_response
from .base import ClientApi, customer_required, origin
from .schemas import (
    BiometricKeySchema,
    BiometricSignInSchema,
    DeviceCredentialsSchema,
    DeviceRegisterSchema,
    DeviceSchema,
    PinChangeSchema,
    PinSignInSchema,
)

_device = DeviceSchema()


class ClientDevicesApi(ClientApi):
    resource_name = "client/devices"
    route_base = "/api/v1/client/devices"
    openapi_spec_tag = "Client: devices"
    openapi_spec_component_schemas = (DeviceRegisterSchema, DeviceSchema, PinChangeSchema, BiometricKeySchema,
                                      DeviceCredentialsSchema, PinSignInSchema, BiometricSignInSchema)

    @expose("/", methods=["GET"])
    @customer_required
    def list(self):
        """The account's registered devices.
        ---
        get:
          summary: Devices
          security: [{customer: []}]
          responses:
            200: {description: 'result: a list of DeviceSchema'}
        """
        rows = devices.of_customer(g.customer.id)
        return self.response(200, result=DeviceSchema(many=True).dump(rows), count=len(rows))

    @expose("/", methods=["POST"])
    @customer_required
    def register(self):
        """Register this installation for quick access: a PIN and/or a biometric public key.
        The device secret in the answer is shown once; keep it in the device keystore.
        ---
        post:
          summary: Register a device
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/DeviceRegisterSchema'}}}
          responses:
            201: {description: 'device (DeviceSchema) and device_secret'}
            422: {description: Bad PIN or key}
        """
        body = DeviceRegisterSchema().load(self.json_body())
        device, secret = devices.register(g.customer, g.customer_session, body["name"], body["platform"],
                                          pin=body["pin"], public_key=body["public_key"], **origin())
        return self.response(201, device=_device.dump(device), device_secret=secret)

    @expose("/<device_id>", methods=["DELETE"])
    @customer_required
    def revoke(self, device_id):
        """Revoke a device: its PIN, key and sessions stop working.
        ---
        delete:
          summary: Revoke a device
          security: [{customer: []}]
          parameters:
          - {in: path, name: device_id, required: true, schema: {type: string}}
          responses:
            204: {description: Revoked}
            404: {description: Not a device of this account}
        """
        devices.revoke(g.customer, device_id, **origin())
        return self.response(204)

    @expose("/<device_id>/pin", methods=["PUT"])
    @customer_required
    def set_pin(self, device_id):
        """Set or change the device's PIN (the old PIN or the password proves it is you).
        ---
        put:
          summary: Set or change the PIN
          security: [{customer: []}]
          parameters:
          - {in: path, name: device_id, required: true, schema: {type: string}}
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/PinChangeSchema'}}}
          responses:
            204: {description: Set}
            404: {description: Not a device of this account}
            422: {description: Bad PIN, or neither the old PIN nor the password}
        """
        body = PinChangeSchema().load(self.json_body())
        devices.set_pin(g.customer, device_id, body["pin"], old_pin=body["old_pin"], password=body["password"],
                        **origin())
        return self.response(204)

    @expose("/<device_id>/biometric", methods=["PUT"])
    @customer_required
    def set_biometric(self, device_id):
        """Enrol (or, with null, remove) the device's biometric public key.
        ---
        put:
          summary: Set the biometric key
          security: [{customer: []}]
          parameters:
          - {in: path, name: device_id, required: true, schema: {type: string}}
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/BiometricKeySchema'}}}
          responses:
            204: {description: Set}
            404: {description: Not a device of this account}
            422: {description: Not an EC P-256 or Ed25519 public key}
        """
        body = BiometricKeySchema().load(self.json_body())
        devices.set_public_key(g.customer, device_id, body["public_key"], **origin())
        return self.response(204)

    @expose("/sign-in/pin", methods=["POST"])
    def sign_in_pin(self):
        """Sign in on a registered device with its PIN.
        ---
        post:
          summary: Sign in with a PIN
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/PinSignInSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/TokensSchema'}}}
            401: {description: Unknown device or wrong PIN (attempts left in the message)}
            403: {description: PIN locked after too many wrong tries, or not set}
        """
        body = PinSignInSchema().load(self.json_body())
        customer, tokens = devices.sign_in_with_pin(body["device_id"], body["device_secret"], body["pin"], **origin())
        return tokens_response(self, customer, tokens)

    @expose("/sign-in/challenge", methods=["POST"])
    def challenge(self):
        """A one-time challenge for biometric sign-in; sign it with the device's private key.
        ---
        post:
          summary: Get a biometric challenge
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/DeviceCredentialsSchema'}}}
          responses:
            200: {description: 'challenge (string to sign, UTF-8) and expires_in (s)'}
            401: {description: Unknown device}
            403: {description: No biometric key on this device}
        """
        body = DeviceCredentialsSchema().load(self.json_body())
        value, ttl = devices.challenge(body["device_id"], body["device_secret"], origin()["ip"])
        return self.response(200, challenge=value, expires_in=ttl)

    @expose("/sign-in/biometric", methods=["POST"])
    def sign_in_biometric(self):
        """Sign in with the challenge signed by the device key (ECDSA P-256/SHA-256 DER or
        Ed25519, base64).
        ---
        post:
          summary: Sign in with a biometric unlock
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/BiometricSignInSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/TokensSchema'}}}
            401: {description: Unknown device, stale challenge or bad signature}
        """
        body = BiometricSignInSchema().load(self.json_body())
        customer, tokens = devices.sign_in_with_signature(body["device_id"], body["device_secret"], body["challenge"],
                                                          body["signature"], **origin())
        return tokens_response(self, customer, tokens)
