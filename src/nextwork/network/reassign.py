"""Moving the network onto a newly activated boundary set (redistricting, a new release).

Everything the network keeps about places points at areas of one boundary set: members'
current locations, grants and pending applications. When another set becomes active, they
are carried over in the activation's transaction:

- a **grant** or **pending application** follows the area with the same kind and code (the
  relay of 05-01 stays the relay of 05-01); when that area no longer exists, the grant ends
  and the application is withdrawn, with the reason;
- a **member's current location** keeps its seat when that seat's outline did not change (a
  place inside an unchanged outline is still inside it). Otherwise it is resolved again from
  what the member gave, most precise first: the geocoded address point, the commune, the
  postcode, the country. When the answer is a single seat, the location moves there; when it
  is not (the commune is now split between seats), the location is closed and the member's
  space asks for their address again: the platform never guesses a seat.

Locations are updated in place (a boundary change is not a move: history records moves),
except the closed ones, which stay in the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from nextwork.common.errors import DomainError
from nextwork.network.models import (
    ApplicationStatus,
    Grant,
    MemberLocation,
    RelayApplication,
)
from nextwork.privacy.services import audit_record
from nextwork.territories.lookup import Engine, build_engine
from nextwork.territories.models import Area, AreaKind, BoundarySet

GONE = "The area {code} no longer exists in the new boundary set."


@dataclass
class ReassignReport:
    boundary_set_id: int
    dry_run: bool = False
    locations: int = 0  # current locations carried over to the new set
    kept_seat: int = 0  # of which the seat's outline did not change
    changed_seat: int = 0  # of which the member now lives in another seat
    unplaced: int = 0  # closed: no single seat fits any more, the member is asked again
    grants: int = 0
    grants_ended: int = 0
    applications: int = 0
    applications_withdrawn: int = 0
    resolved_by: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def reassign_to_active_set(*, dry_run: bool = False) -> ReassignReport:
    """Carry every current location, grant and pending application over to the active set."""
    target = BoundarySet.objects.filter(active=True).first()
    if target is None:
        raise DomainError("No boundary set is active.", field=None)
    report = ReassignReport(boundary_set_id=target.pk, dry_run=dry_run)
    with transaction.atomic():
        _reassign(target, report)
        if dry_run:
            transaction.set_rollback(True)
    return report


def on_activation(sender, *, boundary_set: BoundarySet, **kwargs) -> tuple[str, dict]:
    """Receiver of ``boundary_set_activated``: runs in the activation's transaction."""
    report = ReassignReport(boundary_set_id=boundary_set.pk)
    _reassign(boundary_set, report)
    return "members", report.as_dict()


def _reassign(target: BoundarySet, report: ReassignReport) -> None:
    in_target = Area.objects.filter(boundary_set=target).values("pk")
    stale_locations = MemberLocation.objects.filter(valid_to__isnull=True).filter(
        Q(constituency__isnull=False) & ~Q(constituency_id__in=in_target)
        # A member whose seat is still to choose is known by their department only.
        | Q(constituency__isnull=True) & ~Q(department_id__in=in_target)
    )
    stale_grants = Grant.objects.filter(valid_to__isnull=True, area__isnull=False).exclude(
        area__boundary_set=target
    )
    stale_applications = RelayApplication.objects.filter(status=ApplicationStatus.PENDING).exclude(
        area__boundary_set=target
    )
    if not (stale_locations.exists() or stale_grants.exists() or stale_applications.exists()):
        return
    now = timezone.now()
    new_ids = _area_ids(target)
    _carry_grants(stale_grants, new_ids, now, report)
    _carry_applications(stale_applications, new_ids, now, report)
    if stale_locations.exists():
        _carry_locations(target, stale_locations, new_ids, now, report)
    audit_record(
        actor=None,
        action="members.reassign",
        details={k: v for k, v in report.as_dict().items() if k != "dry_run"},
    )


def _area_ids(boundary_set: BoundarySet) -> dict[tuple[str, str], int]:
    return {
        (kind, code): pk
        for pk, kind, code in Area.objects.filter(boundary_set=boundary_set).values_list(
            "pk", "kind", "code"
        )
    }


def _carry_grants(grants, new_ids, now, report: ReassignReport) -> None:
    for grant in grants.select_related("area"):
        new = new_ids.get((grant.area.kind, grant.area.code))
        if new is None:
            grant.valid_to = now
            grant.save(update_fields=["valid_to"])
            report.grants_ended += 1
        else:
            grant.area_id = new
            grant.save(update_fields=["area"])
            report.grants += 1


def _carry_applications(applications, new_ids, now, report: ReassignReport) -> None:
    for application in applications.select_related("area"):
        new = new_ids.get((application.area.kind, application.area.code))
        if new is None:
            application.status = ApplicationStatus.WITHDRAWN
            application.decided_at = now
            application.decision_message = GONE.format(code=application.area.code)
            application.save(update_fields=["status", "decided_at", "decision_message"])
            report.applications_withdrawn += 1
        else:
            application.area_id = new
            application.save(update_fields=["area"])
            report.applications += 1


def _carry_locations(target, stale, new_ids, now, report: ReassignReport) -> None:
    """Set-based where nothing needs deciding, row by row only in redrawn seats.

    A million locations cannot be updated one statement each in reasonable time (SQLite
    maintains three indexes per row): unchanged seats, communes and countries are re-pointed
    by one correlated UPDATE each; only the rows of redrawn seats are read and decided, and
    written grouped by their new seat.
    """
    old_seats = set(stale.values_list("constituency_id", flat=True).distinct()) - {None}
    unchanged = _unchanged_seats(target, old_seats)
    redrawn = sorted(old_seats - unchanged)
    rows = [
        row
        for chunk in _chunks(redrawn, 500)
        for row in stale.filter(constituency_id__in=chunk).values_list(
            "pk", "constituency__code", "commune_id", "country_id", "postcode", "lat", "lon"
        )
    ]
    old_areas = {
        pk: (kind, code)
        for chunk in _chunks(sorted({r[2] for r in rows if r[2]} | {r[3] for r in rows if r[3]}))
        for pk, kind, code in Area.objects.filter(pk__in=chunk).values_list("pk", "kind", "code")
    }
    engine: Engine | None = None
    answers: dict[tuple, tuple[str, str] | None] = {}
    by_seat: dict[int, list[int]] = {}
    closed: list[int] = []
    by: dict[str, int] = {}
    for pk, seat_code, commune_id, country_id, postcode, lat, lon in rows:
        commune = old_areas[commune_id] if commune_id else None
        country = old_areas[country_id][1] if country_id else None
        key = (commune, country, postcode, lat, lon)
        if key not in answers:
            if engine is None:
                engine = build_engine(target.pk)
            answers[key] = _resolve(engine, commune, country, postcode, lat, lon)
        answer = answers[key]
        if answer is None:
            closed.append(pk)
            by["unplaced"] = by.get("unplaced", 0) + 1
            continue
        seat, how = answer
        by[how] = by.get(how, 0) + 1
        report.kept_seat += seat == seat_code
        report.changed_seat += seat != seat_code
        by_seat.setdefault(new_ids[(AreaKind.CONSTITUENCY, seat)], []).append(pk)
    for seat_id, pks in by_seat.items():
        for chunk in _chunks(pks):
            MemberLocation.objects.filter(pk__in=chunk).update(constituency_id=seat_id)
    for chunk in _chunks(closed):
        MemberLocation.objects.filter(pk__in=chunk).update(valid_to=now)
    kept = _repoint(target, "constituency", only=sorted(unchanged))
    _repoint(target, "department")
    _repoint(target, "commune")
    _repoint(target, "country")
    if kept:
        by["unchanged outline"] = kept
    report.kept_seat += kept
    report.locations = kept + sum(len(pks) for pks in by_seat.values())
    report.unplaced = len(closed)
    report.resolved_by = dict(sorted(by.items()))


def _repoint(target: BoundarySet, name: str, only: list[int] | None = None) -> int:
    """Point the current locations' ``name`` at the area of the same kind and code in
    ``target`` (None when it has none), in one statement; ``only`` limits the old areas."""
    quote = connection.ops.quote_name
    location, area = MemberLocation._meta, Area._meta
    table, column = quote(location.db_table), quote(location.get_field(name).column)
    valid_to = quote(location.get_field("valid_to").column)
    areas, pk = quote(area.db_table), quote(area.pk.column)
    kind, code = quote(area.get_field("kind").column), quote(area.get_field("code").column)
    in_set = quote(area.get_field("boundary_set").column)
    if only is not None and not only:
        return 0
    scope = (
        f"{column} IN ({', '.join(['%s'] * len(only))})"
        if only is not None
        else f"{column} IN (SELECT {pk} FROM {areas} WHERE {in_set} <> %s)"  # noqa: S608
    )
    sql = (
        f"UPDATE {table} SET {column} = (SELECT n.{pk} FROM {areas} o JOIN {areas} n"  # noqa: S608
        f" ON n.{in_set} = %s AND n.{kind} = o.{kind} AND n.{code} = o.{code}"
        f" WHERE o.{pk} = {table}.{column}) WHERE {valid_to} IS NULL AND {scope}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [target.pk, *(only if only is not None else [target.pk])])
        return cursor.rowcount


def _unchanged_seats(target: BoundarySet, old_seat_ids: set[int]) -> set[int]:
    """The old seats whose outline is the same in the target set."""
    old = Area.objects.filter(pk__in=old_seat_ids).values_list("pk", "code", "geometry")
    new = dict(
        Area.objects.filter(boundary_set=target, kind=AreaKind.CONSTITUENCY).values_list(
            "code", "geometry"
        )
    )
    return {pk for pk, code, outline in old if code in new and _same(outline, new[code])}


def _same(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and bytes(a) == bytes(b))


def _resolve(engine: Engine, commune, country, postcode, lat, lon) -> tuple[str, str] | None:
    """The single seat of what the member gave, most precise first; None when there is none."""
    attempts = []
    if lat is not None and lon is not None:
        attempts.append(("address point", lambda: engine.locate_point(lat, lon)))
    if commune:
        attempts.append(("commune", lambda: engine.locate_commune(commune[1])))
    if postcode:
        attempts.append(("postcode", lambda: engine.locate_postcode(postcode)))
    if country:
        attempts.append(("country", lambda: engine.locate_country(country)))
    for how, attempt in attempts:
        try:
            result = attempt()
        except DomainError:  # a commune merged away, a postcode withdrawn: try the next
            continue
        if len(result["candidates"]) == 1 and not result["ambiguous"]:
            return result["candidates"][0]["code"], how
        return None  # the most precise answer is ambiguous: a less precise one cannot do better
    return None


def _chunks(values: list, size: int = 5000) -> list[list]:
    return [values[i : i + size] for i in range(0, len(values), size)]
