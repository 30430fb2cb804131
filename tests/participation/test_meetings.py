"""Relays bring members' proposals to their meeting with their representative: who may, when,
which proposals, and what the pages show."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from nextwork.campaigns import services as campaigns
from nextwork.campaigns.models import Assignment
from nextwork.common.errors import Conflict, Forbidden, NotFound
from nextwork.participation import meetings, moderation, services
from nextwork.participation.models import Consultation, MeetingProposal, Proposal

pytestmark = pytest.mark.django_db


@pytest.fixture
def paris_day(people, area, make_member):
    """An open action day in Paris: Camille relays 75-02, Noé relays 75-03."""
    from nextwork.network.models import Grant, Role

    noe = make_member("Noé")
    Grant.objects.create(member=noe, role=Role.RELAY, area=area("75-03"))
    campaign = campaigns.campaign_create(
        data=campaigns.CampaignIn(
            title="Journée de l'école",
            starts_at=timezone.now() + datetime.timedelta(days=7),
            departments=["75"],
        ),
        by=people["staff"],
    )
    campaigns.campaign_open(campaign=campaign, by=people["staff"])
    campaign.refresh_from_db()
    mine = Assignment.objects.get(campaign=campaign, area__code="75-02")
    other = Assignment.objects.get(campaign=campaign, area__code="75-03")
    assert mine.relay == people["camille"] and other.relay == noe
    return {"campaign": campaign, "mine": mine, "other": other, "noe": noe}


def test_the_relay_attaches_and_detaches_a_proposal(paris_day, people, old_member, propose):
    proposal = propose(old_member(), area_code="75-02")
    camille = people["camille"]
    row = meetings.meeting_attach(
        assignment_id=paris_day["mine"].pk, proposal_id=str(proposal.pk), by=camille
    )
    assert row.attached_by == camille
    assert [p.pk for p in meetings.attached(paris_day["mine"])] == [proposal.pk]
    with pytest.raises(Conflict):
        meetings.meeting_attach(
            assignment_id=paris_day["mine"].pk, proposal_id=proposal.pk, by=camille
        )
    meetings.meeting_detach(assignment_id=paris_day["mine"].pk, proposal_id=proposal.pk, by=camille)
    assert not MeetingProposal.objects.exists()
    with pytest.raises(NotFound):
        meetings.meeting_detach(
            assignment_id=paris_day["mine"].pk, proposal_id=proposal.pk, by=camille
        )


@pytest.mark.parametrize("who", ["noe", "member", "staff", "coord75"])
def test_only_the_assignment_s_relay_may_attach(paris_day, people, old_member, propose, who):
    proposal = propose(old_member())
    by = paris_day["noe"] if who == "noe" else people[who]
    with pytest.raises(Forbidden):
        meetings.meeting_attach(assignment_id=paris_day["mine"].pk, proposal_id=proposal.pk, by=by)
    assert not MeetingProposal.objects.exists()


def test_nothing_changes_once_the_campaign_is_closed(paris_day, people, old_member, propose):
    proposal = propose(old_member())
    camille = people["camille"]
    meetings.meeting_attach(assignment_id=paris_day["mine"].pk, proposal_id=proposal.pk, by=camille)
    campaigns.campaign_close(campaign=paris_day["campaign"], by=people["staff"])
    other = propose(old_member("Autre"), title="Autre", body="Autre texte")
    with pytest.raises(Conflict):
        meetings.meeting_attach(
            assignment_id=paris_day["mine"].pk, proposal_id=other.pk, by=camille
        )
    with pytest.raises(Conflict):
        meetings.meeting_detach(
            assignment_id=paris_day["mine"].pk, proposal_id=proposal.pk, by=camille
        )
    assert MeetingProposal.objects.count() == 1


def test_only_public_unmerged_proposals_are_carried(
    paris_day, people, old_member, make_member, propose
):
    camille, staff = people["camille"], people["staff"]
    assignment = paris_day["mine"].pk
    hidden = propose(old_member("H"), title="Masquée", body="Texte masqué")
    moderation.moderate(kind="proposal", target_id=hidden.pk, action="hide", reason="x", by=staff)
    held = propose(make_member("Neuf"), title="Retenue", body="http://a.x http://b.x http://c.x")
    target = propose(old_member("T"), title="Cible", body="La bonne")
    double = propose(old_member("D"), title="Doublon", body="Le doublon")
    services.proposal_merge(source_id=double.pk, target_id=target.pk, by=staff)
    for proposal_id, error in ((hidden.pk, NotFound), (held.pk, NotFound), (999999, NotFound)):
        with pytest.raises(error):
            meetings.meeting_attach(assignment_id=assignment, proposal_id=proposal_id, by=camille)
    with pytest.raises(Conflict):
        meetings.meeting_attach(assignment_id=assignment, proposal_id=double.pk, by=camille)
    draft = Consultation.objects.create(
        title="Brouillon",
        opens_at=timezone.now() - datetime.timedelta(days=1),
        proposals_close_at=timezone.now() + datetime.timedelta(days=1),
        closes_at=timezone.now() + datetime.timedelta(days=2),
        status="draft",
    )
    unpublished = Proposal.objects.create(
        consultation=draft, author=old_member("B"), title="Dans un brouillon", body="x"
    )
    with pytest.raises(NotFound):
        meetings.meeting_attach(assignment_id=assignment, proposal_id=unpublished.pk, by=camille)
    assert not MeetingProposal.objects.exists()


def test_local_proposals_are_suggested(paris_day, people, old_member, propose, area, settings):
    from nextwork.territories.models import AreaKind

    settings.NEXTWORK_PROPOSALS_PER_HOUR = 50
    author = old_member()
    here = propose(author, title="Ici", body="Dans la 2e", area_code="75-02")
    elsewhere = propose(author, title="Ailleurs", body="À Marseille", area_code="13-01")
    national = propose(author, title="Partout", body="Sans territoire")
    paris = Consultation.objects.create(
        title="Paris",
        area=area("75", AreaKind.DEPARTMENT),
        opens_at=timezone.now() - datetime.timedelta(days=1),
        proposals_close_at=timezone.now() + datetime.timedelta(days=1),
        closes_at=timezone.now() + datetime.timedelta(days=2),
        status="published",
    )
    in_paris = propose(people["staff"], title="Pour Paris", body="Paris", consultation=paris)
    suggested = {p.pk for p in meetings.local_proposals(paris_day["mine"])}
    assert suggested == {here.pk, in_paris.pk}
    assert elsewhere.pk not in suggested and national.pk not in suggested
    meetings.meeting_attach(
        assignment_id=paris_day["mine"].pk, proposal_id=here.pk, by=people["camille"]
    )
    assert {p.pk for p in meetings.local_proposals(paris_day["mine"])} == {in_paris.pk}


def test_the_assignment_page_lists_suggests_and_attaches(
    client, paris_day, people, old_member, propose
):
    proposal = propose(old_member(), title="Une idée du quartier", area_code="75-02")
    url = f"/espace/actions/{paris_day['mine'].pk}/"
    client.force_login(people["camille"])
    page = client.get(url).content.decode()
    assert "Propositions des membres à porter" in page and "Une idée du quartier" in page
    response = client.post(
        f"{url}propositions/", {"action": "attach", "proposal": str(proposal.pk)}
    )
    assert response.status_code == 302 and response["Location"] == f"{url}#propositions"
    assert MeetingProposal.objects.filter(proposal=proposal).exists()
    bad = client.post(f"{url}propositions/", {"action": "attach", "proposal": "abc"}, follow=True)
    assert "Indiquez le numéro de la proposition" in bad.content.decode()
    # The proposal's page tells where it was carried.
    detail = client.get(f"/propositions/{proposal.pk}/").content.decode()
    assert "Portée lors de la rencontre avec" in detail and "Journée de l&#x27;école" in detail
    assert paris_day["mine"].mandate.full_name in detail


def test_others_cannot_attach_through_the_page(client, paris_day, people, old_member, propose):
    proposal = propose(old_member())
    url = f"/espace/actions/{paris_day['mine'].pk}/propositions/"
    assert client.post(url, {"proposal": proposal.pk}).status_code == 302  # to the login page
    for member in (people["member"], paris_day["noe"]):
        client.force_login(member)
        assert client.post(url, {"proposal": proposal.pk}).status_code == 403
    assert not MeetingProposal.objects.exists()
    # The coordinator reads the assignment page, without the form.
    client.force_login(people["coord75"])
    page = client.get(f"/espace/actions/{paris_day['mine'].pk}/").content.decode()
    assert "Propositions des membres à porter" not in page
