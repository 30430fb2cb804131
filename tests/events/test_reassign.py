"""Upcoming events follow a newly activated boundary set, like members do."""

from __future__ import annotations

from nextwork.events.models import Event
from nextwork.events.reassign import on_activation
from nextwork.territories.models import Area, BoundarySet


def test_upcoming_events_move_onto_the_new_set(make_event, registry):
    event = make_event()
    new = BoundarySet.objects.create(name="t", source="t", source_version="2", licence="t")
    for area in (event.department, event.constituency):  # the commune is gone in this set
        Area.objects.create(boundary_set=new, kind=area.kind, code=area.code, name=area.name)
    BoundarySet.objects.filter(active=True).update(active=False)
    BoundarySet.objects.filter(pk=new.pk).update(active=True)

    name, summary = on_activation(BoundarySet, boundary_set=new)

    event = Event.objects.get(pk=event.pk)
    assert name == "events" and summary["moved"] == 1
    assert (event.department.boundary_set_id, event.constituency.boundary_set_id) == (new.pk,) * 2
    if event.commune_id:
        assert event.commune.boundary_set_id == registry.pk and summary["kept"] == 1
    # A second pass finds nothing left.
    assert on_activation(BoundarySet, boundary_set=new)[1] == {"moved": 0, "kept": 0}
