"""The base of the client API (customers' apps): bearer tokens of customers, never staff."""
import functools

from apispec.exceptions import DuplicateComponentNameError
from flask import g, request

from ...services import customer_sessions
from ...errors import Unauthorized
from ..base import KabinetApi


class ClientApi(KabinetApi):
    # A staff browser session must not reach the client API; customers carry bearer tokens.
    allow_browser_login = False

    def add_apispec_components(self, api_spec):
        super().add_apispec_components(api_spec)
        try:
            api_spec.components.security_scheme(
                "customer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                             "description": "The access token from /api/v1/client/auth/…"})
        except DuplicateComponentNameError:
            pass


def customer_required(view):
    """Authenticate the customer's access token; sets ``g.customer`` and ``g.customer_session``.

    Every query a client endpoint makes is scoped by ``g.customer``; nothing takes a customer id
    from the URL or the body.
    """

    @functools.wraps(view)
    def wrapper(self, *args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized()
        g.customer, g.customer_session = customer_sessions.authenticate(token.strip())
        return view(self, *args, **kwargs)

    return wrapper


def origin():
    """Where a request came from, for the security log and per-IP limits."""
    return {"ip": request.remote_addr, "user_agent": request.user_agent.string or None}
