"""Proposals, supports, comments, follows, merges and answers: the services' promises."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from nextwork.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from nextwork.messaging.models import ConsentEvent, ConsentState, Message, MessageType
from nextwork.messaging.services import INTERNAL_KEY
from nextwork.participation import selectors, services
from nextwork.participation.models import (
    AnswerStatus,
    Follow,
    Proposal,
    ProposalVersion,
    State,
    Support,
)
from nextwork.privacy.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_a_proposal_is_public_and_followed_by_its_author(propose, old_member):
    author = old_member()
    proposal = propose(author)
    assert proposal.state == State.PUBLISHED
    assert Follow.objects.filter(proposal=proposal, member=author).exists()
    assert Proposal.objects.get(pk=proposal.pk).follower_count == 1
    state = ConsentState.objects.get(member=author, message_type=MessageType.PARTICIPATION)
    event = ConsentEvent.objects.get(member=author, message_type=MessageType.PARTICIPATION)
    assert state.given and event.text.kind == "participation"


def test_unconfirmed_members_cannot_propose_support_or_comment(propose, make_member, old_member):
    stranger = make_member("Noa", confirmed=False)
    with pytest.raises(Forbidden, match="confirmed email"):
        propose(stranger)
    proposal = propose(old_member())
    with pytest.raises(Forbidden, match="confirmed email"):
        services.support_add(proposal_id=proposal.pk, member=stranger)
    with pytest.raises(Forbidden, match="confirmed email"):
        services.comment_add(proposal=proposal, author=stranger, body="Bien vu")


@pytest.mark.parametrize(
    ("title", "body", "field", "message"),
    [
        ("", "texte", "title", "title is required"),
        ("Titre", "", "body", "body is required"),
        ("T" * 201, "texte", "title", "at most 200"),
        ("Titre", "x" * 10_001, "body", "at most 10,000"),
        ("Titre", "nul\x00", "body", "NUL"),
    ],
)
def test_bad_proposals_are_refused_by_field(propose, old_member, title, body, field, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        propose(old_member(), title=title, body=body)
    assert caught.value.field == field
    assert not Proposal.objects.exists()


def test_proposals_only_in_their_phase(consultation, propose, old_member):
    now = timezone.now()
    consultation.opens_at = now + datetime.timedelta(days=1)
    consultation.proposals_close_at = now + datetime.timedelta(days=2)
    consultation.save()
    with pytest.raises(Conflict, match="opens on"):
        propose(old_member())
    consultation.opens_at = now - datetime.timedelta(days=3)
    consultation.proposals_close_at = now - datetime.timedelta(days=1)
    consultation.save()
    with pytest.raises(Conflict, match="time for proposals is over"):
        propose(old_member())


def test_support_once_withdraw_and_counters(propose, old_member):
    proposal = propose(old_member())
    fan = old_member("Fan")
    assert services.support_add(proposal_id=proposal.pk, member=fan).support_count == 1
    with pytest.raises(Conflict, match="already support"):
        services.support_add(proposal_id=proposal.pk, member=fan)
    assert Support.objects.filter(proposal=proposal).count() == 1
    assert services.support_withdraw(proposal_id=proposal.pk, member=fan).support_count == 0
    with pytest.raises(Conflict, match="do not support"):
        services.support_withdraw(proposal_id=proposal.pk, member=fan)
    assert Proposal.objects.get(pk=proposal.pk).support_count == 0


def test_no_support_after_closing(consultation, propose, old_member):
    proposal = propose(old_member())
    consultation.proposals_close_at = consultation.opens_at
    consultation.closes_at = timezone.now() - datetime.timedelta(minutes=1)
    consultation.save()
    with pytest.raises(Conflict, match="closed"):
        services.support_add(proposal_id=proposal.pk, member=old_member("Late"))
    assert Proposal.objects.get(pk=proposal.pk).support_count == 0


def test_support_quota(consultation, propose, old_member):
    consultation.supports_per_member = 1
    consultation.save()
    first, second = propose(old_member(), title="Un"), propose(old_member(), title="Deux")
    fan = old_member("Fan")
    services.support_add(proposal_id=first.pk, member=fan)
    with pytest.raises(Conflict, match="used your 1 supports"):
        services.support_add(proposal_id=second.pk, member=fan)
    services.support_withdraw(proposal_id=first.pk, member=fan)
    services.support_add(proposal_id=second.pk, member=fan)


def test_territorial_consultation_is_for_its_residents(people, area, old_member, consultation):
    from nextwork.network.models import MemberLocation
    from nextwork.territories.models import AreaKind

    consultation.area = area("13", AreaKind.DEPARTMENT)
    consultation.save()
    local, far = old_member("Marseillais"), old_member("Parisien")
    seat13 = area("13-01")
    MemberLocation.objects.create(member=local, constituency=seat13, precision="postcode")
    MemberLocation.objects.create(member=far, constituency=area("75-02"), precision="postcode")
    proposal = services.proposal_submit(
        consultation=consultation, author=local, title="Le port", body="Un port ouvert."
    )
    with pytest.raises(Forbidden, match="living in Bouches-du-Rhône"):
        services.proposal_submit(consultation=consultation, author=far, title="A", body="B")
    with pytest.raises(Forbidden, match="living in"):
        services.support_add(proposal_id=proposal.pk, member=far)


def test_edits_within_the_window_replace_after_it_version(propose, old_member):
    author = old_member()
    proposal = propose(author)
    services.proposal_edit(proposal=proposal, by=author, title="Cantines bio", body="Bio.")
    assert not ProposalVersion.objects.filter(proposal=proposal).exists()
    Proposal.objects.filter(pk=proposal.pk).update(
        created_at=timezone.now() - datetime.timedelta(hours=2)
    )
    proposal.refresh_from_db()
    services.proposal_edit(proposal=proposal, by=author, title="Cantines bio", body="Bio local.")
    proposal.refresh_from_db()
    assert proposal.version == 2 and proposal.body == "Bio local."
    (old,) = ProposalVersion.objects.filter(proposal=proposal)
    assert (old.version, old.body) == (1, "Bio.")
    with pytest.raises(Forbidden, match="author"):
        services.proposal_edit(proposal=proposal, by=old_member("Other"), title="x", body="y")


def test_comments_one_level_edit_and_delete_keep_the_thread(propose, old_member):
    proposal = propose(old_member())
    ana, bob = old_member("Ana"), old_member("Bob")
    top = services.comment_add(proposal=proposal, author=ana, body="Oui !")
    reply = services.comment_add(proposal=proposal, author=bob, body="Non.", parent_id=top.pk)
    deeper = services.comment_add(proposal=proposal, author=ana, body="Si.", parent_id=reply.pk)
    assert reply.parent_id == top.pk and deeper.parent_id == top.pk
    assert Proposal.objects.get(pk=proposal.pk).comment_count == 3
    with pytest.raises(Forbidden):
        services.comment_edit(comment_id=top.pk, by=bob, body="pirate")
    services.comment_edit(comment_id=top.pk, by=ana, body="Oui, vraiment !")
    services.comment_delete(comment_id=reply.pk, by=bob)
    thread = selectors.comments_of(proposal, viewer=None)
    assert [c.body for c in thread] == ["Oui, vraiment !"]
    assert [(r.body, r.deleted_at is not None) for r in thread[0].reply_list] == [
        ("", True),
        ("Si.", False),
    ]
    assert Proposal.objects.get(pk=proposal.pk).comment_count == 2
    with pytest.raises(InvalidInput, match="not in this proposal"):
        services.comment_add(proposal=propose(ana, title="Autre"), author=bob, body="x",
                             parent_id=top.pk)  # fmt: skip


def test_merge_carries_supports_and_followers_once(consultation, propose, old_member, people):
    source, target = propose(old_member(), title="Bio"), propose(old_member(), title="Bio !")
    both, only_source = old_member("Both"), old_member("Src")
    for member in (both, only_source):
        services.support_add(proposal_id=source.pk, member=member)
    services.support_add(proposal_id=target.pk, member=both)
    with pytest.raises(Forbidden):
        services.proposal_merge(source_id=source.pk, target_id=target.pk, by=both)
    merged = services.proposal_merge(source_id=source.pk, target_id=target.pk, by=people["staff"])
    assert merged.support_count == 2
    assert set(Support.objects.filter(proposal=target).values_list("member", flat=True)) == {
        both.pk,
        only_source.pk,
    }
    source.refresh_from_db()
    assert source.merged_into_id == target.pk and source.support_count == 0
    assert not Support.objects.filter(proposal=source).exists()
    assert merged.follower_count == Follow.objects.filter(proposal=target).count() == 4
    with pytest.raises(Conflict, match="merged into"):
        services.support_add(proposal_id=source.pk, member=old_member("Late"))
    assert AuditEvent.objects.filter(action="proposal.merge").count() == 1
    listed, total = selectors.proposals_list(consultation, viewer=None)
    assert [p.pk for p in listed] == [target.pk] and total == 1


def test_answer_tells_author_supporters_and_followers(
    propose, old_member, people, django_capture_on_commit_callbacks
):
    author = old_member()
    proposal = propose(author)
    fan, follower = old_member("Fan"), old_member("Fol")
    services.support_add(proposal_id=proposal.pk, member=fan)
    services.follow_set(proposal=proposal, member=follower, follow=True)
    with pytest.raises(Forbidden):
        services.proposal_answer(proposal_id=proposal.pk, status="accepted", text="x", by=fan)
    with pytest.raises(InvalidInput, match="Unknown status"):
        services.proposal_answer(
            proposal_id=proposal.pk, status="maybe", text="x", by=people["staff"]
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.proposal_answer(
            proposal_id=proposal.pk,
            status=AnswerStatus.ACCEPTED,
            text="Retenue pour le programme.",
            by=people["staff"],
        )
    proposal.refresh_from_db()
    assert proposal.answer_status == "accepted"
    message = Message.objects.get(dedupe_key__startswith="participation:answer:")
    assert message.message_type == MessageType.PARTICIPATION
    assert sorted(message.definition[INTERNAL_KEY]) == sorted([author.pk, fan.pk, follower.pk])


def test_pending_proposals_are_seen_by_author_and_moderators_only(
    consultation, propose, old_member, people
):
    author = old_member()
    proposal = propose(author)
    Proposal.objects.filter(pk=proposal.pk).update(state=State.PENDING)
    assert selectors.proposal_for(proposal.pk, viewer=author)
    assert selectors.proposal_for(proposal.pk, viewer=people["staff"])
    for viewer in (None, old_member("Curious"), people["coord13"]):
        with pytest.raises(NotFound):
            selectors.proposal_for(proposal.pk, viewer=viewer)
    assert selectors.proposals_list(consultation, viewer=author) == ([], 0)


def test_search_finds_words_ignores_accents_and_never_hidden(consultation, propose, old_member):
    school = propose(old_member(), title="Une école ouverte", body="Le soir et le week-end.")
    propose(old_member(), title="Des vélos", body="Pistes cyclables partout.")
    hidden = propose(old_member(), title="École secrète", body="Cachée.")
    Proposal.objects.filter(pk=hidden.pk).update(state=State.HIDDEN)
    found, total = selectors.proposals_list(consultation, viewer=None, query="ecole")
    assert [p.pk for p in found] == [school.pk] and total == 1
    found, _ = selectors.proposals_list(consultation, viewer=None, query="ouv week")
    assert [p.pk for p in found] == [school.pk]
    assert selectors.proposals_list(consultation, viewer=None, query='") OR *') == ([], 0)
    with pytest.raises(InvalidInput, match="at least one word"):
        selectors.proposals_list(consultation, viewer=None, query="!!!")


def test_sorts(consultation, propose, old_member):
    a, b = propose(old_member(), title="A"), propose(old_member(), title="B")
    services.support_add(proposal_id=a.pk, member=old_member("F"))
    services.comment_add(proposal=b, author=old_member("C"), body="Intéressant")

    def order(sort):
        return [p.pk for p in selectors.proposals_list(consultation, viewer=None, sort=sort)[0]]

    assert order("supported") == [a.pk, b.pk]
    assert order("discussed") == [b.pk, a.pk]
    assert order("recent") == [b.pk, a.pk]
    with pytest.raises(InvalidInput, match="Unknown sort"):
        order("random")


def test_deleting_a_member_brings_the_counters_down(propose, old_member):
    proposal = propose(old_member())
    fans = [old_member("F1"), old_member("F2")]
    for fan in fans:
        services.support_add(proposal_id=proposal.pk, member=fan)
    fans[0].delete()
    proposal.refresh_from_db()
    assert proposal.support_count == Support.objects.filter(proposal=proposal).count() == 1
    assert proposal.follower_count == Follow.objects.filter(proposal=proposal).count() == 2


@pytest.mark.parametrize("sort", ["supported", "recent", "discussed"])
def test_search_results_keep_the_asked_order(consultation, propose, old_member, sort):
    """Few matches are sorted through expressions (see selectors.proposals_list): same order."""
    first = propose(old_member(), title="Vélo un", body="Pistes")
    second = propose(old_member(), title="Vélo deux", body="Pistes")
    propose(old_member(), title="Train", body="Gares")
    Proposal.objects.filter(pk=first.pk).update(
        support_count=5, comment_count=0, created_at=timezone.now() - datetime.timedelta(days=2)
    )
    Proposal.objects.filter(pk=second.pk).update(support_count=1, comment_count=4)
    found, total = selectors.proposals_list(consultation, viewer=None, query="velo", sort=sort)
    expected = [first.pk, second.pk] if sort == "supported" else [second.pk, first.pk]
    assert total == 2 and [p.pk for p in found] == expected


def test_staff_cannot_write_participation_messages_to_a_segment(people):
    from nextwork.messaging.services import MessageIn, message_create

    with pytest.raises(InvalidInput, match="sent by the platform itself") as caught:
        message_create(
            data=MessageIn(
                channel="email",
                message_type="participation",
                subject="Nouvelles",
                body_text="Bonjour",
                definition={"all": []},
            ),
            by=people["staff"],
        )
    assert caught.value.field == "message_type"
