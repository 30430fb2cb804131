"""Messaging tests: the shared cast (tests/conftest.py) plus places, consents and an inbox."""

from __future__ import annotations

import pytest


@pytest.fixture
def place(area):
    """Put a member in a constituency (their current location)."""
    from nextwork.network.models import MemberLocation, Precision

    def put(member, code: str):
        seat = area(code)
        MemberLocation.objects.filter(member=member, valid_to__isnull=True).delete()
        return MemberLocation.objects.create(
            member=member, constituency=seat, precision=Precision.POSTCODE
        )

    return put


@pytest.fixture
def consenting():
    """Record a member's consents (email types by default)."""
    from nextwork.messaging import consent
    from nextwork.messaging.models import ConsentHow

    def give(member, channel: str = "email", types=("newsletter", "campaign", "alert")):
        for message_type in types:
            consent.consent_set(
                member=member,
                channel=channel,
                message_type=message_type,
                given=True,
                how=ConsentHow.SITE,
            )
        return member

    return give
