"""Proxy votes in Debian's Chromium: a member states their voting situation and asks for a
proxy, another offers to carry one, the coordinator of the department matches them on the
coordination page, both accept, then each sees the other's contact and the steps; a third
member sees nothing of it.
"""

from __future__ import annotations

import datetime
import re
import threading

import pytest

from tests.test_journey import shot

pytestmark = pytest.mark.browser

PASSWORD = "une phrase de passe assez longue"
RANIA = "rania.absente@example.org"
HUGO = "hugo.mandataire@example.org"
COORD = "dominique.coord75@example.org"
TIAGO = "tiago.curieux@example.org"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def browser_setup(site_server, django_db_blocker):
    from django.test import override_settings
    from django.utils import timezone

    from nextwork.mobilisation import services
    from nextwork.mobilisation.models import Election
    from nextwork.network.models import Grant, Member, Role
    from nextwork.privacy.models import AuditEvent
    from nextwork.territories.models import Area

    site = override_settings(NEXTWORK_SITE_URL=site_server.url)
    site.enable()
    started = timezone.now()
    with django_db_blocker.unblock():
        before = set(Member.objects.values_list("pk", flat=True))
        long_ago = timezone.now() - datetime.timedelta(days=90)
        made = {}
        for email, first, last in (
            (RANIA, "Rania", "Benali"),
            (HUGO, "Hugo", "Martin"),
            (COORD, "Dominique", "Coord"),
            (TIAGO, "Tiago", "Curieux"),
        ):
            made[email] = Member.objects.create_user(
                email, PASSWORD, first_name=first, last_name=last, is_active=True,
                confirmed_at=long_ago, phone="+33612345678" if email == HUGO else "",
            )  # fmt: skip
        paris = Area.objects.get(boundary_set__active=True, kind="department", code="75")
        Grant.objects.create(member=made[COORD], role=Role.COORDINATOR, area=paris)
        staff = Member.objects.create_user("sacha.staff@example.org", PASSWORD, is_active=True)
        Grant.objects.create(member=staff, role=Role.STAFF)
        today = timezone.localdate()
        election = services.election_create(
            by=staff, kind="legislatives", name="Législatives du parcours", slug="parcours",
            registration_deadline=today + datetime.timedelta(days=5),
            rounds=[services.RoundIn(1, today + datetime.timedelta(days=21))], published=True,
        )  # fmt: skip
    yield {"round": election.rounds.get().pk}
    site.disable()
    with django_db_blocker.unblock():
        Election.objects.filter(slug="parcours").delete()  # rounds, requests, matches cascade
        Member.objects.exclude(pk__in=before).delete()  # situations, consents, grants cascade
        AuditEvent.objects.filter(at__gte=started, action__startswith="mobilisation.").delete()


def login(browser, url: str, email: str, viewport=PHONE):
    context = browser.new_context(viewport=viewport, locale="fr-FR")
    page = context.new_page()
    page.goto(url + "/connexion/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/espace/"))
    return context, page


def state_situation(page, url: str, commune: str) -> None:
    page.goto(url + "/espace/")
    page.click("main a:has-text('Ma situation électorale')")
    page.check("input[name=registered][value=yes]")
    page.fill("#commune", commune)
    # The consent box is not ticked for the member: without it nothing is kept.
    page.click("main form button[type=submit]:has-text('Enregistrer')")
    assert page.locator("#consent-error").is_visible()
    assert page.input_value("#commune") == commune
    shot(page, "mobilisation-situation-refused-390")
    page.check("input[name=consent]")
    page.click("main form button[type=submit]:has-text('Enregistrer')")
    assert "situation électorale est enregistrée" in page.locator("main").inner_text()


def test_a_proxy_from_request_to_contact(browser, site_server, browser_setup, django_db_blocker):
    url = site_server.url
    round_id = browser_setup["round"]
    section = f"#tour-{round_id}"

    # 1. Rania will be absent: she states her situation and asks for a proxy holder.
    rania_context, rania = login(browser, url, RANIA)
    state_situation(rania, url, "75011")
    rania.click("main a:has-text('Mes procurations')")
    rania.click(f"{section} summary:has-text('je cherche un mandataire')")
    assert rania.input_value(f"#commune-{round_id}") == "75111"  # her situation's
    rania.click(f"{section} form button:has-text('Chercher un mandataire')")
    assert "Vous cherchez un mandataire" in rania.locator(section).inner_text()

    # 2. Hugo can carry one in Paris 11e.
    hugo_context, hugo = login(browser, url, HUGO)
    state_situation(hugo, url, "75011")
    hugo.goto(url + "/espace/procurations/")
    hugo.click(f"{section} summary:has-text('Je peux porter une procuration')")
    hugo.fill(f"#communes-{round_id}", "75011")
    hugo.click(f"{section} form button:has-text('Je me propose')")
    assert "Paris 11e" in hugo.locator(section).inner_text()

    # 3. The coordinator of Paris matches them.
    coord_context, coord = login(browser, url, COORD, DESKTOP)
    coord.click("main a:has-text('Procurations de mon territoire')")
    waiting = coord.locator(section).inner_text()
    assert "Rania" in waiting and "Hugo" in waiting
    assert RANIA not in waiting and "Benali" not in waiting  # first names only
    shot(coord, "mobilisation-coordination-1280")
    coord.set_viewport_size(PHONE)
    shot(coord, "mobilisation-coordination-390")
    coord.click(f"{section} form.propose button:has-text('Proposer')")
    assert "Mise en relation proposée" in coord.locator("main").inner_text()
    assert "proposée" in coord.locator(f"{section} .matches").inner_text()

    # 4. Both accept; each then sees the other's contact and what to do.
    rania.reload()
    match = rania.locator(f"{section} .match")
    assert "Hugo peut voter pour vous" in match.inner_text() and HUGO not in match.inner_text()
    match.locator('button:has-text("J\'accepte")').click()
    assert "En attente de la réponse de Hugo" in rania.locator(f"{section} .match").inner_text()
    hugo.reload()
    hugo.locator(f'{section} .match button:has-text("J\'accepte")').click()
    seen_by_hugo = hugo.locator(f"{section} .match").inner_text()
    assert RANIA in seen_by_hugo and "Benali" in seen_by_hugo and "pièce d'identité" in seen_by_hugo
    rania.reload()
    seen_by_rania = rania.locator(f"{section} .match").inner_text()
    assert HUGO in seen_by_rania and "+33612345678" in seen_by_rania
    assert "maprocuration.gouv.fr" in seen_by_rania
    shot(rania, "mobilisation-proxies-390")
    rania.set_viewport_size(DESKTOP)
    shot(rania, "mobilisation-proxies-1280")
    rania.click(f"{section} .match button:has-text('La procuration est établie')")
    assert "Établie" in rania.locator(f"{section} .steps li.done").last.inner_text()

    # The database agrees (read in a thread of its own: Playwright's loop runs in this one).
    found = {}

    def read():
        from django.db import connections

        from nextwork.mobilisation.models import ProxyMatch

        try:
            found["status"] = list(ProxyMatch.objects.values_list("status", flat=True))
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        thread = threading.Thread(target=read)
        thread.start()
        thread.join(timeout=60)
    assert found["status"] == ["declared"]

    # 5. A third member sees nothing of it, and not the coordination page.
    tiago_context, tiago = login(browser, url, TIAGO)
    tiago.goto(url + "/espace/procurations/")
    text = tiago.locator("main").inner_text()
    assert (
        "Rania" not in text and "Hugo" not in text and "Procurations de mon territoire" not in text
    )
    response = tiago.goto(url + "/espace/procurations/coordination/")
    assert response.status == 403
    tiago.goto(url + "/elections/")
    assert "Législatives du parcours" in tiago.locator("main").inner_text()
    shot(tiago, "mobilisation-elections-390")
    for context in (rania_context, hugo_context, coord_context, tiago_context):
        context.close()
