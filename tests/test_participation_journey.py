"""Co-creation in Debian's Chromium: a member proposes from a phone, two others support it,
staff merges a duplicate into it and answers it, and the programme's new version links back
to the proposal.
"""

from __future__ import annotations

import datetime
import re

import pytest

from tests.test_journey import shot

pytestmark = pytest.mark.browser

PASSWORD = "une phrase de passe assez longue"
STAFF = "equipe.programme@example.org"
AUTHOR = "ana.propose@example.org"
FANS = ["bruno.soutient@example.org", "chloe.soutient@example.org"]
DUPLICATE_AUTHOR = "dan.doublon@example.org"
TITLE = "Des cantines bio et locales"


@pytest.fixture(scope="module")
def browser_setup(site_server, django_db_blocker):
    """Staff, four members, a consultation with a duplicate already in it, and a programme
    with one published version; all removed afterwards."""
    from django.utils import timezone

    from nextwork.network.models import Grant, Member, Role
    from nextwork.participation import programme, services
    from nextwork.participation.models import (
        Chapter,
        Consultation,
        NewsItem,
        ProgrammeVersion,
    )

    with django_db_blocker.unblock():
        before = set(Member.objects.values_list("pk", flat=True))
        long_ago = timezone.now() - datetime.timedelta(days=90)

        def member(email, first, **extra):
            return Member.objects.create_user(
                email, PASSWORD, first_name=first, last_name="Journey", is_active=True,
                confirmed_at=long_ago, **extra,
            )  # fmt: skip

        staff = member(STAFF, "Sacha")
        Grant.objects.create(member=staff, role=Role.STAFF)
        member(AUTHOR, "Ana")
        for email in FANS:
            member(email, email.split(".")[0].capitalize())
        dan = member(DUPLICATE_AUTHOR, "Dan")
        eve = member("eve.soutient@example.org", "Eve")
        now = timezone.now()
        consultation = Consultation.objects.create(
            title="Quelle école pour demain ?",
            text="Vos idées pour **l'école**.",
            opens_at=now - datetime.timedelta(days=2),
            proposals_close_at=now + datetime.timedelta(days=7),
            closes_at=now + datetime.timedelta(days=14),
            status="published",
            created_by=staff,
        )
        duplicate = services.proposal_submit(
            consultation=consultation, author=dan, title="Du bio à la cantine", body="Du bio !"
        )
        services.support_add(proposal_id=duplicate.pk, member=eve)
        chapter = programme.chapter_create(by=staff, title="École")
        programme.measure_create(
            by=staff, chapter_id=chapter.pk, title="Des écoles rénovées", body="Un plan sur 10 ans."
        )
        programme.programme_publish(note="Première version", by=staff)
    yield {"consultation": consultation.pk, "duplicate": duplicate.pk, "chapter": chapter.pk}
    with django_db_blocker.unblock():
        Consultation.objects.filter(pk=consultation.pk).delete()
        ProgrammeVersion.objects.all().delete()
        Chapter.objects.all().delete()
        NewsItem.objects.all().delete()
        Member.objects.exclude(pk__in=before).delete()


def login(page, url: str, email: str) -> None:
    page.goto(url + "/connexion/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")


def phone(browser):
    return browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")


def test_from_a_members_proposal_to_the_programme(browser, site_server, browser_setup):
    url = site_server.url
    consultation = browser_setup["consultation"]

    # 1. Ana proposes, from her phone.
    context = phone(browser)
    ana = context.new_page()
    login(ana, url, AUTHOR)
    ana.goto(url + f"/consultations/{consultation}/")
    assert "Quelle école pour demain ?" in ana.locator("h1").inner_text()
    ana.click("summary:has-text('Écrire une proposition')")
    ana.fill("#p-title", TITLE)
    ana.fill("#p-body", "Au moins **la moitié** de bio et de local. <script>alert(1)</script>")
    shot(ana, "participation-propose")
    ana.click("form.propose-form button[type=submit]")
    ana.wait_for_url(re.compile(r"/propositions/\d+/"))
    proposal = int(re.search(r"/propositions/(\d+)/", ana.url).group(1))
    assert ana.locator("h1").inner_text() == TITLE
    body = ana.locator(".prose").first
    assert body.locator("strong").inner_text() == "la moitié"
    assert ana.locator("main script").count() == 0  # the member's script never runs
    assert ana.evaluate("document.documentElement.scrollWidth") <= 390
    shot(ana, "participation-proposal")
    context.close()

    # 2. Two other members support it.
    for email in FANS:
        context = phone(browser)
        fan = context.new_page()
        login(fan, url, email)
        fan.goto(url + f"/propositions/{proposal}/")
        fan.click("form[action$='/soutien/'] button[value=add]")
        assert fan.locator("form[action$='/soutien/'] button[value=withdraw]").count() == 1
        context.close()

    # 3. Staff merges the duplicate into it, then answers it.
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    staff = desk.new_page()
    login(staff, url, STAFF)
    staff.goto(url + f"/propositions/{browser_setup['duplicate']}/")
    staff.click("summary:has-text('Regrouper avec une autre proposition')")
    staff.fill("#m-target", str(proposal))
    staff.click("form[action$='/regrouper/'] button[type=submit]")
    staff.goto(url + f"/propositions/{browser_setup['duplicate']}/")
    assert f"/propositions/{proposal}/" in staff.locator("main").inner_html()
    staff.goto(url + f"/propositions/{proposal}/")
    # Bruno and Chloé, plus Eve who supported the duplicate.
    assert staff.locator(".support-count strong").inner_text() == "3"
    staff.click("summary:has-text('Répondre à la proposition')")
    staff.select_option("#a-status", "accepted")
    staff.fill("#a-text", "Retenue : elle entre au programme, chapitre École.")
    staff.click("form[action$='/reponse/'] button[type=submit]")
    assert "Retenue : elle entre au programme" in staff.locator("main").inner_text()
    shot(staff, "participation-answered")

    # 4. Staff links it to a measure and publishes a new version of the programme.
    staff.goto(url + "/equipe/programme/")
    chapter = browser_setup["chapter"]
    adding = staff.locator("details.prog-add").filter(
        has=staff.locator(f"form[action*='/chapitres/{chapter}/mesures/']")
    )
    adding.locator("summary").click()
    adding.locator("input[name=title]").fill("Des cantines bio et locales")
    adding.locator("textarea[name=body]").fill("La moitié de bio et de local d'ici 2030.")
    adding.locator("button[type=submit]").click()
    editing = staff.locator("details.prog-edit-form").filter(
        has=staff.locator("input[value='Des cantines bio et locales']")
    )
    editing.locator("summary", has_text="Modifier la mesure").click()
    editing.locator("input[name=proposals]").fill(str(proposal))
    editing.locator("button:has-text('Enregistrer la mesure')").click()
    assert TITLE in staff.locator(".prog-edit-links").last.inner_text()
    staff.goto(url + "/equipe/programme/apercu/")
    staff.fill("#publish-note", "Ajout des cantines, issu de la consultation sur l'école")
    staff.click("main form button[type=submit]")
    desk.close()

    # 5. Anyone reads version 2, follows the measure back to the member's proposal.
    context = phone(browser)
    reader = context.new_page()
    reader.goto(url + "/programme/")
    assert "2" in reader.locator("main").inner_text()
    shot(reader, "participation-programme")
    reader.click(f"main a[href$='/propositions/{proposal}/']")
    reader.wait_for_url(re.compile(rf"/propositions/{proposal}/"))
    assert reader.locator("h1").inner_text() == TITLE
    assert "Retenue" in reader.locator("main").inner_text()
    reader.goto(url + "/programme/diff/1/2/")
    assert "Des cantines bio et locales" in reader.locator("main").inner_text()
    shot(reader, "participation-diff")
    context.close()
