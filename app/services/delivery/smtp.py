"""Email over SMTP (smtplib + email.message.EmailMessage; UTF-8 subject and body).

Settings: ``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_SECURITY`` (``starttls`` | ``ssl`` | ``none``),
``SMTP_USERNAME`` / ``SMTP_PASSWORD`` (login only when a user is set), ``SMTP_FROM``,
``SMTP_TIMEOUT`` and ``SMTP_CA_FILE`` (a private CA for the relay's certificate).
The message's attachments (files in ``OUTBOX_FILES_DIR``) go as MIME parts of the email.
A 5xx answer (unknown mailbox, refused sender, failed login) fails the message at once; 4xx
answers, timeouts and connection errors are retried.
"""
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from .base import Adapter, Delivered, DeliveryError, PermanentDeliveryError, check_email_address

SECURITY = ("starttls", "ssl", "none")


class SmtpAdapter(Adapter):
    name = "smtp"
    channels = ("email",)

    def __init__(self, config, channel):
        super().__init__(config, channel)
        self.host = config.get("SMTP_HOST")
        self.port = int(config.get("SMTP_PORT") or 587)
        self.security = (config.get("SMTP_SECURITY") or "starttls").lower()
        self.username = config.get("SMTP_USERNAME")
        self.password = config.get("SMTP_PASSWORD") or ""
        self.sender = config.get("SMTP_FROM")
        self.timeout = float(config.get("SMTP_TIMEOUT") or 10)
        self.ca_file = config.get("SMTP_CA_FILE") or None
        if not self.host:
            raise PermanentDeliveryError("SMTP_HOST is not set (DELIVERY_EMAIL=smtp)")
        if self.security not in SECURITY:
            raise PermanentDeliveryError(f"SMTP_SECURITY must be one of {', '.join(SECURITY)}")
        if not self.sender or "@" not in parseaddr(self.sender)[1]:
            raise PermanentDeliveryError("SMTP_FROM must be an address, e.g. 'Кабинет <noreply@example.ru>'")

    def build(self, message):
        check_email_address(message.recipient)
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.recipient
        subject = " ".join((message.subject or self.config.get("APP_NAME") or "").split())
        email["Subject"] = subject
        email["Date"] = formatdate(usegmt=True)
        domain = parseaddr(self.sender)[1].rpartition("@")[2]
        email["Message-ID"] = make_msgid(idstring=f"outbox{message.id}", domain=domain)
        # base64 for non-ASCII text: 8-bit bodies need 8BITMIME, which not every relay offers.
        email.set_content(message.body, charset="utf-8", cte=None if message.body.isascii() else "base64")
        for attachment in message.attachments:
            maintype, _, subtype = (attachment.get("content_type") or "application/octet-stream").partition("/")
            try:
                with open(attachment["path"], "rb") as handle:
                    data = handle.read()
            except OSError as exc:
                # The file is gone (removed with a final message, or another machine's disk):
                # no later attempt will find it either.
                raise PermanentDeliveryError(f"attachment {attachment.get('filename')!r} is missing: {exc}") from None
            email.add_attachment(data, maintype=maintype, subtype=subtype, filename=attachment["filename"])
        return email

    def _connect(self):
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.security == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            client.ehlo()
            if self.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
        except BaseException:
            client.close()
            raise
        return client

    def send(self, message):
        email = self.build(message)
        try:
            client = self._connect()
            try:
                if self.username:
                    client.login(self.username, self.password)
                client.send_message(email)
            finally:
                try:
                    client.quit()
                except (smtplib.SMTPException, OSError):
                    client.close()
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            detail = "; ".join(f"{code} {_text(text)}" for code, text in exc.recipients.values())
            error = PermanentDeliveryError if codes and all(c >= 500 for c in codes) else DeliveryError
            raise error(f"SMTP refused the recipient: {detail}") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentDeliveryError(f"SMTP server does not support {exc}") from None
        except smtplib.SMTPResponseException as exc:
            error = PermanentDeliveryError if exc.smtp_code >= 500 else DeliveryError
            raise error(f"SMTP {type(exc).__name__} {exc.smtp_code} {_text(exc.smtp_error)}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {type(exc).__name__}: {exc}") from None
        return Delivered(self.name, email["Message-ID"])


def _text(value):
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())[:200]
