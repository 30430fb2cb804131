"""The commune → constituency table, derived from area shares.

The constituency polygons of the open data are coarse (median offset ≈ 270 m, up to ≈ 650 m from
the precise commune boundaries); overlaid naively they "split" thousands of villages. Constituencies
were drawn from cantons, so only communes divided between cantons (large towns) can really be
divided. The rules below, and the figures they give, are documented in docs/territories.md.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import shapely

from nextwork.territories.source import SourceData

# Metres. Coarse constituency outlines are eroded by this much before counting a commune's share
# in them: slivers thinner than the measured error of the outlines are noise. With outlines of
# another precision (``--constituencies``), half their stated error.
EROSION_M = 300.0
# A commune is really split only when it is this populous (a canton-sized town)…
SPLIT_MIN_POPULATION = 10_000
# …and at least two constituencies keep this share of its area after erosion.
SPLIT_MIN_CORE_SHARE = 0.05
# Below this majority the town hall, when it lies deep inside another constituency, decides.
TOWNHALL_MAJORITY = 0.75
# Within this distance of a coarse boundary a point inside a split commune is ambiguous
# (the largest measured offset of the coarse outlines). Precise outlines state their own.
AMBIGUITY_M = 650.0
# The error assumed for outlines given with --constituencies unless the operator says otherwise.
PRECISE_OUTLINE_ERROR_M = 25.0

M_PER_DEG_LAT = 110_540.0
M_PER_DEG_LON_EQUATOR = 111_320.0


def local_scale(lat0: float) -> tuple[float, float]:
    """Metres per degree of longitude and latitude around ``lat0``."""
    return M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0)), M_PER_DEG_LAT


def local_projection(lat0: float):
    """Equirectangular projection in metres around ``lat0``: good to a few % over a department."""
    scale = np.array(local_scale(lat0))

    def project(geom):
        return shapely.transform(geom, lambda xy: xy * scale)

    return project


@dataclass
class Derivation:
    table: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    split: list[str] = field(default_factory=list)


def erosion_for(outline_error_m: float) -> float:
    return min(EROSION_M, outline_error_m / 2)


def derive_commune_constituencies(
    data: SourceData, *, outline_error_m: float = AMBIGUITY_M
) -> Derivation:
    """The table for every commune; ``outline_error_m`` is how far the outlines may be off."""
    result = Derivation()
    erosion = erosion_for(outline_error_m)
    seats_by_dept: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for code, (dept, wkb) in data.constituencies.items():
        if dept and wkb:
            seats_by_dept[dept].append((code, wkb))
    communes_by_dept = defaultdict(list)
    plm = _plm_parents(data)
    for commune in data.communes.values():
        if commune.code in plm:
            continue  # Paris, Lyon, Marseille: their arrondissements carry the table
        communes_by_dept[commune.department].append(commune)

    for dept, communes in communes_by_dept.items():
        seats = sorted(seats_by_dept.get(dept, []))
        if not seats:
            result.stats["no_constituency"] += len(communes)
            continue
        if len(seats) == 1:
            for commune in communes:
                result.table[commune.code] = [(seats[0][0], 1.0)]
            result.stats["single_seat_department"] += len(communes)
            continue
        _derive_department(communes, seats, result, erosion)
    _place_by_postcode(data, result)
    result.split.sort()
    result.stats["split"] = len(result.split)
    result.stats = dict(result.stats)
    return result


def _place_by_postcode(data: SourceData, result: Derivation) -> None:
    """Communes with neither outline nor town hall take the seats of their postcode's communes."""
    plm = _plm_parents(data)
    for commune in data.communes.values():
        if commune.code in result.table or commune.code in plm:
            continue
        seats: dict[str, float] = {}
        for codes in data.postcodes.values():
            if commune.code in codes:
                for other in codes:
                    for seat, _share in result.table.get(other, []):
                        seats[seat] = 1.0
        if seats:
            result.table[commune.code] = [(seat, 1 / len(seats)) for seat in sorted(seats)]
            result.stats["by_postcode"] += 1


def _plm_parents(data: SourceData) -> set[str]:
    return {c.parent_code for c in data.communes.values() if c.parent_code}


def _derive_department(communes, seats, result: Derivation, erosion: float) -> None:
    seat_codes = [code for code, _ in seats]
    seat_geoms = shapely.from_wkb([wkb for _, wkb in seats])
    lat0 = shapely.centroid(shapely.union_all(seat_geoms)).y
    project = local_projection(lat0)
    seat_m = shapely.make_valid(project(seat_geoms))
    seat_core = shapely.buffer(seat_m, -erosion)
    tree = shapely.STRtree(seat_m)

    for commune in communes:
        if commune.geometry is None:
            result.stats["no_geometry"] += 1
            geom_m = None
        else:
            geom_m = shapely.make_valid(project(shapely.from_wkb(commune.geometry)))
        townhall_m = project(shapely.from_wkb(commune.townhall)) if commune.townhall else None

        if geom_m is None:
            if townhall_m is None:
                result.stats["unplaced"] += 1
                continue
            idx = int(tree.nearest(townhall_m))
            result.table[commune.code] = [(seat_codes[idx], 1.0)]
            result.stats["by_townhall_only"] += 1
            continue

        hits = tree.query(geom_m, predicate="intersects")
        areas = {int(i): shapely.area(shapely.intersection(geom_m, seat_m[i])) for i in hits}
        areas = {i: a for i, a in areas.items() if a > 0}
        if not areas:
            # Islands and coastal slivers the coarse outlines miss: the nearest seat.
            idx = int(tree.nearest(geom_m))
            result.table[commune.code] = [(seat_codes[idx], 1.0)]
            result.stats["nearest"] += 1
            continue
        total = sum(areas.values())
        shares = {i: a / total for i, a in areas.items()}
        commune_area = shapely.area(geom_m)
        core = {
            i: shapely.area(shapely.intersection(geom_m, seat_core[i])) / commune_area
            for i in areas
        }
        real = [i for i in areas if core[i] >= SPLIT_MIN_CORE_SHARE]
        if len(real) >= 2 and (commune.population or 0) >= SPLIT_MIN_POPULATION:
            kept = sum(shares[i] for i in real)
            result.table[commune.code] = sorted(
                ((seat_codes[i], float(shares[i] / kept)) for i in real), key=lambda t: -t[1]
            )
            result.split.append(commune.code)
            continue
        best = max(shares, key=shares.get)
        if len(shares) == 1:
            result.stats["whole"] += 1
        elif townhall_m is not None and shares[best] < TOWNHALL_MAJORITY:
            deep = [i for i in areas if shapely.contains(seat_core[i], townhall_m)]
            if deep and deep[0] != best:
                best = deep[0]
                result.stats["townhall_decided"] += 1
            else:
                result.stats["majority"] += 1
        else:
            result.stats["majority"] += 1
        if townhall_m is not None and not shapely.intersects(seat_m[best], townhall_m):
            result.stats["townhall_elsewhere"] += 1
        result.table[commune.code] = [(seat_codes[best], 1.0)]
