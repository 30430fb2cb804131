"""Log lines as plain text or JSON, each with the request id, and never a password, token, email
address or phone number in clear.

Redaction happens in the formatters, on the finished text: it covers the message with its
arguments, tracebacks and any extra field, and it leaves the record itself untouched for other
handlers. The code should not log such data in the first place (the suite's log scan,
tests/logscan.py, fails the run when it does); redaction is the second line.
"""

from __future__ import annotations

import contextvars
import logging
import re

from pythonjsonlogger.json import JsonFormatter

# The id of the request being served (set by common.security.RequestIdMiddleware).
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# E.164 (+33612345678, +33 6 12 34 56 78) and French national numbers (06 12 34 56 78).
PHONE = re.compile(
    r"(?<![\w+])(?:\+[1-9]\d{0,2}(?:[ .-]?\d){6,13}|0[1-9](?:[ .-]?\d{2}){4})(?![\w])"
)
# Personal API tokens (nw_…) and anything sent as a bearer credential.
TOKEN = re.compile(r"\bnw_[A-Za-z0-9_-]{8,}|(?i:\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}")
# password=…, "password": "…", token: …, secret=… (in a query string, a dict or JSON).
SECRET_FIELD = re.compile(
    r"(?i)(\b(?:password|passwd|pwd|pass|secret|token|api_key|apikey|authorization)"
    r"[\"'\\]*\s*[:=]\s*[\"'\\]*)([^\s\"',&\\}]+)"
)


def redact(text: str) -> str:
    """``text`` with every email, phone number, token and password value replaced by a tag."""
    text = SECRET_FIELD.sub(r"\1[redacted]", text)
    text = TOKEN.sub("[token]", text)
    text = EMAIL.sub("[email]", text)
    return PHONE.sub("[phone]", text)


class RequestIdFilter(logging.Filter):
    """Writes the current request's id on every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class PlainFormatter(logging.Formatter):
    def __init__(self, fmt=None, datefmt=None, style="%", validate=True, *, defaults=None):
        fmt = fmt or "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
        defaults = {"request_id": "-", **(defaults or {})}
        super().__init__(fmt, datefmt, style, validate, defaults=defaults)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonLinesFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, request id, and the extras."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s")
        kwargs.setdefault(
            "rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"}
        )
        kwargs.setdefault("defaults", {"request_id": "-"})
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


FORMATTERS = {"plain": PlainFormatter, "json": JsonLinesFormatter}


def logging_config(*, log_format: str, level: str | None) -> dict:
    """The LOGGING setting: one console handler with the chosen formatter and the request id."""
    if log_format not in FORMATTERS:
        raise ValueError(log_format)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "nextwork.common.logs.RequestIdFilter"}},
        "formatters": {
            name: {"()": f"nextwork.common.logs.{cls.__name__}"} for name, cls in FORMATTERS.items()
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_id"],
            }
        },
        "loggers": {
            "nextwork": {"handlers": ["console"], "level": level or "INFO"},
            "django": {"handlers": ["console"], "level": "WARNING"},
        },
    }
