"""The preferences page in Debian's Chromium, on a phone: a member follows the link of an email,
withdraws the newsletter, and sees it in the history of their consents."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import override_settings

pytestmark = pytest.mark.browser

EMAIL = "noemie.preferences@example.org"


@pytest.fixture(scope="module")
def browser_setup(site_server, django_db_blocker):
    """A confirmed member with the sign-up email consents and two communities; all removed
    afterwards."""
    from django.utils import timezone

    from nextwork.messaging import communities, consent
    from nextwork.messaging.models import Community, ConsentHow
    from nextwork.network.models import Grant, Member, Role

    overrides = override_settings(NEXTWORK_SITE_URL=site_server.url)
    overrides.enable()
    with django_db_blocker.unblock():
        before = set(Member.objects.values_list("pk", flat=True))
        member = Member.objects.create_user(
            EMAIL,
            "une phrase de passe assez longue",
            first_name="Noémie",
            last_name="Préférences",
            is_active=True,
            confirmed_at=timezone.now(),
        )
        consent.consents_give_many(
            member=member, channel="email", types=consent.SIGNUP_EMAIL_TYPES, how=ConsentHow.SITE
        )
        staff = Member.objects.create_user(
            "staff.preferences@example.org", "x" * 20, is_active=True
        )
        Grant.objects.create(member=staff, role=Role.STAFF)
        made = [
            communities.community_create(actor=staff, name=name, description=text)
            for name, text in (
                ("Jeunes", "Les moins de 30 ans du réseau, pour agir entre pairs."),
                ("Français de l'étranger", "Les membres qui vivent hors de France."),
                ("Numérique et handicap", "Accessibilité des services publics en ligne."),
            )
        ]
        communities.community_join(member=member, community=made[0])
    yield member
    with django_db_blocker.unblock():
        Community.objects.filter(pk__in=[c.pk for c in made]).delete()
        Member.objects.exclude(pk__in=before).delete()
    overrides.disable()


def shot(page, name: str) -> None:
    """Screenshots for people to look at, when SCREENSHOTS names a folder."""
    folder = os.environ.get("SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_withdraw_the_newsletter_from_the_link_of_an_email(page, site_server, browser_setup):
    from nextwork.messaging.preferences import preferences_url

    assert page.viewport_size["width"] == 390
    page.goto(preferences_url(browser_setup))
    assert page.get_by_role("heading", level=1).inner_text() == "Mes préférences"
    newsletter = page.get_by_label("Lettre d'information par courriel")
    assert newsletter.is_checked()
    assert page.get_by_label("Alertes par SMS").is_disabled()  # no phone number
    # Nothing overflows sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "preferences-390")

    newsletter.uncheck()
    page.get_by_role("button", name="Enregistrer mes choix").click()
    page.wait_for_load_state()
    assert "Vos préférences sont enregistrées." in page.get_by_role("status").first.inner_text()
    assert not page.get_by_label("Lettre d'information par courriel").is_checked()
    history = page.locator("table.consent-history tbody tr").first
    assert "Lettre d'information" in history.inner_text()
    assert "retiré" in history.inner_text()
    assert "Préférences sur le site" in history.inner_text()
    shot(page, "preferences-390-after")
    page.set_viewport_size({"width": 1366, "height": 900})
    shot(page, "preferences-1366")


def test_the_communities_list_on_a_phone_and_a_screen(page, site_server, browser_setup):
    page.goto(site_server.url + "/communautes/")
    cards = page.locator(".community-card")
    assert cards.count() == 3
    assert "1 membre" in cards.filter(has_text="Jeunes").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "communities-390")
    page.set_viewport_size({"width": 1366, "height": 900})
    shot(page, "communities-1366")
    page.goto(site_server.url + "/communautes/jeunes/")
    assert page.get_by_role("link", name="Se connecter pour rejoindre").is_visible()
    shot(page, "community-1366")
