"""Reads of events, and who may do what with them (deny by default).

- create: staff anywhere; coordinators under their grant (department or region); relays,
  substitutes and senate relays in the department of their own area;
- edit, cancel, read the attendees: the creator, coordinators covering the event's place, staff;
- read: everyone for public events, logged-in members for the others.
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from nextwork.common.errors import InvalidInput, NotFound
from nextwork.events.models import Event, EventStatus, Rsvp, RsvpStatus
from nextwork.network.models import Member, Role
from nextwork.network.permissions import area_lineage, covers, current_grants
from nextwork.privacy.services import audit_record
from nextwork.territories.lookup import get_engine
from nextwork.territories.models import SENATE_KINDS, Area
from nextwork.territories.selectors import department_sort_key

CREATOR_ROLES = (Role.RELAY, Role.SUBSTITUTE, Role.SENATE_RELAY, Role.COORDINATOR, Role.STAFF)
SEAT_ROLES = (Role.RELAY, Role.SUBSTITUTE)


def is_member(member: Member | None) -> bool:
    return member is not None and member.is_authenticated and member.is_active


def may_create_somewhere(member: Member | None) -> bool:
    """Does the member hold any role that lets them create an event somewhere?"""
    return current_grants(member, CREATOR_ROLES).exists()


def may_create_at(member: Member | None, constituency: Area) -> bool:
    """May ``member`` create an event placed in ``constituency``?"""
    lineage = area_lineage(constituency)  # the seat, its department, its region
    department_id = constituency.parent_id
    for grant in current_grants(member, CREATOR_ROLES):
        if grant.role == Role.STAFF:
            return True
        if grant.role == Role.COORDINATOR and grant.area_id in lineage:
            return True
        if grant.role in SEAT_ROLES and grant.area.parent_id == department_id:
            return True
        if grant.role == Role.SENATE_RELAY and grant.area_id == department_id:
            return True
    return False


def may_manage(member: Member | None, event: Event) -> bool:
    """Edit, cancel, see the attendees: the creator, a coordinator covering the place, staff."""
    if not is_member(member):
        return False
    if event.created_by_id is not None and event.created_by_id == member.pk:
        return True
    return covers(member, event.constituency, [Role.COORDINATOR])


def department_by_code(code: str) -> Area:
    """A department, collectivity or 99 of the active set; bad input names the field."""
    code = (code or "").strip().upper()
    area = Area.objects.filter(
        boundary_set_id=get_engine().boundary_set_id, kind__in=SENATE_KINDS, code=code
    ).first()
    if area is None:
        raise InvalidInput(
            f"No department {code[:10]!r}: codes look like 75, 2A, 971 or 99.", field="department"
        )
    return area


def departments() -> list[Area]:
    """Every department, collectivity and 99, in the official order (for filters)."""
    areas = Area.objects.filter(boundary_set_id=get_engine().boundary_set_id, kind__in=SENATE_KINDS)
    return sorted(areas, key=lambda a: department_sort_key(a.code))


def _with_counts(events: QuerySet) -> QuerySet:
    return events.select_related("department", "commune", "constituency", "campaign").annotate(
        going_count=Count("rsvps", filter=Q(rsvps__status=RsvpStatus.GOING)),
        waiting_count=Count("rsvps", filter=Q(rsvps__status=RsvpStatus.WAITING)),
    )


def visible_to(viewer: Member | None) -> QuerySet:
    """Events the viewer may read: public ones, and every one for logged-in members."""
    events = Event.objects.all()
    if not is_member(viewer):
        events = events.filter(public=True)
    return events


def upcoming(
    *, viewer: Member | None = None, department: str | None = None, cancelled: bool = False
) -> QuerySet:
    """Events not over yet, soonest first; the cancelled ones only when asked (feeds)."""
    events = visible_to(viewer).filter(ends_at__gte=timezone.now())
    if not cancelled:
        events = events.filter(status=EventStatus.PUBLISHED)
    if department:
        # By code, not by row: an event keeps the areas of the boundary set it was placed in.
        events = events.filter(department__code=department_by_code(department).code)
    return _with_counts(events).order_by("starts_at", "pk")


def event_for(viewer: Member | None, pk: int) -> Event:
    """One event the viewer may read, with its counts; hidden and unknown are both 404."""
    event = _with_counts(visible_to(viewer).filter(pk=pk)).first()
    if event is None:
        raise NotFound("No event with this id.", field="id")
    return event


def event_to_manage(member: Member | None, pk: int) -> Event:
    """An event the member may edit or cancel; the others are not found for them."""
    event = _with_counts(Event.objects.filter(pk=pk)).first()
    if event is None or not may_manage(member, event):
        raise NotFound("No event of yours with this id.", field="id")
    return event


def places_left(event: Event) -> int | None:
    """Seats still free (never below 0); None without a capacity."""
    if event.capacity is None:
        return None
    going = getattr(event, "going_count", None)
    if going is None:
        going = event.rsvps.filter(status=RsvpStatus.GOING).count()
    return max(event.capacity - going, 0)


def waiting_position(rsvp: Rsvp | None) -> int | None:
    """1 for the next person to get a seat; None when not waiting."""
    if rsvp is None or rsvp.status != RsvpStatus.WAITING:
        return None
    ahead = Rsvp.objects.filter(event_id=rsvp.event_id, status=RsvpStatus.WAITING).filter(
        Q(queued_at__lt=rsvp.queued_at) | Q(queued_at=rsvp.queued_at, pk__lt=rsvp.pk)
    )
    return ahead.count() + 1


def rsvp_of(member: Member | None, event: Event) -> Rsvp | None:
    if not is_member(member):
        return None
    return Rsvp.objects.filter(event=event, member=member).first()


def attendees(*, event: Event, caller: Member | None) -> list[Rsvp]:
    """Who is coming and who waits, in order, for the organisers only; each read is audited
    (counts, never names)."""
    if not may_manage(caller, event):
        raise NotFound("No event of yours with this id.", field="id")
    rows = list(
        Rsvp.objects.filter(event=event, status__in=[RsvpStatus.GOING, RsvpStatus.WAITING])
        .select_related("member")
        .order_by("status", "queued_at", "pk")  # those going, then the waiting list in order
    )
    audit_record(
        actor=caller,
        action="events.attendees",
        area_code=event.department.code,
        details={
            "event": event.pk,
            "going": sum(r.status == RsvpStatus.GOING for r in rows),
            "waiting": sum(r.status == RsvpStatus.WAITING for r in rows),
        },
    )
    return rows


def departments_with_upcoming(viewer: Member | None = None) -> dict[str, int]:
    """Upcoming published events by department code (what the events map paints)."""
    return dict(
        visible_to(viewer)
        .filter(ends_at__gte=timezone.now(), status=EventStatus.PUBLISHED)
        .values_list("department__code")
        .annotate(n=Count("id"))
        .values_list("department__code", "n")
    )


def seats_with_upcoming(viewer: Member | None = None) -> set[str]:
    return set(
        visible_to(viewer)
        .filter(ends_at__gte=timezone.now(), status=EventStatus.PUBLISHED)
        .values_list("constituency__code", flat=True)
    )


def my_events(member: Member) -> QuerySet:
    """Upcoming events the member answered (going or waiting)."""
    answered = Rsvp.objects.filter(
        member=member, status__in=[RsvpStatus.GOING, RsvpStatus.WAITING]
    ).values("event_id")
    # A subquery, not a join: joining the member's RSVPs would narrow the counts to them.
    return _with_counts(
        Event.objects.filter(ends_at__gte=timezone.now(), pk__in=answered)
    ).order_by("starts_at")
