"""SVG maps built from the registry's geometries, on the server, with no outside request.

Coordinates are projected with a simple equirectangular projection per frame (enough for a
map of departments), simplified to the pixel, and written as paths with one decimal.
"""

from __future__ import annotations

import math
from functools import lru_cache
from html import escape

import shapely

from nextwork.territories.lookup import Engine, get_engine

# (department prefix, label) of each overseas inset, in display order.
OVERSEAS = [
    ("971", "Guadeloupe"),
    ("972", "Martinique"),
    ("973", "Guyane"),
    ("974", "La Réunion"),
    ("976", "Mayotte"),
    ("975", "St-Pierre-et-Miquelon"),
    ("977", "St-Barthélemy, St-Martin"),
    ("986", "Wallis-et-Futuna"),
    ("987", "Polynésie française"),
    ("988", "Nouvelle-Calédonie"),
]
PARIS_AREA = ("75", "92", "93", "94")


def seat_prefix(code: str) -> str:
    return code.rsplit("-", 1)[0]


class Frame:
    """Fits lon/lat geometries into a pixel box, keeping proportions."""

    def __init__(self, geoms, box: tuple[float, float, float, float], pad: float = 4.0):
        x0, y0, w, h = box
        minx, miny, maxx, maxy = shapely.total_bounds(geoms)
        self.k = math.cos(math.radians((miny + maxy) / 2))
        gw, gh = max((maxx - minx) * self.k, 1e-9), max(maxy - miny, 1e-9)
        self.scale = min((w - 2 * pad) / gw, (h - 2 * pad) / gh)
        self.ox = x0 + (w - gw * self.scale) / 2 - minx * self.k * self.scale
        self.oy = y0 + (h - gh * self.scale) / 2 + maxy * self.scale

    def path(self, geom) -> str:
        # Simplify to about half a pixel, in degrees.
        geom = shapely.simplify(geom, 0.5 / self.scale, preserve_topology=True)
        parts = []
        for poly in getattr(geom, "geoms", [geom]):
            if poly.geom_type != "Polygon":
                continue
            for ring in [poly.exterior, *poly.interiors]:
                coords = ring.coords
                if len(coords) < 4:
                    continue
                pts = [
                    f"{self.ox + x * self.k * self.scale:.1f},{self.oy - y * self.scale:.1f}"
                    for x, y in coords[:-1]
                ]
                parts.append("M" + "L".join(pts) + "Z")
        return "".join(parts)


# Cached maps carry MARK + code + MARK where each seat's status class goes, so one drawing
# serves every request and only the classes change (``paint``).
MARK = "\x00"


def _seat_link(engine: Engine, code: str, d: str, css: str = "seat") -> str:
    seat = engine.seats[code]
    deputy = seat["deputy"]
    who = deputy["name"] if deputy else "siège vacant"
    return (
        f'<a href="/circonscriptions/{code}/" aria-label="{escape(seat["name"])}">'
        f'<path class="{css} {MARK}{code}{MARK}" d="{d}" data-code="{code}">'
        f"<title>{escape(seat['name'])} — {escape(who)}</title></path></a>"
    )


def paint(drawing: str, classes: dict[str, str]) -> str:
    """Put each seat's class (its coverage status, say) into a cached drawing."""
    parts = drawing.split(MARK)
    parts[1::2] = [classes.get(code, "") for code in parts[1::2]]
    return "".join(parts)


def _frame_group(engine: Engine, codes: list[str], box, label: str | None = None) -> str:
    index = {c: i for i, c in enumerate(engine.seat_codes)}
    codes = [c for c in codes if c in index]
    if not codes:
        return ""
    geoms = [engine.seat_geoms[index[c]] for c in codes]
    x0, y0, w, h = box
    out = []
    if label:
        out.append(_inset(box, label))
        box = (x0, y0 + 18, w, h - 18)
    frame = Frame(geoms, box, pad=6 if label else 4)
    for code, geom in zip(codes, geoms, strict=True):
        out.append(_seat_link(engine, code, frame.path(geom)))
    return "".join(out)


@lru_cache(maxsize=4)
def _national_map(version: str) -> str:
    engine = get_engine()
    seats = [c for c in engine.seat_codes if not seat_prefix(c).startswith(("97", "98"))]
    paris = [c for c in engine.seat_codes if seat_prefix(c) in PARIS_AREA]
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 805" class="national-map" '
        'role="img" aria-labelledby="map-title"><title id="map-title">'
        "Les 577 circonscriptions législatives</title>",
        _frame_group(engine, seats, (0, 0, 650, 650)),
        _frame_group(engine, paris, (665, 0, 335, 300), "Paris et petite couronne"),
    ]
    boxes = [(665 + (i % 2) * 170, 315 + (i // 2) * 112, 165, 105) for i in range(6)]
    boxes += [(i * 162.5, 665, 157, 135) for i in range(4)]
    for (prefix, label), box in zip(OVERSEAS, boxes, strict=True):
        codes = [c for c in engine.seat_codes if seat_prefix(c) == prefix]
        out.append(_frame_group(engine, codes, box, label))
    out.append(_abroad_block(engine, (665, 650, 335, 150)))
    out.append("</svg>")
    return "".join(out)


def _inset(box, label: str) -> str:
    x0, y0, w, h = box
    return (
        f'<rect class="inset" x="{x0}" y="{y0}" width="{w}" height="{h}" rx="6"/>'
        f'<text class="inset-label" x="{x0 + 6}" y="{y0 + 14}">{escape(label)}</text>'
    )


def _abroad_block(engine: Engine, box) -> str:
    x0, y0, _w, _h = box
    codes = sorted(c for c in engine.seats if seat_prefix(c) == "99")
    out = [_inset(box, "Français établis hors de France")]
    cols, size, gap = 6, 46, 6
    for i, code in enumerate(codes):
        cx = x0 + 10 + (i % cols) * (size + gap)
        cy = y0 + 24 + (i // cols) * (size + gap)
        d = f"M{cx},{cy}h{size}v{size}h-{size}Z"
        out.append(_seat_link(engine, code, d))
        out.append(
            f'<text class="tile-label" x="{cx + size / 2}" y="{cy + size / 2 + 5}">'
            f"{int(code[-2:])}</text>"
        )
    return "".join(out)


def national_map(classes: dict[str, str] | None = None) -> str:
    """The 577 seats, each with its class from ``classes`` (by default, vacant seats)."""
    engine = get_engine()
    if classes is None:
        classes = {code: "vacant" for code, seat in engine.seats.items() if seat["vacant"]}
    return paint(_national_map(engine.version), classes)


@lru_cache(maxsize=256)
def _outline(version: str, code: str) -> str:
    engine = get_engine()
    if code not in engine.seat_codes:
        return ""
    index = {c: i for i, c in enumerate(engine.seat_codes)}
    geom = engine.seat_geoms[index[code]]
    from nextwork.territories.selectors import neighbours

    around = [c for c in neighbours(engine, code) if c in index]
    minx, miny, maxx, maxy = shapely.bounds(geom)
    dx, dy = (maxx - minx) * 0.15 + 0.01, (maxy - miny) * 0.15 + 0.01
    minx, miny, maxx, maxy = minx - dx, miny - dy, maxx + dx, maxy + dy
    # Widen the view to the picture's proportions so the neighbours fill it.
    k = math.cos(math.radians((miny + maxy) / 2))
    width, height = (maxx - minx) * k, maxy - miny
    if width / height < 600 / 420:
        grow = (height * 600 / 420 / k - (maxx - minx)) / 2
        minx, maxx = minx - grow, maxx + grow
    else:
        grow = (width * 420 / 600 - height) / 2
        miny, maxy = miny - grow, maxy + grow
    view = shapely.box(minx, miny, maxx, maxy)
    frame = Frame([view], (0, 0, 600, 420), pad=0)
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 420" class="outline-map" '
        f'role="img" aria-label="Contour de la circonscription {code}">'
        '<defs><clipPath id="view"><rect width="600" height="420"/></clipPath></defs>'
        '<g clip-path="url(#view)">'
    ]
    for other in around:
        clipped = shapely.intersection(engine.seat_geoms[index[other]], view)
        if not clipped.is_empty:
            out.append(_seat_link(engine, other, frame.path(clipped), css="seat neighbour"))
    out.append(f'<path class="seat current" d="{frame.path(geom)}"/>')
    out.append("</g></svg>")
    return "".join(out)


def constituency_outline(code: str, classes: dict[str, str] | None = None) -> str:
    return paint(_outline(get_engine().version, code), classes or {})
