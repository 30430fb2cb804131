"""Precise constituency outlines (--constituencies) shrink the ambiguity to their stated error."""

import json

import shapely

from nextwork.territories.derive import AMBIGUITY_M, local_projection
from nextwork.territories.importer import import_territories
from nextwork.territories.lookup import get_engine
from nextwork.territories.models import Area, AreaKind, BoundarySet


def toulouse_point_between_seats(engine):
    """A point of Toulouse 100-600 m inside one seat from another: ambiguous when coarse."""
    seats = engine.table["31555"]
    index = {c: i for i, c in enumerate(engine.seat_codes)}
    project = local_projection(43.6)
    a, b = (project(engine.seat_geoms[index[code]]) for code, _ in seats[:2])
    boundary = shapely.intersection(a.boundary, b.boundary)
    for fraction in (0.5, 0.3, 0.7, 0.2, 0.8):
        anchor = boundary.interpolate(fraction, normalized=True)
        for dx, dy in ((300, 0), (-300, 0), (0, 300), (0, -300)):
            p = shapely.Point(anchor.x + dx, anchor.y + dy)
            if a.contains(p) and 100 < p.distance(b) < 600:
                kx = project(shapely.Point(1, 0)).x
                lon, lat = p.x / kx, p.y / project(shapely.Point(0, 1)).y
                if engine.unit_at(lon, lat) == "31555":
                    return lat, lon
    raise AssertionError("no test point found")


def test_precise_outlines_answer_where_coarse_ones_cannot(registry, tmp_path):
    engine = get_engine()
    lat, lon = toulouse_point_between_seats(engine)
    coarse = engine.locate_point(lat, lon)
    assert coarse["ambiguous"] is True  # within 650 m of two coarse outlines

    # The same outlines, declared precise to 25 m (an organisation's own file).
    features = [
        {
            "type": "Feature",
            "properties": {"code": area.code},
            "geometry": json.loads(shapely.to_geojson(shapely.from_wkb(bytes(area.geometry)))),
        }
        for area in Area.objects.filter(
            boundary_set=registry, kind=AreaKind.CONSTITUENCY, code__startswith="31-"
        )
    ]
    path = tmp_path / "haute-garonne.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    report = import_territories(constituencies_geojson=path, outline_error_m=25)
    assert report.created_set and report.activated
    active = BoundarySet.objects.get(active=True)
    assert active.stats["outline_error_m"] == 25
    assert registry.stats["outline_error_m"] == AMBIGUITY_M

    precise = get_engine()
    assert precise.ambiguity_m == 25
    answer = precise.locate_point(lat, lon)
    assert answer["ambiguous"] is False
    assert [c["code"] for c in answer["candidates"]] == [coarse["candidates"][0]["code"]]
