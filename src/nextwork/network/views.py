"""Public network pages: the coverage map of the 577 seats."""

from __future__ import annotations

from collections import Counter

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from nextwork.network.selectors import STATUSES, seat_statuses
from nextwork.territories import lookup, svg
from nextwork.territories.selectors import constituency_sort_key


@require_GET
def coverage_map(request: HttpRequest) -> HttpResponse:
    engine = lookup.get_engine()
    statuses = seat_statuses()
    groups: dict[str, dict] = {}
    for code in sorted(engine.seats, key=constituency_sort_key):
        seat = engine.seats[code]
        dept = seat["department"] or {"code": code.rsplit("-", 1)[0], "name": seat["name"]}
        group = groups.setdefault(dept["code"], {"department": dept, "seats": [], "covered": 0})
        group["seats"].append({**seat, "coverage": statuses[code]})
        group["covered"] += statuses[code] == "covered"
    counts = Counter(statuses.values())
    return render(
        request,
        "network/map.html",
        {
            "map_svg": svg.national_map(statuses),
            "groups": list(groups.values()),
            "counts": [(status, counts.get(status, 0)) for status in STATUSES],
            "covered": counts.get("covered", 0),
            "total": len(statuses),
            "percent": round(100 * counts.get("covered", 0) / len(statuses)) if statuses else 0,
        },
    )
