"""Domain errors. Services raise them; the API and the CLI turn them into answers in one place."""

from __future__ import annotations


class DomainError(Exception):
    """A failure the caller can understand and fix. ``field`` names the input at fault."""

    code = "invalid"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def as_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class InvalidInput(DomainError):
    code = "invalid"
    status = 400


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Unavailable(DomainError):
    code = "unavailable"
    status = 503


class Forbidden(DomainError):
    """No current grant covers what was asked (deny by default)."""

    code = "forbidden"
    status = 403


class Conflict(DomainError):
    """The request is valid but the state does not allow it (a seat already has its relay)."""

    code = "conflict"
    status = 409


class Unauthenticated(DomainError):
    """No credentials, or wrong ones (an ingestion token)."""

    code = "unauthenticated"
    status = 401


class PayloadTooLarge(DomainError):
    code = "too_large"
    status = 413
