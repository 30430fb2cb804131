"""Reads of the presence audit, scoped: staff see every channel and report; a relay, senate
relay or coordinator sees those of the areas their current grants cover (a coordinator of 75
sees 75's and 75-02's); the organisation's (no area) are staff's only."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from nextwork.common.errors import Forbidden, InvalidInput, NotFound
from nextwork.monitoring.models import Channel, PresenceReport
from nextwork.network.models import Role
from nextwork.network.permissions import covers, current_grants, is_staff
from nextwork.territories.models import Area

ROLES = (Role.RELAY, Role.SENATE_RELAY, Role.COORDINATOR)


def can_manage(member, area: Area | None) -> bool:
    """May ``member`` register, audit and read the channels of ``area`` (None: the
    organisation's, staff only)?"""
    if member is None or not member.is_authenticated:
        return False
    if area is None:
        return is_staff(member)
    return covers(member, area, ROLES)


def require_manage(member, area: Area | None, action: str) -> None:
    if not can_manage(member, area):
        where = f"in {area.code}" if area is not None else "for the organisation (staff only)"
        raise Forbidden(f"No current grant allows you to {action} {where}.")


def area(code: str | None) -> Area | None:
    """The scope written ``code``: a constituency (75-02), a department (75) or a region
    (R11); empty is the organisation."""
    from nextwork.network.selectors import area_by_code

    code = (code or "").strip()
    if not code:
        return None
    if len(code) > 20:
        raise InvalidInput("area: an official code such as 75-02, 75 or R11.", field="area")
    found = area_by_code(code)
    if found is None:
        raise InvalidInput(
            f"No constituency (75-02), department (75) or region (R11) {code!r}.", field="area"
        )
    return found


def _in_scope(caller, queryset: QuerySet) -> QuerySet:
    if caller is None or not caller.is_authenticated:
        raise Forbidden("Log in as staff, relay or coordinator to see channels.")
    if is_staff(caller):
        return queryset
    areas = [a for a in current_grants(caller, ROLES).values_list("area_id", flat=True) if a]
    if not areas:
        raise Forbidden("Only staff, relays and coordinators see channels and presence reports.")
    return queryset.filter(
        Q(area_id__in=areas) | Q(area__parent_id__in=areas) | Q(area__parent__parent_id__in=areas)
    )


def channels(caller, *, area: Area | None = None, active: bool | None = True) -> QuerySet:
    found = _in_scope(caller, Channel.objects.select_related("area"))
    if area is not None:
        found = found.filter(area=area)
    if active is not None:
        found = found.filter(active=active)
    return found.order_by("area__code", "kind", "pk")


def channel(caller, channel_id: int) -> Channel:
    found = Channel.objects.select_related("area").filter(pk=channel_id).first()
    if found is None:
        raise NotFound(f"No channel {channel_id}.", field="channel_id")
    require_manage(caller, found.area, "see this channel")
    return found


def report(caller, report_id: int) -> PresenceReport:
    found = PresenceReport.objects.select_related("area", "previous").filter(pk=report_id).first()
    if found is None:
        raise NotFound(f"No presence report {report_id}.", field="report_id")
    require_manage(caller, found.area, "read this presence report")
    return found
