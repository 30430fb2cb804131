"""The demo network comes with a consultation whose counters agree with its rows."""

from __future__ import annotations

import pytest

from nextwork.network.demo import seed_demo
from nextwork.participation import selectors
from nextwork.participation.models import Consultation, NewsItem, ProgrammeVersion, Proposal

pytestmark = pytest.mark.django_db


def test_demo_seeds_a_consistent_consultation(registry):
    seed_demo(members=300)
    consultation = Consultation.objects.get()
    proposals = Proposal.objects.filter(consultation=consultation)
    assert proposals.count() == 8
    for proposal in proposals:
        assert proposal.support_count == proposal.supports.count()
        assert proposal.comment_count == proposal.comments.count()
        assert proposal.follower_count == proposal.follows.count()
    merged = proposals.get(merged_into__isnull=False)
    assert merged.support_count == 0
    listed, total = selectors.proposals_list(consultation, viewer=None, query="cantines")
    assert total == 1 and listed[0].answer_status == "accepted"
    assert NewsItem.objects.count() == 1
    (version,) = ProgrammeVersion.objects.all()
    linked = [p["id"] for c in version.snapshot["chapters"] for m in c["measures"]
              for p in m["proposals"]]  # fmt: skip
    assert linked == [listed[0].pk]
    # Seeding again replaces the demo's consultation rather than adding a second one.
    seed_demo(members=100)
    assert Consultation.objects.count() == 1 and NewsItem.objects.count() == 1
    assert Proposal.objects.filter(author__isnull=True).count() == 0
