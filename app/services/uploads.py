"""Files customers upload (meter photos; attachments of appeals later).

The client's file name and declared type are never trusted: the type is read from the first
bytes (JPEG, PNG, PDF), the size is capped, and the file is stored under a random name in
``UPLOAD_DIR`` (``<kind>/<yyyy>/<mm>/<random>.<ext>``). Rows keep that relative path; only
:func:`absolute_path` turns it into a file path, refusing anything that leaves ``UPLOAD_DIR``.
Every web and worker machine must see ``UPLOAD_DIR`` (a shared volume) when there are several.
"""
import base64
import binascii
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import current_app

from ..errors import Invalid

# content type -> (magic bytes at offset 0, stored extension)
TYPES = {
    "image/jpeg": (b"\xff\xd8\xff", ".jpg"),
    "image/png": (b"\x89PNG\r\n\x1a\n", ".png"),
    "application/pdf": (b"%PDF-", ".pdf"),
}
IMAGES = ("image/jpeg", "image/png")


@dataclass(frozen=True)
class StoredFile:
    path: str  # relative to UPLOAD_DIR
    content_type: str
    size: int


def sniff(data):
    """The content type ``data`` really has (by its first bytes), or None."""
    for content_type, (magic, _ext) in TYPES.items():
        if data.startswith(magic):
            return content_type
    return None


def decode_base64(text, field="file"):
    """A base64 string (a ``data:…;base64,`` prefix allowed) → bytes; 422 ``upload_not_base64``."""
    if not isinstance(text, str):
        raise Invalid(fields={field: ["upload_not_base64"]})
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(fields={field: ["upload_not_base64"]}) from None


def check(data, allowed=IMAGES, max_bytes=None, field="file"):
    """The content type of ``data`` if it is one of ``allowed`` and not larger than
    ``max_bytes`` (``UPLOAD_MAX_BYTES`` by default); else 422 with a code on ``field``."""
    max_bytes = max_bytes or current_app.config["UPLOAD_MAX_BYTES"]
    if not data:
        raise Invalid(fields={field: ["upload_empty"]})
    if len(data) > max_bytes:
        raise Invalid(fields={field: ["upload_too_large"]}, max_mb=round(max_bytes / 1024 / 1024, 1))
    content_type = sniff(data)
    if content_type not in allowed:
        raise Invalid(fields={field: ["upload_type"]}, allowed=", ".join(TYPES[t][1][1:].upper() for t in allowed))
    return content_type


def store(data, kind, allowed=IMAGES, max_bytes=None, field="file"):
    """Check ``data`` (see :func:`check`) and write it under a new random name; returns a
    :class:`StoredFile`. The caller deletes it (:func:`delete`) if its transaction fails."""
    content_type = check(data, allowed, max_bytes, field)
    now = datetime.now(timezone.utc)
    relative = "/".join((kind, f"{now:%Y}", f"{now:%m}", secrets.token_hex(16) + TYPES[content_type][1]))
    target = absolute_path(relative)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "xb") as handle:  # "x": never overwrite, even on a (2^-128) name clash
        handle.write(data)
    return StoredFile(relative, content_type, len(data))


def absolute_path(relative):
    """The file path of a stored ``relative`` path; ValueError if it points outside UPLOAD_DIR."""
    root = os.path.realpath(current_app.config["UPLOAD_DIR"])
    target = os.path.realpath(os.path.join(root, relative))
    if os.path.commonpath((root, target)) != root or target == root:
        raise ValueError(f"not an upload path: {relative!r}")
    return target


def content_type_of(relative):
    """The content type of a stored file, from its extension (set by :func:`store`)."""
    extension = os.path.splitext(relative)[1]
    return next((t for t, (_magic, ext) in TYPES.items() if ext == extension), "application/octet-stream")


def delete(relative):
    """Remove a stored file if it is there (cleanup after a failed transaction or a replacement)."""
    try:
        os.remove(absolute_path(relative))
    except FileNotFoundError:
        pass
