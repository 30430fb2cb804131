"""Benchmark of the proxy matching (section 14), run by ``bench/run.py --mobilisation-bench``.

``python bench/mobilisation.py [--quick]`` is the same as ``bench/run.py --mobilisation-only``.

14. ``mobilisation.matching.plan()`` on 100,000 proxy requests and 100,000 offers
    (``--mobilisation-scale`` 1; 0.1 with ``--quick``) over every commune of the registry, at
    their town halls (``Area.point``). Requests and offers' home communes are drawn with a
    probability proportional to the population; each offer also names 0 to 2 of the nearest
    other communes; 2 % of requests are established abroad; 3 % of holders already carry one
    French proxy. Measured: the first call and the best of ``--mobilisation-repeat``, against
    the baseline of the same run, a greedy pass written here (requests in arrival order, each
    takes the first free slot of its commune, else the nearest free slot within the radius).
    Both results are checked against the law (art. L73: at most two proxies, at most one
    established in France; a request served once; a holder within the radius).
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import run as base  # the helpers of bench/run.py (setup, output)

SIZES = {"requests": 100_000, "offers": 100_000}
RADIUS_KM = 20.0
ABROAD_SHARE = 0.02
FRENCH_USED_SHARE = 0.03
EARTH_KM = 6371.0088


def add_arguments(parser) -> None:
    group = parser.add_argument_group("proxy matching benchmarks (14)")
    group.add_argument(
        "--mobilisation-bench", action="store_true", help="also run the proxy matching benchmark"
    )
    group.add_argument(
        "--mobilisation-only", action="store_true", help="run the proxy matching benchmark only"
    )
    group.add_argument(
        "--mobilisation-scale",
        type=float,
        default=None,
        help="share of 100,000 requests and 100,000 offers: 1 [0.1]",
    )
    group.add_argument(
        "--mobilisation-repeat", type=int, default=3, help="timed calls after the first: 3"
    )


def finish_args(parser, args) -> None:
    if args.mobilisation_only:
        args.mobilisation_bench = True
    if args.mobilisation_scale is None:
        args.mobilisation_scale = 0.1 if args.quick else 1.0
    if args.mobilisation_scale <= 0 or args.mobilisation_repeat < 1:
        parser.error("--mobilisation-scale and --mobilisation-repeat must be positive")


# -- data -----------------------------------------------------------------------------------------


def _unit(points: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(points[:, 0]), np.radians(points[:, 1])
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


def _km(chord: np.ndarray | float) -> np.ndarray | float:
    return 2 * EARTH_KM * np.arcsin(np.minimum(1.0, np.asarray(chord) / 2))


def communes() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """lon/lat of every commune's town hall (its shape's centre when the registry has none),
    its population and code, from the active boundary set."""
    import shapely

    from nextwork.territories.models import Area, AreaKind

    rows = list(
        Area.objects.filter(boundary_set__active=True, kind=AreaKind.COMMUNE)
        .order_by("code")
        .values_list("pk", "code", "point", "population")
    )
    points = np.full((len(rows), 2), np.nan)
    missing = {}
    for i, (pk, _code, wkb, _pop) in enumerate(rows):
        p = shapely.from_wkb(bytes(wkb)) if wkb else None
        if p is not None and not p.is_empty:
            points[i] = (p.x, p.y)
        else:
            missing[pk] = i
    if missing:
        for pk, wkb in Area.objects.filter(pk__in=list(missing)).values_list("pk", "geometry"):
            c = shapely.from_wkb(bytes(wkb)).centroid if wkb else None
            if c is not None and not c.is_empty:
                points[missing[pk]] = (c.x, c.y)
    keep = ~np.isnan(points).any(axis=1)
    population = np.array([max(r[3] or 1, 1) for r in rows], dtype=np.float64)
    codes = [r[1] for r, k in zip(rows, keep, strict=True) if k]
    return points[keep], population[keep], codes, len(missing)


def generate(points: np.ndarray, population: np.ndarray, sizes: dict, seed: int):
    """The requests and offers, as ``matching.Need`` and ``matching.Offer``."""
    from scipy.spatial import cKDTree

    from nextwork.mobilisation.matching import Need, Offer

    rng = np.random.default_rng(seed)
    p = population / population.sum()
    n_req, n_off = sizes["requests"], sizes["offers"]
    req_commune = rng.choice(len(points), n_req, p=p)
    req_abroad = rng.random(n_req) < ABROAD_SHARE
    home = rng.choice(len(points), n_off, p=p)
    extra = rng.integers(0, 3, n_off)  # 0, 1 or 2 neighbouring communes
    _, nearest = cKDTree(_unit(points)).query(_unit(points[home]), k=4)
    french_used = rng.random(n_off) < FRENCH_USED_SHARE
    needs = [
        Need(i, int(c), bool(a))
        for i, (c, a) in enumerate(zip(req_commune.tolist(), req_abroad.tolist(), strict=True))
    ]
    offers = []
    for i in range(n_off):
        h = int(home[i])
        others = [int(c) for c in nearest[i] if c != h][: extra[i]]
        used = bool(french_used[i])
        offers.append(Offer(i, (h, *others), french_used=used, used=int(used)))
    return needs, offers


# -- the baseline ---------------------------------------------------------------------------------


def greedy(needs, offers, points: np.ndarray, *, radius_km: float = RADIUS_KM, two_pass=False):
    """Requests in arrival order: the first free compatible slot in the request's commune, else
    the nearest free compatible slot whose holder goes to a commune within ``radius_km``.
    ``two_pass``: every request in its commune first, then the ones left nearby (the order of
    ``plan``, without its maximum matching).

    The slots are those of ``matching.plan``: an ``any`` slot while the holder carries no
    French proxy, then ``abroad``-only slots, two in all. Returns (pairs, same commune, nearby)
    with pairs (request id, offer id, km)."""
    from scipy.spatial import cKDTree

    owner: list[int] = []
    any_at: dict[int, list[int]] = {}  # commune → its "any" slots, in slot order
    abroad_at: dict[int, list[int]] = {}  # commune → its abroad-only slots
    for i, offer in enumerate(offers):
        free = max(0, 2 - offer.used)
        kinds = []
        if free and not offer.french_used:
            kinds.append(any_at)
            free -= 1
        kinds += [abroad_at] * free
        for table in kinds:
            s = len(owner)
            owner.append(i)
            for c in offer.communes:
                table.setdefault(c, []).append(s)
    taken = [False] * len(owner)
    cursor_any: dict[int, int] = {}
    cursor_abroad: dict[int, int] = {}

    def first_free(table, cursor, c):
        slots = table.get(c)
        if not slots:
            return None
        k = cursor.get(c, 0)
        while k < len(slots) and taken[slots[k]]:
            k += 1
        cursor[c] = k
        return slots[k] if k < len(slots) else None

    def slot_at(c, abroad):
        s = first_free(any_at, cursor_any, c)
        if abroad:
            t = first_free(abroad_at, cursor_abroad, c)
            if s is None or (t is not None and t < s):
                s = t
        return s

    tree = cKDTree(_unit(points))
    chord = 2 * math.sin(min(radius_km / EARTH_KM, math.pi) / 2)
    around: dict[int, tuple[list[int], list[float]]] = {}  # commune → others by distance
    has_slots = np.zeros(len(points), dtype=bool)
    has_slots[list(any_at) + list(abroad_at)] = True

    def _nearby(need) -> int:
        c = need.commune
        ring = around.get(c)
        if ring is None:
            j = np.array(tree.query_ball_point(tree.data[c], chord), dtype=np.int64)
            j = j[(j != c) & has_slots[j]]
            d = np.linalg.norm(tree.data[j] - tree.data[c], axis=1)
            order = np.argsort(d, kind="stable")
            ring = around[c] = (j[order].tolist(), _km(d[order]).tolist())
        for other, km in zip(*ring, strict=True):
            s = slot_at(other, need.abroad)
            if s is not None:
                taken[s] = True
                pairs.append((need.id, offers[owner[s]].id, round(km, 1)))
                return 1
        return 0

    pairs, same, nearby = [], 0, 0
    left = []
    for need in needs:
        s = slot_at(need.commune, need.abroad)
        if s is not None:
            taken[s] = True
            pairs.append((need.id, offers[owner[s]].id, 0.0))
            same += 1
        elif two_pass:
            left.append(need)
        else:
            nearby += _nearby(need)
    for need in left:
        nearby += _nearby(need)
    return pairs, same, nearby
    return pairs, same, nearby


# -- checks and figures ---------------------------------------------------------------------------


def check(label: str, pairs, needs, offers, points: np.ndarray, radius_km: float) -> dict:
    """The law and the plan's own rules; raises when broken. Returns the figures."""
    need_of = {n.id: n for n in needs}
    offer_of = {o.id: o for o in offers}
    served: set[int] = set()
    total = {o.id: o.used for o in offers}
    french = {o.id: int(o.french_used) for o in offers}
    unit = _unit(points)
    same, near_km, errors = 0, [], []
    for request, offer_id, _km_given in pairs:
        need, offer = need_of[request], offer_of[offer_id]
        if request in served:
            errors.append(f"request {request} matched twice")
        served.add(request)
        total[offer_id] += 1
        french[offer_id] += not need.abroad
        if need.commune in offer.communes:
            same += 1
            continue
        chords = np.linalg.norm(unit[list(offer.communes)] - unit[need.commune], axis=1)
        km = float(_km(chords.min()))
        if km > radius_km + 1e-6:
            errors.append(f"request {request} → offer {offer_id}: {km:.1f} km")
        near_km.append(km)
    errors += [f"offer {o}: {n} proxies" for o, n in total.items() if n > 2]
    errors += [f"offer {o}: {n} French proxies" for o, n in french.items() if n > 1]
    if errors:
        raise SystemExit(
            f"{label} breaks the rules: {len(errors)} errors, " + "; ".join(errors[:5])
        )
    n = len(needs)
    return {
        "matched": len(served),
        "same_commune": same,
        "same_share": same / n,
        "nearby": len(near_km),
        "nearby_share": len(near_km) / n,
        "unmatched": n - len(served),
        "unmatched_share": (n - len(served)) / n,
        "nearby_mean_km": float(np.mean(near_km)) if near_km else 0.0,
        "holders_two": sum(1 for o in offers if total[o.id] == 2 and o.used < 2),
    }


def _timed(fn, repeat: int):
    t0 = time.perf_counter()
    value = fn()
    first = time.perf_counter() - t0
    best = first
    for _ in range(repeat):
        t0 = time.perf_counter()
        again = fn()
        best = min(best, time.perf_counter() - t0)
        if again != value:
            raise SystemExit("two calls on the same data gave different answers")
    return first, best, value


def bench_mobilisation(engine, args, rng, results, home: Path) -> None:
    from nextwork.mobilisation import matching

    started = time.perf_counter()
    scale = args.mobilisation_scale
    sizes = {k: max(1, round(v * scale)) for k, v in SIZES.items()}
    t0 = time.perf_counter()
    points, population, _codes, no_town_hall = communes()
    if not len(points):
        raise SystemExit("no commune in the registry: run `nextwork setup`")
    needs, offers = generate(points, population, sizes, args.seed)
    generated = time.perf_counter() - t0
    slots = sum(max(0, 2 - o.used) for o in offers)
    base.say(
        f"\n14. Proxy matching: {sizes['requests']:,} requests, {sizes['offers']:,} offers "
        f"({slots:,} slots) over {len(points):,} communes, radius {RADIUS_KM:g} km "
        f"(scale {scale:g}; data in {generated:.1f} s)"
    )
    communes_used = len({n.commune for n in needs})
    abroad = sum(n.abroad for n in needs)
    base.say(
        f"  requests in {communes_used:,} communes, {abroad:,} established abroad; "
        f"{sum(o.french_used for o in offers):,} holders already carry a French proxy; "
        f"{sum(len(o.communes) for o in offers) / len(offers):.2f} communes per offer; "
        f"{no_town_hall} communes without a town hall point, at their shape's centre"
    )
    repeat = args.mobilisation_repeat

    def run_plan():
        p = matching.plan(needs, offers, points, radius_km=RADIUS_KM)
        return p.pairs, p.same_commune, p.nearby

    def run_greedy():
        return greedy(needs, offers, points, radius_km=RADIUS_KM)

    def run_two_pass():
        return greedy(needs, offers, points, radius_km=RADIUS_KM, two_pass=True)

    rows = {}
    for label, fn in (
        ("plan (max flow + nearby)", run_plan),
        ("greedy (baseline)", run_greedy),
        ("greedy, commune pass first", run_two_pass),
    ):
        first, best, (pairs, same, nearby) = _timed(fn, repeat)
        figures = check(label, pairs, needs, offers, points, RADIUS_KM)
        if (figures["same_commune"], figures["nearby"]) != (same, nearby):
            raise SystemExit(
                f"{label}: counts {same}/{nearby}, the pairs say "
                f"{figures['same_commune']}/{figures['nearby']}"
            )
        rows[label] = {"first_s": first, "best_s": best, **figures}
        base.say(
            f"  {label:<30} first {first:6.2f} s, best of {repeat + 1} {best:6.2f} s | "
            f"same commune {same:,} ({figures['same_share']:.2%}), nearby {nearby:,} "
            f"({figures['nearby_share']:.2%}, mean {figures['nearby_mean_km']:.1f} km), "
            f"unmatched {figures['unmatched']:,} ({figures['unmatched_share']:.2%}) — rules kept"
        )
    plan, greedy_row, two_pass = rows.values()
    time_ratio = plan["best_s"] / greedy_row["best_s"]
    points_gain = 100 * (plan["same_share"] - greedy_row["same_share"])
    matched_gain = plan["matched"] - greedy_row["matched"]
    base.say(
        f"  plan ÷ greedy time: ×{time_ratio:.2f}; same-commune share: plan − greedy "
        f"{points_gain:+.2f} points ({plan['same_commune'] - greedy_row['same_commune']:+,} "
        f"requests); matched in all: {matched_gain:+,}"
    )
    base.say(
        f"  against the commune-pass-first greedy: time ×"
        f"{plan['best_s'] / two_pass['best_s']:.2f}; same commune "
        f"{100 * (plan['same_share'] - two_pass['same_share']):+.2f} points "
        f"({plan['same_commune'] - two_pass['same_commune']:+,}); matched in all "
        f"{plan['matched'] - two_pass['matched']:+,}"
    )
    results["mobilisation"] = {
        "sizes": sizes,
        "scale": scale,
        "communes": len(points),
        "slots": slots,
        "radius_km": RADIUS_KM,
        "generation_seconds": generated,
        "plan": plan,
        "greedy": greedy_row,
        "greedy_commune_pass_first": two_pass,
        "plan_over_greedy_time": time_ratio,
        "same_share_gain_points": points_gain,
        "matched_gain": matched_gain,
    }
    results["mobilisation_seconds"] = time.perf_counter() - started
    base.say(f"\n  mobilisation benchmark: {results['mobilisation_seconds']:.0f} s")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(base.main(["--mobilisation-only", *sys.argv[1:]]))
