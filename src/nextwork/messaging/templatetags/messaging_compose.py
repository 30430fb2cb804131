"""Template helpers of the messaging pages used by other apps' templates."""

from __future__ import annotations

from django import template

from nextwork.messaging import segments

register = template.Library()


@register.simple_tag
def writes_to_members(member) -> bool:
    """Whether the member may write to members (staff, coordinators, community coordinators):
    the "Messages" and "Alerte" links are shown only to them."""
    if member is None or not getattr(member, "is_authenticated", False):
        return False
    return bool(segments.scopes_of(member))
