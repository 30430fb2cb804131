"""Sign-up and double opt-in, with the messages read from a real SMTP server on loopback."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache

from nextwork.network.models import Consent, Member, MemberLocation
from tests import smtp

SIGNUP = {
    "email": "Camille.Martin@Example.org",
    "first_name": "Camille",
    "last_name": "Martin",
    "postcode": "48000",
    "consent_version": 1,
}


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    def send(**changes):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                "/api/v1/members", {**SIGNUP, **changes}, content_type="application/json"
            )

    return send


def test_sign_up_then_confirm_from_the_email(client, registry, inbox, post):
    response = post(phone="06 12 34 56 78")
    assert response.status_code == 201
    assert set(response.json()) == {"id"}  # nothing personal echoed
    member = Member.objects.get(email="camille.martin@example.org")
    assert str(member.public_id) == response.json()["id"]
    assert not member.is_active and member.confirmed_at is None
    assert member.phone == "+33612345678"
    location = MemberLocation.objects.get(member=member)
    assert location.constituency.code == "48-01" and location.precision == "postcode"
    consent = Consent.objects.get(member=member)
    assert consent.text.version == 1 and consent.source == "api"

    [body] = inbox.bodies("camille.martin@example.org")
    link = re.search(r"http://testserver(/confirmer/\S+/)", body).group(1)
    page = client.get(link)
    assert page.status_code == 200 and "confirmée" in page.content.decode()
    member.refresh_from_db()
    assert member.is_active and member.confirmed_at is not None
    assert client.get(link).status_code == 200  # a second click changes nothing


def test_a_known_address_creates_nothing_and_reveals_nothing(registry, inbox, post):
    first = post()
    second = post(first_name="Someone", last_name="Else")
    assert first.status_code == second.status_code == 201
    assert set(second.json()) == {"id"} and second.json()["id"] != first.json()["id"]
    assert Member.objects.filter(email="camille.martin@example.org").count() == 1
    bodies = inbox.bodies("camille.martin@example.org")
    assert len(bodies) == 2 and "déjà inscrite" in bodies[1]


def test_the_honeypot_answers_like_a_success_and_does_nothing(registry, inbox, post):
    response = post(website="http://spam.example")
    assert response.status_code == 201
    assert not Member.objects.exists() and not inbox.messages


def test_an_ambiguous_place_lists_the_candidates_then_accepts_a_choice(registry, inbox, post):
    response = post(postcode="31000")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "ambiguous_location" and error["field"] == "constituency"
    codes = [c["code"] for c in error["candidates"]]
    assert len(codes) > 1
    assert not Member.objects.exists()
    chosen = post(postcode="31000", constituency=codes[1])
    assert chosen.status_code == 201
    assert MemberLocation.objects.get().constituency.code == codes[1]
    refused = post(email="other@example.org", postcode="31000", constituency="48-01")
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "constituency"


def test_french_residents_abroad_sign_up_by_country(registry, inbox, post):
    assert post(postcode=None, country="DE").status_code == 201
    location = MemberLocation.objects.get()
    assert location.constituency.code == "99-07" and location.country.code == "DE"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"first_name": "  "}, "first_name"),
        ({"phone": "12"}, "phone"),
        ({"phone": "abc"}, "phone"),
        ({"postcode": None}, "postcode"),
        ({"postcode": "4800"}, "postcode"),
        ({"postcode": "00000"}, "postcode"),
        ({"consent_version": 99}, "consent_version"),
        ({"postcode": None, "address": "quelque part"}, "address"),
        ({"postcode": None, "country": "Atlantide"}, "country"),
        ({"email": "x" * 300 + "@example.org"}, "email"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(registry, inbox, post, changes, field):
    response = post(**changes)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field
    assert not Member.objects.exists() and not inbox.messages


def test_sign_ups_are_rate_limited(registry, inbox, post, settings):
    settings.NEXTWORK_SIGNUP_RATE = 2
    assert post(email="a@example.org").status_code == 201
    assert post(email="b@example.org").status_code == 201
    limited = post(email="c@example.org")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert not Member.objects.filter(email="c@example.org").exists()


def test_confirmation_links_cannot_be_forged(client, registry):
    response = client.get("/confirmer/not-a-token/")
    assert response.status_code == 400


def test_the_site_form_shows_the_text_and_requires_agreement(
    client, registry, inbox, django_capture_on_commit_callbacks
):
    page = client.get("/inscription/").content.decode()
    assert "Vous pouvez à tout moment consulter" in page
    form = {k: v for k, v in SIGNUP.items()}
    refused = client.post("/inscription/", form)
    assert refused.status_code == 400 and not Member.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        accepted = client.post("/inscription/", {**form, "consent": "yes"})
    assert accepted.status_code == 302
    assert Consent.objects.get().source == "site"
    assert inbox.bodies("camille.martin@example.org")


def test_a_mail_outage_does_not_lose_the_sign_up(registry, post, settings, caplog):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.free_port()  # nobody listens
    settings.EMAIL_TIMEOUT = 2
    response = post()
    assert response.status_code == 201
    assert Member.objects.filter(email="camille.martin@example.org").exists()
    assert "confirmation mail not sent" in caplog.text
    assert "camille" not in caplog.text.lower()  # the log names the record, not the address
