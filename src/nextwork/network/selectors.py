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


def members_per_seat() -> dict[str, int]:
    """Confirmed members by constituency (a count, never names)."""
    return dict(
        MemberLocation.objects.filter(valid_to__isnull=True, member__confirmed_at__isnull=False)
        .values_list("constituency__code")
        .annotate(n=Count("id"))
        .values_list("constituency__code", "n")
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


def applications_to_decide(member):
    return (
        RelayApplication.objects.filter(status=ApplicationStatus.PENDING)
        .filter(grant_scope_filter(member, [Role.COORDINATOR]))
        .select_related("member", "area")
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
    if location is not None:
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
        "members_here": members_here,
    }


def members_for_export(*, caller=None, area_code: str | None = None):
    """Members whose current location lies in ``area_code`` and under the caller's grants.

    ``caller`` None is the operator at the command line, who sees every member.
    """
    from django.db.models import Q

    locations = MemberLocation.objects.filter(valid_to__isnull=True).select_related(
        "member", "constituency"
    )
    if caller is not None:
        locations = locations.filter(
            grant_scope_filter(caller, [Role.COORDINATOR], field="constituency")
        )
    if area_code:
        area = area_by_code(area_code)
        if area is None:
            from nextwork.common.errors import NotFound

            raise NotFound(
                f"No constituency (75-02), department (75) or region (R11) {area_code!r}.",
                field="area",
            )
        locations = locations.filter(
            Q(constituency=area)
            | Q(constituency__parent=area)
            | Q(constituency__parent__parent=area)
        )
    return locations.order_by("constituency__code", "member__last_name", "member__first_name")


def recruitment_gaps(*, caller=None, limit: int = 50) -> list[dict]:
    """Seats without any relay, the most promising first: most confirmed members living there.

    Scoped like everything else: a coordinator sees the gaps of their territory, staff all.
    """
    statuses = seat_statuses()
    members = members_per_seat()
    engine = get_engine()
    allowed = None if caller is None else _codes_in_scope(caller)
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
