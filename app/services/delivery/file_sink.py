"""The embedded default: one line per message in ``OUTBOX_LOG_PATH`` (``instance/outbox.log``).

The line is ``<iso time> <channel> <recipient> <body>``; the demo and the tests read one-time
codes from it. Line breaks in the body are written as ``\\n`` so that a message stays one line;
an email's attachments are named at its end: ``[attachments: bill-….pdf]``.
``console`` writes the same line to the process log instead of a file.
"""
import logging
import os
import threading

from ...models.workflow import utcnow
from .base import Adapter, Delivered, DeliveryError

log = logging.getLogger("kabinet.outbox")
_lock = threading.Lock()


def line(message):
    body = message.body.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    if message.attachments:
        body += " [attachments: " + ", ".join(a["filename"] for a in message.attachments) + "]"
    return f"{utcnow().isoformat()} {message.channel} {message.recipient} {body}\n"


class FileSinkAdapter(Adapter):
    name = "file"
    channels = ("sms", "voice", "email", "push", "log")

    def send(self, message):
        path = self.config["OUTBOX_LOG_PATH"]
        text = line(message)
        try:
            directory = os.path.dirname(path)
            if directory:
                os.makedirs(directory, exist_ok=True)
            # One write() of one line in append mode: lines of several processes never interleave.
            with _lock, open(path, "a", encoding="utf-8") as sink:
                sink.write(text)
        except OSError as exc:
            raise DeliveryError(f"cannot write {path}: {exc}") from exc
        return Delivered(self.name, None)


class ConsoleAdapter(Adapter):
    name = "console"
    channels = FileSinkAdapter.channels

    def send(self, message):
        log.info("%s", line(message).rstrip("\n"))
        return Delivered(self.name, None)
