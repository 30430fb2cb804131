"""The key pages in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


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
