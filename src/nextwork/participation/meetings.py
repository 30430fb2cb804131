"""Relays bring members' proposals to their meeting with their representative.

An action day (``campaigns``) gives each relay an assignment: one representative, one seat.
While the campaign is open, the relay of an assignment may attach public proposals to it
(``MeetingProposal``) and detach them; the proposal's page then says where it was carried.
Suggestions come from the seat: proposals placed in it (or in a seat it contains), and those
of a consultation held for an area that contains it.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from nextwork.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from nextwork.network.models import Member
from nextwork.network.permissions import area_lineage
from nextwork.participation.models import (
    ConsultationStatus,
    MeetingProposal,
    Proposal,
    State,
)
from nextwork.privacy.services import audit_record

SUGGESTIONS = 20


def _assignment_of_relay(assignment_id: int, by: Member):
    """The assignment, if ``by`` is its relay and its campaign is open."""
    from nextwork.campaigns.models import Assignment, Status

    assignment = (
        Assignment.objects.select_related("campaign", "area", "mandate")
        .filter(pk=assignment_id)
        .first()
    )
    if assignment is None:
        raise NotFound(f"No assignment {assignment_id}.", field="assignment")
    if by is None or not by.is_authenticated or assignment.relay_id != by.pk:
        raise Forbidden("Only the relay of this meeting may choose the proposals brought to it.")
    if assignment.campaign.status != Status.OPEN:
        raise Conflict(
            "This action day is not open: its proposals can no longer change.",
            field="assignment",
        )
    return assignment


def _carriable(proposal_id: int) -> Proposal:
    proposal = (
        Proposal.objects.select_related("consultation").filter(pk=proposal_id).first()
        if proposal_id
        else None
    )
    if proposal is None or proposal.consultation.status != ConsultationStatus.PUBLISHED:
        raise NotFound(f"No proposal {proposal_id}.", field="proposal")
    if proposal.state != State.PUBLISHED:
        raise NotFound(f"No proposal {proposal_id}.", field="proposal")
    if proposal.merged_into_id:
        raise Conflict(
            f"Proposal {proposal_id} was merged into proposal {proposal.merged_into_id}: "
            "bring that one.",
            field="proposal",
        )
    return proposal


def _proposal_id(value) -> int:
    try:
        number = int(str(value).strip().lstrip("#nN°").strip())
    except (TypeError, ValueError):
        raise InvalidInput("Give the proposal's number.", field="proposal") from None
    if number <= 0:
        raise InvalidInput("Give the proposal's number.", field="proposal")
    return number


@transaction.atomic
def meeting_attach(*, assignment_id: int, proposal_id, by: Member) -> MeetingProposal:
    """Attach a public, unmerged proposal to the relay's meeting (once)."""
    assignment = _assignment_of_relay(assignment_id, by)
    proposal = _carriable(_proposal_id(proposal_id))
    try:
        with transaction.atomic():
            row = MeetingProposal.objects.create(
                assignment=assignment, proposal=proposal, attached_by=by
            )
    except IntegrityError:
        raise Conflict(
            f"Proposal {proposal.pk} is already on this meeting's list.", field="proposal"
        ) from None
    audit_record(
        actor=by,
        action="meeting.attach",
        area_code=assignment.area.code,
        details={"assignment": assignment.pk, "proposal": proposal.pk},
    )
    return row


@transaction.atomic
def meeting_detach(*, assignment_id: int, proposal_id, by: Member) -> None:
    """Take a proposal off the relay's meeting list."""
    assignment = _assignment_of_relay(assignment_id, by)
    number = _proposal_id(proposal_id)
    deleted, _ = MeetingProposal.objects.filter(assignment=assignment, proposal_id=number).delete()
    if not deleted:
        raise NotFound(f"Proposal {number} is not on this meeting's list.", field="proposal")
    audit_record(
        actor=by,
        action="meeting.detach",
        area_code=assignment.area.code,
        details={"assignment": assignment.pk, "proposal": number},
    )


# -- reads ----------------------------------------------------------------------------------------


def _public() -> Q:
    return Q(
        state=State.PUBLISHED,
        merged_into__isnull=True,
        consultation__status=ConsultationStatus.PUBLISHED,
    )


def attached(assignment) -> list[Proposal]:
    """The public proposals on an assignment's list, in the order they were added."""
    return list(
        Proposal.objects.filter(_public(), meetings__assignment=assignment)
        .select_related("consultation", "area")
        .order_by("meetings__attached_at", "pk")
    )


def local_proposals(assignment, *, limit: int = SUGGESTIONS) -> QuerySet[Proposal]:
    """Public proposals of the assignment's seat, most supported first, not yet attached:
    placed in the seat or in an area inside it, or made in a consultation held for an area
    that contains the seat."""
    seat = assignment.area
    inside = Q(area=seat) | Q(area__parent=seat) | Q(area__parent__parent=seat)
    around = Q(consultation__area__in=area_lineage(seat))
    return (
        Proposal.objects.filter(_public())
        .filter(inside | around)
        .exclude(meetings__assignment=assignment)
        .select_related("consultation", "area")
        .order_by("-support_count", "-id")[:limit]
    )


def _representative(mandate) -> str:
    """« la députée Anne Martin », « le sénateur Paul Durand »: how the proposal page says it."""
    article = "la" if mandate.sex == "F" else "le"
    return f"{article} {mandate.title.lower()} {mandate.full_name}"


def meetings_of(proposal: Proposal) -> list[dict]:
    """Where a proposal was carried: the representative and the action day (open or closed
    campaigns only; a draft is nobody's business yet)."""
    from nextwork.campaigns.models import Status

    rows = (
        MeetingProposal.objects.filter(proposal=proposal)
        .exclude(assignment__campaign__status=Status.DRAFT)
        .select_related("assignment__campaign", "assignment__mandate", "assignment__area")
        .order_by("attached_at")
    )
    return [
        {
            "representative": _representative(row.assignment.mandate),
            "campaign": row.assignment.campaign,
            "area": row.assignment.area,
        }
        for row in rows
    ]
