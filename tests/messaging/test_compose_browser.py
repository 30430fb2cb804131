"""Writing to members in Debian's Chromium: staff write an email to the members of a seat,
count them, read the preview, confirm the count and send; the same pages on a phone."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

STAFF = "equipe.messages@example.org"
PASSWORD = "une phrase de passe assez longue"
READERS = ("Alice", "Bastien", "Chloé")


@pytest.fixture(scope="module")
def browser_setup(site_server, django_db_blocker):
    """Staff living in 75-02 and three members there who accept newsletters; all removed
    afterwards, with the messages written."""
    from django.utils import timezone

    from nextwork.messaging import consent
    from nextwork.messaging.models import ConsentHow, Message
    from nextwork.network.models import Grant, Member, MemberLocation, Precision, Role
    from nextwork.territories.models import Area

    with django_db_blocker.unblock():
        before = set(Member.objects.values_list("pk", flat=True))
        seat = Area.objects.get(boundary_set__active=True, kind="constituency", code="75-02")
        staff = Member.objects.create_user(
            STAFF,
            PASSWORD,
            first_name="Sacha",
            last_name="Équipe",
            is_active=True,
            confirmed_at=timezone.now(),
        )
        Grant.objects.create(member=staff, role=Role.STAFF)
        MemberLocation.objects.create(member=staff, constituency=seat, precision=Precision.POSTCODE)
        for n, name in enumerate(READERS):
            member = Member.objects.create_user(
                f"lecteur.{n}@example.org",
                PASSWORD,
                first_name=name,
                last_name="Lecteur",
                is_active=True,
                confirmed_at=timezone.now(),
            )
            MemberLocation.objects.create(
                member=member, constituency=seat, precision=Precision.POSTCODE
            )
            consent.consent_set(
                member=member,
                channel="email",
                message_type="newsletter",
                given=True,
                how=ConsentHow.SITE,
            )
    yield
    with django_db_blocker.unblock():
        new = Member.objects.exclude(pk__in=before)
        Message.objects.filter(created_by__in=new).delete()
        new.delete()


def shot(page, name: str) -> None:
    """Screenshots for people to look at, when SCREENSHOTS names a folder."""
    folder = os.environ.get("SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        width = page.viewport_size["width"]
        page.screenshot(path=str(Path(folder) / f"compose-{name}-{width}.png"), full_page=True)


def login(page, url: str) -> None:
    page.goto(url + "/connexion/")
    page.fill("input[name=username]", STAFF)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(url + "/espace/")


def test_staff_write_count_preview_and_send_an_email(browser, site_server, browser_setup):
    url = site_server.url
    desk = browser.new_context(viewport={"width": 1366, "height": 900}, locale="fr-FR")
    page = desk.new_page()
    login(page, url)
    page.get_by_role("link", name="Messages →").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Messages aux membres"
    page.get_by_role("link", name="Nouveau message").click()

    # Without a click on "Compter", the inline script counts as soon as the audience changes.
    page.fill("#areas", "75-02")
    page.press("#areas", "Tab")
    count = page.locator("#count")
    count.get_by_text("membres dans ce public").wait_for()
    assert re.search(r"4\s+membres dans ce public", count.inner_text())  # staff included
    # "Compter" gives the same, page reloaded (how it works without JavaScript).
    page.get_by_role("button", name="Compter").click()
    assert re.search(r"3\s+joignables par courriel", page.locator("#count").inner_text())
    assert page.locator("#sms_text").is_hidden()  # an email: the SMS field is out of the way

    page.fill("#subject", "Bonjour {{ first_name }}")
    page.fill(
        "#body_html",
        "<h2>Réunion publique</h2><p>Bonjour {{ first_name }}, rendez-vous jeudi à 19 h "
        "dans la {{ constituency }}.</p><script>alert(1)</script>",
    )
    shot(page, "form")
    page.get_by_role("button", name="Enregistrer le brouillon").click()

    # The draft: the preview with the author's own values, in a sandboxed frame.
    assert page.get_by_role("heading", level=1).inner_text() == "Bonjour Sacha"
    frame = page.frame_locator("iframe.preview-frame")
    assert (
        "Bonjour Sacha, rendez-vous jeudi à 19 h dans la 75-02."
        in frame.locator("body").inner_text()
    )
    assert frame.locator("script").count() == 0
    assert page.locator(".msg-status").inner_text() == "Brouillon"
    shot(page, "draft")

    page.get_by_role("link", name="Envoyer…").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Envoyer à 3 membres ?"
    shot(page, "confirm")
    page.get_by_role("button", name="Oui, envoyer").click()
    assert "Message en file d'envoi" in page.locator(".alert.success").inner_text()
    assert page.locator(".msg-status").inner_text() in ("En file", "Envoi en cours", "Envoyé")
    assert page.get_by_role("heading", name="Suivi de l'envoi").is_visible()
    shot(page, "sent")
    page.get_by_role("link", name="Messages").first.click()
    assert page.locator(".messages-table tbody tr").count() == 1
    shot(page, "list")
    desk.close()

    # The same pages on a phone: nothing overflows sideways.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    page = phone.new_page()
    login(page, url)
    for path, name in (
        ("/espace/messages/", "list"),
        ("/espace/messages/nouveau/", "form"),
        ("/espace/alertes/nouvelle/", "alert"),
    ):
        page.goto(url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        shot(page, name)
    page.goto(url + "/espace/messages/")
    page.locator(".messages-table a").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "sent")

    # An SMS: the count gives the SMS per member; the email fields are out of the way.
    page.goto(url + "/espace/messages/nouveau/")
    page.get_by_role("radio", name="SMS").check()
    assert page.locator("#subject").is_hidden()
    page.fill("#sms_text", "Bonjour {{ first_name }}, réunion jeudi à 19 h. Êtes-vous prêts ?")
    page.get_by_role("button", name="Compter").click()
    assert "SMS par membre (UCS-2" in page.locator("#count").inner_text()
    shot(page, "sms-count")

    # An alert goes through a confirmation screen with the count per channel; not sent here.
    page.goto(url + "/espace/alertes/nouvelle/")
    page.fill("#areas", "75-02")
    page.fill("#subject", "Vote demain")
    page.fill("#body", "Le vote a lieu demain à 15 h : écrivez à votre député.")
    page.get_by_role("button", name="Vérifier avant d'envoyer").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Envoyer cette alerte maintenant ?"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "alert-confirm")
    phone.close()
