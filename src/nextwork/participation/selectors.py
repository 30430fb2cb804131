"""Reads of participation, each scoped to who is asking.

Visitors and members see published consultations and published proposals and comments.
Pending content (held by the spam heuristic) is seen by its author and by moderators only;
hidden content shows as its moderation reason, its text withheld, except to its author and
moderators. Lists, search, feeds and the API all read through here, so nothing held or hidden
leaks by another path.
"""

from __future__ import annotations

import datetime

from django.db.models import DateTimeField, ExpressionWrapper, F, Q, QuerySet
from django.db.models import Value as _Value

from nextwork.common.errors import Forbidden, InvalidInput, NotFound
from nextwork.network.models import Member, Role
from nextwork.network.permissions import area_lineage, covers, current_grants, is_staff
from nextwork.participation import search
from nextwork.participation.models import (
    Comment,
    Consultation,
    ConsultationStatus,
    Proposal,
    State,
)

_ZERO = _Value(datetime.timedelta(0))
MAX_PAGE = 100
SORTS = {
    "supported": ("-support_count", "-id"),
    "recent": ("-created_at", "-id"),
    "discussed": ("-comment_count", "-id"),
}
# The same orders through expressions no index provides (see ``proposals_list``).
UNINDEXED_SORTS = {
    "supported": ((F("support_count") + 0).desc(), "-id"),
    "recent": (ExpressionWrapper(F("created_at") + _ZERO, output_field=DateTimeField()).desc(),
               "-id"),
    "discussed": ((F("comment_count") + 0).desc(), "-id"),
}  # fmt: skip
SMALL_MATCH = 10_000


# -- who may do what ------------------------------------------------------------------------------


def may_manage(member: Member | None, consultation: Consultation) -> bool:
    """Staff manage every consultation; a coordinator those of an area their grant covers."""
    if consultation.area_id is None:
        return is_staff(member)
    return covers(member, consultation.area, [Role.COORDINATOR])


def may_open_in(member: Member | None, area) -> bool:
    if area is None:
        return is_staff(member)
    return covers(member, area, [Role.COORDINATOR])


def may_open_somewhere(member: Member | None) -> bool:
    return current_grants(member, [Role.STAFF, Role.COORDINATOR]).exists()


def may_moderate(member: Member | None, consultation: Consultation) -> bool:
    """Moderators are the consultation's managers: staff, and for a territorial consultation
    the coordinators of its area."""
    return may_manage(member, consultation)


def is_confirmed(member: Member | None) -> bool:
    return bool(
        member is not None
        and member.is_authenticated
        and member.is_active
        and member.confirmed_at is not None
    )


def member_area_ids(member: Member) -> set[int]:
    """The areas a member lives in: commune, constituency, department, region."""
    from nextwork.network.selectors import current_location

    location = current_location(member)
    if location is None:
        return set()
    ids: set[int] = set()
    for area in (location.commune, location.constituency, location.department):
        if area is not None:
            ids.update(area_lineage(area))
    return ids


def lives_in(member: Member, area) -> bool:
    return area is None or area.pk in member_area_ids(member)


# -- consultations ------------------------------------------------------------------------------


def consultations_visible(viewer: Member | None) -> QuerySet[Consultation]:
    """Published consultations for everyone, and the drafts the viewer manages."""
    published = Q(status=ConsultationStatus.PUBLISHED)
    if is_staff(viewer):
        return Consultation.objects.select_related("area").all()
    grants = list(current_grants(viewer, [Role.COORDINATOR]))
    if grants:
        areas = [g.area_id for g in grants]
        mine = Q(area__in=areas) | Q(area__parent__in=areas) | Q(area__parent__parent__in=areas)
        return Consultation.objects.select_related("area").filter(published | mine)
    return Consultation.objects.select_related("area").filter(published)


def consultation_for(consultation_id: int, *, viewer: Member | None) -> Consultation:
    consultation = consultations_visible(viewer).filter(pk=consultation_id).first()
    if consultation is None:
        raise NotFound(f"No consultation {consultation_id}.", field="consultation")
    return consultation


# -- proposals ----------------------------------------------------------------------------------


def _visible_proposals(viewer: Member | None) -> Q:
    """Published proposals; the viewer's own pending and hidden ones too."""
    q = Q(state=State.PUBLISHED)
    if viewer is not None and viewer.is_authenticated:
        q |= Q(author=viewer)
    return q


def proposals_list(
    consultation: Consultation,
    *,
    viewer: Member | None,
    sort: str = "supported",
    query: str = "",
    area_code: str = "",
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[Proposal], int]:
    """One page of a consultation's public proposals and their total, sorted as asked.

    Merged proposals are not listed (their supports went to the one they joined); hidden and
    held ones are not listed either: they are reached by their own link only.
    """
    if sort not in SORTS:
        raise InvalidInput(
            f"Unknown sort {sort!r}; the sorts are {', '.join(SORTS)}.", field="sort"
        )
    limit = max(1, min(int(limit), MAX_PAGE))
    offset = max(0, int(offset))
    proposals = Proposal.objects.filter(
        consultation=consultation, state=State.PUBLISHED, merged_into__isnull=True
    )
    if area_code:
        from nextwork.network.selectors import area_by_code

        area = area_by_code(area_code)
        if area is None:
            raise InvalidInput(f"Unknown area {area_code!r}.", field="area")
        proposals = proposals.filter(area=area)
    searching = bool(query.strip())
    if searching:
        proposals = search.matching(proposals, query)
    total = proposals.count()
    order = SORTS[sort]
    if searching and total <= SMALL_MATCH:
        # Few matches: sort them after the text index found them. Ordered by a plain column,
        # PostgreSQL would walk the sort index and test the text of every proposal it passes
        # until it fills the page: seconds for a rare word over 100,000 proposals.
        order = UNINDEXED_SORTS[sort]
    page = list(
        proposals.select_related("author", "area").order_by(*order)[offset : offset + limit]
    )
    return page, total


def proposal_for(proposal_id: int, *, viewer: Member | None) -> Proposal:
    """A proposal under a published (or managed) consultation; pending ones only for their
    author and moderators. Hidden ones are returned: the page shows the reason, not the text
    (``can_read_text``)."""
    proposal = (
        Proposal.objects.select_related("consultation", "consultation__area", "author", "area")
        .filter(pk=proposal_id)
        .first()
    )
    if proposal is None:
        raise NotFound(f"No proposal {proposal_id}.", field="proposal")
    consultation_for(proposal.consultation_id, viewer=viewer)
    if proposal.state == State.PENDING and not (
        _is_author(viewer, proposal) or may_moderate(viewer, proposal.consultation)
    ):
        raise NotFound(f"No proposal {proposal_id}.", field="proposal")
    return proposal


def _is_author(viewer: Member | None, item) -> bool:
    return bool(viewer is not None and viewer.is_authenticated and item.author_id == viewer.pk)


def can_read_text(viewer: Member | None, item, consultation: Consultation) -> bool:
    """Whether the viewer may read a contribution's own text (hidden: author and moderators)."""
    if item.state == State.PUBLISHED:
        return True
    return _is_author(viewer, item) or may_moderate(viewer, consultation)


def comments_of(proposal: Proposal, *, viewer: Member | None) -> list[Comment]:
    """The thread: published comments, the viewer's own held ones, hidden ones as
    placeholders. Replies come in ``reply_list`` under their parent."""
    moderator = may_moderate(viewer, proposal.consultation)
    if proposal.state != State.PUBLISHED and not (moderator or _is_author(viewer, proposal)):
        return []  # comments quote what they answer: a withheld proposal withholds its thread
    q = Q(state__in=[State.PUBLISHED, State.HIDDEN])
    if viewer is not None and viewer.is_authenticated:
        q |= Q(author=viewer)
    if moderator:
        q = Q()
    rows = list(Comment.objects.filter(q, proposal=proposal).select_related("author"))
    top = [c for c in rows if c.parent_id is None]
    by_parent: dict[int, list[Comment]] = {}
    for c in rows:
        if c.parent_id is not None:
            by_parent.setdefault(c.parent_id, []).append(c)
    for c in top:
        c.reply_list = by_parent.get(c.pk, [])
    return top


def supported_ids(member: Member | None, proposal_ids) -> set[int]:
    if member is None or not member.is_authenticated:
        return set()
    from nextwork.participation.models import Support

    return set(
        Support.objects.filter(member=member, proposal_id__in=list(proposal_ids)).values_list(
            "proposal_id", flat=True
        )
    )


def follows(member: Member | None, proposal: Proposal) -> bool:
    if member is None or not member.is_authenticated:
        return False
    return proposal.follows.filter(member=member).exists()


def supports_left(member: Member, consultation: Consultation) -> int | None:
    if consultation.supports_per_member is None:
        return None
    from nextwork.participation.models import Support

    used = Support.objects.filter(member=member, proposal__consultation=consultation).count()
    return max(0, consultation.supports_per_member - used)


def require_manager(member: Member | None, consultation: Consultation, action: str) -> None:
    if not may_manage(member, consultation):
        raise Forbidden(f"Only this consultation's organisers may {action}.", field=None)
