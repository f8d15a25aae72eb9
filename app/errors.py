"""Domain errors shared by services and the engine gateway.

Each carries a stable ``code`` (the API translates it, see ``app/api/errors.py``), the HTTP
status it maps to, parameters for the message and optional field-level errors.
"""


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, code=None, fields=None, **params):
        self.code = code or self.code
        self.fields = fields or {}
        self.params = params
        super().__init__(f"{self.code}: {params}" if params else self.code)


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Invalid(DomainError):
    """Well-formed request whose content breaks a rule (422)."""

    status = 422
    code = "validation_error"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class TooManyRequests(DomainError):
    """Refused for now; ``retry_after`` seconds later it may succeed (sent as Retry-After)."""

    status = 429
    code = "rate_limited"

    def __init__(self, code=None, retry_after=60, **params):
        self.retry_after = max(int(retry_after), 1)
        super().__init__(code, retry_after=self.retry_after, **params)
