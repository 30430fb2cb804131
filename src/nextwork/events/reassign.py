"""Upcoming events follow a newly activated boundary set (see network/reassign.py)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from nextwork.events.models import Event
from nextwork.territories.models import Area, BoundarySet

PLACES = ("constituency", "department", "commune")


def on_activation(sender, *, boundary_set: BoundarySet, **kwargs) -> tuple[str, dict]:
    """Point upcoming events at the areas with the same kind and code in the new set; an area
    that no longer exists keeps its old link (the event stays listed by its department)."""
    since = timezone.now() - datetime.timedelta(days=1)
    stale = (
        Event.objects.filter(starts_at__gte=since)
        .exclude(department__boundary_set=boundary_set)
        .select_related(*PLACES)
    )
    if not stale.exists():
        return "events", {"moved": 0, "kept": 0}
    ids = {
        (kind, code): pk
        for pk, kind, code in Area.objects.filter(boundary_set=boundary_set).values_list(
            "pk", "kind", "code"
        )
    }
    moved = kept = 0
    for event in stale:
        changed = []
        for name in PLACES:
            area = getattr(event, name)
            if area is None:
                continue
            new = ids.get((area.kind, area.code))
            if new is None:
                kept += 1
                continue
            setattr(event, f"{name}_id", new)
            changed.append(name)
        if changed:
            event.save(update_fields=changed)
            moved += 1
    return "events", {"moved": moved, "kept": kept}
