"""The lookup service: point, postcode, commune, country or address → constituency candidates.

One engine per process, built from the active boundary set and kept in memory (about 35,000
commune outlines, prepared for fast point-in-polygon tests). Points go in two steps (see
docs/territories.md): the precise commune or arrondissement first, then the commune →
constituency table; only inside a really split commune do the coarse constituency outlines
decide, and near their boundaries the answer is every nearby candidate, flagged ambiguous.
"""

from __future__ import annotations

import math
import re
import threading
import time
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from django.conf import settings
from django.utils import translation
from django_countries import countries as country_names

from nextwork.common.errors import InvalidInput, NotFound
from nextwork.territories.derive import AMBIGUITY_M, local_projection, local_scale
from nextwork.territories.models import (
    SENATE_KINDS,
    Area,
    AreaKind,
    BoundarySet,
    Chamber,
    CommuneConstituency,
    Mandate,
    Postcode,
)

MAX_QUERY_LENGTH = 500
POSTCODE_RE = re.compile(r"^\d{5}$")
COMMUNE_RE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
POSTCODE_IN_TEXT = re.compile(r"(?<!\d)(\d{5})(?!\d)")
# "rue de Paris": a name right after a street type, or tied to one by these words, is the
# street's name, not the town.
STREET_LINKS = {"de", "du", "des", "d", "la", "le", "l", "les", "aux", "a", "au", "en", "sur"}
STREET_TYPES = {
    "rue",
    "avenue",
    "av",
    "boulevard",
    "bd",
    "place",
    "pl",
    "chemin",
    "allee",
    "impasse",
    "quai",
    "route",
    "rte",
    "cours",
    "square",
    "passage",
    "voie",
    "faubourg",
    "esplanade",
    "promenade",
    "sentier",
    "lotissement",
    "residence",
    "cite",
    "parvis",
    "rond",
    "point",
}


class Precision:
    POINT = "point"
    ADDRESS = "address"
    COMMUNE = "commune"
    POSTCODE = "postcode"
    COUNTRY = "country"


# Postcodes of the overseas collectivities whose communes the data does not list, with the
# collectivity whose seats they belong to (Saint-Martin votes with Saint-Barthélemy: 977-01).
COLLECTIVITY_POSTCODES = {
    "975": "975",
    "986": "986",
    "987": "987",
    "988": "988",
    "97133": "977",
    "97150": "977",
}


def collectivity_of_postcode(postcode: str) -> str | None:
    return COLLECTIVITY_POSTCODES.get(postcode[:5]) or COLLECTIVITY_POSTCODES.get(postcode[:3])


def shown(value: Any, limit: int = 40) -> str:
    """An input echoed in an error message, cut short: errors never carry a whole payload."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def normalise(text: str) -> str:
    """Lower case, no accents, words only: 'Saint-Étienne' → 'saint etienne'."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return " ".join(re.findall(r"[a-z0-9]+", text))


@dataclass
class SplitCommune:
    code: str
    seats: list[str]
    point_scale: tuple[float, float]
    polygons: list[Any]  # projected coarse outlines, in metres


@dataclass
class Engine:
    boundary_set_id: int
    version: str
    seats: dict[str, dict] = field(default_factory=dict)  # code -> candidate base
    unit_codes: list[str] = field(default_factory=list)
    unit_geoms: Any = None
    tree: Any = None
    units: dict[str, dict] = field(default_factory=dict)  # code -> {name, kind, population}
    table: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    split: dict[str, SplitCommune] = field(default_factory=dict)
    plm: dict[str, list[str]] = field(default_factory=dict)  # city -> arrondissements
    postcodes: dict[str, list[str]] = field(default_factory=dict)
    countries: dict[str, tuple[str, str]] = field(default_factory=dict)  # iso -> (name, seat)
    country_names: dict[str, str] = field(default_factory=dict)  # normalised name -> iso
    commune_names: dict[str, list[str]] = field(default_factory=dict)
    seat_codes: list[str] = field(default_factory=list)
    seat_geoms: Any = None
    seat_tree: Any = None
    # Within this distance of a boundary, in a split commune, the answer is ambiguous.
    ambiguity_m: float = AMBIGUITY_M
    grid: Any = None  # territories.grid accelerator of unit_at/units_at, when it could be built

    # -- points --------------------------------------------------------------------------

    def unit_at(self, lon: float, lat: float) -> str | None:
        """The commune or arrondissement whose precise outline holds the point.

        Where outlines overlap, the lowest index wins, as in ``units_at``.
        """
        if self.grid is not None:
            i = self.grid.index_at(lon, lat)
        else:
            hits = [
                i
                for i in self.tree.query(shapely.Point(lon, lat))
                if shapely.contains_xy(self.unit_geoms[i], lon, lat)
            ]
            i = min(hits) if hits else -1
        return self.unit_codes[i] if i >= 0 else None

    def units_at(self, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
        """Bulk version: index into ``unit_codes`` for each point, -1 where none.

        Exact: the grid accelerator (territories/grid.py) answers as the polygon test would.
        """
        if self.grid is not None:
            return self.grid.indexes_at(lons, lats)
        from nextwork.territories.grid import exact_indexes_at

        return exact_indexes_at(self.unit_geoms, self.tree, lons, lats)

    def locate_point(self, lat: float, lon: float) -> dict:
        lat, lon = validate_point(lat, lon)
        code = self.unit_at(lon, lat)
        if code is None:
            return self._outside_communes(lat, lon)
        split = self.split.get(code)
        if split is None:
            candidates = [self.candidate(seat, share) for seat, share in self.table.get(code, [])]
            return self.result(Precision.POINT, candidates, commune=self.commune_ref(code))
        return self.result(
            Precision.POINT,
            self._in_split_commune(split, lat, lon),
            commune=self.commune_ref(code),
        )

    def _in_split_commune(self, split: SplitCommune, lat: float, lon: float) -> list[dict]:
        kx, ky = split.point_scale
        point = shapely.Point(lon * kx, lat * ky)
        distances = [float(shapely.distance(poly, point)) for poly in split.polygons]
        near = sorted(
            (d, seat)
            for d, seat in zip(distances, split.seats, strict=True)
            if d <= self.ambiguity_m
        )
        inside = [seat for d, seat in near if d == 0.0]
        if len(inside) == 1 and len(near) == 1:
            return [self.candidate(inside[0], None)]
        if not near:  # in a gap of the coarse outlines, far from all: every seat of the commune
            return [self.candidate(seat, share) for seat, share in self.table[split.code]]
        # Inside one and close to another (or in none): the coarse outlines cannot decide.
        return [self.candidate(seat, None) for _d, seat in near]

    def _outside_communes(self, lat: float, lon: float) -> dict:
        hits = [
            self.seat_codes[i]
            for i in self.seat_tree.query(shapely.Point(lon, lat))
            if shapely.contains_xy(self.seat_geoms[i], lon, lat)
        ]
        if not hits:
            raise NotFound(
                f"No French constituency at latitude {lat}, longitude {lon}. "
                "For French residents abroad, look up by country.",
                field="lat",
            )
        return self.result(
            Precision.POINT,
            [self.candidate(seat, None) for seat in hits],
            warnings=[
                "The point lies outside every commune outline (at sea or on a border): "
                "the answer comes from the coarse constituency outlines only."
            ],
            ambiguous=True,
        )

    # -- codes ---------------------------------------------------------------------------

    def locate_postcode(self, postcode: str) -> dict:
        postcode = (postcode or "").strip()
        if not POSTCODE_RE.match(postcode):
            raise InvalidInput(
                f"{shown(postcode)} is not a postcode: five digits expected, such as 48000.",
                field="postcode",
            )
        communes = self.postcodes.get(postcode)
        collectivity = collectivity_of_postcode(postcode)
        if not communes and collectivity:
            return self._collectivity_seats(collectivity)
        if communes is None:
            raise NotFound(f"The postcode {postcode} is unknown.", field="postcode")
        shares = self._weighted_shares(communes)
        candidates = [self.candidate(seat, share) for seat, share in shares]
        return self.result(
            Precision.POSTCODE,
            candidates,
            communes=[self.commune_ref(code) for code in communes],
        )

    def _collectivity_seats(self, collectivity: str) -> dict:
        """The seats of an overseas collectivity whose communes the registry does not hold."""
        seats = sorted(code for code in self.seats if code.startswith(collectivity + "-"))
        return self.result(
            Precision.POSTCODE,
            [self.candidate(seat, round(1 / len(seats), 4)) for seat in seats],
            warnings=[
                "The registry holds no communes here: every seat of the collectivity is a "
                "candidate."
            ]
            if len(seats) > 1
            else [],
        )

    def locate_commune(self, code: str) -> dict:
        code = (code or "").strip().upper()
        if not COMMUNE_RE.match(code):
            raise InvalidInput(
                f"{shown(code)} is not a commune code: the INSEE code has five characters, "
                "such as 31555 or 2A004.",
                field="commune",
            )
        if code in self.plm:
            shares = self._weighted_shares(self.plm[code])
        elif code in self.units:
            shares = self.table.get(code, [])
        else:
            raise NotFound(f"The commune {code} is unknown.", field="commune")
        candidates = [self.candidate(seat, share) for seat, share in shares]
        return self.result(Precision.COMMUNE, candidates, commune=self.commune_ref(code))

    def locate_country(self, country: str) -> dict:
        raw = (country or "").strip()
        if not raw:
            raise InvalidInput("The country is empty.", field="country")
        if len(raw) > 100:
            raise InvalidInput("The country name is too long.", field="country")
        iso = raw.upper() if len(raw) == 2 else self.country_by_name(raw)
        if iso == "FR" or normalise(raw) == "france":
            raise InvalidInput(
                "For France, look up by postcode, commune or address.", field="country"
            )
        if iso is None or iso not in self.countries:
            raise NotFound(
                f"{shown(raw)} is not a country with a consular constituency in the data "
                "(give an ISO code such as DE, or a French name such as Allemagne).",
                field="country",
            )
        name, seat = self.countries[iso]
        return self.result(
            Precision.COUNTRY, [self.candidate(seat, 1.0)], country={"code": iso, "name": name}
        )

    def country_by_name(self, name: str) -> str | None:
        """Exact French or English name, else the one country whose name starts so."""
        key = normalise(name)
        if key in self.country_names:
            return self.country_names[key]
        if len(key) < 4:
            return None
        found = {iso for n, iso in self.country_names.items() if n.startswith(key + " ")}
        return found.pop() if len(found) == 1 else None

    def _weighted_shares(self, communes: list[str]) -> list[tuple[str, float]]:
        """Seats of several communes, shared out by population."""
        weights: dict[str, float] = defaultdict(float)
        for code in communes:
            population = max(self.units.get(code, {}).get("population") or 1, 1)
            for seat, share in self.table.get(code, []):
                weights[seat] += population * share
        total = sum(weights.values()) or 1.0
        return sorted(
            ((seat, round(w / total, 4)) for seat, w in weights.items()), key=lambda t: -t[1]
        )

    # -- results -------------------------------------------------------------------------

    def candidate(self, seat: str, share: float | None) -> dict:
        return {**self.seats[seat], "share": share}

    def commune_ref(self, code: str) -> dict:
        unit = self.units.get(code)
        if unit is None:
            return {"code": code, "name": None}
        return {"code": code, "name": unit["name"], "kind": unit["kind"]}

    def result(
        self,
        precision: str,
        candidates: list[dict],
        *,
        warnings: list[str] | None = None,
        ambiguous: bool | None = None,
        **extra,
    ) -> dict:
        return {
            "precision": precision,
            "ambiguous": len(candidates) > 1 if ambiguous is None else ambiguous,
            "candidates": candidates,
            "warnings": warnings or [],
            **extra,
        }


def validate_point(lat: Any, lon: Any) -> tuple[float, float]:
    values = []
    for name, value, limit in (("lat", lat, 90.0), ("lon", lon, 180.0)):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"{name} must be a number, not {shown(value)}.", field=name
            ) from None
        if not math.isfinite(number) or abs(number) > limit:
            raise InvalidInput(
                f"{name} must lie between -{limit:g} and {limit:g}, not {shown(value)}.", field=name
            )
        values.append(number)
    return values[0], values[1]


# -- building and caching ---------------------------------------------------------------------

_lock = threading.Lock()
_engine: Engine | None = None
_checked_at = 0.0


def get_engine() -> Engine:
    """The engine of the active boundary set, rebuilt when another set is activated."""
    global _engine, _checked_at
    refresh = getattr(settings, "NEXTWORK_LOOKUP_REFRESH_SECONDS", 10)
    now = time.monotonic()
    if _engine is not None and now - _checked_at < refresh:
        return _engine
    with _lock:
        active = BoundarySet.objects.filter(active=True).values_list("pk", "updated_at").first()
        if active is None:
            from nextwork.common.errors import Unavailable

            raise Unavailable(
                "No territory data is loaded: run `nextwork territories import`.", field=None
            )
        version = f"{active[0]}:{active[1].isoformat()}"
        if _engine is None or _engine.version != version:
            _engine = build_engine(active[0], version)
        _checked_at = now
        return _engine


def build_engine(boundary_set_id: int, version: str = "") -> Engine:
    stats = BoundarySet.objects.filter(pk=boundary_set_id).values_list("stats", flat=True).first()
    engine = Engine(
        boundary_set_id=boundary_set_id,
        version=version,
        ambiguity_m=float((stats or {}).get("outline_error_m", AMBIGUITY_M)),
    )
    areas = Area.objects.filter(boundary_set_id=boundary_set_id)

    senate_areas = {
        pk: {"code": code, "name": name, "kind": kind}
        for pk, code, name, kind in areas.filter(kind__in=SENATE_KINDS).values_list(
            "pk", "code", "name", "kind"
        )
    }
    mandates = Mandate.objects.filter(boundary_set_id=boundary_set_id, end__isnull=True)
    senators: dict[int, list[dict]] = defaultdict(list)
    for m in mandates.filter(chamber=Chamber.SENATE).order_by("last_name", "first_name"):
        senators[m.area_id].append(person_dict(m))
    deputies = {m.area_id: person_dict(m) for m in mandates.filter(chamber=Chamber.ASSEMBLY)}

    seat_geoms = []
    for pk, code, name, parent_id, geometry in areas.filter(kind=AreaKind.CONSTITUENCY).values_list(
        "pk", "code", "name", "parent_id", "geometry"
    ):
        deputy = deputies.get(pk)
        engine.seats[code] = {
            "code": code,
            "name": name,
            "department": senate_areas.get(parent_id),
            "deputy": deputy,
            "vacant": deputy is None,
            "senators": senators.get(parent_id, []),
        }
        if geometry is not None:
            engine.seat_codes.append(code)
            seat_geoms.append(bytes(geometry))
    engine.seat_geoms = shapely.from_wkb(seat_geoms)
    shapely.prepare(engine.seat_geoms)
    engine.seat_tree = shapely.STRtree(engine.seat_geoms)

    code_by_pk = {}
    parent_code = {}
    unit_wkb = []
    rows = areas.filter(kind__in=[AreaKind.COMMUNE, AreaKind.ARRONDISSEMENT]).values_list(
        "pk", "code", "name", "kind", "population", "parent__code"
    )
    for pk, code, name, kind, population, parent in rows:
        code_by_pk[pk] = code
        engine.units[code] = {"name": name, "kind": kind, "population": population}
        engine.commune_names.setdefault(normalise(name), []).append(code)
        if kind == AreaKind.ARRONDISSEMENT:
            parent_code[code] = parent
            engine.plm.setdefault(parent, []).append(code)
    for code, geometry in areas.filter(
        kind__in=[AreaKind.COMMUNE, AreaKind.ARRONDISSEMENT], geometry__isnull=False
    ).values_list("code", "geometry"):
        if code in engine.plm:
            continue  # Paris, Lyon, Marseille: their arrondissements hold the points
        engine.unit_codes.append(code)
        unit_wkb.append(bytes(geometry))
    engine.unit_geoms = shapely.from_wkb(unit_wkb)
    shapely.prepare(engine.unit_geoms)
    engine.tree = shapely.STRtree(engine.unit_geoms)

    links = CommuneConstituency.objects.filter(commune__boundary_set_id=boundary_set_id)
    for commune_code, seat, share in links.order_by("commune_id", "-share").values_list(
        "commune__code", "constituency__code", "share"
    ):
        engine.table.setdefault(commune_code, []).append((seat, share))

    seat_index = {code: i for i, code in enumerate(engine.seat_codes)}
    unit_index = {code: i for i, code in enumerate(engine.unit_codes)}
    for code, seats in engine.table.items():
        if len(seats) < 2 or code not in unit_index:
            continue
        geom = engine.unit_geoms[unit_index[code]]
        lat0 = shapely.centroid(geom).y
        project = local_projection(lat0)
        polygons = [project(engine.seat_geoms[seat_index[s]]) for s, _ in seats]
        shapely.prepare(polygons)
        engine.split[code] = SplitCommune(code, [s for s, _ in seats], local_scale(lat0), polygons)

    through = Postcode.communes.through.objects.filter(postcode__boundary_set_id=boundary_set_id)
    for postcode, commune in through.values_list("postcode__code", "area__code"):
        engine.postcodes.setdefault(postcode, []).append(commune)
    for postcode in Postcode.objects.filter(boundary_set_id=boundary_set_id).values_list(
        "code", flat=True
    ):
        engine.postcodes.setdefault(postcode, [])

    for iso, name, seat in areas.filter(kind=AreaKind.COUNTRY).values_list(
        "code", "name", "parent__code"
    ):
        engine.countries[iso] = (name, seat)
        engine.country_names[normalise(name)] = iso
        with translation.override("en"):
            engine.country_names.setdefault(normalise(str(country_names.name(iso))), iso)

    import logging

    from nextwork.territories.grid import build_grid_index

    try:  # the exact accelerator of unit_at / units_at (territories/grid.py)
        engine.grid = build_grid_index(engine.unit_geoms)
    except Exception:  # never fatal: unit_at / units_at then take the plain polygon test
        logging.getLogger(__name__).exception("lookup grid not built")
        engine.grid = None
    return engine


def person_dict(m: Mandate) -> dict:
    return {
        "id": m.person_id,
        "title": m.title,
        "first_name": m.first_name,
        "last_name": m.last_name,
        "name": m.full_name,
        "group": m.group or None,
        "party": m.party or None,
        "email": m.email or None,
        "since": m.start.isoformat() if m.start else None,
    }


# -- the service --------------------------------------------------------------------------------


def locate(
    *,
    lat: Any = None,
    lon: Any = None,
    postcode: str | None = None,
    commune: str | None = None,
    country: str | None = None,
    q: str | None = None,
) -> dict:
    """Resolve exactly one kind of input into constituency candidates."""
    given = {
        name
        for name, value in (
            ("lat", lat),
            ("lon", lon),
            ("postcode", postcode),
            ("commune", commune),
            ("country", country),
            ("q", q),
        )
        if value is not None
    }
    if not given:
        raise InvalidInput(
            "Give a point (lat and lon), a postcode, a commune, a country or an address (q).",
            field="q",
        )
    if given & {"lat", "lon"}:
        if given != {"lat", "lon"}:
            missing = sorted({"lat", "lon"} - given)
            if missing:
                raise InvalidInput(f"{missing[0]} is missing: give lat and lon.", field=missing[0])
            raise InvalidInput("Give either a point or another query, not both.", field="q")
    elif len(given) > 1:
        raise InvalidInput(
            "Give only one of postcode, commune, country or q.", field=sorted(given)[1]
        )
    engine = get_engine()
    if lat is not None:
        return engine.locate_point(lat, lon)
    if postcode is not None:
        return engine.locate_postcode(postcode)
    if commune is not None:
        return engine.locate_commune(commune)
    if country is not None:
        return engine.locate_country(country)
    return locate_address(engine, q or "")


def locate_address(engine: Engine, q: str) -> dict:
    from nextwork.territories.geocoders import GeocoderUnavailable, get_geocoder

    text = q.strip()
    if not text:
        raise InvalidInput("The address is empty.", field="q")
    if len(q) > MAX_QUERY_LENGTH:
        raise InvalidInput(
            f"The address is {len(q)} characters long; at most {MAX_QUERY_LENGTH} are accepted.",
            field="q",
        )
    if POSTCODE_RE.match(text):
        return engine.locate_postcode(text)
    warnings = []
    geocoder = get_geocoder()
    if geocoder is None:
        warnings.append(
            "No geocoder is configured: the address was resolved from its postcode or commune only."
        )
    else:
        try:
            places = geocoder.geocode(text, limit=5)
        except GeocoderUnavailable:
            places = None
            warnings.append(
                "The geocoder could not be reached: the address was resolved "
                "from its postcode or commune only."
            )
        if places:
            best = max(places, key=lambda p: p.score)
            if best.kind in ("housenumber", "street", "locality"):
                try:
                    result = engine.locate_point(best.lat, best.lon)
                except NotFound:  # a point outside France: its commune code may still help
                    result = None
                except InvalidInput:  # impossible coordinates: the answer is not trusted
                    warnings.append(
                        "The geocoder answered an impossible position: the address "
                        "was resolved from its postcode or commune only."
                    )
                    return _offline_address(engine, text, warnings)
                if result is not None:
                    result["precision"] = Precision.ADDRESS
                    result["address"] = {
                        "label": best.label,
                        "score": round(best.score, 3),
                        "lat": best.lat,
                        "lon": best.lon,
                    }
                    return result
            if best.citycode and best.citycode in engine.units:
                result = engine.locate_commune(best.citycode)
                result["address"] = {
                    "label": best.label,
                    "score": round(best.score, 3),
                    "lat": best.lat,
                    "lon": best.lon,
                }
                return result
        elif places is not None:
            warnings.append(
                "The geocoder found nothing: the address was resolved from its "
                "postcode or commune only."
            )
    return _offline_address(engine, text, warnings)


def _offline_address(engine: Engine, text: str, warnings: list[str]) -> dict:
    postcodes = [
        p
        for p in POSTCODE_IN_TEXT.findall(text)
        if p in engine.postcodes or collectivity_of_postcode(p)
    ]
    words = normalise(POSTCODE_IN_TEXT.sub(" ", text))
    if postcodes:
        postcode = postcodes[-1]
        communes = engine.postcodes.get(postcode, [])
        named = [c for c in communes if _names_in(engine.units[c]["name"], words)]
        if len(named) == 1:
            result = engine.locate_commune(named[0])
        else:
            result = engine.locate_postcode(postcode)
        result["warnings"] = warnings + result["warnings"]
        return result
    # No postcode: the town ends a postal address ("…, Mende"); street words come first and
    # must not be read as communes (Rue, Placé). Only a name naming one commune counts.
    tokens = words.split()
    for size in range(min(len(tokens), 8), 0, -1):
        start = len(tokens) - size
        if _part_of_street_name(tokens, start):
            continue  # "rue de Paris" names a street, not the town
        codes = engine.commune_names.get(" ".join(tokens[start:]))
        if codes and len(codes) == 1:
            result = engine.locate_commune(codes[0])
            result["warnings"] = warnings + result["warnings"]
            return result
    raise InvalidInput(
        "No postcode or commune could be recognised in the address; add the postcode.",
        field="q",
    )


def _part_of_street_name(tokens: list[str], start: int) -> bool:
    i = start - 1
    while i >= 0 and tokens[i] in STREET_LINKS:
        i -= 1
    return i >= 0 and tokens[i] in STREET_TYPES


def _names_in(name: str, words: str) -> bool:
    return f" {normalise(name)} " in f" {words} "
