"""The key pages in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import threading
from types import SimpleNamespace
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

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

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser(site_server):
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


def test_postcode_leads_to_the_constituency_page(page, site_server):
    page.goto(site_server.url + "/")
    page.get_by_label("Code postal").fill("48000")
    page.get_by_role("button", name="Trouver ma circonscription").click()
    page.wait_for_url("**/circonscriptions/48-01/")
    assert (
        page.get_by_role("heading", level=1).inner_text().endswith("Lozère (1re circonscription)")
    )
    assert page.locator(".outline-map .seat.current").count() == 1
    # Nothing but our own server is ever asked for anything.
    assert all(url.startswith(site_server.url) for url in page.requests)


def test_ambiguous_postcode_lists_candidates_then_opens_one(page, site_server):
    page.goto(site_server.url + "/")
    page.get_by_label("Code postal").fill("31000")
    page.get_by_role("button", name="Trouver ma circonscription").click()
    candidates = page.locator("a.candidate")
    assert candidates.count() >= 2
    first_code = candidates.first.locator(".code").inner_text()
    candidates.first.click()
    page.wait_for_url(f"**/circonscriptions/{first_code}/")


def test_national_map_links_every_seat_without_outside_requests(page, site_server):
    page.goto(site_server.url + "/carte/")
    codes = page.locator("svg.national-map path[data-code]").evaluate_all(
        "nodes => nodes.map(n => n.dataset.code)"
    )
    # Every seat once, and Paris seats twice (the map and its inset).
    assert len(set(codes)) == 577
    assert all(url.startswith(site_server.url) for url in page.requests)
    page.locator('svg.national-map a[href="/circonscriptions/99-07/"]').click()
    page.wait_for_url("**/circonscriptions/99-07/")
    assert "Allemagne" in page.locator(".countries").inner_text()


def test_bad_postcode_shows_a_clear_error(page, site_server):
    page.goto(site_server.url + "/trouver/?postcode=00000")
    assert "code postal n'existe pas" in page.get_by_role("alert").inner_text()
