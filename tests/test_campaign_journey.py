"""An action day in Debian's Chromium: staff opens the campaign, the relay reads the briefing on
a phone, records the meeting and the deputy's position, and the dashboard and the report show it.
"""

from __future__ import annotations

import datetime

import pytest

from tests.test_journey import shot

pytestmark = pytest.mark.browser

STAFF = "equipe.journee@example.org"
RELAY = "relais.lozere@example.org"
PASSWORD = "une phrase de passe assez longue"
QUOTE = "Je déposerai l'amendement dès la semaine prochaine"


@pytest.fixture(scope="module")
def browser_setup(site_server, django_db_blocker):
    """A staff member, the relay of 48-01 and a draft campaign; all removed afterwards."""
    from django.utils import timezone

    from nextwork.campaigns import services
    from nextwork.campaigns.models import Campaign
    from nextwork.network.models import Grant, Member, Role
    from nextwork.territories.models import Area

    with django_db_blocker.unblock():
        before = set(Member.objects.values_list("pk", flat=True))
        staff = Member.objects.create_user(
            STAFF,
            PASSWORD,
            first_name="Sacha",
            last_name="Équipe",
            is_active=True,
            is_staff=True,
            is_superuser=True,
            confirmed_at=timezone.now(),
        )
        Grant.objects.create(member=staff, role=Role.STAFF)
        relay = Member.objects.create_user(
            RELAY,
            PASSWORD,
            first_name="Lucie",
            last_name="Relais",
            is_active=True,
            confirmed_at=timezone.now(),
        )
        seat = Area.objects.get(boundary_set__active=True, kind="constituency", code="48-01")
        Grant.objects.create(member=relay, role=Role.RELAY, area=seat)
        campaign = services.campaign_create(
            data=services.CampaignIn(
                title="Journée de l'eau",
                starts_at=timezone.now() + datetime.timedelta(days=5),
                chambers="assembly",
                departments=["48"],
                briefing="## Pourquoi\n\nLes nappes sont **au plus bas**.",
                topics=[services.TopicIn("Partage de l'eau", "Note courte.", "Voter la loi")],
                templates=[
                    services.TemplateIn(
                        "assembly", "Rendez-vous", "{representative_title}, je suis {relay_name}."
                    )
                ],
            ),
            by=staff,
        )
        topic = campaign.topics.get()
    # Only plain values cross over: the browser's event loop forbids database calls.
    yield {"campaign": campaign.pk, "topic": topic.pk}
    with django_db_blocker.unblock():
        Campaign.objects.filter(pk=campaign.pk).delete()
        Member.objects.exclude(pk__in=before).delete()


def login(page, url: str, email: str) -> None:
    page.goto(url + "/connexion/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")


def test_an_action_day_from_opening_to_the_report(browser, site_server, browser_setup):
    campaign, topic = browser_setup["campaign"], browser_setup["topic"]
    url = site_server.url

    # Staff opens the campaign from the admin.
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    staff = desk.new_page()
    login(staff, url, STAFF)
    staff.goto(url + "/admin/campaigns/campaign/")
    staff.check(f'input[name="_selected_action"][value="{campaign}"]')
    staff.select_option("select[name=action]", "open_campaigns")
    staff.click("button[name=index]")
    assert "1 missions, 1 avec un relais" in staff.locator(".messagelist").inner_text()

    # The relay, on a phone, reads the briefing and records the meeting and the position.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    relay = phone.new_page()
    login(relay, url, RELAY)
    relay.goto(url + "/espace/actions/")
    relay.click("text=Journée de l'eau")
    assert relay.locator("h1").inner_text() == "Journée de l'eau"
    assert "au plus bas" in relay.locator(".prose").first.inner_text()
    assert "je suis Lucie Relais" in relay.locator("#body").input_value()
    assert relay.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    shot(relay, "action-briefing")
    relay.select_option("#contact_method", "visit")
    relay.fill("#meeting_at", "2030-03-04T10:00")
    relay.fill("#meeting_place", "Permanence de Mende")
    relay.click("form:has(input[value=checklist]) button[type=submit]")
    assert "Avancement enregistré" in relay.locator(".alert.success").inner_text()
    relay.check(f'input[name="stance-{topic}"][value="supports"]')
    relay.fill(f"#quote-{topic}", QUOTE)
    relay.fill("#attendees", "Le député, deux relais")
    relay.select_option("#visibility", "publishable")
    relay.click("form:has(input[value=report]) button[type=submit]")
    assert "Compte rendu enregistré" in relay.locator(".alert.success").inner_text()
    shot(relay, "action-reported")
    phone.close()

    # The dashboard counts it; the report quotes the deputy.
    staff.goto(url + f"/espace/campagnes/{campaign}/")
    funnel = staff.locator(".funnel").inner_text()
    assert "Compte rendu\n1" in funnel.replace("\t", "\n") or "Compte rendu 1" in funnel
    shot(staff, "action-dashboard")
    staff.goto(url + f"/espace/campagnes/{campaign}/rapport/")
    assert QUOTE in staff.locator("blockquote").first.inner_text()
    pdf = staff.request.get(url + f"/espace/campagnes/{campaign}/rapport.pdf")
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF-")
    desk.close()
