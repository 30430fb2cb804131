"""Representatives' engagement: interactions, responsiveness, positions with a written formula."""

from __future__ import annotations

import datetime
from collections import Counter

import pytest
from django.utils import timezone

from nextwork.campaigns import engagement, services
from nextwork.campaigns.models import Assignment


def test_the_support_index_follows_its_written_formula():
    assert engagement.support_index(Counter()) is None
    assert engagement.support_index(Counter({"unknown": 4})) is None
    assert engagement.support_index(Counter({"supports": 3, "opposes": 1})) == 0.5
    assert engagement.support_index(Counter({"supports": 1, "neutral": 2, "opposes": 1})) == 0.0
    assert engagement.support_index(Counter({"opposes": 2, "unknown": 5})) == -1.0
    assert engagement.FORMULA.startswith("(favorables − opposés)")


@pytest.fixture
def met(opened, people):
    campaign, _ = opened
    mine = Assignment.objects.get(campaign=campaign, area__code="75-02")
    camille = people["camille"]
    services.checklist_update(
        assignment=mine, by=camille, data=services.ChecklistIn(requested=True)
    )
    Assignment.objects.filter(pk=mine.pk).update(
        requested_at=timezone.now() - datetime.timedelta(days=4)
    )
    services.checklist_update(
        assignment=mine, by=camille, data=services.ChecklistIn(outcome="held")
    )
    topic = campaign.topics.first()
    services.report_submit(
        assignment=mine,
        by=camille,
        data=services.ReportIn(
            visibility="internal",
            positions=[services.PositionIn(topic.pk, "supports", "Je soutiens", "Prudente")],
        ),
    )
    return mine


@pytest.mark.parametrize(("who", "status"), [("coord13", 404), ("camille", 403), ("staff", 200)])
def test_the_representative_page_within_grants(client, people, met, who, status):
    client.force_login(people[who])
    response = client.get(f"/espace/elus/assembly/{met.person_id}/")
    assert response.status_code == status


def test_the_representative_page_shows_responsiveness_and_positions(client, people, met):
    client.force_login(people["coord75"])
    page = client.get(f"/espace/elus/assembly/{met.person_id}/").content.decode()
    assert "100 %" in page and "(1 sur 1)" in page  # one request, answered
    assert "4.0 j" in page or "4,0 j" in page  # the median delay, in days
    assert "Je soutiens" in page and "Compte rendu interne" in page


def test_positions_by_group_and_department_with_the_formula(client, people, met):
    client.force_login(people["staff"])
    page = client.get(f"/espace/campagnes/{met.campaign_id}/positions/").content.decode()
    assert "(favorables − opposés) / (favorables + neutres + opposés)" in page
    assert met.mandate.group in page and '<span class="code">75</span>' in page
    assert "1,00" in page or "1.00" in page
