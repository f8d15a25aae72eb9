"""The kinds of service request (SPEC PR), one module per kind in this package.

A kind names the BPMN process it starts, the JSON Schema its form must pass at submission (a
draft may be incomplete) and how the submitted form becomes the process's start data. Each
module calls :func:`register`; every module here is imported when the package is.
"""
import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable, Optional

TYPES = {}


@dataclass(frozen=True)
class RequestType:
    key: str
    process_key: str
    schema: dict
    # (request, customer) -> the process's start data; may refuse with a domain error. The
    # customer is None for a request filed in an office for someone without an account.
    process_data: Callable
    titles: dict = field(default_factory=dict)  # {"ru": ..., "en": ...}
    # Staff may file it in an office for a walk-in customer (PR-9).
    office: bool = True
    # Optional (request) -> None run when the customer closes it early (free a slot, …).
    on_close: Optional[Callable] = None
    # False for kinds filed through their own endpoint (a booking, a support chat) or by the
    # system: not offered in the types list, and no draft of them through the generic API.
    listed: bool = True


def register(kind):
    if kind.key in TYPES:
        raise ValueError(f"request type {kind.key!r} registered twice")
    TYPES[kind.key] = kind
    return kind


def base_data(req, customer):
    """What every request's process starts with: the number (the business key and the usual
    correlation value), who asked and how to reach them, and the form as submitted."""
    return {
        "request_number": req.number,
        "request_type": req.type,
        "customer_id": customer.id if customer else None,
        "customer_name": (customer.full_name if customer else req.form_data.get("name")) or "",
        "customer_phone": (customer.phone if customer else req.form_data.get("phone")) or "",
        "customer_email": (customer.email if customer and customer.email_confirmed_at else None) or "",
        "account_id": req.account_id,
        "form": dict(req.form_data),
    }


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
