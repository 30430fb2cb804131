"""Small-donor fundraising in Debian's Chromium: a member opens a personal fundraising page,
a donor gives through the test provider, the page's thermometer moves, and the receipt the
worker issues is a right PDF.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_journey import shot

pytestmark = pytest.mark.browser

PASSWORD = "une phrase de passe assez longue"
OWNER = "lea.collecte@example.org"
DONOR = "marc.donne@example.org"


@pytest.fixture(scope="module")
def browser_setup(site_server, django_db_blocker):
    from django.test import override_settings
    from django.utils import timezone

    from nextwork.fundraising.models import (
        Beneficiary,
        Donation,
        Donor,
        FundraisingPage,
        Receipt,
        ReceiptSequence,
    )  # fmt: skip
    from nextwork.network.models import Member

    # Links the site builds (the test checkout, the return address) point to this server.
    site = override_settings(NEXTWORK_SITE_URL=site_server.url)
    site.enable()
    with django_db_blocker.unblock():
        before = set(Member.objects.values_list("pk", flat=True))
        long_ago = timezone.now() - datetime.timedelta(days=90)
        for email, first in ((OWNER, "Léa"), (DONOR, "Marc")):
            Member.objects.create_user(
                email, PASSWORD, first_name=first, last_name="Journey", is_active=True,
                confirmed_at=long_ago,
            )  # fmt: skip
        association = Beneficiary.objects.create(
            name="Association Écoles ouvertes", kind="association",
            legal_name="Association Écoles ouvertes", address="12 rue de l'École, 48000 Mende",
            registration="W481000123", purpose="Ouvrir les écoles aux associations du quartier",
        )  # fmt: skip
    yield {"beneficiary": association.pk}
    site.disable()
    with django_db_blocker.unblock():
        from django_tasks_db.models import DBTaskResult

        Receipt.objects.filter(beneficiary=association).delete()
        ReceiptSequence.objects.filter(beneficiary=association).delete()
        Donation.objects.filter(beneficiary=association).delete()
        FundraisingPage.objects.filter(beneficiary=association).delete()
        Donor.objects.filter(email=DONOR).delete()
        association.delete()
        DBTaskResult.objects.filter(task_path__endswith="issue_receipt_task").delete()
        Member.objects.exclude(pk__in=before).delete()


def login(page, url: str, email: str) -> None:
    page.goto(url + "/connexion/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")


def test_a_personal_page_a_gift_and_its_receipt(
    browser, site_server, browser_setup, django_db_blocker
):
    url = site_server.url

    # 1. Léa opens her fundraising page.
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    lea = context.new_page()
    login(lea, url, OWNER)
    lea.goto(url + "/espace/dons/pages/nouvelle/")
    lea.select_option("#beneficiary", str(browser_setup["beneficiary"]))
    lea.fill("#title", "Mes 30 ans pour les écoles ouvertes")
    lea.fill("#text", "Au lieu de cadeaux, aidez l'association à ouvrir les écoles le soir.")
    lea.fill("#goal", "300")
    lea.click("main form button[type=submit]")
    lea.goto(url + "/espace/dons/pages/")
    lea.click("main a[href^='/dons/pages/']")
    lea.wait_for_url(re.compile(r"/dons/pages/[\w-]+/$"))
    page_url = lea.url
    assert "0 €" in lea.locator(".thermometer").inner_text()
    context.close()

    # 2. Marc gives 75 € from that page, through the test provider.
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    marc = context.new_page()
    login(marc, url, DONOR)
    marc.goto(page_url)
    marc.click("main a.button:has-text('Je donne')")
    marc.check("input[name=amount][value=other]")
    marc.fill("#amount_other", "75")
    marc.fill("#first_name", "Marc")
    marc.fill("#last_name", "Journey")
    marc.fill("#email", DONOR)
    marc.fill("#address", "3 place du Marché")
    marc.fill("#postcode", "48000")
    marc.fill("#city", "Mende")
    marc.check('input[name=payment][value="test:card"]')
    shot(marc, "fundraising-give")
    marc.click("main form button[type=submit]:has-text('Je donne')")
    marc.wait_for_url(re.compile(r"/dons/paiement-test/"))
    marc.click("button[value=pay]")
    marc.wait_for_url(re.compile(r"/dons/merci/"))

    # 3. The thermometer moved.
    marc.goto(page_url)
    thermometer = marc.locator(".thermometer").inner_text()
    assert "75 €" in thermometer and "300 €" in thermometer and "25 %" in thermometer
    shot(marc, "fundraising-thermometer")

    # 4. The receipt task the payment queued runs (as `nextwork worker` would run it, whose
    # signal handlers need the main thread); Marc downloads the receipt, and it says what
    # the law asks.
    import threading

    from django.db import connections

    def run_receipt_tasks():  # a thread of its own: Playwright's event loop runs in this one
        from django_tasks_db.models import DBTaskResult

        try:
            queued = DBTaskResult.objects.filter(task_path__endswith="issue_receipt_task")
            for result in queued:
                result.task.call(*result.args_kwargs["args"])
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        thread = threading.Thread(target=run_receipt_tasks)
        thread.start()
        thread.join(timeout=120)
    marc.goto(url + "/espace/dons/recus/")
    link = marc.locator("main a[href$='.pdf']").first
    response = marc.request.get(url + link.get_attribute("href"))
    assert response.status == 200
    pdf = response.body()
    assert pdf.startswith(b"%PDF-")
    context.close()
    if os.environ.get("SCREENSHOTS"):  # for people to look at (pdftoppm -png)
        Path(os.environ["SCREENSHOTS"], "journey-fundraising-receipt.pdf").write_bytes(pdf)
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
            check=True,
        ).stdout.decode()  # fmt: skip
        assert "Association Écoles ouvertes" in text and "Marc" in text
        assert "75" in text and "soixante-quinze euros" in text
        assert "Ouvrir les écoles aux associations du quartier" in text
