"""Several members answer for the last seats at the same instant: no more are ``going`` than
there are seats, the others wait, and nothing is half-written.

This test commits for real (each thread has its own connection and transaction), so it does
not use the per-test transaction, and removes what it made.
"""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connections
from django.utils import timezone

from nextwork.events import services
from nextwork.events.models import Event, Rsvp, RsvpStatus
from nextwork.network.models import Member
from nextwork.territories.models import Area, AreaKind


@pytest.fixture
def committed(django_db_setup, django_db_blocker, request):
    seats, people = request.param
    with django_db_blocker.unblock():
        seat = Area.objects.select_related("parent").get(
            boundary_set__active=True, kind=AreaKind.CONSTITUENCY, code="48-01"
        )
        now = timezone.now()
        members = [
            Member.objects.create_user(f"seat{i}@example.org", is_active=True, confirmed_at=now)
            for i in range(people)
        ]
        start = now + datetime.timedelta(days=3)
        event = Event.objects.create(
            title="Dernière place",
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
            address="48000 Mende",
            constituency=seat,
            department=seat.parent,
            precision="postcode",
            capacity=seats,
        )
        yield {"event": event, "members": members, "seats": seats}
        event.delete()
        Member.objects.filter(pk__in=[m.pk for m in members]).delete()


@pytest.mark.parametrize("committed", [(1, 2), (2, 5)], indirect=True, ids=["1-of-2", "2-of-5"])
def test_concurrent_answers_never_overbook(committed, django_db_blocker):
    event, members = committed["event"], committed["members"]
    barrier = threading.Barrier(len(members))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def rsvp(member):
        try:
            barrier.wait(timeout=10)
            answer, _created = services.rsvp_set(event=event.pk, member=member, going=True)
            outcomes.append(answer.status)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        threads = [threading.Thread(target=rsvp, args=(m,)) for m in members]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        seats = committed["seats"]
        assert sorted(outcomes) == sorted(
            [RsvpStatus.GOING] * seats + [RsvpStatus.WAITING] * (len(members) - seats)
        )
        stored = list(Rsvp.objects.filter(event=event).values_list("status", flat=True))
        assert stored.count(RsvpStatus.GOING) == seats
        assert len(stored) == len(members)
