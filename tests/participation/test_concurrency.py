"""Many members support the same proposal at the same instant, and one member fires several
supports at once against a quota of one: the counter always equals the rows, and the quota
holds.

These tests commit for real (each thread has its own connection and transaction), so they do
not use the per-test transaction, and remove what they made.
"""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connections
from django.utils import timezone

from nextwork.common.errors import Conflict
from nextwork.network.models import Member
from nextwork.participation import services
from nextwork.participation.models import Consultation, Proposal, Support


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        now = timezone.now()
        long_ago = now - datetime.timedelta(days=90)
        members = [
            Member.objects.create_user(
                f"support{i}@example.org", is_active=True, confirmed_at=long_ago
            )
            for i in range(8)
        ]
        consultation = Consultation.objects.create(
            title="Concurrence",
            opens_at=now - datetime.timedelta(days=1),
            proposals_close_at=now + datetime.timedelta(days=1),
            closes_at=now + datetime.timedelta(days=2),
            status="published",
        )
        proposals = [
            Proposal.objects.create(
                consultation=consultation, author=members[0], title=f"P{i}", body="Texte"
            )
            for i in range(3)
        ]
        yield {"consultation": consultation, "members": members, "proposals": proposals}
        consultation.delete()
        Member.objects.filter(pk__in=[m.pk for m in members]).delete()


def _race(calls):
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def run(call):
        try:
            barrier.wait(timeout=10)
            call()
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return outcomes


def test_concurrent_supports_keep_the_counter_exact(committed, django_db_blocker):
    proposal, members = committed["proposals"][0], committed["members"]
    with django_db_blocker.unblock():
        # Every member twice: each support is counted once, the second one refused.
        calls = [
            (lambda m=m: services.support_add(proposal_id=proposal.pk, member=m))
            for m in members + members
        ]
        outcomes = _race(calls)
        assert outcomes.count("ok") == len(members)
        assert outcomes.count("conflict") == len(members)
        proposal.refresh_from_db()
        assert proposal.support_count == Support.objects.filter(proposal=proposal).count()
        assert proposal.support_count == len(members)
        # Then half withdraw while the others support again: still exact.
        calls = [
            (lambda m=m: services.support_withdraw(proposal_id=proposal.pk, member=m))
            for m in members[:4]
        ] + [
            (lambda m=m: services.support_add(proposal_id=proposal.pk, member=m))
            for m in members[4:]
        ]
        _race(calls)
        proposal.refresh_from_db()
        assert proposal.support_count == Support.objects.filter(proposal=proposal).count() == 4


def test_concurrent_supports_never_exceed_the_quota(committed, django_db_blocker):
    consultation, proposals = committed["consultation"], committed["proposals"]
    member = committed["members"][1]
    with django_db_blocker.unblock():
        Consultation.objects.filter(pk=consultation.pk).update(supports_per_member=1)
        calls = [
            (lambda p=p: services.support_add(proposal_id=p.pk, member=member)) for p in proposals
        ]
        outcomes = _race(calls)
        assert outcomes.count("ok") == 1 and outcomes.count("conflict") == 2
        assert Support.objects.filter(member=member).count() == 1
        counts = sorted(
            Proposal.objects.filter(consultation=consultation).values_list(
                "support_count", flat=True
            )
        )
        assert counts == [0, 0, 1]
