"""Database outages answered 503 with Retry-After, never 500 (the fast half of the fault
tests; test_postgres_restart.py shows it with a real restart), and a full disk named."""

from __future__ import annotations

import sqlite3

import pytest
from django.db.utils import IntegrityError, OperationalError
from django.test import RequestFactory

from nextwork.common import dberrors
from nextwork.common.errors import Unavailable


@pytest.fixture
def outage(monkeypatch):
    """Every sign-up finds the database gone (the server has closed the connection)."""

    def gone(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("nextwork.network.apis.member_register", gone)


def test_an_api_write_during_an_outage_gets_a_503_in_our_format(client, outage):
    response = client.post(
        "/api/v1/members",
        {"email": "a@example.org", "first_name": "A", "last_name": "B", "consent_version": 1},
        content_type="application/json",
    )
    assert response.status_code == 503
    assert response["Retry-After"] == str(dberrors.RETRY_AFTER_SECONDS)
    assert response.json()["error"]["code"] == "unavailable"


def test_a_failure_in_another_middleware_becomes_a_503_page(db, settings):
    """Django turns an inner middleware's exception into a 500 before it reaches us: the
    signal marks the request, and the 500 is replaced."""
    from django.core.handlers.exception import convert_exception_to_response

    settings.DEBUG = False

    def session_save_fails(request):
        raise OperationalError("terminating connection due to administrator command")

    inner = convert_exception_to_response(session_save_fails)
    middleware = dberrors.DatabaseUnavailableMiddleware(inner)
    response = middleware(RequestFactory().get("/consultations/"))
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "Service momentanément indisponible" in response.content.decode()


def test_other_errors_stay_500(db, settings):
    from django.core.handlers.exception import convert_exception_to_response

    settings.DEBUG = False

    def broken(request):
        raise IntegrityError("duplicate key")

    middleware = dberrors.DatabaseUnavailableMiddleware(convert_exception_to_response(broken))
    assert middleware(RequestFactory().get("/")).status_code == 500


def test_a_missing_table_is_a_bug_not_an_outage():
    assert not dberrors.is_unavailable(OperationalError("no such table: network_member"))
    assert dberrors.is_unavailable(OperationalError("database is locked"))


def test_a_full_disk_is_named(db):
    full = OperationalError("database or disk is full")
    full.__cause__ = sqlite3.OperationalError("database or disk is full")
    with pytest.raises(Unavailable) as raised, dberrors.disk_full_refused("import"):
        raise full
    assert raised.value.code == "disk_full"
    assert "is full. Nothing of this import was written" in raised.value.message
    with pytest.raises(IntegrityError), dberrors.disk_full_refused("import"):
        raise IntegrityError("duplicate key")


def test_a_session_that_cannot_be_saved_during_an_outage_is_a_503(make_member, monkeypatch):
    # Django turns a session save that fails on a lost connection into SessionInterrupted, a
    # 400; an outage is a 503 like any other. The first page after login writes the session
    # (the idle stamp), so it meets the failing save.
    from django.contrib.sessions.backends.base import UpdateError
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(make_member())

    def save(self, must_create=False):
        try:
            raise OperationalError("server closed the connection unexpectedly")
        except OperationalError:
            raise UpdateError  # as Django does: the database error is its context

    monkeypatch.setattr(SessionStore, "save", save)
    answer = client.get("/api/v1/elections")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "unavailable"
