"""Reading campaigns: progress through the funnel, and assignments within the caller's grants."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Q
from django.utils import timezone

from nextwork.campaigns.models import Assignment, Campaign, Stage, Status
from nextwork.network.models import Role
from nextwork.network.permissions import current_grants
from nextwork.territories.models import AreaKind
from nextwork.territories.selectors import department_sort_key

# Each funnel step counts the assignments that reached it or went further.
FUNNEL_STEPS = {
    "assigned": list(Stage.values),
    "contacted": [Stage.CONTACTED, Stage.REQUESTED, Stage.SCHEDULED, Stage.HELD, Stage.REPORTED],
    "scheduled": [Stage.SCHEDULED, Stage.HELD, Stage.REPORTED],
    "held": [Stage.HELD, Stage.REPORTED],
    "reported": [Stage.REPORTED],
}


def assignment_scope(member) -> Q:
    """What a member may read: their own assignments; coordinators their territory; staff all."""
    grants = list(current_grants(member, [Role.COORDINATOR, Role.STAFF]))
    if any(g.role == Role.STAFF for g in grants):
        return Q()
    areas = [g.area_id for g in grants]
    mine = Q(relay_id=member.pk) if member.is_authenticated else Q(pk__in=[])
    if not areas:
        return mine
    return (
        mine
        | Q(area_id__in=areas)
        | Q(area__parent_id__in=areas)
        | Q(area__parent__parent_id__in=areas)
    )


def visible_campaigns(member):
    """Open and closed campaigns for members with a role; drafts for staff too."""
    grants = current_grants(member)
    if not grants.exists():
        return Campaign.objects.none()
    if grants.filter(role=Role.STAFF).exists():
        return Campaign.objects.all()
    return Campaign.objects.exclude(status=Status.DRAFT)


def assignments_for(member, campaign: Campaign | None = None):
    rows = Assignment.objects.filter(assignment_scope(member)).select_related(
        "campaign", "area", "area__parent", "mandate", "relay"
    )
    if campaign is not None:
        rows = rows.filter(campaign=campaign)
    return rows.order_by("campaign__starts_at", "area__code", "mandate__last_name")


def _department(area_code: str, kind: str, parent_code: str | None) -> str:
    if kind == AreaKind.CONSTITUENCY:
        return parent_code or area_code.rsplit("-", 1)[0]
    return area_code


def progress(campaign: Campaign, *, caller=None) -> dict:
    """Funnel counts nationally and by department (within the caller's grants when given)."""
    rows = Assignment.objects.filter(campaign=campaign)
    if caller is not None:
        rows = rows.filter(assignment_scope(caller))
    counts = rows.values("area__code", "area__kind", "area__parent__code", "stage").annotate(
        n=Count("id"), gaps=Count("id", filter=Q(relay__isnull=True))
    )
    total = {step: 0 for step in FUNNEL_STEPS}
    departments: dict[str, dict] = defaultdict(lambda: {s: 0 for s in FUNNEL_STEPS} | {"gaps": 0})
    gaps = 0
    for row in counts:
        dept = _department(row["area__code"], row["area__kind"], row["area__parent__code"])
        for step, stages in FUNNEL_STEPS.items():
            if row["stage"] in stages:
                total[step] += row["n"]
                departments[dept][step] += row["n"]
        gaps += row["gaps"]
        departments[dept]["gaps"] += row["gaps"]
    # A seat with nobody to go is targeted but not assigned.
    targeted = total["assigned"]
    total["assigned"] -= gaps
    for values in departments.values():
        values["targeted"] = values["assigned"]
        values["assigned"] -= values["gaps"]
    now = timezone.now()
    return {
        "campaign": campaign.pk,
        "status": campaign.status,
        "starts_at": campaign.starts_at,
        "seconds_to_start": max(0, int((campaign.starts_at - now).total_seconds())),
        "total": targeted,
        "gaps": gaps,
        "stages": total,
        "by_department": [
            {"code": code, **values}
            for code, values in sorted(
                departments.items(), key=lambda kv: department_sort_key(kv[0])
            )
        ],
    }


def late_assignments(campaign: Campaign, *, caller=None, limit: int = 100):
    """Assignments with a relay that have not moved yet, for the reminders and the dashboard."""
    rows = Assignment.objects.filter(
        campaign=campaign, relay__isnull=False, stage=Stage.ASSIGNED
    ).select_related("area", "relay", "mandate")
    if caller is not None:
        rows = rows.filter(assignment_scope(caller))
    return list(rows.order_by("area__code")[:limit])
