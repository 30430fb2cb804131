"""Proposing proxy holders for requests: as many as possible in the requester's own commune,
then as many as possible among holders who can go to a commune nearby (docs/mobilisation.md,
"Matching").

The plan is computed in memory from plain arrays, then written through the same inserts as a
coordinator's proposal, which the database may still refuse (a coordinator matching the same
people at that moment): the database has the last word on the law.

1. **Same commune, as many as possible.** A holder has up to two *slots* on a round (art. L73:
   at most two proxies, at most one established in France): an ``any`` slot while they carry
   no French proxy, the rest for proxies established abroad. Requests are grouped by commune
   (French, abroad), holders by kind of slot, and a maximum flow (Dinic, ``scipy.sparse.csgraph``)
   from communes to holders gives the largest number of requests served in their own commune:
   the graph has one edge per commune a holder named, not one per (request, slot) pair, so a
   city of thousands of requests costs no more than its holders' offers. A greedy pass can
   spend a holder who offered two communes where another holder would have done.
2. **Then nearby, as many as possible.** The requests left and the free slots whose holder named
   a commune within ``radius_km`` (town halls, a k-d tree on the sphere) form a bipartite graph;
   its maximum matching (Hopcroft–Karp) serves the most of them. Each pair carries the distance
   to the nearest commune the holder named; the holder still goes to the requester's polling
   station, and accepts or declines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

EARTH_KM = 6371.0088


@dataclass(frozen=True)
class Need:
    """A request: its id, the commune (index into the points) and whether it is established
    abroad."""

    id: int
    commune: int
    abroad: bool = False


@dataclass(frozen=True)
class Offer:
    """An offer: its id, the communes its holder can go to (indexes), and what the holder
    already carries on the round."""

    id: int
    communes: tuple[int, ...]
    french_used: bool = False
    used: int = 0


@dataclass
class Plan:
    pairs: list[tuple[int, int, float]] = field(default_factory=list)  # request, offer, km
    same_commune: int = 0
    nearby: int = 0
    unmatched: list[int] = field(default_factory=list)


def _unit(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lon), np.radians(lat)
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


def _capacities(offers: list[Offer]) -> tuple[np.ndarray, np.ndarray]:
    """Free slots of each offer: ``any`` (0 or 1) and abroad-only (0 to 2)."""
    used = np.array([o.used for o in offers], dtype=np.int64)
    french = np.array([o.french_used for o in offers], dtype=bool)
    free = np.clip(2 - used, 0, 2)
    any_cap = ((free > 0) & ~french).astype(np.int64)
    return any_cap, free - any_cap


def _same_commune(needs, offers, any_cap, abroad_cap):
    """Phase 1: a maximum flow source → (commune, French|abroad) → (holder, any|abroad) → sink.
    Returns the pairs as (need index, offer index, slot is "any")."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_flow

    n_off = len(offers)
    want: dict[tuple[int, bool], list[int]] = {}
    for r, need in enumerate(needs):
        want.setdefault((need.commune, need.abroad), []).append(r)
    group = {key: 2 + i for i, key in enumerate(want)}
    any_node = 2 + len(group) + np.arange(n_off)
    ab_node = any_node + n_off
    rows, cols, caps = [], [], []

    def edge(u, v, c):
        rows.append(u)
        cols.append(v)
        caps.append(c)

    for key, node in group.items():
        edge(0, node, len(want[key]))
    for o, offer in enumerate(offers):
        if any_cap[o]:
            edge(int(any_node[o]), 1, 1)
        if abroad_cap[o]:
            edge(int(ab_node[o]), 1, int(abroad_cap[o]))
        for c in offer.communes:
            french, abroad = group.get((c, False)), group.get((c, True))
            if any_cap[o]:
                if french is not None:
                    edge(french, int(any_node[o]), 1)
                if abroad is not None:
                    edge(abroad, int(any_node[o]), 1)
            if abroad_cap[o] and abroad is not None:
                edge(abroad, int(ab_node[o]), int(abroad_cap[o]))
    size = 2 + len(group) + 2 * n_off
    graph = csr_matrix(
        (np.array(caps, dtype=np.int32), (np.array(rows), np.array(cols))), shape=(size, size)
    )
    graph.sum_duplicates()
    flow = maximum_flow(graph, 0, 1, method="dinic").flow.tocoo()
    pairs = []
    queue = {key: list(reversed(rs)) for key, rs in want.items()}
    keys = {node: key for key, node in group.items()}
    for u, v, f in zip(flow.row, flow.col, flow.data, strict=True):
        if f <= 0 or u not in keys:
            continue
        key = keys[int(u)]
        is_any = v < 2 + len(group) + n_off
        o = int(v - (any_node[0] if is_any else ab_node[0]))
        for _ in range(int(f)):
            pairs.append((queue[key].pop(), o, bool(is_any)))
    return pairs


def _nearest_most(k, s, d, n_rows: int, n_slots: int) -> np.ndarray:
    """The slot of each row (-1: none): the most rows served, and among the ways to serve
    that many, the shortest total distance. A minimum-weight full matching (LAPJVsp) where
    every row may also take a dummy slot of its own costing more than any set of real pairs
    could, so that a real pair always wins over leaving a row alone."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    dummy = float(n_rows) * 3.0  # chord lengths are at most 2 each
    rows = np.concatenate([k, np.arange(n_rows)])
    cols = np.concatenate([s, n_slots + np.arange(n_rows)])
    weights = np.concatenate([d + 1e-9, np.full(n_rows, dummy)])  # 0 would be "no edge"
    graph = csr_matrix((weights, (rows, cols)), shape=(n_rows, n_slots + n_rows))
    _, chosen = min_weight_full_bipartite_matching(graph)
    return np.where(chosen < n_slots, chosen, -1)


def plan(
    needs: list[Need],
    offers: list[Offer],
    points: np.ndarray,
    *,
    radius_km: float = 20.0,
) -> Plan:
    """The pairs to propose. ``points``: (n, 2) lon/lat of the communes the indexes name."""
    from scipy.spatial import cKDTree

    result = Plan()
    if not needs or not offers:
        result.unmatched = [n.id for n in needs]
        return result
    any_cap, abroad_cap = _capacities(offers)
    served = np.zeros(len(needs), dtype=bool)
    for r, o, is_any in _same_commune(needs, offers, any_cap, abroad_cap):
        result.pairs.append((needs[r].id, offers[o].id, 0.0))
        served[r] = True
        if is_any:
            any_cap[o] -= 1
        else:
            abroad_cap[o] -= 1
    result.same_commune = int(served.sum())

    # 2. Nearby: free slots (owner, abroad only?) and the communes their holders named.
    left = np.flatnonzero(~served)
    owner = np.concatenate([np.flatnonzero(any_cap > 0),
                            np.repeat(np.arange(len(offers)), abroad_cap)])  # fmt: skip
    abroad_only = np.concatenate([np.zeros(int((any_cap > 0).sum()), dtype=bool),
                                  np.ones(int(abroad_cap.sum()), dtype=bool)])  # fmt: skip
    if len(left) and len(owner) and radius_km > 0 and np.isfinite(points).any():
        slot_of = np.concatenate([np.full(len(offers[o].communes), s) for s, o in enumerate(owner)])
        place_of = np.concatenate([np.array(offers[o].communes) for o in owner])
        # A commune with no known place takes part in the same-commune phase only.
        known = np.isfinite(points[place_of]).all(axis=1)
        slot_of, place_of = slot_of[known], place_of[known]
        left = left[np.isfinite(points[[needs[r].commune for r in left]]).all(axis=1)]
        asked = np.array([needs[r].commune for r in left], dtype=np.int64)
        chord = 2 * math.sin(min(radius_km / EARTH_KM, math.pi) / 2)
        if len(asked) and len(place_of):
            near = cKDTree(_unit(points[asked, 0], points[asked, 1])).sparse_distance_matrix(
                cKDTree(_unit(points[place_of, 0], points[place_of, 1])), chord,
                output_type="ndarray",
            )  # fmt: skip
        else:
            near = np.zeros(0, dtype=[("i", np.int64), ("j", np.int64), ("v", np.float64)])
        k, j, d = near["i"], near["j"], near["v"]
        s = slot_of[j]
        abroad_need = np.array([needs[r].abroad for r in left], dtype=bool)
        ok = abroad_need[k] | ~abroad_only[s]
        k, s, d = k[ok], s[ok], d[ok]
        # One edge per (request, slot), at the nearest of the holder's communes.
        order = np.lexsort((d, s, k))
        k, s, d = k[order], s[order], d[order]
        first = np.ones(len(k), dtype=bool)
        first[1:] = (k[1:] != k[:-1]) | (s[1:] != s[:-1])
        k, s, d = k[first], s[first], d[first]
        if len(k):
            chosen = _nearest_most(k, s, d, len(left), len(owner))
            distance = dict(zip(zip(k.tolist(), s.tolist(), strict=True), d.tolist(),
                                strict=True))  # fmt: skip
            for row in np.flatnonzero(chosen >= 0):
                slot = int(chosen[row])
                km = 2 * EARTH_KM * math.asin(min(1.0, distance[(int(row), slot)] / 2))
                result.pairs.append((needs[left[row]].id, offers[owner[slot]].id, round(km, 1)))
                served[left[row]] = True
                result.nearby += 1
    result.unmatched = [needs[r].id for r in np.flatnonzero(~served)]
    return result
