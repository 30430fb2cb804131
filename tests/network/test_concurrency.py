"""Two coordinators approve two candidates for the same seat at the same instant: the database
lets exactly one win; the other gets a clear conflict, and nothing is half-written.

This test commits for real (each thread has its own connection and transaction), so it does
not use the per-test transaction, and removes what it made.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from django.utils import timezone

from nextwork.common.errors import Conflict
from nextwork.network import services
from nextwork.network.models import ApplicationStatus, Grant, Member, RelayApplication, Role
from nextwork.territories.models import Area, AreaKind

SEAT = "01-01"


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        seat = Area.objects.get(boundary_set__active=True, kind=AreaKind.CONSTITUENCY, code=SEAT)
        now = timezone.now()
        people = [
            Member.objects.create_user(f"race{i}@example.org", is_active=True, confirmed_at=now)
            for i in range(4)
        ]
        for decider in people[2:]:
            Grant.objects.create(member=decider, role=Role.STAFF)
        applications = [
            RelayApplication.objects.create(member=person, area=seat) for person in people[:2]
        ]
        yield {"applications": applications, "deciders": people[2:]}
        Member.objects.filter(pk__in=[p.pk for p in people]).delete()


def test_concurrent_approvals_one_wins_one_is_told(committed, django_db_blocker):
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(application, decider):
        try:
            barrier.wait(timeout=10)
            services.application_decide(application=application, decided_by=decider, approve=True)
            outcomes.append("approved")
        except Conflict as exc:
            outcomes.append(f"conflict: {exc.message}")
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        threads = [
            threading.Thread(target=approve, args=pair)
            for pair in zip(committed["applications"], committed["deciders"], strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(o.split(":")[0] for o in outcomes) == ["approved", "conflict"]
        assert any("already has a titular relay" in o for o in outcomes)
        current = Grant.objects.filter(
            area__code=SEAT, area__boundary_set__active=True, role=Role.RELAY, valid_to__isnull=True
        )
        assert current.count() == 1
        statuses = sorted(
            RelayApplication.objects.filter(
                pk__in=[a.pk for a in committed["applications"]]
            ).values_list("status", flat=True)
        )
        # The loser's application is still pending: its decision was rolled back whole.
        assert statuses == [ApplicationStatus.APPROVED, ApplicationStatus.PENDING]
