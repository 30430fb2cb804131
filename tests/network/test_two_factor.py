"""Two-factor codes for staff and coordinators: enrolment, the step after each login, backup
codes, throttling, the API answer, and staff resetting a member's second factor."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from nextwork.network.security import two_factor
from nextwork.privacy.models import AuditEvent

pytestmark = pytest.mark.two_factor
PASSWORD = "correct horse battery staple"


def code_for(device: TOTPDevice, offset: int = 0) -> str:
    device.refresh_from_db()
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=6, drift=offset)
    return f"{value:06d}"


def login(client, member):
    response = client.post("/connexion/", {"username": member.email, "password": PASSWORD})
    assert response.status_code == 302
    return response


def enrol(client, member) -> list[str]:
    login(client, member)
    client.get("/espace/securite/double-authentification/")
    device = TOTPDevice.objects.get(user=member, confirmed=False)
    response = client.post(
        "/espace/securite/double-authentification/", {"code": code_for(device), "next": "/espace/"}
    )
    assert response.status_code == 200
    return re.findall(r"<li>([a-z0-9]{8})</li>", response.content.decode())


def test_a_coordinator_is_sent_to_enrol_and_held_there(client, people):
    login(client, people["coord75"])
    response = client.get("/espace/")
    assert response.status_code == 302
    assert response["Location"] == "/espace/securite/double-authentification/?next=%2Fespace%2F"
    assert client.get("/espace/membres/").status_code == 302
    page = client.get(response["Location"])
    body = page.content.decode()
    assert page.status_code == 200 and "<svg" in body
    device = TOTPDevice.objects.get(user=people["coord75"], confirmed=False)
    assert two_factor.secret_text(device) in body


def test_ordinary_members_and_relays_are_not_asked(client, people):
    for who in ("member", "camille"):
        c = Client()
        login(c, people[who])
        assert c.get("/espace/").status_code == 200


def test_enrolment_gives_ten_single_use_backup_codes_and_opens_the_site(client, people):
    codes = enrol(client, people["staff"])
    assert len(codes) == 10 and len(set(codes)) == 10
    assert StaticToken.objects.filter(device__user=people["staff"]).count() == 10
    assert client.get("/espace/").status_code == 200
    assert TOTPDevice.objects.get(user=people["staff"]).confirmed


def test_a_wrong_enrolment_code_is_refused_and_the_secret_kept(client, people):
    login(client, people["staff"])
    client.get("/espace/securite/double-authentification/")
    device = TOTPDevice.objects.get(user=people["staff"])
    wrong = f"{(int(code_for(device)) + 1) % 1000000:06d}"
    response = client.post("/espace/securite/double-authentification/", {"code": wrong})
    assert response.status_code == 400
    assert "Ce code n'est pas le bon" in html.unescape(response.content.decode())
    assert TOTPDevice.objects.get(user=people["staff"]).key == device.key
    assert not TOTPDevice.objects.get(user=people["staff"]).confirmed


def test_each_login_asks_for_a_code_again(people):
    first = Client()
    enrol(first, people["staff"])
    device = TOTPDevice.objects.get(user=people["staff"])
    second = Client()
    login(second, people["staff"])
    response = second.get("/espace/membres/")
    assert response["Location"] == (
        "/espace/securite/double-authentification/verifier/?next=%2Fespace%2Fmembres%2F"
    )
    before = second.session.session_key
    verified = second.post(
        "/espace/securite/double-authentification/verifier/",
        {"code": code_for(device, offset=1), "next": "/espace/membres/"},
    )
    assert verified.status_code == 302 and verified["Location"] == "/espace/membres/"
    assert second.session.session_key != before  # a new key once verified
    assert second.get("/espace/membres/").status_code == 200


def test_a_backup_code_works_once(people):
    codes = enrol(Client(), people["staff"])
    c = Client()
    login(c, people["staff"])
    url = "/espace/securite/double-authentification/verifier/"
    assert c.post(url, {"code": codes[0].upper()}).status_code == 302
    assert c.get("/espace/").status_code == 200
    d = Client()
    login(d, people["staff"])
    response = d.post(url, {"code": codes[0]})
    assert response.status_code in (400, 429)
    assert d.get("/espace/").status_code == 302
    assert StaticToken.objects.filter(device__user=people["staff"]).count() == 9


def test_wrong_codes_are_throttled(people):
    enrol(Client(), people["staff"])
    device = TOTPDevice.objects.get(user=people["staff"])
    c = Client()
    login(c, people["staff"])
    url = "/espace/securite/double-authentification/verifier/"
    wrong = f"{(int(code_for(device)) + 500000) % 1000000:06d}"
    assert c.post(url, {"code": wrong}).status_code == 400
    # At once after a failure, even the right code waits (1 s, then 2, 4…).
    response = c.post(url, {"code": code_for(device)})
    assert response.status_code == 429
    assert "Trop de codes erronés" in response.content.decode()
    assert c.get("/espace/").status_code == 302


def test_the_api_answers_two_factor_required_to_an_unverified_session(client, people):
    login(client, people["staff"])
    response = client.get("/api/v1/members")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "two_factor_required"


def test_logout_stays_open_at_the_two_factor_step(client, people):
    login(client, people["coord75"])
    assert client.post("/deconnexion/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_the_setting_turns_the_requirement_off(client, people, settings):
    settings.NEXTWORK_REQUIRE_2FA = False
    login(client, people["staff"])
    assert client.get("/espace/").status_code == 200


def test_staff_reset_a_members_second_factor_audited(people):
    coord = people["coord75"]
    held = Client()
    enrol(held, coord)
    staff = Client()
    staff.force_login(people["staff"])
    staff_session = staff.session
    staff_session[two_factor.VERIFIED_KEY] = True
    staff_session.save()
    url = f"/espace/membres/{coord.public_id}/double-authentification/"
    assert staff.get(url).status_code == 200
    assert staff.post(url).status_code == 200
    assert not TOTPDevice.objects.filter(user=coord).exists()
    assert not StaticToken.objects.filter(device__user=coord).exists()
    assert held.get("/espace/").status_code == 302  # their session ended
    event = AuditEvent.objects.get(action="auth.2fa_reset")
    assert event.actor == people["staff"] and event.details == {"member": str(coord.public_id)}


def test_only_staff_reset_it(people):
    c = Client()
    c.force_login(people["coord13"])
    session = c.session
    session[two_factor.VERIFIED_KEY] = True
    session.save()
    url = f"/espace/membres/{people['coord75'].public_id}/double-authentification/"
    assert c.post(url).status_code == 403
    assert not AuditEvent.objects.filter(action="auth.2fa_reset").exists()


def test_a_member_who_enrolled_of_their_own_accord_is_asked_too(people):
    camille = people["camille"]  # a relay: not required
    first = Client()
    login(first, camille)
    assert first.get("/espace/").status_code == 200
    enrol(first, camille)
    again = Client()
    login(again, camille)
    response = again.get("/espace/")
    assert response.status_code == 302 and "/verifier/" in response["Location"]
