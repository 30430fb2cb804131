"""The relay's assignment page (``campaigns``) shows the members' proposals brought to the
meeting: this tag reads them, so the campaigns view needs no change."""

from __future__ import annotations

from django import template

from nextwork.participation import meetings

register = template.Library()


@register.simple_tag
def meeting_proposals(assignment, user) -> dict:
    from nextwork.campaigns.models import Status

    mine = user.is_authenticated and assignment.relay_id == user.pk
    is_open = assignment.campaign.status == Status.OPEN
    return {
        "attached": meetings.attached(assignment),
        "suggestions": list(meetings.local_proposals(assignment)) if mine and is_open else [],
        "editable": mine and is_open,
    }
