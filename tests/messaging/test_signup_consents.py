"""Consents recorded at sign-up: email for the sign-up types (effective once confirmed), SMS only
with the optional box and a phone; and the migration giving them to members who signed up
before messaging existed."""

from __future__ import annotations

import datetime
import importlib

import pytest
from django.apps import apps
from django.core.cache import cache
from django.utils import timezone

from nextwork.messaging import consent
from nextwork.messaging.models import ConsentEvent, ConsentState
from nextwork.network.models import Consent, ConsentText, Member
from nextwork.network.signup import confirmation_token, member_confirm

SIGNUP = {
    "email": "ines.signup@example.org",
    "first_name": "Inès",
    "last_name": "Signup",
    "postcode": "48000",
    "consent_version": 1,
}


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def register(client, registry, django_capture_on_commit_callbacks):
    def send(**changes):
        with django_capture_on_commit_callbacks(execute=False):
            return client.post(
                "/api/v1/members", {**SIGNUP, **changes}, content_type="application/json"
            )

    return send


def events(member):
    return sorted(
        ConsentEvent.objects.filter(member=member).values_list(
            "channel", "message_type", "how", "text__kind"
        )
    )


def test_sign_up_gives_the_email_consents_effective_once_confirmed(register):
    assert register().status_code == 201
    member = Member.objects.get(email=SIGNUP["email"])
    assert events(member) == [
        ("email", t, "signup", "signup") for t in sorted(consent.SIGNUP_EMAIL_TYPES)
    ]
    signup_text = Consent.objects.get(member=member).text
    assert set(ConsentEvent.objects.filter(member=member).values_list("text", flat=True)) == {
        signup_text.pk
    }
    assert not consent.may_receive(member.pk, "email", "newsletter")  # not confirmed yet
    member_confirm(token=confirmation_token(member))
    assert consent.may_receive(member.pk, "email", "newsletter")
    assert not consent.may_receive(member.pk, "email", "community")  # not in the sign-up text
    assert not consent.may_receive(member.pk, "sms", "alert")


def test_a_phone_alone_gives_no_sms_consent(register):
    assert register(phone="06 12 34 56 78").status_code == 201
    member = Member.objects.get(email=SIGNUP["email"])
    assert not ConsentEvent.objects.filter(member=member, channel="sms").exists()


def test_the_sms_box_with_a_phone_gives_the_sms_consents(register):
    assert register(phone="06 12 34 56 78", sms_opt_in=True).status_code == 201
    member = Member.objects.get(email=SIGNUP["email"])
    sms = [e for e in events(member) if e[0] == "sms"]
    assert sms == [("sms", t, "api", "sms") for t in sorted(consent.SMS_TYPES)]
    member_confirm(token=confirmation_token(member))
    assert consent.may_receive(member.pk, "sms", "alert")


def test_the_sms_box_without_a_phone_is_refused_by_name(register):
    response = register(sms_opt_in=True)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "sms_opt_in"
    assert not Member.objects.filter(email=SIGNUP["email"]).exists()


def test_the_sign_up_form_has_an_unticked_sms_box(client, registry):
    html = client.get("/inscription/").content.decode()
    assert 'name="sms_opt_in">' in html  # present, and not checked
    form = {
        **SIGNUP,
        "phone": "06 12 34 56 78",
        "consent": "yes",
        "sms_opt_in": "on",
        "email": "form.signup@example.org",
    }
    response = client.post("/inscription/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    member = Member.objects.get(email="form.signup@example.org")
    assert ("sms", "alert", "site", "sms") in events(member)
    form.pop("phone")
    form["email"] = "form.nophone@example.org"
    response = client.post("/inscription/", form)
    assert response.status_code == 400
    assert 'id="e-sms_opt_in"' in response.content.decode()


# -- the data migration ---------------------------------------------------------------------------


def test_the_migration_gives_earlier_members_their_sign_up_consents(make_member):
    migration = importlib.import_module("nextwork.messaging.migrations.0002_signup_consents")
    text = ConsentText.objects.get(kind="signup", version=1)
    long_ago = timezone.now() - datetime.timedelta(days=400)
    early, revoked, answered, imported, none = (make_member(n) for n in "ABCDE")
    Consent.objects.create(member=early, text=text, source="site", given_at=long_ago)
    Consent.objects.create(
        member=early, text=text, source="site", given_at=long_ago + datetime.timedelta(days=9)
    )
    Consent.objects.create(member=revoked, text=text, source="site", revoked_at=timezone.now())
    Consent.objects.create(member=answered, text=text, source="api")
    Consent.objects.create(member=imported, text=text, source="import")
    consent.consent_set(
        member=answered, channel="email", message_type="newsletter", given=False, how="site"
    )

    migration.give_signup_consents(apps, None)
    migration.give_signup_consents(apps, None)  # twice: nothing more

    assert [e[:3] for e in events(early)] == [
        ("email", t, "signup") for t in sorted(consent.SIGNUP_EMAIL_TYPES)
    ]
    assert set(ConsentEvent.objects.filter(member=early).values_list("at", flat=True)) == {long_ago}
    assert ConsentState.objects.get(member=early, message_type="alert").updated_at == long_ago
    assert not ConsentEvent.objects.filter(member__in=[revoked, none]).exists()
    assert not consent.may_receive(answered.pk, "email", "newsletter")  # their answer stands
    assert consent.may_receive(answered.pk, "email", "alert")
    assert {e[2] for e in events(imported)} == {"import"}
    assert not ConsentEvent.objects.filter(channel="sms").exists()
