"""Reads of the public registry. Nothing here is personal data: no grant is needed."""

from __future__ import annotations

import shapely

from nextwork.common.errors import InvalidInput, NotFound
from nextwork.territories.lookup import Engine, get_engine, person_dict, shown
from nextwork.territories.models import SENATE_KINDS, Area, AreaKind, Chamber, Mandate

# Apps built on the registry add to a seat's detail (the network adds its coverage status):
# callables taking a seat code and returning a dict, registered from AppConfig.ready().
SEAT_DETAIL_EXTENSIONS: list = []

# Coarse outlines are offset by up to ~650 m: seats closer than this are neighbours.
NEIGHBOUR_GAP_DEG = 0.01


def constituency_list(*, limit: int, offset: int) -> tuple[int, list[dict]]:
    engine = get_engine()
    codes = sorted(engine.seats, key=constituency_sort_key)
    return len(codes), [engine.seats[c] for c in codes[offset : offset + limit]]


def constituency_sort_key(code: str) -> tuple:
    """Department order (01 … 19, 2A, 2B, 21 … 976), the seats abroad last."""
    dept, number = code.rsplit("-", 1)
    return (*department_sort_key(dept), int(number))


def department_sort_key(code: str) -> tuple:
    """01 … 19, 2A, 2B, 21 … 976, then 99 (French residents abroad)."""
    rank = 10_000 if code == "99" else int(code.replace("2A", "20").replace("2B", "20"))
    return (rank, code)


def constituency_detail(code: str) -> dict:
    engine = get_engine()
    code = (code or "").strip().upper()
    seat = engine.seats.get(code)
    if seat is None:
        raise NotFound(
            f"The constituency {shown(code)} is unknown (codes look like 75-02).", field="code"
        )
    ended = (
        Mandate.objects.filter(
            boundary_set_id=engine.boundary_set_id,
            chamber=Chamber.ASSEMBLY,
            area__code=code,
            area__kind=AreaKind.CONSTITUENCY,
            end__isnull=False,
        )
        .order_by("-end")
        .first()
    )
    extra = {}
    for extension in SEAT_DETAIL_EXTENSIONS:
        extra.update(extension(code))
    return {
        **seat,
        **extra,
        "neighbours": [engine.seats[c] | {"share": None} for c in neighbours(engine, code)],
        "countries": [
            {"code": iso, "name": name}
            for iso, (name, s) in sorted(engine.countries.items(), key=lambda kv: kv[1][0])
            if s == code
        ],
        "last_mandate": (
            {**person_dict(ended), "ended": ended.end.isoformat()}
            if ended is not None and seat["vacant"]
            else None
        ),
    }


def neighbours(engine: Engine, code: str) -> list[str]:
    try:
        index = engine.seat_codes.index(code)
    except ValueError:
        return []
    geom = engine.seat_geoms[index]
    hits = engine.seat_tree.query(shapely.buffer(geom, NEIGHBOUR_GAP_DEG), predicate="intersects")
    return sorted(
        (engine.seat_codes[i] for i in hits if engine.seat_codes[i] != code),
        key=constituency_sort_key,
    )


def representatives(*, chamber: str | None, department: str | None) -> list[dict]:
    engine = get_engine()
    mandates = Mandate.objects.filter(boundary_set_id=engine.boundary_set_id, end__isnull=True)
    if chamber:
        if chamber not in Chamber.values:
            raise InvalidInput(
                f"chamber must be one of {', '.join(Chamber.values)}.", field="chamber"
            )
        mandates = mandates.filter(chamber=chamber)
    if department:
        department = department.strip().upper()
        if not Area.objects.filter(
            boundary_set_id=engine.boundary_set_id, kind__in=SENATE_KINDS, code=department
        ).exists():
            raise NotFound(f"The department {shown(department)} is unknown.", field="department")
        mandates = mandates.filter(
            area__code__startswith=f"{department}-", area__kind=AreaKind.CONSTITUENCY
        ) | mandates.filter(area__code=department, area__kind__in=SENATE_KINDS)
    rows = mandates.select_related("area").order_by("chamber", "last_name", "first_name")
    return [
        {**person_dict(m), "chamber": m.chamber, "area": {"code": m.area.code, "name": m.area.name}}
        for m in rows
    ]


def department_detail(code: str) -> dict:
    engine = get_engine()
    code = (code or "").strip().upper()
    area = (
        Area.objects.filter(
            boundary_set_id=engine.boundary_set_id, kind__in=SENATE_KINDS, code=code
        )
        .select_related("parent")
        .first()
    )
    if area is None:
        raise NotFound(
            f"The department {shown(code)} is unknown (codes look like 75, 2A, 971).", field="code"
        )
    seats = sorted(
        (c for c in engine.seats if c.rsplit("-", 1)[0] == code), key=constituency_sort_key
    )
    senators = [s for seat in seats[:1] for s in engine.seats[seat]["senators"]]
    if not seats:
        senators = [
            person_dict(m)
            for m in area.mandates.filter(chamber=Chamber.SENATE, end__isnull=True).order_by(
                "last_name"
            )
        ]
    return {
        "code": area.code,
        "name": area.name,
        "kind": area.kind,
        "region": {"code": area.parent.code, "name": area.parent.name} if area.parent else None,
        "constituencies": [engine.seats[c] | {"share": None} for c in seats],
        "senators": senators,
    }
