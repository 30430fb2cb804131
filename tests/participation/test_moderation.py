"""Reports, the queue, hiding with a reason, one review, self-moderation refused, the audit
log, and the spam heuristic that holds contributions before they are public."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from nextwork.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from nextwork.common.ratelimit import RateLimited
from nextwork.messaging import delivery
from nextwork.messaging.consent import consent_set
from nextwork.messaging.models import Channel, ConsentHow, Delivery, Message, MessageType
from nextwork.participation import moderation, selectors, services
from nextwork.participation.models import Comment, Proposal, Report, State
from nextwork.privacy.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_report_then_hide_with_reason_then_one_review(propose, old_member, people):
    author, reporter = old_member(), old_member("Rep")
    proposal = propose(author)
    report = moderation.report_create(
        kind="proposal", target_id=proposal.pk, reason="abuse", note="Insultant", by=reporter
    )
    with pytest.raises(Conflict, match="already reported"):
        moderation.report_create(kind="proposal", target_id=proposal.pk, reason="spam", by=reporter)
    with pytest.raises(InvalidInput, match="your own"):
        moderation.report_create(kind="proposal", target_id=proposal.pk, reason="spam", by=author)
    with pytest.raises(InvalidInput, match="Unknown reason"):
        moderation.report_create(
            kind="proposal", target_id=proposal.pk, reason="boring", by=old_member("X")
        )
    staff = people["staff"]
    queue = moderation.queue(staff)
    assert [p.pk for p in queue["reported"]] == [proposal.pk]
    assert [r.pk for r in queue["reported"][0].open_reports] == [report.pk]

    with pytest.raises(InvalidInput, match="reason"):
        moderation.moderate(kind="proposal", target_id=proposal.pk, action="hide", by=staff)
    moderation.moderate(
        kind="proposal", target_id=proposal.pk, action="hide", reason="Propos injurieux.", by=staff
    )
    proposal.refresh_from_db()
    assert proposal.state == State.HIDDEN and proposal.hidden_reason == "Propos injurieux."
    assert Report.objects.get(pk=report.pk).resolved_at is not None
    # Others see the reason, not the text; the author still reads their own words.
    assert not selectors.can_read_text(reporter, proposal, proposal.consultation)
    assert selectors.can_read_text(author, proposal, proposal.consultation)

    with pytest.raises(Forbidden, match="author"):
        moderation.review_request(kind="proposal", target_id=proposal.pk, note="?", by=reporter)
    moderation.review_request(
        kind="proposal", target_id=proposal.pk, note="C'était de l'ironie.", by=author
    )
    with pytest.raises(Conflict, match="once"):
        moderation.review_request(kind="proposal", target_id=proposal.pk, note="Encore", by=author)
    assert [p.pk for p in moderation.queue(staff)["reviews"]] == [proposal.pk]
    moderation.moderate(kind="proposal", target_id=proposal.pk, action="restore", by=staff)
    proposal.refresh_from_db()
    assert proposal.state == State.PUBLISHED and proposal.review_decided_at is not None
    actions = list(
        AuditEvent.objects.filter(action__startswith="moderation.")
        .order_by("at", "id")
        .values_list("action", flat=True)
    )
    assert actions == ["moderation.hide", "moderation.review_request", "moderation.restore"]


def test_moderators_cannot_moderate_their_own_content(people, consultation):
    staff = people["staff"]
    staff.confirmed_at = timezone.now() - datetime.timedelta(days=30)
    staff.save(update_fields=["confirmed_at"])
    own = services.proposal_submit(
        consultation=consultation, author=staff, title="Mon idée", body="Texte"
    )
    with pytest.raises(Forbidden, match="their own"):
        moderation.moderate(kind="proposal", target_id=own.pk, action="hide", reason="x", by=staff)
    Proposal.objects.filter(pk=own.pk).update(state=State.PENDING)
    assert moderation.queue(staff)["held"] == []


def test_only_the_consultations_moderators_decide(consultation, propose, old_member, people):
    proposal = propose(old_member())
    for outsider in (people["member"], people["coord13"], people["camille"]):
        with pytest.raises(Forbidden):
            moderation.moderate(
                kind="proposal", target_id=proposal.pk, action="hide", reason="x", by=outsider
            )
    with pytest.raises(Forbidden):
        moderation.queue(people["member"])


def test_territorial_coordinators_moderate_their_area_only(consultation, old_member, people, area):
    from nextwork.network.models import MemberLocation
    from nextwork.territories.models import AreaKind

    consultation.area = area("75", AreaKind.DEPARTMENT)
    consultation.save()
    author = old_member()
    MemberLocation.objects.create(member=author, constituency=area("75-02"), precision="postcode")
    proposal = services.proposal_submit(
        consultation=consultation, author=author, title="Seine", body="Baignade"
    )
    moderation.report_create(kind="proposal", target_id=proposal.pk, reason="spam",
                             by=old_member("R"))  # fmt: skip
    assert [p.pk for p in moderation.queue(people["coord75"])["reported"]] == [proposal.pk]
    assert moderation.queue(people["coord13"])["reported"] == []
    with pytest.raises(Forbidden):
        moderation.moderate(kind="proposal", target_id=proposal.pk, action="dismiss",
                            by=people["coord13"])  # fmt: skip
    moderation.moderate(kind="proposal", target_id=proposal.pk, action="dismiss",
                        by=people["coord75"])  # fmt: skip
    assert not Report.objects.filter(resolved_at__isnull=True).exists()


def test_links_from_a_new_account_are_held_until_approved(
    propose, make_member, people, old_member, django_capture_on_commit_callbacks
):
    newcomer = make_member("Neo")  # confirmed just now
    held = propose(
        newcomer, title="Super offre", body="Voir https://a.example et https://b.example"
    )
    assert held.state == State.PENDING
    assert set(held.held_for) >= {"links", "new_account"}
    assert selectors.proposals_list(held.consultation, viewer=None)[1] == 0
    plain = propose(make_member("Zoe"), title="Des arbres", body="Planter des arbres.")
    assert plain.state == State.PUBLISHED
    one_link = propose(old_member(), title="Source", body="Voir https://insee.fr")
    assert one_link.state == State.PUBLISHED

    with django_capture_on_commit_callbacks(execute=True):
        moderation.moderate(kind="proposal", target_id=held.pk, action="approve",
                            by=people["staff"])  # fmt: skip
    assert Proposal.objects.get(pk=held.pk).state == State.PUBLISHED
    told = Message.objects.get(dedupe_key__startswith="participation:moderation:proposal:")
    assert told.message_type == MessageType.PARTICIPATION


def test_the_same_text_twice_is_held(propose, old_member):
    author = old_member()
    propose(author, title="Idée", body="Gratuité des transports.")
    again = propose(author, title="IDÉE !", body="gratuité des transports")
    assert again.state == State.PENDING and "repeat" in again.held_for


def test_a_held_comment_is_counted_and_announced_once_approved(
    propose, old_member, make_member, people
):
    proposal = propose(old_member())
    comment = services.comment_add(
        proposal=proposal, author=make_member("Neo"), body="http://x.example http://y.example"
    )
    assert comment.state == State.PENDING
    assert Proposal.objects.get(pk=proposal.pk).comment_count == 0
    assert selectors.comments_of(proposal, viewer=None) == []
    moderation.moderate(kind="comment", target_id=comment.pk, action="approve",
                        by=people["staff"])  # fmt: skip
    assert Proposal.objects.get(pk=proposal.pk).comment_count == 1
    moderation.moderate(kind="comment", target_id=comment.pk, action="hide", reason="Pub",
                        by=people["staff"])  # fmt: skip
    assert Proposal.objects.get(pk=proposal.pk).comment_count == 0
    (shown,) = selectors.comments_of(proposal, viewer=None)
    assert shown.state == State.HIDDEN  # a placeholder with its reason; templates omit the text


def test_rate_limit_on_proposals(propose, old_member, settings):
    settings.NEXTWORK_PROPOSALS_PER_HOUR = 2
    author = old_member()
    propose(author, title="Un", body="1")
    propose(author, title="Deux", body="2")
    with pytest.raises(RateLimited):
        propose(author, title="Trois", body="3")
    assert Proposal.objects.filter(author=author).count() == 2


def test_reports_of_hidden_or_pending_content_are_refused(propose, old_member):
    proposal = propose(old_member())
    Proposal.objects.filter(pk=proposal.pk).update(state=State.PENDING)
    with pytest.raises(NotFound):
        moderation.report_create(kind="proposal", target_id=proposal.pk, reason="spam",
                                 by=old_member("R"))  # fmt: skip
    with pytest.raises(InvalidInput, match="proposal or a comment"):
        moderation.report_create(kind="user", target_id=1, reason="spam", by=old_member("R"))
    assert not Comment.objects.exists()


def test_participation_news_respect_a_withdrawn_consent(
    propose, old_member, people, django_capture_on_commit_callbacks
):
    author, fan = old_member(), old_member("Fan")
    proposal = propose(author)
    services.support_add(proposal_id=proposal.pk, member=fan)
    consent_set(
        member=fan,
        channel=Channel.EMAIL,
        message_type=MessageType.PARTICIPATION,
        given=False,
        how=ConsentHow.SITE,
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.proposal_answer(
            proposal_id=proposal.pk, status="rejected", text="Hors sujet.", by=people["staff"]
        )
    message = Message.objects.get(dedupe_key__startswith="participation:answer:")
    delivery.materialise(message)
    assert set(Delivery.objects.filter(message=message).values_list("member", flat=True)) == {
        author.pk
    }
    # Supporting again later does not give the consent back behind the member's back.
    other = propose(old_member(), title="Autre", body="Autre texte")
    services.support_add(proposal_id=other.pk, member=fan)
    from nextwork.messaging.models import ConsentState

    assert not ConsentState.objects.get(
        member=fan, channel=Channel.EMAIL, message_type=MessageType.PARTICIPATION
    ).given


def test_the_queue_lists_only_reported_items_not_every_public_one(propose, old_member, people):
    quiet, reported = propose(old_member(), title="Calme"), propose(old_member(), title="Vif")
    services.comment_add(proposal=quiet, author=old_member("C"), body="Un avis")
    moderation.report_create(kind="proposal", target_id=reported.pk, reason="spam",
                             by=old_member("R"))  # fmt: skip
    queue = moderation.queue(people["staff"])
    assert [p.pk for p in queue["reported"]] == [reported.pk]


def test_a_review_can_be_turned_down_once(propose, old_member, people):
    author = old_member()
    proposal = propose(author)
    staff = people["staff"]
    with pytest.raises(Conflict, match="No review"):
        moderation.moderate(kind="proposal", target_id=proposal.pk, action="uphold", by=staff)
    moderation.moderate(kind="proposal", target_id=proposal.pk, action="hide", reason="Pub",
                        by=staff)  # fmt: skip
    moderation.review_request(kind="proposal", target_id=proposal.pk, note="Non !", by=author)
    moderation.moderate(kind="proposal", target_id=proposal.pk, action="uphold", by=staff)
    proposal.refresh_from_db()
    assert proposal.state == State.HIDDEN and proposal.review_decided_at is not None
    assert moderation.queue(staff)["reviews"] == []
    with pytest.raises(Conflict, match="once"):
        moderation.review_request(kind="proposal", target_id=proposal.pk, note="Encore", by=author)
