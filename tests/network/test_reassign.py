"""Activating a new boundary set carries members, grants and applications over to it."""

from __future__ import annotations

import json

import pytest
import shapely
from django.core.management import call_command

from nextwork.network.models import (
    ApplicationStatus,
    Grant,
    MemberLocation,
    Precision,
    RelayApplication,
    Role,
)
from nextwork.network.reassign import reassign_to_active_set
from nextwork.privacy.models import AuditEvent
from nextwork.territories.importer import import_territories
from nextwork.territories.models import Area, AreaKind, BoundarySet


def outline(area: Area):
    return shapely.from_wkb(bytes(area.geometry))


def place(member, seat: Area, *, commune=None, country=None, postcode="", point=None, how):
    return MemberLocation.objects.create(
        member=member,
        constituency=seat,
        commune=commune,
        country=country,
        postcode=postcode,
        precision=how,
        lat=point.y if point else None,
        lon=point.x if point else None,
    )


@pytest.fixture
def redrawn_hautes_alpes(registry, area, tmp_path):
    """New outlines for Hautes-Alpes: 05-02 becomes the western half of Gap, 05-01 the rest.

    Gap (05061, about 40,000 people) is then really split between the two seats.
    """
    department = outline(area("05-01")).union(outline(area("05-02")))
    gap = outline(area("05061", AreaKind.COMMUNE))
    west, south, east, north = gap.bounds
    half = shapely.box(west, south, (west + east) / 2, north)
    seats = {"05-01": department.difference(half), "05-02": department.intersection(half)}
    path = tmp_path / "seats.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"code": code},
                        "geometry": json.loads(shapely.to_geojson(geometry)),
                    }
                    for code, geometry in seats.items()
                ],
            }
        )
    )
    return {"path": path, "gap": gap, "half": half}


def test_activation_moves_members_grants_and_applications(
    registry, area, make_member, redrawn_hautes_alpes
):
    gap, half = redrawn_hautes_alpes["gap"], redrawn_hautes_alpes["half"]
    gap_area = area("05061", AreaKind.COMMUNE)
    briancon = area("05023", AreaKind.COMMUNE)
    people = {name: make_member(name) for name in ("paris", "abroad", "brian", "gap", "east")}
    place(people["paris"], area("75-02"), postcode="75002", how=Precision.POSTCODE)
    place(
        people["abroad"],
        area("99-07"),
        country=area("DE", AreaKind.COUNTRY),
        how=Precision.COUNTRY,
    )
    # Briançon sits in 05-02 today and in the new 05-01: placed again by its commune.
    place(people["brian"], area("05-02"), commune=briancon, how=Precision.COMMUNE)
    # Gap is split now: its commune alone no longer tells the seat; an address point does.
    place(people["gap"], area("05-01"), commune=gap_area, how=Precision.COMMUNE)
    east_point = gap.difference(half).representative_point()
    place(people["east"], area("05-01"), commune=gap_area, point=east_point, how="address")
    relay = Grant.objects.create(member=people["gap"], role=Role.RELAY, area=area("05-01"))
    coordinator = Grant.objects.create(
        member=people["paris"], role=Role.COORDINATOR, area=area("05", AreaKind.DEPARTMENT)
    )
    application = RelayApplication.objects.create(member=people["brian"], area=area("05-02"))

    report = import_territories(constituencies_geojson=redrawn_hautes_alpes["path"])

    new = BoundarySet.objects.get(pk=report.boundary_set_id)
    assert report.activated and new.pk != registry.pk
    summary = report.followups["members"]
    assert summary["locations"] == 4 and summary["unplaced"] == 1
    assert summary["changed_seat"] == 1  # Briançon: 05-02 → 05-01
    assert summary["resolved_by"] == {
        "address point": 1,
        "commune": 1,
        "unchanged outline": 2,
        "unplaced": 1,
    }

    def current(member):
        loc = MemberLocation.objects.filter(member=member, valid_to__isnull=True).first()
        return loc and (loc.constituency.boundary_set_id, loc.constituency.code)

    assert current(people["paris"]) == (new.pk, "75-02")
    assert current(people["abroad"]) == (new.pk, "99-07")
    assert current(people["brian"]) == (new.pk, "05-01")
    assert current(people["east"]) == (new.pk, "05-01")
    assert current(people["gap"]) is None  # asked again; the old place stays in the history
    assert MemberLocation.objects.filter(member=people["gap"], valid_to__isnull=False).exists()
    moved = MemberLocation.objects.get(member=people["brian"], valid_to__isnull=True)
    assert (moved.commune.boundary_set_id, moved.commune.code) == (new.pk, "05023")
    abroad = MemberLocation.objects.get(member=people["abroad"], valid_to__isnull=True)
    assert (abroad.country.boundary_set_id, abroad.country.code) == (new.pk, "DE")

    relay.refresh_from_db()
    coordinator.refresh_from_db()
    application.refresh_from_db()
    assert (relay.area.boundary_set_id, relay.area.code, relay.valid_to) == (new.pk, "05-01", None)
    assert (coordinator.area.boundary_set_id, coordinator.area.code) == (new.pk, "05")
    assert (application.area.boundary_set_id, application.status) == (
        new.pk,
        ApplicationStatus.PENDING,
    )
    assert AuditEvent.objects.filter(action="members.reassign").count() == 1
    # Nothing is left on the old set, so a second pass has nothing to do.
    again = reassign_to_active_set()
    assert (again.locations, again.unplaced, again.grants, again.applications) == (0, 0, 0, 0)


def test_a_dry_run_of_the_import_moves_nothing(registry, area, make_member, redrawn_hautes_alpes):
    member = make_member()
    place(member, area("05-02"), commune=area("05023", AreaKind.COMMUNE), how=Precision.COMMUNE)

    report = import_territories(constituencies_geojson=redrawn_hautes_alpes["path"], dry_run=True)

    assert report.followups["members"]["changed_seat"] == 1
    location = MemberLocation.objects.get(member=member)
    assert (location.constituency.boundary_set_id, location.constituency.code) == (
        registry.pk,
        "05-02",
    )
    assert BoundarySet.objects.get(active=True).pk == registry.pk


def copy_areas(registry, kinds_codes: list[tuple[str, str]]) -> BoundarySet:
    """A new active set holding only the given areas (a seat left out has been abolished)."""
    new = BoundarySet.objects.create(
        name="test set", source="test", source_version="2", licence="test"
    )
    for kind, code in kinds_codes:
        old = Area.objects.get(boundary_set=registry, kind=kind, code=code)
        Area.objects.create(
            boundary_set=new, kind=kind, code=code, name=old.name, geometry=old.geometry
        )
    BoundarySet.objects.filter(active=True).update(active=False)
    BoundarySet.objects.filter(pk=new.pk).update(active=True)
    return new


def test_a_gone_area_ends_its_grants_and_withdraws_its_applications(registry, area, make_member):
    relay = Grant.objects.create(member=make_member(), role=Role.RELAY, area=area("05-02"))
    kept = Grant.objects.create(member=make_member(), role=Role.RELAY, area=area("05-01"))
    staff = Grant.objects.create(member=make_member(), role=Role.STAFF)
    application = RelayApplication.objects.create(member=make_member(), area=area("05-02"))
    decided = RelayApplication.objects.create(
        member=make_member(), area=area("05-02"), status=ApplicationStatus.DECLINED
    )
    new = copy_areas(registry, [(AreaKind.DEPARTMENT, "05"), (AreaKind.CONSTITUENCY, "05-01")])

    report = reassign_to_active_set()

    assert (report.grants, report.grants_ended) == (1, 1)
    assert (report.applications, report.applications_withdrawn) == (0, 1)
    relay.refresh_from_db()
    kept.refresh_from_db()
    staff.refresh_from_db()
    application.refresh_from_db()
    decided.refresh_from_db()
    assert relay.valid_to is not None and relay.area.boundary_set_id == registry.pk
    assert kept.valid_to is None and kept.area.boundary_set_id == new.pk
    assert staff.valid_to is None and staff.area is None
    assert application.status == ApplicationStatus.WITHDRAWN
    assert "05-02 no longer exists" in application.decision_message
    # Decided applications are history: they keep the area they were decided on.
    assert decided.area.boundary_set_id == registry.pk


def test_the_command_reports_and_dry_runs(registry, area, make_member, capsys):
    grant = Grant.objects.create(member=make_member(), role=Role.RELAY, area=area("05-01"))
    copy_areas(registry, [(AreaKind.CONSTITUENCY, "05-01")])

    call_command("members", "reassign", "--dry-run")
    out = capsys.readouterr().out
    assert "would move 0 member locations" in out and "1 grants (0 ended" in out
    grant.refresh_from_db()
    assert grant.area.boundary_set_id == registry.pk

    call_command("members", "reassign", "--json")
    assert json.loads(capsys.readouterr().out)["grants"] == 1
    grant.refresh_from_db()
    assert grant.area.boundary_set_id != registry.pk
