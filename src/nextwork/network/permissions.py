"""Deny by default: every permission question is "does a current grant cover this area"."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from nextwork.common.errors import Forbidden
from nextwork.network.models import Grant, Member, Role
from nextwork.territories.models import Area


def current_grants(member: Member | None, roles: Iterable[str] | None = None):
    if member is None or not member.is_authenticated or not member.is_active:
        return Grant.objects.none()
    grants = Grant.objects.filter(member=member, valid_to__isnull=True)
    if roles is not None:
        grants = grants.filter(role__in=list(roles))
    return grants.select_related("area")


def area_lineage(area: Area) -> list[int]:
    """The area and every area containing it (constituency → department → region)."""
    ids = []
    node: Area | None = area
    while node is not None:
        ids.append(node.pk)
        node = node.parent
    return ids


def covers(member: Member | None, area: Area, roles: Iterable[str]) -> bool:
    """Does a current grant of one of ``roles`` cover ``area``? Staff covers everything."""
    grants = current_grants(member, [*roles, Role.STAFF])
    return grants.filter(Q(role=Role.STAFF) | Q(area_id__in=area_lineage(area))).exists()


def require(member: Member | None, area: Area, roles: Iterable[str], action: str) -> None:
    if not covers(member, area, roles):
        raise Forbidden(f"No current grant allows you to {action} in {area.code}.", field=None)


def is_staff(member: Member | None) -> bool:
    return current_grants(member, [Role.STAFF]).exists()
