"""Two-factor authentication in Debian's Chromium: a coordinator logs in, is held at the
enrolment page, scans (reads) the secret, confirms a code, keeps the backup codes, and after
logging in again gives a code before reaching the site. Then the security page and its tokens."""

from __future__ import annotations

import os
from base64 import b32decode
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.two_factor]

EMAIL = "coord.2fa@example.org"
PASSWORD = "une phrase de passe assez longue"


@pytest.fixture(scope="module")
def browser_setup(site_server, django_db_blocker):
    from django.utils import timezone

    from nextwork.network.models import Grant, Member, Role
    from nextwork.territories.models import Area

    with django_db_blocker.unblock():
        department = Area.objects.get(boundary_set__active=True, kind="department", code="75")
        member = Member.objects.create_user(
            EMAIL,
            PASSWORD,
            first_name="Dominique",
            last_name="Deux-Facteurs",
            is_active=True,
            confirmed_at=timezone.now(),
        )
        Grant.objects.create(member=member, role=Role.COORDINATOR, area=department)
    yield
    with django_db_blocker.unblock():
        Member.objects.filter(email=EMAIL).delete()


@pytest.fixture
def wide(browser, site_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    yield context.new_page()
    context.close()


def shot(page, name: str) -> None:
    folder = os.environ.get("SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        width = page.viewport_size["width"]
        page.screenshot(path=str(Path(folder) / f"auth-{name}-{width}.png"), full_page=True)


def code_now(secret_text: str, *, drift: int = 0) -> str:
    from django_otp.oath import totp

    raw = secret_text.replace(" ", "")
    key = b32decode(raw + "=" * (-len(raw) % 8))
    return f"{totp(key, step=30, t0=0, digits=6, drift=drift):06d}"


def log_in(page, url: str) -> None:
    page.goto(url + "/connexion/")
    page.fill("#id_username", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def test_enrolment_then_a_code_at_each_login(page, wide, site_server):
    url = site_server.url
    log_in(page, url)
    # Held at the enrolment page, whatever is asked.
    page.wait_for_url("**/espace/securite/double-authentification/**")
    assert page.locator(".qr svg").count() == 1
    secret = page.locator("code.secret").inner_text()
    shot(page, "enrol")
    page.goto(url + "/espace/membres/")
    assert "/double-authentification/" in page.url
    page.fill("#code", code_now(secret))
    page.click("button[type=submit]")
    codes = page.locator(".backup-codes li").all_inner_texts()
    assert len(codes) == 10
    shot(page, "codes")
    page.click("text=Continuer")
    page.wait_for_url("**/espace/membres/")  # where the coordinator was going
    page.goto(url + "/espace/")
    assert page.locator("h1").inner_text().startswith("Bonjour")

    # A new login on a wide screen: the code again, before anything else.
    log_in(wide, url)
    wide.wait_for_url("**/double-authentification/verifier/**")
    shot(wide, "verify")
    wide.fill("#code", "000000" if code_now(secret) != "000000" else "111111")
    wide.click("button[type=submit]")
    assert "Ce code n’est pas le bon" in wide.content() or "Ce code n'est pas le bon" in (
        wide.locator(".alert.error").inner_text()
    )
    wide.wait_for_timeout(1100)  # the throttle's first wait
    wide.fill("#code", code_now(secret, drift=1))
    wide.click("button[type=submit]")
    wide.wait_for_url("**/espace/")

    # The security page: make a token, see it once.
    wide.goto(url + "/espace/securite/")
    wide.fill("#token-name", "Tableur de suivi")
    wide.select_option("#token-scope", "write")
    wide.click("text=Créer le jeton")
    token = wide.locator(".alert.success code.secret").inner_text()
    assert token.startswith("nw_")
    shot(wide, "security")
    page.goto(url + "/espace/securite/")
    assert token not in page.content()
    shot(page, "security")
