"""An internal alert to 70,000 members (the supporters of a popular proposal) reaches exactly
those who accept it. The database reads the ids from the message's own row: bound as a list,
they exceed what a query may carry on some databases, and on PostgreSQL the same send took
5.7 minutes instead of 18 seconds (measured once, by hand; no timing is asserted here)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from nextwork.messaging import delivery
from nextwork.messaging.models import ConsentState, Delivery, Message
from nextwork.messaging.services import notify
from nextwork.network.models import Member

pytestmark = pytest.mark.django_db

MANY = 70_000  # above the 65,535 bound parameters of a PostgreSQL query


def test_notify_reaches_more_members_than_query_parameters(django_capture_on_commit_callbacks):
    now = timezone.now()
    Member.objects.bulk_create(
        [
            Member(email=f"many{i}@example.org", password="!", is_active=True, confirmed_at=now)
            for i in range(MANY)
        ],
        batch_size=5000,
    )
    ids = list(Member.objects.filter(email__startswith="many").values_list("pk", flat=True))
    # Every second member accepts alerts.
    ConsentState.objects.bulk_create(
        [
            ConsentState(member_id=pk, channel="email", message_type="alert", given=True)
            for pk in ids[::2]
        ],
        batch_size=5000,
    )
    message = notify(key="many", members=ids, subject="Alerte", body="Bonjour")
    assert message is not None
    delivery.materialise(Message.objects.get(pk=message.pk))
    reached = set(Delivery.objects.filter(message=message).values_list("member_id", flat=True))
    assert reached == set(ids[::2])
