"""Writes of participation: consultations, proposals, comments, supports, follows, merges and
answers. Moderation has its own module (``moderation``); the programme too (``programme``).

Promises kept here:
- only confirmed members propose, support and comment, and only in a published consultation's
  phase that allows it, and (for a territorial consultation) where they live;
- a member supports a proposal once; supports and comment counters move in the same
  transaction as the rows they count (``F()`` updates), so concurrent supports never drift;
- a consultation's support quota is checked under a lock on the member's row, so two
  supports at once cannot both take the last one;
- every contribution goes through the spam heuristic and the rate limits before it is public;
- authors, supporters and followers hear of answers and new comments through messaging, with
  the ``participation`` consent (which they may withdraw at any time).
"""

from __future__ import annotations

import datetime
import hashlib
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from nextwork.common import ratelimit
from nextwork.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from nextwork.common.text import clean_text
from nextwork.common.uploads import IMAGES_AND_PDF, checked_upload
from nextwork.network.models import Member
from nextwork.participation import moderation, selectors
from nextwork.participation.models import (
    Answer,
    AnswerStatus,
    Comment,
    Consultation,
    ConsultationStatus,
    Follow,
    Phase,
    Proposal,
    ProposalAttachment,
    ProposalVersion,
    State,
    Support,
)
from nextwork.privacy.services import audit_record

MAX_TITLE = 200
MAX_BODY = 10_000
MAX_COMMENT = 5_000
MAX_ATTACHMENTS = 3
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
# Far above what a person clicks in an hour; a script supporting everything stops here.
SUPPORTS_PER_HOUR = 300


def edit_window() -> datetime.timedelta:
    """How long an author may rewrite a proposal without keeping the earlier text."""
    return datetime.timedelta(minutes=settings.NEXTWORK_PROPOSAL_EDIT_MINUTES)


def digest(text: str) -> str:
    """The same text, whatever its case, spacing and punctuation."""
    normalised = re.sub(r"\W+", " ", text.lower()).strip()
    return hashlib.sha256(normalised.encode()).hexdigest()


def _require_confirmed(member: Member, action: str) -> None:
    if not selectors.is_confirmed(member):
        raise Forbidden(f"Only members with a confirmed email address may {action}.", field=None)


def _require_published(consultation: Consultation) -> None:
    if consultation.status != ConsultationStatus.PUBLISHED:
        raise Conflict("This consultation is not published yet.", field="consultation")


def _require_local(member: Member, consultation: Consultation, action: str) -> None:
    if consultation.area_id is None or selectors.is_staff(member):
        return
    if not selectors.lives_in(member, consultation.area):
        raise Forbidden(
            f"This consultation is for members living in {consultation.area.name} "
            f"({consultation.area.code}); your profile places you elsewhere, so you cannot "
            f"{action} here.",
            field=None,
        )


def _require_phase(consultation: Consultation, phases: tuple[str, ...], action: str) -> None:
    phase = consultation.phase
    if phase in phases:
        return
    if phase == Phase.UPCOMING:
        when = timezone.localtime(consultation.opens_at).strftime("%d/%m/%Y %H:%M")
        raise Conflict(f"This consultation opens on {when}: you cannot {action} yet.")
    if phase == Phase.SUPPORT and Phase.PROPOSALS in phases:
        raise Conflict(
            f"The time for proposals is over in this consultation: you cannot {action} any more."
        )
    raise Conflict(f"This consultation is closed: you cannot {action} any more.")


# -- consultations ------------------------------------------------------------------------------


@dataclass
class ConsultationIn:
    title: str
    text: str
    opens_at: datetime.datetime
    proposals_close_at: datetime.datetime | None
    closes_at: datetime.datetime
    area_code: str = ""
    supports_per_member: int | None = None
    publish: bool = True


def _clean_consultation(data: ConsultationIn, by: Member) -> dict:
    from nextwork.network.selectors import area_by_code

    title = clean_text(data.title, field="title", limit=MAX_TITLE)
    text = clean_text(data.text, field="text", limit=MAX_BODY * 2, required=False)
    area = None
    if data.area_code:
        area = area_by_code(data.area_code)
        if area is None:
            raise InvalidInput(
                f"Unknown area {data.area_code!r}: give a constituency (75-02), a department "
                "(75) or a region (R11).",
                field="area",
            )
    if not selectors.may_open_in(by, area):
        where = f"in {area.code}" if area else "nationally"
        raise Forbidden(f"No current grant allows you to open a consultation {where}.")
    for name in ("opens_at", "proposals_close_at", "closes_at"):
        value = getattr(data, name)
        if value is None and name == "proposals_close_at":
            continue
        if value is None or timezone.is_naive(value):
            raise InvalidInput(f"Give {name} with its time zone.", field=name)
        if not 2000 <= value.year <= 2200:
            raise InvalidInput(f"{name}: give a date between 2000 and 2200.", field=name)
    proposals_close = data.proposals_close_at or data.closes_at
    if data.closes_at <= data.opens_at:
        raise InvalidInput("The consultation must close after it opens.", field="closes_at")
    if not data.opens_at <= proposals_close <= data.closes_at:
        raise InvalidInput(
            "The end of proposals must fall between the opening and the closing.",
            field="proposals_close_at",
        )
    quota = data.supports_per_member
    if quota is not None and not 1 <= quota <= 10_000:
        raise InvalidInput(
            "Supports per member: leave empty for no limit, or give 1 to 10,000.",
            field="supports_per_member",
        )
    return {
        "title": title,
        "text": text,
        "area": area,
        "opens_at": data.opens_at,
        "proposals_close_at": proposals_close,
        "closes_at": data.closes_at,
        "supports_per_member": quota,
        "status": ConsultationStatus.PUBLISHED if data.publish else ConsultationStatus.DRAFT,
    }


@transaction.atomic
def consultation_create(*, data: ConsultationIn, by: Member) -> Consultation:
    """Open a consultation: national for staff, in their territory for a coordinator."""
    consultation = Consultation(created_by=by, **_clean_consultation(data, by))
    consultation.full_clean()
    consultation.save()
    audit_record(
        actor=by,
        action="consultation.create",
        area_code=consultation.area.code if consultation.area else "",
        details={"consultation": consultation.pk},
    )
    return consultation


@transaction.atomic
def consultation_update(*, consultation: Consultation, data: ConsultationIn, by: Member):
    selectors.require_manager(by, consultation, "change it")
    values = _clean_consultation(data, by)
    for name, value in values.items():
        setattr(consultation, name, value)
    consultation.full_clean()
    consultation.save()
    audit_record(actor=by, action="consultation.update", details={"consultation": consultation.pk})
    return consultation


# -- proposals ----------------------------------------------------------------------------------


@dataclass
class AttachmentIn:
    name: str
    data: bytes


def _rate(scope: str, member: Member, *, limit: int, window: int) -> None:
    ratelimit.check(f"participation.{scope}", str(member.pk), limit=limit, window=window)


def _check_attachments(files: list[AttachmentIn]) -> list[tuple[str, str, bytes]]:
    if len(files) > MAX_ATTACHMENTS:
        raise InvalidInput(
            f"At most {MAX_ATTACHMENTS} files may be attached to a proposal.", field="attachments"
        )
    return [
        checked_upload(
            f.name, f.data, types=IMAGES_AND_PDF, max_bytes=MAX_ATTACHMENT_BYTES, field="file"
        )
        for f in files
    ]


def _store_attachments(proposal: Proposal, checked: list[tuple[str, str, bytes]]) -> None:
    from django.core.files.base import ContentFile

    for name, mime, data in checked:
        attachment = ProposalAttachment(
            proposal=proposal,
            name=name,
            content_type=mime,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        attachment.file.save(name, ContentFile(data), save=False)
        attachment.save()


@transaction.atomic
def proposal_submit(
    *,
    consultation: Consultation,
    author: Member,
    title: str,
    body: str,
    area_code: str = "",
    attachments: list[AttachmentIn] | None = None,
) -> Proposal:
    """Submit a proposal; it is public at once unless the spam heuristic holds it for a
    moderator (``state`` tells which). The author follows it from then on."""
    _require_confirmed(author, "make proposals")
    _require_published(consultation)
    _require_local(author, consultation, "make proposals")
    _require_phase(consultation, (Phase.PROPOSALS,), "make proposals")
    title = clean_text(title, field="title", limit=MAX_TITLE)
    body = clean_text(body, field="body", limit=MAX_BODY)
    area = None
    if area_code:
        from nextwork.network.selectors import area_by_code

        area = area_by_code(area_code)
        if area is None:
            raise InvalidInput(f"Unknown area {area_code!r}.", field="area")
    checked = _check_attachments(attachments or [])
    _rate("proposal", author, limit=settings.NEXTWORK_PROPOSALS_PER_HOUR, window=3600)
    body_digest = digest(f"{title}\n{body}")
    held = moderation.spam_reasons(
        author=author, text=f"{title}\n{body}", digest=body_digest, model=Proposal
    )
    proposal = Proposal.objects.create(
        consultation=consultation,
        author=author,
        title=title,
        body=body,
        area=area,
        body_digest=body_digest,
        state=State.PENDING if held else State.PUBLISHED,
        held_for=held,
    )
    _store_attachments(proposal, checked)
    _follow(proposal, author)
    _participation_consent(author)
    return proposal


@transaction.atomic
def proposal_edit(*, proposal: Proposal, by: Member, title: str, body: str) -> Proposal:
    """The author rewrites their proposal while proposals are open. Within the edit window
    the text is simply replaced; after it, the earlier text is kept as a version."""
    proposal = Proposal.objects.select_for_update(no_key=True).get(pk=proposal.pk)
    if proposal.author_id != by.pk:
        raise Forbidden("Only its author may edit a proposal.")
    if proposal.state == State.HIDDEN:
        raise Conflict("A hidden proposal cannot be edited; ask for a review instead.")
    if proposal.merged_into_id or proposal.answer_status:
        raise Conflict("This proposal has been merged or answered: its text is now fixed.")
    consultation = proposal.consultation
    _require_phase(consultation, (Phase.PROPOSALS,), "edit proposals")
    title = clean_text(title, field="title", limit=MAX_TITLE)
    body = clean_text(body, field="body", limit=MAX_BODY)
    if (title, body) == (proposal.title, proposal.body):
        return proposal
    now = timezone.now()
    fields = ["title", "body", "edited_at", "body_digest", "state", "held_for"]
    if now - proposal.created_at > edit_window():
        ProposalVersion.objects.create(
            proposal=proposal,
            version=proposal.version,
            title=proposal.title,
            body=proposal.body,
            written_at=proposal.edited_at or proposal.created_at,
        )
        proposal.version += 1
        fields.append("version")
    proposal.body_digest = digest(f"{title}\n{body}")
    held = moderation.spam_reasons(
        author=by,
        text=f"{title}\n{body}",
        digest=proposal.body_digest,
        model=Proposal,
        exclude=proposal.pk,
    )
    if held:
        proposal.state, proposal.held_for = State.PENDING, held
    proposal.title, proposal.body, proposal.edited_at = title, body, now
    proposal.save(update_fields=fields)
    return proposal


# -- supports -----------------------------------------------------------------------------------


def _lock(scope: str, key: int) -> None:
    """A transaction-long lock on (scope, key). An advisory lock on PostgreSQL, not a row lock
    on the member: a row lock would block the foreign-key checks of other members' writes
    that mention this member (a proposal they wrote) and could deadlock with them. SQLite's
    write transactions are serial already (IMMEDIATE)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{scope}:{key}"])


def _supportable(proposal_id: int, member: Member) -> Proposal:
    proposal = (
        Proposal.objects.select_related("consultation", "consultation__area")
        .filter(pk=proposal_id)
        .first()
    )
    # Held proposals do not exist for others; hidden ones do (their page shows the reason),
    # and are refused as not public.
    if proposal is None or (proposal.state == State.PENDING and proposal.author_id != member.pk):
        raise NotFound(f"No proposal {proposal_id}.", field="proposal")
    return proposal


def support_add(*, proposal_id: int, member: Member) -> Proposal:
    """Support a proposal once. Raises ``Conflict`` when already supported, when the
    consultation is past its support phase, or when the member's quota is used up."""
    _require_confirmed(member, "support proposals")
    _rate("support", member, limit=SUPPORTS_PER_HOUR, window=3600)
    with transaction.atomic():
        # Serialise this member's supports: the quota check and the insert see the same count.
        _lock("support", member.pk)
        proposal = _supportable(proposal_id, member)
        consultation = proposal.consultation
        _require_published(consultation)
        _require_local(member, consultation, "support proposals")
        _require_phase(consultation, (Phase.PROPOSALS, Phase.SUPPORT), "support proposals")
        if proposal.state != State.PUBLISHED:
            raise Conflict("This proposal is not public: it cannot be supported.")
        if proposal.merged_into_id:
            raise Conflict(
                f"This proposal was merged into proposal {proposal.merged_into_id}: "
                "support that one instead.",
                field="proposal",
            )
        if Support.objects.filter(proposal=proposal, member=member).exists():
            raise Conflict("You already support this proposal.", field="proposal")
        left = selectors.supports_left(member, consultation)
        if left == 0:
            raise Conflict(
                f"You have used your {consultation.supports_per_member} supports in this "
                "consultation: withdraw one to support another.",
            )
        try:
            with transaction.atomic():
                Support.objects.create(proposal=proposal, member=member)
        except IntegrityError:
            raise Conflict("You already support this proposal.", field="proposal") from None
        Proposal.objects.filter(pk=proposal.pk).update(support_count=F("support_count") + 1)
        _follow(proposal, member)
        _participation_consent(member)
    proposal.refresh_from_db(fields=["support_count", "follower_count"])
    return proposal


def support_withdraw(*, proposal_id: int, member: Member) -> Proposal:
    """Withdraw one's support while supports are open."""
    with transaction.atomic():
        proposal = _supportable(proposal_id, member)
        _require_phase(
            proposal.consultation, (Phase.PROPOSALS, Phase.SUPPORT), "withdraw a support"
        )
        deleted, _ = Support.objects.filter(proposal=proposal, member=member).delete()
        if not deleted:
            raise Conflict("You do not support this proposal.", field="proposal")
        Proposal.objects.filter(pk=proposal.pk).update(support_count=F("support_count") - 1)
    proposal.refresh_from_db(fields=["support_count"])
    return proposal


# -- following ----------------------------------------------------------------------------------


def _follow(proposal: Proposal, member: Member) -> bool:
    try:
        with transaction.atomic():
            Follow.objects.create(proposal=proposal, member=member)
    except IntegrityError:
        return False
    Proposal.objects.filter(pk=proposal.pk).update(follower_count=F("follower_count") + 1)
    return True


@transaction.atomic
def follow_set(*, proposal: Proposal, member: Member, follow: bool) -> bool:
    """Follow or stop following a proposal's conversation. Asking to follow is asking to be
    told: it records the participation consent when the member had never answered it."""
    _require_confirmed(member, "follow proposals")
    if follow:
        changed = _follow(proposal, member)
        _participation_consent(member, explicit=True)
        return changed
    deleted, _ = Follow.objects.filter(proposal=proposal, member=member).delete()
    if deleted:
        Proposal.objects.filter(pk=proposal.pk).update(follower_count=F("follower_count") - 1)
    return bool(deleted)


def _participation_consent(member: Member, *, explicit: bool = False) -> None:
    """Members who propose, support or comment are told what becomes of it, once they have
    agreed: the first contribution records that agreement (the forms say so). A member who
    withdrew it is not asked again, except by an explicit "follow"."""
    from nextwork.messaging.consent import consent_set
    from nextwork.messaging.models import Channel, ConsentHow, ConsentState, MessageType
    from nextwork.messaging.texts import consent_text

    state = ConsentState.objects.filter(
        member=member, channel=Channel.EMAIL, message_type=MessageType.PARTICIPATION
    ).first()
    if state is not None and (state.given or not explicit):
        return
    consent_set(
        member=member,
        channel=Channel.EMAIL,
        message_type=MessageType.PARTICIPATION,
        given=True,
        how=ConsentHow.SITE,
        text=consent_text("participation"),
    )


# -- comments -----------------------------------------------------------------------------------


@transaction.atomic
def comment_add(
    *, proposal: Proposal, author: Member, body: str, parent_id: int | None = None
) -> Comment:
    """Comment on a proposal, or reply to a comment (one level: a reply to a reply joins its
    parent's thread)."""
    _require_confirmed(author, "comment")
    consultation = proposal.consultation
    _require_published(consultation)
    _require_local(author, consultation, "comment")
    _require_phase(consultation, (Phase.PROPOSALS, Phase.SUPPORT), "comment")
    if proposal.state != State.PUBLISHED:
        raise Conflict("This proposal is not public: it cannot be commented on.")
    body = clean_text(body, field="body", limit=MAX_COMMENT)
    parent = None
    if parent_id is not None:
        parent = Comment.objects.filter(pk=parent_id, proposal=proposal).first()
        if parent is None:
            raise InvalidInput(
                f"Comment {parent_id} is not in this proposal's thread.", field="parent"
            )
        if parent.parent_id is not None:
            parent = parent.parent
    _rate("comment", author, limit=settings.NEXTWORK_COMMENTS_PER_HOUR, window=3600)
    body_digest = digest(body)
    held = moderation.spam_reasons(author=author, text=body, digest=body_digest, model=Comment)
    comment = Comment.objects.create(
        proposal=proposal,
        parent=parent,
        author=author,
        body=body,
        body_digest=body_digest,
        state=State.PENDING if held else State.PUBLISHED,
        held_for=held,
    )
    if comment.state == State.PUBLISHED:
        comment_published(comment)
    _follow(proposal, author)
    _participation_consent(author)
    return comment


def comment_published(comment: Comment) -> None:
    """A comment became public (at once, or approved by a moderator): count it and tell the
    followers."""
    Proposal.objects.filter(pk=comment.proposal_id).update(comment_count=F("comment_count") + 1)
    transaction.on_commit(lambda: _notify_comment(comment.proposal_id, comment.author_id))


def _notify_comment(proposal_id: int, author_id: int | None) -> None:
    from nextwork.messaging.models import MessageType
    from nextwork.messaging.render import literal
    from nextwork.messaging.services import notify

    proposal = Proposal.objects.filter(pk=proposal_id).first()
    if proposal is None:
        return
    followers = list(
        Follow.objects.filter(proposal=proposal)
        .exclude(member_id=author_id)
        .values_list("member_id", flat=True)
    )
    # At most one message an hour per thread: a lively debate is not a flood of emails.
    notify(
        key=f"participation:comments:{proposal_id}",
        members=followers,
        subject=f"Nouveaux commentaires : {literal(proposal.title)}"[:200],
        body=(
            "Bonjour {{ first_name }},\n\n"
            f"La proposition « {literal(proposal.title)} », que vous suivez, a de nouveaux "
            f"commentaires :\n{_url(proposal)}\n\n"
            "Pour ne plus suivre cette discussion, utilisez le bouton « Ne plus suivre » sur "
            "sa page.\n"
        ),
        message_type=MessageType.PARTICIPATION,
        cooldown=datetime.timedelta(hours=1),
    )


def _url(proposal: Proposal) -> str:
    return f"{settings.NEXTWORK_SITE_URL}/propositions/{proposal.pk}/"


def _own_comment(comment_id: int, by: Member) -> Comment:
    comment = Comment.objects.select_for_update(no_key=True).filter(pk=comment_id).first()
    if comment is None:
        raise NotFound(f"No comment {comment_id}.", field="comment")
    if comment.author_id != by.pk:
        raise Forbidden("Only its author may change a comment.")
    if comment.deleted_at is not None:
        raise Conflict("This comment was deleted.")
    return comment


@transaction.atomic
def comment_edit(*, comment_id: int, by: Member, body: str) -> Comment:
    comment = _own_comment(comment_id, by)
    if comment.state == State.HIDDEN:
        raise Conflict("A hidden comment cannot be edited; ask for a review instead.")
    body = clean_text(body, field="body", limit=MAX_COMMENT)
    comment.body, comment.edited_at, comment.body_digest = body, timezone.now(), digest(body)
    fields = ["body", "edited_at", "body_digest"]
    held = moderation.spam_reasons(
        author=by, text=body, digest=comment.body_digest, model=Comment, exclude=comment.pk
    )
    if held and comment.state == State.PUBLISHED:
        comment.state, comment.held_for = State.PENDING, held
        fields += ["state", "held_for"]
        Proposal.objects.filter(pk=comment.proposal_id).update(comment_count=F("comment_count") - 1)
    comment.save(update_fields=fields)
    return comment


@transaction.atomic
def comment_delete(*, comment_id: int, by: Member) -> Comment:
    """The author deletes their comment: the text goes, its place in the thread stays."""
    comment = _own_comment(comment_id, by)
    if comment.state == State.PUBLISHED:
        Proposal.objects.filter(pk=comment.proposal_id).update(comment_count=F("comment_count") - 1)
    comment.body, comment.deleted_at = "", timezone.now()
    comment.save(update_fields=["body", "deleted_at"])
    return comment


# -- merging and answering (the consultation's organisers) --------------------------------------


@transaction.atomic
def proposal_merge(*, source_id: int, target_id: int, by: Member) -> Proposal:
    """Merge a duplicate (``source``) into ``target``: its supporters and followers move
    over (a member who supported both counts once), it stays readable with a link to the
    target, and both authors are told."""
    if source_id == target_id:
        raise InvalidInput("A proposal cannot be merged into itself.", field="into")
    rows = {
        p.pk: p
        for p in Proposal.objects.select_for_update(no_key=True, of=("self",))
        .select_related("consultation", "consultation__area")
        .filter(pk__in=[source_id, target_id])
    }
    source, target = rows.get(source_id), rows.get(target_id)
    if source is None:
        raise NotFound(f"No proposal {source_id}.", field="proposal")
    if target is None:
        raise NotFound(f"No proposal {target_id}.", field="into")
    selectors.require_manager(by, source.consultation, "merge proposals")
    if source.consultation_id != target.consultation_id:
        raise InvalidInput("Only proposals of the same consultation can be merged.", field="into")
    if source.merged_into_id:
        raise Conflict(f"Proposal {source_id} is already merged.", field="proposal")
    if target.merged_into_id:
        raise Conflict(
            f"Proposal {target_id} was itself merged into {target.merged_into_id}: "
            "merge into that one.",
            field="into",
        )
    if source.state != State.PUBLISHED or target.state != State.PUBLISHED:
        raise Conflict("Only public proposals can be merged.", field="proposal")
    for model in (Support, Follow):
        already = model.objects.filter(proposal=target).values("member_id")
        model.objects.filter(proposal=source).exclude(member_id__in=already).update(proposal=target)
        model.objects.filter(proposal=source).delete()
    target.support_count = Support.objects.filter(proposal=target).count()
    target.follower_count = Follow.objects.filter(proposal=target).count()
    target.save(update_fields=["support_count", "follower_count"])
    source.merged_into, source.support_count, source.follower_count = target, 0, 0
    source.save(update_fields=["merged_into", "support_count", "follower_count"])
    # The source's author follows the proposal theirs now lives in.
    if source.author_id is not None:
        _follow(target, source.author)
    audit_record(
        actor=by,
        action="proposal.merge",
        details={"source": source.pk, "target": target.pk},
    )
    transaction.on_commit(lambda: _notify_merge(source.pk, target.pk))
    target.refresh_from_db()
    return target


def _notify_merge(source_id: int, target_id: int) -> None:
    from nextwork.messaging.models import MessageType
    from nextwork.messaging.render import literal
    from nextwork.messaging.services import notify

    source = Proposal.objects.get(pk=source_id)
    target = Proposal.objects.get(pk=target_id)
    authors = [a for a in {source.author_id, target.author_id} if a is not None]
    notify(
        key=f"participation:merge:{source_id}",
        members=authors,
        subject=f"Propositions regroupées : {literal(target.title)}"[:200],
        body=(
            "Bonjour {{ first_name }},\n\n"
            f"La proposition « {literal(source.title)} » disait la même chose que "
            f"« {literal(target.title)} » : l'équipe les a regroupées. Les soutiens et les "
            "abonnés de la première sont désormais comptés avec la seconde, et la première "
            f"reste lisible avec un lien vers elle :\n{_url(target)}\n"
        ),
        message_type=MessageType.PARTICIPATION,
        cooldown=datetime.timedelta(days=365),
    )


@transaction.atomic
def proposal_answer(*, proposal_id: int, status: str, text: str, by: Member) -> Answer:
    """Answer a proposal: its status and a text. The author, the supporters and the followers
    are told, through messaging, if they accept participation news."""
    proposal = (
        Proposal.objects.select_for_update(no_key=True, of=("self",))
        .select_related("consultation", "consultation__area")
        .filter(pk=proposal_id)
        .first()
    )
    if proposal is None:
        raise NotFound(f"No proposal {proposal_id}.", field="proposal")
    selectors.require_manager(by, proposal.consultation, "answer proposals")
    if status not in AnswerStatus.values:
        raise InvalidInput(
            f"Unknown status {status!r}; the statuses are {', '.join(AnswerStatus.values)}.",
            field="status",
        )
    text = clean_text(text, field="text", limit=MAX_BODY)
    if proposal.merged_into_id:
        raise Conflict(
            f"This proposal was merged into {proposal.merged_into_id}: answer that one.",
            field="proposal",
        )
    if proposal.state != State.PUBLISHED:
        raise Conflict("Only public proposals are answered.", field="proposal")
    answer = Answer.objects.create(proposal=proposal, status=status, text=text, answered_by=by)
    proposal.answer_status, proposal.answered_at = status, answer.answered_at
    proposal.save(update_fields=["answer_status", "answered_at"])
    audit_record(
        actor=by,
        action="proposal.answer",
        details={"proposal": proposal.pk, "status": status},
    )
    transaction.on_commit(lambda: _notify_answer(answer.pk))
    return answer


def _notify_answer(answer_id: int) -> None:
    from nextwork.messaging.models import MessageType
    from nextwork.messaging.render import literal
    from nextwork.messaging.services import notify

    answer = Answer.objects.select_related("proposal").get(pk=answer_id)
    proposal = answer.proposal
    members = set(Support.objects.filter(proposal=proposal).values_list("member_id", flat=True))
    members |= set(Follow.objects.filter(proposal=proposal).values_list("member_id", flat=True))
    if proposal.author_id is not None:
        members.add(proposal.author_id)
    notify(
        key=f"participation:answer:{answer.pk}",
        members=sorted(members),
        subject=f"Réponse à la proposition « {literal(proposal.title)} »"[:200],
        body=(
            "Bonjour {{ first_name }},\n\n"
            f"L'équipe a répondu à la proposition « {literal(proposal.title)} » : "
            f"{AnswerStatus(answer.status).label}.\n\n{literal(answer.text)}\n\n"
            f"La proposition et sa réponse : {_url(proposal)}\n"
        ),
        message_type=MessageType.PARTICIPATION,
        cooldown=datetime.timedelta(days=365),
    )
