"""A database (or the Redis cache) that cannot be reached is answered with 503 and Retry-After,
never a 500.

PostgreSQL restarting, a lost connection, a lock or deadlock timeout, a full disk: the request
did not complete, what was stored stays stored, and trying again in a few seconds is the right
move. The API answers with our JSON error body (code ``unavailable``); pages with a short French
page. Nothing here touches the database.

Two paths lead here. An error raised by a view reaches ``process_exception``. An error raised
by an inner middleware (the session saved after the view) is turned into a 500 by Django before
it reaches us; the ``got_request_exception`` signal marks the request on the way, and the 500
is replaced by the 503.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.core.signals import got_request_exception
from django.db import connection
from django.db.utils import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from nextwork.common.errors import Unavailable

logger = logging.getLogger("nextwork.database")

RETRY_AFTER_SECONDS = 5
MESSAGE = "The database or the cache is unavailable for a moment: nothing was changed by this "
MESSAGE += "request, or it was saved in full. Try again in a few seconds."
_MARK = "_nextwork_database_unavailable"


def is_unavailable(exc: BaseException | None) -> bool:
    """A connection lost or refused, a timeout, a full disk: not a programming error (SQLite
    reports a missing table as an OperationalError too; that one stays a 500). Redis, which
    holds the rate limits and lockouts at scale (NEXTWORK_REDIS_URL), counts as well: a write
    cannot be counted against its limit, so it is refused for a moment, never let through."""
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
        return True
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    return not str(exc).startswith(("no such table", "no such column"))


def unavailable_response(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        body = {"error": {"code": "unavailable", "message": MESSAGE, "field": None}}
        response = JsonResponse(body, status=503)
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def _mark(sender, request=None, **kwargs) -> None:
    if request is not None and is_unavailable(sys.exc_info()[1]):
        setattr(request, _MARK, True)


got_request_exception.connect(_mark, dispatch_uid="nextwork.database_unavailable")


class DatabaseUnavailableMiddleware:
    """First in MIDDLEWARE, so that it sees every other middleware's failure."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 500 and getattr(request, _MARK, False):
            logger.warning("database unavailable on %s (after the view)", request.path)
            return unavailable_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not is_unavailable(exception):
            return None
        # The error's type only: a driver's message may quote a query's parameters.
        logger.warning("database unavailable on %s: %s", request.path, type(exception).__name__)
        return unavailable_response(request)


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's, but a session that cannot be saved because the database is unavailable is a
    503 like any other outage. Django turns that failure (an ``UpdateError`` raised from the
    database error) into ``SessionInterrupted``, a 400 that tells the visitor nothing true."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        try:
            return super().process_response(request, response)
        except SessionInterrupted as exc:
            cause: BaseException | None = exc
            while cause is not None and not is_unavailable(cause):
                cause = cause.__cause__ or cause.__context__
            if cause is None:
                raise
            logger.warning("database unavailable on %s (saving the session)", request.path)
            return unavailable_response(request)


# -- a full disk ------------------------------------------------------------------------------


def is_disk_full(exc: BaseException) -> bool:
    """SQLite's SQLITE_FULL, PostgreSQL's disk_full (53100) or ENOSPC, whatever the wrapper."""
    if not isinstance(exc, DatabaseError):
        return False
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) == "53100" or getattr(cause, "sqlite_errorcode", 0) == 13:
        return True
    text = str(exc).lower()
    return "disk is full" in text or "no space left on device" in text


def database_disk() -> str:
    """Where the database writes, for an operator: the folder of the SQLite file, or the
    PostgreSQL server (its data directory is on that machine)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"the disk holding {Path(settings['NAME']).parent}"
    host = settings.get("HOST") or "localhost"
    port = settings.get("PORT") or 5432
    return f"the disk of the PostgreSQL server {host}:{port} (its data directory)"


@contextmanager
def disk_full_refused(what: str) -> Iterator[None]:
    """Turn a full disk during ``what`` into a clear ``Unavailable``. Wrap it around the
    transaction: the error is raised after the rollback, so nothing of ``what`` is kept."""
    try:
        yield
    except DatabaseError as exc:
        if not is_disk_full(exc):
            raise
        raise Unavailable(
            f"The database could not grow: {database_disk()} is full. Nothing of this {what} "
            "was written; free some space there and run it again.",
            code="disk_full",
        ) from exc
