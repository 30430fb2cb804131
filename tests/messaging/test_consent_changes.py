"""SMS consent belongs to a number; a STOP is lifted only by the member asking again."""

from __future__ import annotations

import pytest

from nextwork.messaging import consent
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


def test_asking_again_lifts_a_stop_but_never_a_bounce(texter):
    consent.withdraw_all(member=texter, channel="sms", how=ConsentHow.SMS_STOP)
    consent.suppress(channel="sms", address=PHONE, reason="stop", source="twilio")
    consent.consent_set(
        member=texter, channel="sms", message_type="alert", given=True, how=ConsentHow.SITE
    )
    assert not consent.is_suppressed("sms", PHONE)
    # An email that bounced stays suppressed whatever the member asks.
    consent.suppress(channel="email", address=texter.email, reason="bounce")
    consent.consent_set(
        member=texter, channel="email", message_type="newsletter", given=True, how=ConsentHow.SITE
    )
    assert consent.is_suppressed("email", texter.email)
