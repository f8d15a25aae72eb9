"""Real local servers for the delivery adapters: an SMTP server (aiosmtpd) and an HTTP gateway
(http.server in a thread) whose answers a test scripts. Both record what they received."""
import datetime
import ipaddress
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- HTTP gateway -------------------------------------------------------------------------------

HANG = "hang"  # a scripted answer that holds the request until release() (or 60 s)


class GatewayServer:
    """Answers POSTs with scripted ``(status, json_body, delay)`` tuples, then with ``default``;
    a body of None becomes ``{"id": "gw-<n>"}``. ``requests`` holds every request received."""

    def __init__(self):
        self.requests = []
        self._script = []
        self.default = (200, None, 0)
        self._lock = threading.Lock()
        self._released = threading.Event()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with gateway._lock:
                    number = len(gateway.requests) + 1
                    try:
                        payload = json.loads(raw.decode("utf-8"))
                    except ValueError:
                        payload = raw
                    gateway.requests.append({"path": self.path, "headers": dict(self.headers), "json": payload,
                                             "at": time.monotonic()})
                    status, body, delay = gateway._script.pop(0) if gateway._script else gateway.default
                if delay == HANG:
                    gateway._released.wait(60)
                elif delay:
                    time.sleep(delay)
                data = json.dumps({"id": f"gw-{number}"} if body is None else body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout) or was killed

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="test-gateway", daemon=True)
        self.thread.start()

    def url(self, path="/sms"):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def script(self, *answers):
        """Queue answers: ``(status, body)`` or ``(status, body, delay)``; delay may be HANG."""
        with self._lock:
            self._script.extend(answer if len(answer) == 3 else (*answer, 0) for answer in answers)

    def payloads(self, path=None):
        with self._lock:
            return [r["json"] for r in self.requests if path is None or r["path"] == path]

    def release(self):
        self._released.set()

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


# --- SMTP ---------------------------------------------------------------------------------------

class SmtpSink:
    """Handler for aiosmtpd: keeps every message; ``refuse[address] = "550 …"`` refuses a
    recipient with that reply."""

    def __init__(self):
        self.messages = []
        self.refuse = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                              "content": envelope.original_content or envelope.content,
                              "tls": server.transport.get_extra_info("ssl_object") is not None,
                              "login": getattr(session, "login_data", None)})
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, tls_context=None, credentials=None, implicit_tls=False):
        """``tls_context``: STARTTLS required, or with ``implicit_tls`` TLS from the first byte."""
        self.sink = SmtpSink()
        self.port = free_port()
        kwargs = {}
        if tls_context is not None and implicit_tls:
            kwargs.update(ssl_context=tls_context)
        elif tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        if credentials is not None:
            login, password = credentials

            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
                    login.encode(), password.encode())
                # handled=False: aiosmtpd answers a refusal with 535 itself
                return AuthResult(success=ok, handled=ok, auth_data=auth_data if ok else None)

            # aiosmtpd counts only STARTTLS as TLS for AUTH; with implicit TLS every byte is encrypted
            kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=not implicit_tls)
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()

    @property
    def messages(self):
        return self.sink.messages

    def stop(self):
        self.controller.stop()


def make_certificates(directory):
    """A test CA and a server certificate for 127.0.0.1 signed by it; returns (ca_path,
    cert_path, key_path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(text):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("Kabinet test CA")).issuer_name(name("Kabinet test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tuple(str(directory / name) for name in ("ca.pem", "server.pem", "server.key"))
    with open(paths[0], "wb") as handle:
        handle.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return paths
