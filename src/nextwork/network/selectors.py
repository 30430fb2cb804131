"""Reads of the network: coverage (public aggregates) and grant-scoped member reads."""

from __future__ import annotations

from collections import Counter, defaultdict

from django.db.models import Count

from nextwork.network.models import (
    ApplicationStatus,
    Grant,
    MemberLocation,
    RelayApplication,
    Role,
)
from nextwork.territories.lookup import get_engine
from nextwork.territories.models import SENATE_KINDS, Area, AreaKind
from nextwork.territories.selectors import department_sort_key

COVERED = "covered"
SUBSTITUTE_ONLY = "substitute_only"
PENDING = "pending"
UNCOVERED = "uncovered"
STATUSES = (COVERED, SUBSTITUTE_ONLY, PENDING, UNCOVERED)


def seat_statuses() -> dict[str, str]:
    """Coverage status of each of the 577 seats, from current grants and pending applications.

    Three grouped queries whatever the number of members: cheap enough for every page view.
    """
    engine = get_engine()
    areas = Area.objects.filter(boundary_set_id=engine.boundary_set_id, kind=AreaKind.CONSTITUENCY)
    roles_by_seat: dict[str, set[str]] = defaultdict(set)
    for code, role in Grant.objects.filter(
        valid_to__isnull=True, role__in=[Role.RELAY, Role.SUBSTITUTE], area__in=areas
    ).values_list("area__code", "role"):
        roles_by_seat[code].add(role)
    pending = set(
        RelayApplication.objects.filter(
            status=ApplicationStatus.PENDING, area__in=areas
        ).values_list("area__code", flat=True)
    )
    statuses = {}
    for code in engine.seats:
        roles = roles_by_seat.get(code, set())
        if Role.RELAY in roles:
            statuses[code] = COVERED
        elif Role.SUBSTITUTE in roles:
            statuses[code] = SUBSTITUTE_ONLY
        elif code in pending:
            statuses[code] = PENDING
        else:
            statuses[code] = UNCOVERED
    return statuses


def seat_coverage(code: str) -> dict:
    """What the network adds to a seat's public detail: its status, and the titular relay's
    name only when they chose to be public."""
    engine = get_engine()
    relay = (
        Grant.objects.filter(
            role=Role.RELAY,
            valid_to__isnull=True,
            area__code=code,
            area__boundary_set_id=engine.boundary_set_id,
            member__public_relay=True,
        )
        .select_related("member")
        .first()
    )
    return {
        "coverage": seat_statuses()[code],
        "relay": {"name": relay.member.full_name} if relay else None,
    }


def senate_covered() -> set[str]:
    engine = get_engine()
    return set(
        Grant.objects.filter(
            valid_to__isnull=True,
            role=Role.SENATE_RELAY,
            area__boundary_set_id=engine.boundary_set_id,
            area__kind__in=SENATE_KINDS,
        ).values_list("area__code", flat=True)
    )


def coverage() -> dict:
    """National, departmental and senate coverage: aggregates only, no personal data."""
    engine = get_engine()
    statuses = seat_statuses()
    totals = Counter(statuses.values())
    by_department: dict[str, dict] = {}
    for code, status in statuses.items():
        dept = engine.seats[code]["department"] or {"code": code.rsplit("-", 1)[0], "name": ""}
        row = by_department.setdefault(
            dept["code"],
            {"code": dept["code"], "name": dept["name"], "total": 0, **dict.fromkeys(STATUSES, 0)},
        )
        row["total"] += 1
        row[status] += 1
    senate_areas = list(
        Area.objects.filter(boundary_set_id=engine.boundary_set_id, kind__in=SENATE_KINDS)
        .annotate(senators=Count("mandates"))
        .filter(senators__gt=0)
        .values_list("code", "kind")
    )
    covered_senate = senate_covered()
    departments = [c for c, kind in senate_areas if kind == AreaKind.DEPARTMENT]
    return {
        "total": len(statuses),
        **{status: totals.get(status, 0) for status in STATUSES},
        "ratio": round(totals.get(COVERED, 0) / len(statuses), 4) if statuses else 0.0,
        "by_department": sorted(
            by_department.values(), key=lambda r: department_sort_key(r["code"])
        ),
        "senate": {
            "departments_total": len(departments),
            "departments_covered": sum(1 for c in departments if c in covered_senate),
            "areas_total": len(senate_areas),
            "areas_covered": sum(1 for c, _k in senate_areas if c in covered_senate),
            "abroad_covered": "99" in covered_senate,
        },
    }


# The national count joins every current location to its member: about 0.5 s with a million
# members (docs/benchmarks.md). Dashboards may show it up to this many seconds old.
MEMBERS_PER_SEAT_TTL = 60


def members_per_seat(codes: set[str] | None = None) -> dict[str, int]:
    """Confirmed members by constituency (a count, never names).

    With ``codes`` (a coordinator's seats), counted now through the seat index; without, the
    national count, kept ``MEMBERS_PER_SEAT_TTL`` seconds in the cache.
    """
    from django.core.cache import cache

    def count(rows) -> dict[str, int]:
        return dict(
            rows.values_list("constituency__code")
            .annotate(n=Count("id"))
            .values_list("constituency__code", "n")
        )

    current = MemberLocation.objects.filter(
        valid_to__isnull=True, member__confirmed_at__isnull=False
    )
    if codes is not None:
        engine = get_engine()
        return count(
            current.filter(
                constituency__boundary_set_id=engine.boundary_set_id,
                constituency__code__in=sorted(codes),
            )
        )
    return cache.get_or_set(
        "network:members_per_seat", lambda: count(current), MEMBERS_PER_SEAT_TTL
    )


def grant_scope_filter(member, roles, field: str = "area"):
    """A Q matching rows whose ``field`` area lies under a current grant of ``roles``.

    Staff see everything; nobody else sees anything outside their grants (deny by default).
    """
    from django.db.models import Q

    from nextwork.network.permissions import current_grants

    grants = list(current_grants(member, [*roles, Role.STAFF]))
    if any(g.role == Role.STAFF for g in grants):
        return Q()
    areas = [g.area_id for g in grants if g.area_id]
    if not areas:
        return Q(pk__in=[])
    return (
        Q(**{f"{field}__in": areas})
        | Q(**{f"{field}__parent__in": areas})
        | Q(**{f"{field}__parent__parent__in": areas})
    )


def location_scope_filter(member, roles):
    """A Q matching member locations under a current grant of ``roles``: a seat's grant covers
    the members placed in that seat, a department's or region's grant every member of the
    department, including those whose seat is still to be chosen. Staff: everything."""
    from django.db.models import Q

    from nextwork.network.permissions import current_grants

    grants = list(current_grants(member, [*roles, Role.STAFF]))
    if any(g.role == Role.STAFF for g in grants):
        return Q()
    areas = [g.area_id for g in grants if g.area_id]
    if not areas:
        return Q(pk__in=[])
    return Q(constituency__in=areas) | Q(department__in=areas) | Q(department__parent__in=areas)


def applications_to_decide(member):
    """Pending applications under the member's coordinator grants (all for staff).

    Invitations are not among them: a coordinator issued them already, and the invited member
    answers them (``invitations_for``).
    """
    return (
        RelayApplication.objects.filter(status=ApplicationStatus.PENDING, invited_by__isnull=True)
        .filter(grant_scope_filter(member, [Role.COORDINATOR]))
        .select_related("member", "area")
        .order_by("created_at")
    )


def invitations_for(member):
    """The pending invitations addressed to ``member`` (only they may answer them)."""
    return (
        RelayApplication.objects.filter(
            member=member, status=ApplicationStatus.PENDING, invited_by__isnull=False
        )
        .select_related("area", "invited_by")
        .order_by("created_at")
    )


def member_space(member) -> dict:
    """What a member sees of themselves: place, roles, applications."""
    location = (
        MemberLocation.objects.filter(member=member, valid_to__isnull=True)
        .select_related("constituency")
        .first()
    )
    grants = list(
        Grant.objects.filter(member=member).select_related("area").order_by("-valid_from")
    )
    applications = list(
        RelayApplication.objects.filter(member=member)
        .select_related("area")
        .order_by("-created_at")
    )
    seat = None
    members_here = None
    if location is not None and location.constituency is not None:
        seat = get_engine().seats.get(location.constituency.code)
        if any(
            g.valid_to is None
            and g.role in (Role.RELAY, Role.SUBSTITUTE)
            and g.area_id == location.constituency_id
            for g in grants
        ):
            # One seat's count through the (constituency, valid_to) index, not every seat's.
            members_here = MemberLocation.objects.filter(
                constituency_id=location.constituency_id,
                valid_to__isnull=True,
                member__confirmed_at__isnull=False,
            ).count()
    return {
        "location": location,
        "seat": seat,
        "grants": grants,
        "current_grants": [g for g in grants if g.valid_to is None],
        "applications": applications,
        "has_pending": any(a.status == ApplicationStatus.PENDING for a in applications),
        "invitations": [
            a
            for a in applications
            if a.status == ApplicationStatus.PENDING and a.invited_by_id is not None
        ],
        "senate_area": _senate_area_or_none(location.constituency)
        if location and location.constituency
        else None,
        "members_here": members_here,
    }


def members_for_export(*, caller=None, area_code: str | None = None):
    """Members whose current location lies in ``area_code`` and under the caller's grants.

    ``caller`` None is the operator at the command line, who sees every member.
    """
    from django.db.models import Q

    locations = MemberLocation.objects.filter(valid_to__isnull=True).select_related(
        "member", "constituency__parent", "department"
    )
    if caller is not None:
        locations = locations.filter(location_scope_filter(caller, [Role.COORDINATOR]))
    if area_code:
        area = area_by_code(area_code)
        if area is None:
            from nextwork.common.errors import NotFound

            raise NotFound(
                f"No constituency (75-02), department (75) or region (R11) {area_code!r}.",
                field="area",
            )
        locations = locations.filter(
            Q(constituency=area) | Q(department=area) | Q(department__parent=area)
        )
    return locations.order_by("constituency__code", "member__last_name", "member__first_name")


def area_in_scope(*, caller, code: str) -> Area:
    """The area written ``code`` when the caller's coordinator grants cover it (staff: all).

    An unknown code and an area outside the grants are both "not found" for this caller.
    """
    from nextwork.common.errors import NotFound
    from nextwork.network.permissions import covers

    area = area_by_code(code)
    if area is None:
        raise NotFound(
            f"No constituency (75-02), department (75) or region (R11) {code!r}.",
            field="zone",
            code="unknown_area",
        )
    if not covers(caller, area, [Role.COORDINATOR]):
        raise NotFound(
            f"{code} is outside the territory you coordinate.", field="zone", code="outside"
        )
    return area


def grants_in(area: Area, *, caller, current: bool = True) -> list[Grant]:
    """Grants on ``area`` and the areas under it, within the caller's coordinator grants."""
    from django.db.models import Q

    grants = (
        Grant.objects.filter(Q(area=area) | Q(area__parent=area) | Q(area__parent__parent=area))
        .filter(grant_scope_filter(caller, [Role.COORDINATOR]))
        .select_related("area", "member")
        .order_by("area__code", "role", "-valid_from")
    )
    if current:
        grants = grants.filter(valid_to__isnull=True)
    return list(grants[:2000])


def current_roles(member_ids) -> dict[int, list[Grant]]:
    """The current grants of these members (one query), by member id."""
    roles: dict[int, list[Grant]] = defaultdict(list)
    for grant in (
        Grant.objects.filter(member_id__in=list(member_ids), valid_to__isnull=True)
        .select_related("area")
        .order_by("role", "area__code")
    ):
        roles[grant.member_id].append(grant)
    return roles


def member_rows(locations) -> list[dict]:
    """What the coordinators' members page shows beside each location of a page of members:
    their current roles, their pending invitations, and the roles they can be invited to.

    Three queries for the whole page. The locations come from ``members_for_export``, already
    scoped to the caller's grants.
    """
    locations = list(locations)
    member_ids = [loc.member_id for loc in locations]
    roles = current_roles(member_ids)
    invited: dict[int, list[RelayApplication]] = defaultdict(list)
    for application in RelayApplication.objects.filter(
        member_id__in=member_ids, status=ApplicationStatus.PENDING, invited_by__isnull=False
    ).select_related("area"):
        invited[application.member_id].append(application)
    seats_with_titular = set(
        Grant.objects.filter(
            role=Role.RELAY,
            valid_to__isnull=True,
            area_id__in={loc.constituency_id for loc in locations if loc.constituency_id},
        ).values_list("area_id", flat=True)
    )
    with_senators = _with_senators(
        {loc.constituency.parent_id for loc in locations if loc.constituency_id}
    )
    rows = []
    for loc in locations:
        member_roles = roles.get(loc.member_id, [])
        pending = invited.get(loc.member_id, [])
        invitable = (
            loc.constituency_id is not None  # the member chooses their seat first
            and loc.member.confirmed_at is not None
            and not pending
            and not any(g.role in (Role.RELAY, Role.SUBSTITUTE) for g in member_roles)
        )
        options = []
        if invitable:
            if loc.constituency_id not in seats_with_titular:
                options.append((Role.RELAY, loc.constituency))
            options.append((Role.SUBSTITUTE, loc.constituency))
            senate_area = _senate_area_or_none(loc.constituency, with_senators)
            if senate_area is not None and not any(
                g.role == Role.SENATE_RELAY and g.area_id == senate_area.pk for g in member_roles
            ):
                options.append((Role.SENATE_RELAY, senate_area))
        rows.append(
            {
                "location": loc,
                "member": loc.member,
                "roles": member_roles,
                "invitations": pending,
                "invite_options": options,
            }
        )
    return rows


def application_area(constituency: Area | None, role: str) -> Area:
    """The area a role is held on by someone living in ``constituency``: the seat itself, or
    for a senate relay the area whose senators they would meet — the department, the overseas
    collectivity, or ``99`` for the French residents abroad (as ``coverage()`` counts them)."""
    if constituency is None:
        from nextwork.common.errors import Conflict

        raise Conflict(
            "Your place spans several constituencies: choose yours in your profile first.",
            field="constituency",
            code="seat_to_choose",
        )
    if role != Role.SENATE_RELAY:
        return constituency
    area = _senate_area_or_none(constituency)
    if area is None:
        from nextwork.common.errors import InvalidInput

        raise InvalidInput(
            f"No senators are elected for the area of {constituency.code}: "
            "apply as a relay or a substitute of the constituency.",
            field="role",
        )
    return area


def _senate_area_or_none(constituency: Area, with_senators: set[int] | None = None) -> Area | None:
    """The constituency's department (collectivity, ``99``) when senators are elected there."""
    parent = constituency.parent
    if parent is None or parent.kind not in SENATE_KINDS:
        return None
    if with_senators is None:
        with_senators = _with_senators([parent.pk])
    return parent if parent.pk in with_senators else None


def _with_senators(area_ids) -> set[int]:
    from nextwork.territories.models import Chamber, Mandate

    return set(
        Mandate.objects.filter(chamber=Chamber.SENATE, area_id__in=list(area_ids)).values_list(
            "area_id", flat=True
        )
    )


def recruitment_gaps(*, caller=None, limit: int = 50) -> list[dict]:
    """Seats without any relay, the most promising first: most confirmed members living there.

    Scoped like everything else: a coordinator sees the gaps of their territory, staff all.
    """
    statuses = seat_statuses()
    engine = get_engine()
    allowed = None if caller is None else _codes_in_scope(caller)
    national = allowed is None or len(allowed) == len(statuses)
    members = members_per_seat() if national else members_per_seat(allowed)
    gaps = [
        {
            "code": code,
            "name": engine.seats[code]["name"],
            "status": status,
            "members": members.get(code, 0),
        }
        for code, status in statuses.items()
        if status in (UNCOVERED, PENDING) and (allowed is None or code in allowed)
    ]
    gaps.sort(key=lambda g: (-g["members"], g["code"]))
    return gaps[:limit]


def _codes_in_scope(caller) -> set[str]:
    """Seats under the caller's coordinator grants (all for staff, none for anyone else)."""
    from django.db.models import Q

    from nextwork.network.permissions import current_grants

    engine = get_engine()
    seats = Area.objects.filter(boundary_set_id=engine.boundary_set_id, kind=AreaKind.CONSTITUENCY)
    grants = list(current_grants(caller, [Role.COORDINATOR, Role.STAFF]))
    if any(g.role == Role.STAFF for g in grants):
        return set(seats.values_list("code", flat=True))
    areas = [g.area_id for g in grants]
    return set(
        seats.filter(
            Q(pk__in=areas) | Q(parent__in=areas) | Q(parent__parent__in=areas)
        ).values_list("code", flat=True)
    )


def coverage_curve(days: int = 365) -> list[dict]:
    from datetime import timedelta

    from django.utils import timezone

    from nextwork.network.models import CoverageSnapshot

    since = timezone.localdate() - timedelta(days=days)
    return list(
        CoverageSnapshot.objects.filter(day__gte=since)
        .order_by("day")
        .values("day", "covered", "total")
    )


def current_location(member) -> MemberLocation | None:
    return (
        MemberLocation.objects.filter(member=member, valid_to__isnull=True)
        .select_related("constituency")
        .first()
    )


def area_by_code(code: str) -> Area | None:
    """A constituency (75-02), a department (75, 2A, 971, 99) or a region written R75.

    Department and region codes overlap (75 is Paris and Nouvelle-Aquitaine), hence the R.
    """
    code = (code or "").strip().upper()
    areas = Area.objects.filter(boundary_set_id=get_engine().boundary_set_id)
    if code.startswith("R") and code[1:].isdigit():
        return areas.filter(kind=AreaKind.REGION, code=code[1:]).first()
    kinds = [AreaKind.CONSTITUENCY] if "-" in code else list(SENATE_KINDS)
    return areas.filter(kind__in=kinds, code=code).first()
