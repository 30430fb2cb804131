"""SMS consent belongs to a number (a changed number, from the profile, the admin or an import,
withdraws it); a STOP is lifted only by the member asking again, logged in."""

from __future__ import annotations

import pytest

from nextwork.common.errors import InvalidInput
from nextwork.messaging import consent, preferences
from nextwork.messaging.models import ConsentEvent, ConsentHow
from nextwork.network.signup import member_update_profile

PHONE, OTHER = "+33612345678", "+33698765432"


@pytest.fixture
def texter(make_member, consenting):
    member = make_member("Camille")
    member.phone = PHONE
    member.save(update_fields=["phone"])
    return consenting(member, channel="sms", types=("campaign", "alert"))


def _update(member, phone):
    return member_update_profile(
        member=member,
        first_name=member.first_name,
        last_name=member.last_name,
        phone=phone,
        public_relay=False,
    )


def test_a_new_number_must_be_opted_in_again(texter):
    _update(texter, "06 12 34 56 78")  # the same number, written otherwise: nothing changes
    assert consent.may_receive(texter.pk, "sms", "alert")
    _update(texter, OTHER)
    assert not consent.may_receive(texter.pk, "sms", "alert")
    assert not consent.may_receive(texter.pk, "sms", "campaign")
    withdrawn = ConsentEvent.objects.filter(member=texter, channel="sms", given=False)
    assert withdrawn.count() == 2


def test_a_profile_change_is_written_as_the_members_own(texter):
    _update(texter, OTHER)
    hows = set(
        ConsentEvent.objects.filter(member=texter, channel="sms", given=False).values_list(
            "how", flat=True
        )
    )
    assert hows == {ConsentHow.SITE}
    _update(texter, "")  # removing the number: nothing left to withdraw, nothing written
    assert ConsentEvent.objects.filter(member=texter, channel="sms", given=False).count() == 2


def test_a_number_changed_in_the_admin_is_opted_in_again(client, texter, make_member):
    from nextwork.network.models import Grant, Role

    admin = make_member("Admin")
    admin.is_staff = admin.is_superuser = True
    admin.save(update_fields=["is_staff", "is_superuser"])
    Grant.objects.create(member=admin, role=Role.STAFF)
    client.force_login(admin)
    url = f"/admin/network/member/{texter.pk}/change/"
    form = {
        "email": texter.email,
        "first_name": texter.first_name,
        "last_name": texter.last_name,
        "phone": PHONE,
        "is_active": "on",
        "confirmed_at_0": texter.confirmed_at.strftime("%Y-%m-%d"),
        "confirmed_at_1": texter.confirmed_at.strftime("%H:%M:%S"),
    }
    assert client.post(url, form).status_code == 302  # the same number: nothing changes
    assert consent.may_receive(texter.pk, "sms", "alert")
    response = client.post(url, {**form, "phone": OTHER})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not consent.may_receive(texter.pk, "sms", "alert")
    hows = ConsentEvent.objects.filter(member=texter, channel="sms", given=False)
    assert set(hows.values_list("how", flat=True)) == {ConsentHow.STAFF}


def test_an_import_that_brings_another_number_withdraws_sms(registry, texter):
    from nextwork.network.imports import import_members

    def row(phone):
        return (
            "Courriel;Prénom;Nom;Code postal;Téléphone\r\n"
            f"{texter.email};{texter.first_name};{texter.last_name};48000;{phone}\r\n"
        ).encode()

    import_members(row(""))  # an empty cell keeps the number
    import_members(row("06 12 34 56 78"))  # the same number
    assert consent.may_receive(texter.pk, "sms", "alert")
    import_members(row("06 98 76 54 32"))
    texter.refresh_from_db()
    assert texter.phone == OTHER
    assert not consent.may_receive(texter.pk, "sms", "alert")
    hows = ConsentEvent.objects.filter(member=texter, channel="sms", given=False)
    assert set(hows.values_list("how", flat=True)) == {ConsentHow.IMPORT}
    assert hows.count() == 2


def _stopped(member):
    consent.withdraw_all(member=member, channel="sms", how=ConsentHow.SMS_STOP)
    consent.suppress(channel="sms", address=PHONE, reason="stop", source="twilio")


def test_asking_again_logged_in_lifts_a_stop(texter):
    _stopped(texter)
    # Recording a consent alone lifts nothing (a sign-up form records how=site too)…
    consent.consent_set(
        member=texter, channel="sms", message_type="alert", given=True, how=ConsentHow.SITE
    )
    assert consent.is_suppressed("sms", PHONE)
    # …the member's own opt-in on the preferences page, logged in, does.
    preferences.preferences_update(member=texter, consents={("sms", "campaign"): True})
    assert not consent.is_suppressed("sms", PHONE)
    assert consent.may_receive(texter.pk, "sms", "campaign")


def test_the_emailed_link_never_lifts_a_stop(texter):
    _stopped(texter)
    with pytest.raises(InvalidInput):
        preferences.preferences_update(
            member=texter, consents={("sms", "alert"): True}, may_give=False
        )
    assert consent.is_suppressed("sms", PHONE)


@pytest.mark.parametrize("reason", ["bounce", "complaint", "manual"])
def test_a_bounce_or_complaint_is_never_lifted(texter, reason):
    consent.withdraw_all(member=texter, channel="sms", how=ConsentHow.SITE)
    consent.suppress(channel="sms", address=PHONE, reason=reason)
    preferences.preferences_update(member=texter, consents={("sms", "alert"): True})
    assert consent.is_suppressed("sms", PHONE)
    # Email suppressions neither.
    consent.suppress(channel="email", address=texter.email, reason="bounce")
    preferences.preferences_update(member=texter, consents={("email", "community"): True})
    assert consent.is_suppressed("email", texter.email)


def test_a_sign_up_with_a_stopped_number_does_not_lift_the_stop(client, registry):
    from django.core.cache import cache

    cache.clear()
    consent.suppress(channel="sms", address=PHONE, reason="stop", source="twilio")
    form = {
        "email": "stranger@example.org",
        "first_name": "Quelqu'un",
        "last_name": "D'autre",
        "postcode": "48000",
        "consent_version": 1,
        "consent": "yes",
        "phone": "06 12 34 56 78",  # someone else's number, typed by anyone
        "sms_opt_in": "on",
    }
    assert client.post("/inscription/", form).status_code == 302
    assert consent.is_suppressed("sms", PHONE)
