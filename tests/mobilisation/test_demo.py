"""The demo network comes with an election whose proxies went through the real services, and
nobody is mailed."""

from __future__ import annotations

import pytest
from django.core import mail

from nextwork.mobilisation.dashboard import round_table
from nextwork.mobilisation.demo import NAME
from nextwork.mobilisation.models import (
    Election,
    ProxyMatch,
    ProxyOffer,
    ProxyRequest,
    RegistrationAnswer,
    VotingSituation,
)
from nextwork.network.demo import seed_demo
from nextwork.network.models import Grant, Role

pytestmark = pytest.mark.django_db


def test_demo_seeds_an_election_with_proxies_paired_and_mails_nobody(
    registry, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        seed_demo(members=400)
    assert mail.outbox == []
    election = Election.objects.get()
    assert election.name == NAME and election.published
    first = election.rounds.get(number=1)
    assert VotingSituation.objects.count() > 300
    assert ProxyRequest.objects.count() == ProxyOffer.objects.count() == 80
    matches = ProxyMatch.objects.filter(round=first)
    statuses = set(matches.values_list("status", flat=True))
    assert {"proposed", "accepted", "declared"} <= statuses, statuses
    for match in matches.select_related("request", "offer"):
        assert match.request.member_id != match.holder_id
        assert match.request.commune in match.offer.communes.all() or match.distance_km <= 30
    staff = Grant.objects.get(role=Role.STAFF).member
    table = round_table(caller=staff, round_=first)
    assert table.totals["requests"] == 80 and table.totals["matched"] == matches.count()
    assert 0 < table.totals["reg_done"] < table.totals["reg_reminded"]
    # Seeding again replaces the demo election rather than adding a second one.
    seed_demo(members=100)
    assert Election.objects.count() == 1 and RegistrationAnswer.objects.count() <= 100
