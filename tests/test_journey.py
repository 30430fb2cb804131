"""The relay journey in Debian's Chromium: sign up, confirm from the email, apply as relay, the
coordinator approves, and the public map shows the seat covered."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import override_settings

from tests import smtp

pytestmark = pytest.mark.browser

EMAIL = "louise.journey@example.org"
COORDINATOR = "coordination.lozere@example.org"
PASSWORD = "une phrase de passe assez longue"


@pytest.fixture(scope="module")
def browser_setup(site_server, django_db_blocker):
    """Mail through a real SMTP server, a coordinator for Lozère; all removed afterwards."""
    from nextwork.network.models import Grant, Member, Role
    from nextwork.territories.models import Area

    inbox, controller = smtp.start()
    overrides = override_settings(
        **smtp.settings_for(controller), NEXTWORK_SITE_URL=site_server.url
    )
    overrides.enable()
    with django_db_blocker.unblock():
        before = set(Member.objects.values_list("pk", flat=True))
        coordinator = Member.objects.create_user(
            COORDINATOR, PASSWORD, first_name="Claude", last_name="Coordination", is_active=True
        )
        lozere = Area.objects.get(boundary_set__active=True, kind="department", code="48")
        Grant.objects.create(member=coordinator, role=Role.COORDINATOR, area=lozere)
    yield inbox
    with django_db_blocker.unblock():
        Member.objects.exclude(pk__in=before).delete()  # grants, applications… cascade
    overrides.disable()
    controller.stop()


def shot(page, name: str) -> None:
    """Screenshots for people to look at, when SCREENSHOTS names a folder."""
    folder = os.environ.get("SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"journey-{name}.png"), full_page=True)


def test_from_sign_up_to_a_covered_seat(page, site_server, browser_setup):
    inbox = browser_setup
    url = site_server.url
    page.goto(url + "/carte/")
    before = page.locator('svg.national-map path[data-code="48-01"]').get_attribute("class")
    assert "covered" not in before.split()

    # 1. Sign up.
    page.goto(url + "/inscription/")
    page.get_by_label("Prénom").fill("Louise")
    page.get_by_label("Nom", exact=True).fill("Journey")
    page.get_by_label("Adresse électronique").fill(EMAIL)
    page.get_by_label("Code postal").fill("48000")
    page.get_by_label("J'ai lu ce texte").check()
    shot(page, "1-signup")
    page.get_by_role("button", name="M'inscrire").click()
    page.wait_for_url("**/inscription/envoyee/")

    # 2. Confirm from the email received by the SMTP server.
    page.goto(inbox.link(EMAIL, r"/confirmer/\S+/"))
    assert "confirmée" in page.get_by_role("heading", level=1).inner_text()

    # 3. Log in with a one-time link, apply as relay of 48-01.
    page.goto(url + "/connexion/lien/")
    page.get_by_label("Adresse électronique").fill(EMAIL)
    page.get_by_role("button", name="Recevoir le lien").click()
    page.goto(inbox.link(EMAIL, r"/connexion/lien/\S+/"))
    page.get_by_role("button", name="Me connecter").click()
    page.wait_for_url("**/espace/")
    assert "48-01" in page.content()
    page.get_by_label("Pourquoi vous ?").fill("J'habite Mende depuis vingt ans.")
    page.get_by_role("button", name="Proposer ma candidature").click()
    assert "candidature est enregistrée" in page.get_by_role("status").inner_text()
    shot(page, "2-applied")
    page.get_by_role("button", name="Se déconnecter").click()

    # 4. The coordinator of Lozère approves.
    page.goto(url + "/connexion/")
    page.get_by_label("Adresse électronique").fill(COORDINATOR)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/espace/")
    assert "Louise Journey" in page.content()
    shot(page, "3-to-decide")
    page.get_by_role("button", name="Accepter").click()
    assert "Décision enregistrée" in page.get_by_role("status").inner_text()
    assert any("acceptée" in body for body in inbox.bodies(EMAIL))

    # 5. The public map shows the seat covered.
    page.goto(url + "/carte/")
    seat = page.locator('svg.national-map path[data-code="48-01"]')
    assert "covered" in seat.get_attribute("class").split()
    shot(page, "4-map")
    page.goto(url + "/circonscriptions/48-01/")
    assert page.locator(".status-badge.covered").count() == 1
