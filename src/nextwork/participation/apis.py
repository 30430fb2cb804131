"""Participation endpoints of /api/v1/: consultations, proposals, supports, follows, comments,
reports, answers, merges and moderation.

Each endpoint reads through ``selectors`` (which decides what the caller may see) and writes
through ``services`` or ``moderation``; this module only shapes the answers. People appear by
their first name, never by their email, last name or phone. A hidden contribution shows its
moderation reason in place of its text, except to its author and its moderators.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import AfterValidator, Field

from nextwork.api.auth import member_auth
from nextwork.api.schemas import ErrorOut
from nextwork.common.errors import DomainError
from nextwork.common.richtext import render
from nextwork.participation import api_reads, moderation, selectors, services
from nextwork.participation.models import (
    Answer,
    Comment,
    Consultation,
    Proposal,
    Report,
)

router = Router(tags=["participation"])

MAX_PAGE = selectors.MAX_PAGE
# Far beyond any real consultation; keeps the offset inside what every database accepts.
MAX_OFFSET = 1_000_000

PhaseName = Literal["upcoming", "proposals", "support", "answers"]
StateName = Literal["pending", "published", "hidden"]
AnswerStatusName = Literal[
    "under_review", "accepted", "partially_accepted", "rejected", "already_in_programme"
]
ReasonName = Literal["spam", "abuse", "personal_data", "off_topic", "illegal", "other"]
KindName = Literal["proposal", "comment"]
ActionName = Literal["approve", "hide", "restore", "dismiss", "uphold"]
SortName = Literal["supported", "recent", "discussed"]


def _no_nul(value: str | None) -> str | None:
    # PostgreSQL refuses NUL in text; codes and searches never hold one.
    if value is not None and "\x00" in value:
        raise ValueError("holds a NUL character")
    return value


def _sane_date(value: datetime.datetime) -> datetime.datetime:
    # Far-off years overflow when the database converts them to UTC.
    if not 2000 <= value.year <= 2200:
        raise ValueError("give a date between the years 2000 and 2200")
    return value


Code = Annotated[str, AfterValidator(_no_nul)]
When = Annotated[datetime.datetime, AfterValidator(_sane_date)]


# -- errors ---------------------------------------------------------------------------------------


READ_ERRORS = {400: ErrorOut, 404: ErrorOut}
WRITE_ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    429: ErrorOut,
}


# -- shared shapes --------------------------------------------------------------------------------


class TerritoryRef(Schema):
    code: str = Field(description="Official code: 75-02, 75, 2A, or a region's code.")
    name: str


class PersonRef(Schema):
    first_name: str = Field(description="First name only: nobody's email or last name is shown.")


def _person(member) -> dict | None:
    return {"first_name": member.first_name} if member is not None else None


def _area(area) -> dict | None:
    return {"code": area.code, "name": area.name} if area is not None else None


class PageInfo(Schema):
    total: int = Field(description="How many items match, across all pages.")
    limit: int
    offset: int


# -- consultations --------------------------------------------------------------------------------


class ConsultationOut(Schema):
    id: int
    title: str
    text: str = Field(description="Markdown source.")
    text_html: str = Field(description="The text rendered to sanitised HTML.")
    area: TerritoryRef | None = Field(description="Empty for a national consultation.")
    status: Literal["draft", "published"] = Field(
        description="Drafts are seen by their organisers only."
    )
    phase: PhaseName = Field(
        description="From the dates: upcoming, proposals (proposals and supports), support "
        "(supports only), answers."
    )
    opens_at: datetime.datetime
    proposals_close_at: datetime.datetime
    closes_at: datetime.datetime
    supports_per_member: int | None = Field(description="Empty: no limit.")


class ConsultationDetailOut(ConsultationOut):
    may_manage: bool = Field(description="The caller may answer, merge and moderate here.")
    supports_left: int | None = Field(
        description="The caller's supports left here; empty without a limit or a login."
    )


class ConsultationPage(PageInfo):
    items: list[ConsultationOut]


def _consultation_out(consultation: Consultation) -> dict:
    return {
        "id": consultation.pk,
        "title": consultation.title,
        "text": consultation.text,
        "text_html": str(render(consultation.text)),
        "area": _area(consultation.area),
        "status": consultation.status,
        "phase": consultation.phase,
        "opens_at": consultation.opens_at,
        "proposals_close_at": consultation.proposals_close_at,
        "closes_at": consultation.closes_at,
        "supports_per_member": consultation.supports_per_member,
    }


class ConsultationFilter(Schema):
    phase: PhaseName | None = Field(None, description="Only consultations in this phase now.")
    area: Code | None = Field(
        None, max_length=10, description="An area code (75-02, 75, R11), or national."
    )
    limit: int = Field(20, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


@router.get(
    "/consultations",
    response={200: ConsultationPage, **READ_ERRORS},
    summary="Consultations: the published ones, and the drafts the caller organises",
)
def consultation_list(request: HttpRequest, filters: Query[ConsultationFilter]):
    consultations = api_reads.consultations_filtered(
        request.user, phase=filters.phase, area_code=filters.area
    )
    total = consultations.count()
    page = consultations[filters.offset : filters.offset + filters.limit]
    return {
        "items": [_consultation_out(c) for c in page],
        "total": total,
        "limit": filters.limit,
        "offset": filters.offset,
    }


class ConsultationIn(Schema):
    title: str = Field(max_length=services.MAX_TITLE, description="The question or theme.")
    text: str = Field("", max_length=services.MAX_BODY * 2, description="Markdown.")
    area: Code | None = Field(
        None,
        max_length=10,
        description="Empty: national (staff only). A coordinator opens one in their territory.",
    )
    opens_at: When = Field(description="ISO 8601 with its offset.")
    proposals_close_at: When | None = Field(
        None, description="End of proposals (supports go on); by default the closing."
    )
    closes_at: When
    supports_per_member: int | None = Field(None, ge=1, le=10_000, description="Empty: no limit.")
    publish: bool = Field(True, description="False: keep it as a draft.")


@router.post(
    "/consultations",
    response={201: ConsultationDetailOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Open a consultation (staff nationally, coordinators in their territory)",
)
def consultation_create(request: HttpRequest, payload: ConsultationIn):
    consultation = services.consultation_create(
        data=services.ConsultationIn(
            title=payload.title,
            text=payload.text,
            opens_at=payload.opens_at,
            proposals_close_at=payload.proposals_close_at,
            closes_at=payload.closes_at,
            area_code=payload.area or "",
            supports_per_member=payload.supports_per_member,
            publish=payload.publish,
        ),
        by=request.user,
    )
    return Status(201, _consultation_detail(consultation, request.user))


def _consultation_detail(consultation: Consultation, viewer) -> dict:
    logged_in = viewer is not None and viewer.is_authenticated
    return {
        **_consultation_out(consultation),
        "may_manage": selectors.may_manage(viewer, consultation),
        "supports_left": selectors.supports_left(viewer, consultation) if logged_in else None,
    }


@router.get(
    "/consultations/{consultation_id}",
    response={200: ConsultationDetailOut, **READ_ERRORS},
    summary="One consultation",
)
def consultation_detail(request: HttpRequest, consultation_id: int):
    consultation = selectors.consultation_for(consultation_id, viewer=request.user)
    return _consultation_detail(consultation, request.user)


# -- proposals ------------------------------------------------------------------------------------


class ProposalOut(Schema):
    id: int
    consultation: int
    title: str | None = Field(description="Empty when hidden by moderation.")
    body: str | None = Field(description="Markdown source; empty when hidden by moderation.")
    body_html: str | None = Field(description="The body rendered to sanitised HTML.")
    author: PersonRef | None = Field(description="Empty when hidden, or the author left.")
    area: str | None = Field(description="The area code the proposal is about, if any.")
    created_at: datetime.datetime
    edited_at: datetime.datetime | None
    version: int = Field(description="Goes up when edited after the edit window.")
    state: StateName = Field(
        description="pending: held for a moderator (seen by its author only); hidden: "
        "hidden by a moderator, hidden_reason says why."
    )
    hidden_reason: str | None = None
    support_count: int
    comment_count: int
    answer_status: AnswerStatusName | None = Field(description="The latest answer's status.")
    merged_into: int | None = Field(description="The proposal this duplicate was merged into.")
    supported: bool = Field(description="The caller supports it.")


class AnswerOut(Schema):
    id: int
    proposal: int
    status: AnswerStatusName
    text: str = Field(description="Markdown source.")
    text_html: str
    answered_at: datetime.datetime


class ProposalDetailOut(ProposalOut):
    following: bool = Field(description="The caller follows its conversation.")
    answers: list[AnswerOut] = Field(description="Oldest first; the last one is its fate.")


class ProposalPage(PageInfo):
    items: list[ProposalOut]


def _proposal_out(proposal: Proposal, viewer, supported: set[int]) -> dict:
    readable = selectors.can_read_text(viewer, proposal, proposal.consultation)
    return {
        "id": proposal.pk,
        "consultation": proposal.consultation_id,
        "title": proposal.title if readable else None,
        "body": proposal.body if readable else None,
        "body_html": str(render(proposal.body)) if readable else None,
        "author": _person(proposal.author) if readable else None,
        "area": proposal.area.code if proposal.area_id else None,
        "created_at": proposal.created_at,
        "edited_at": proposal.edited_at,
        "version": proposal.version,
        "state": proposal.state,
        "hidden_reason": proposal.hidden_reason if proposal.state == "hidden" else None,
        "support_count": proposal.support_count,
        "comment_count": proposal.comment_count,
        "answer_status": proposal.answer_status or None,
        "merged_into": proposal.merged_into_id,
        "supported": proposal.pk in supported,
    }


def _answer_out(answer: Answer) -> dict:
    return {
        "id": answer.pk,
        "proposal": answer.proposal_id,
        "status": answer.status,
        "text": answer.text,
        "text_html": str(render(answer.text)),
        "answered_at": answer.answered_at,
    }


def _proposal_detail(proposal_id: int, viewer) -> dict:
    proposal = selectors.proposal_for(proposal_id, viewer=viewer)
    return {
        **_proposal_out(proposal, viewer, selectors.supported_ids(viewer, [proposal.pk])),
        "following": selectors.follows(viewer, proposal),
        "answers": [_answer_out(a) for a in api_reads.answers_of(proposal)],
    }


class ProposalFilter(Schema):
    sort: SortName = Field("supported", description="Most supported, most recent, most discussed.")
    q: Code | None = Field(
        None, max_length=200, description="Full-text search: every word, as a prefix."
    )
    area: Code | None = Field(None, max_length=10, description="Only proposals about this area.")
    limit: int = Field(20, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


@router.get(
    "/consultations/{consultation_id}/proposals",
    response={200: ProposalPage, **READ_ERRORS},
    summary="A consultation's public proposals (not merged, held or hidden ones)",
)
def proposal_list(request: HttpRequest, consultation_id: int, filters: Query[ProposalFilter]):
    consultation = selectors.consultation_for(consultation_id, viewer=request.user)
    page, total = selectors.proposals_list(
        consultation,
        viewer=request.user,
        sort=filters.sort,
        query=filters.q or "",
        area_code=filters.area or "",
        limit=filters.limit,
        offset=filters.offset,
    )
    supported = selectors.supported_ids(request.user, [p.pk for p in page])
    for proposal in page:
        proposal.consultation = consultation
    return {
        "items": [_proposal_out(p, request.user, supported) for p in page],
        "total": total,
        "limit": filters.limit,
        "offset": filters.offset,
    }


class ProposalIn(Schema):
    title: str = Field(max_length=services.MAX_TITLE)
    body: str = Field(max_length=services.MAX_BODY, description="Markdown (a safe subset).")
    area: Code | None = Field(None, max_length=10, description="The area it is about, if any.")


@router.post(
    "/consultations/{consultation_id}/proposals",
    response={201: ProposalDetailOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Make a proposal; state says whether it was held for a moderator",
)
def proposal_create(request: HttpRequest, consultation_id: int, payload: ProposalIn):
    consultation = selectors.consultation_for(consultation_id, viewer=request.user)
    proposal = services.proposal_submit(
        consultation=consultation,
        author=request.user,
        title=payload.title,
        body=payload.body,
        area_code=payload.area or "",
    )
    return Status(201, _proposal_detail(proposal.pk, request.user))


@router.get(
    "/proposals/{proposal_id}",
    response={200: ProposalDetailOut, **READ_ERRORS},
    summary="One proposal; a hidden one shows its reason, not its text",
)
def proposal_detail(request: HttpRequest, proposal_id: int):
    return _proposal_detail(proposal_id, request.user)


class ProposalEditIn(Schema):
    title: str | None = Field(None, max_length=services.MAX_TITLE, description="Kept if empty.")
    body: str | None = Field(None, max_length=services.MAX_BODY, description="Kept if empty.")


@router.patch(
    "/proposals/{proposal_id}",
    response={200: ProposalDetailOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="The author rewrites their proposal while proposals are open",
)
def proposal_edit(request: HttpRequest, proposal_id: int, payload: ProposalEditIn):
    proposal = selectors.proposal_for(proposal_id, viewer=request.user)
    services.proposal_edit(
        proposal=proposal,
        by=request.user,
        title=proposal.title if payload.title is None else payload.title,
        body=proposal.body if payload.body is None else payload.body,
    )
    return _proposal_detail(proposal_id, request.user)


# -- supports and follows -------------------------------------------------------------------------


class SupportOut(Schema):
    proposal: int
    supported: bool
    support_count: int
    supports_left: int | None = Field(description="In this consultation; empty: no limit.")


def _support_out(proposal: Proposal, member, supported: bool) -> dict:
    consultation = Consultation.objects.get(pk=proposal.consultation_id)
    return {
        "proposal": proposal.pk,
        "supported": supported,
        "support_count": proposal.support_count,
        "supports_left": selectors.supports_left(member, consultation),
    }


@router.post(
    "/proposals/{proposal_id}/support",
    response={201: SupportOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Support a proposal (409: already supported, closed, or no support left)",
)
def support_add(request: HttpRequest, proposal_id: int):
    selectors.proposal_for(proposal_id, viewer=request.user)
    proposal = services.support_add(proposal_id=proposal_id, member=request.user)
    return Status(201, _support_out(proposal, request.user, True))


@router.delete(
    "/proposals/{proposal_id}/support",
    response={200: SupportOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Withdraw one's support while supports are open",
)
def support_withdraw(request: HttpRequest, proposal_id: int):
    selectors.proposal_for(proposal_id, viewer=request.user)
    proposal = services.support_withdraw(proposal_id=proposal_id, member=request.user)
    return _support_out(proposal, request.user, False)


class FollowOut(Schema):
    proposal: int
    following: bool
    changed: bool = Field(description="False when it already was so.")


def _follow(request: HttpRequest, proposal_id: int, follow: bool) -> dict:
    proposal = selectors.proposal_for(proposal_id, viewer=request.user)
    changed = services.follow_set(proposal=proposal, member=request.user, follow=follow)
    return {"proposal": proposal.pk, "following": follow, "changed": changed}


@router.post(
    "/proposals/{proposal_id}/follow",
    response={200: FollowOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Follow a proposal: be told of new comments and answers",
)
def follow_add(request: HttpRequest, proposal_id: int):
    return _follow(request, proposal_id, True)


@router.delete(
    "/proposals/{proposal_id}/follow",
    response={200: FollowOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Stop following a proposal",
)
def follow_remove(request: HttpRequest, proposal_id: int):
    return _follow(request, proposal_id, False)


# -- comments -------------------------------------------------------------------------------------


class CommentOut(Schema):
    id: int
    proposal: int
    parent: int | None = Field(description="The comment this one answers (one level).")
    author: PersonRef | None = Field(description="Empty when hidden or deleted.")
    body: str | None = Field(
        description="Markdown source; empty string when deleted, null when hidden."
    )
    body_html: str | None
    created_at: datetime.datetime
    edited_at: datetime.datetime | None
    deleted: bool = Field(description="Deleted by its author: the place in the thread stays.")
    state: StateName
    hidden_reason: str | None = None
    replies: list[CommentOut] = Field(default_factory=list)


class ThreadOut(Schema):
    proposal: int
    withheld: bool = Field(
        description="True when the proposal is hidden by moderation: its thread is withheld."
    )
    items: list[CommentOut] = Field(description="Oldest first, replies under their comment.")


def _comment_out(comment: Comment, viewer, consultation: Consultation) -> dict:
    deleted = comment.deleted_at is not None
    readable = not deleted and selectors.can_read_text(viewer, comment, consultation)
    return {
        "id": comment.pk,
        "proposal": comment.proposal_id,
        "parent": comment.parent_id,
        "author": _person(comment.author) if readable else None,
        "body": "" if deleted else comment.body if readable else None,
        "body_html": "" if deleted else str(render(comment.body)) if readable else None,
        "created_at": comment.created_at,
        "edited_at": comment.edited_at,
        "deleted": deleted,
        "state": comment.state,
        "hidden_reason": comment.hidden_reason if comment.state == "hidden" else None,
        "replies": [
            _comment_out(reply, viewer, consultation)
            for reply in getattr(comment, "reply_list", [])
        ],
    }


@router.get(
    "/proposals/{proposal_id}/comments",
    response={200: ThreadOut, **READ_ERRORS},
    summary="A proposal's thread: hidden comments as placeholders, deleted ones emptied",
)
def comment_list(request: HttpRequest, proposal_id: int):
    proposal = selectors.proposal_for(proposal_id, viewer=request.user)
    consultation = proposal.consultation
    if not selectors.can_read_text(request.user, proposal, consultation):
        # The comments of a hidden proposal quote it: they go with it.
        return {"proposal": proposal.pk, "withheld": True, "items": []}
    thread = selectors.comments_of(proposal, viewer=request.user)
    return {
        "proposal": proposal.pk,
        "withheld": False,
        "items": [_comment_out(c, request.user, consultation) for c in thread],
    }


class CommentIn(Schema):
    body: str = Field(max_length=services.MAX_COMMENT, description="Markdown (a safe subset).")
    parent: int | None = Field(
        None, ge=1, description="Reply to this comment (a reply to a reply joins its thread)."
    )


@router.post(
    "/proposals/{proposal_id}/comments",
    response={201: CommentOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Comment on a proposal, or reply to a comment",
)
def comment_create(request: HttpRequest, proposal_id: int, payload: CommentIn):
    proposal = selectors.proposal_for(proposal_id, viewer=request.user)
    comment = services.comment_add(
        proposal=proposal, author=request.user, body=payload.body, parent_id=payload.parent
    )
    return Status(201, _comment_out(comment, request.user, proposal.consultation))


class CommentEditIn(Schema):
    body: str = Field(max_length=services.MAX_COMMENT, description="Markdown (a safe subset).")


def _own_comment_out(comment: Comment, viewer) -> dict:
    comment = Comment.objects.select_related("author", "proposal__consultation").get(pk=comment.pk)
    return _comment_out(comment, viewer, comment.proposal.consultation)


@router.patch(
    "/comments/{comment_id}",
    response={200: CommentOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="The author rewrites their comment",
)
def comment_edit(request: HttpRequest, comment_id: int, payload: CommentEditIn):
    comment = services.comment_edit(comment_id=comment_id, by=request.user, body=payload.body)
    return _own_comment_out(comment, request.user)


@router.delete(
    "/comments/{comment_id}",
    response={200: CommentOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="The author deletes their comment: the text goes, the place in the thread stays",
)
def comment_delete(request: HttpRequest, comment_id: int):
    comment = services.comment_delete(comment_id=comment_id, by=request.user)
    return _own_comment_out(comment, request.user)


# -- reports and reviews --------------------------------------------------------------------------


class ModerationReportIn(Schema):
    kind: KindName
    id: int = Field(ge=1, description="The proposal's or the comment's id.")
    reason: ReasonName
    note: str = Field("", max_length=1000, description="Anything the moderators should know.")


class ModerationReportOut(Schema):
    id: int
    kind: KindName
    target: int
    reason: ReasonName
    created_at: datetime.datetime


@router.post(
    "/reports",
    response={201: ModerationReportOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Report a public proposal or comment to the moderators",
)
def report_create(request: HttpRequest, payload: ModerationReportIn):
    report = moderation.report_create(
        kind=payload.kind,
        target_id=payload.id,
        reason=payload.reason,
        note=payload.note,
        by=request.user,
    )
    return Status(201, _report_out(report))


def _report_out(report: Report) -> dict:
    kind = "proposal" if report.proposal_id else "comment"
    return {
        "id": report.pk,
        "kind": kind,
        "target": report.proposal_id or report.comment_id,
        "reason": report.reason,
        "created_at": report.created_at,
    }


class ReviewIn(Schema):
    kind: KindName
    id: int = Field(ge=1)
    note: str = Field(max_length=1000, description="Why it should be shown again.")


class ModeratedOut(Schema):
    kind: KindName
    id: int
    state: StateName
    hidden_reason: str | None = None
    review_requested: bool = Field(description="Its author asked for a second look.")


def _moderated_out(kind: str, item) -> dict:
    return {
        "kind": kind,
        "id": item.pk,
        "state": item.state,
        "hidden_reason": item.hidden_reason or None,
        "review_requested": item.review_requested_at is not None,
    }


@router.post(
    "/reviews",
    response={201: ModeratedOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="The author of a hidden contribution asks, once, for a second look",
)
def review_request(request: HttpRequest, payload: ReviewIn):
    item = moderation.review_request(
        kind=payload.kind, target_id=payload.id, note=payload.note, by=request.user
    )
    return Status(201, _moderated_out(payload.kind, item))


# -- answers and merges (the consultation's organisers) ------------------------------------------


class ProposalAnswerIn(Schema):
    status: AnswerStatusName
    text: str = Field(max_length=services.MAX_BODY, description="Markdown.")


@router.post(
    "/proposals/{proposal_id}/answer",
    response={201: AnswerOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Answer a proposal (its organisers); author, supporters and followers are told",
)
def proposal_answer(request: HttpRequest, proposal_id: int, payload: ProposalAnswerIn):
    answer = services.proposal_answer(
        proposal_id=proposal_id, status=payload.status, text=payload.text, by=request.user
    )
    return Status(201, _answer_out(answer))


class MergeIn(Schema):
    into: int = Field(ge=1, description="The proposal this duplicate joins.")


@router.post(
    "/proposals/{proposal_id}/merge",
    response={200: ProposalDetailOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Merge a duplicate into another proposal; answers the one it joined",
)
def proposal_merge(request: HttpRequest, proposal_id: int, payload: MergeIn):
    try:
        target = services.proposal_merge(
            source_id=proposal_id, target_id=payload.into, by=request.user
        )
    except DomainError as error:
        # The service names the two proposals source and target; here they are the path's
        # proposal and ``into``.
        error.field = {"target": "into", "source": None}.get(error.field, error.field)
        raise
    return _proposal_detail(target.pk, request.user)


# -- moderation -----------------------------------------------------------------------------------


class QueueReportOut(Schema):
    id: int
    reason: ReasonName
    note: str
    created_at: datetime.datetime


class QueueItemOut(Schema):
    kind: KindName
    id: int
    proposal: int = Field(description="The proposal itself, or the one the comment is on.")
    consultation: int
    title: str | None = Field(description="A proposal's title; empty for a comment.")
    body: str
    body_html: str
    author: PersonRef | None
    created_at: datetime.datetime
    state: StateName
    held_for: list[str] = Field(description="Why the spam heuristic held it: links, repeat…")
    hidden_reason: str | None
    review_note: str | None = Field(description="The author's request for a second look.")
    reports: list[QueueReportOut] = Field(description="Open reports, without their reporters.")


class QueueOut(Schema):
    held: list[QueueItemOut] = Field(description="Held before publication: approve or hide.")
    reported: list[QueueItemOut] = Field(description="Public and reported: dismiss or hide.")
    reviews: list[QueueItemOut] = Field(description="Hidden, the author asks for a review.")


def _queue_item(item) -> dict:
    proposal = item if item.kind == "proposal" else item.proposal
    return {
        "kind": item.kind,
        "id": item.pk,
        "proposal": proposal.pk,
        "consultation": proposal.consultation_id,
        "title": item.title if item.kind == "proposal" else None,
        "body": item.body,
        "body_html": str(render(item.body)),
        "author": _person(item.author),
        "created_at": item.created_at,
        "state": item.state,
        "held_for": list(item.held_for or []),
        "hidden_reason": item.hidden_reason or None,
        "review_note": item.review_note or None,
        "reports": [
            {"id": r.pk, "reason": r.reason, "note": r.note, "created_at": r.created_at}
            for r in item.open_reports
        ],
    }


@router.get(
    "/moderation/queue",
    response={200: QueueOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="What waits for the caller as a moderator (never their own contributions)",
)
def moderation_queue(request: HttpRequest):
    waiting = moderation.queue(request.user)
    return {name: [_queue_item(i) for i in items] for name, items in waiting.items()}


class ModerationDecisionIn(Schema):
    kind: KindName
    id: int = Field(ge=1)
    action: ActionName = Field(
        description="approve a held one, hide one (with a reason), restore a hidden one, "
        "dismiss the reports of a public one, uphold a hidden one after its author's review "
        "request."
    )
    reason: str = Field(
        "", max_length=500, description="Shown in place of the content; required to hide."
    )


@router.post(
    "/moderation/decisions",
    response={201: ModeratedOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Decide on a proposal or comment (its consultation's moderators)",
)
def moderation_decide(request: HttpRequest, payload: ModerationDecisionIn):
    item = moderation.moderate(
        kind=payload.kind,
        target_id=payload.id,
        action=payload.action,
        reason=payload.reason,
        by=request.user,
    )
    return Status(201, _moderated_out(payload.kind, item))
