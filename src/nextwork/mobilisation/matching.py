"""Proposing proxy holders for requests: as many as possible in the requester's own commune,
then the nearest holders who can go there (docs/mobilisation.md, "Matching").

The plan is computed in memory from plain arrays, then written through
``services.match_propose``-like inserts that the database may still refuse (a coordinator
matching the same people at that moment): the database has the last word on the law.

1. **Same commune, as many as possible.** A holder is one or two *slots* on a round (art. L73:
   at most two proxies, at most one established in France): an ``any`` slot while they carry
   no French proxy, then ``abroad``-only slots. Requests and slots of the same commune form a
   bipartite graph; its maximum matching (Hopcroft–Karp, ``scipy.sparse.csgraph``) gives the
   largest number of requests served in their own commune — a greedy pass can use a holder
   offering two communes where another holder would have done, and leave a request unserved.
2. **Then nearby.** Each request left is offered the nearest free slot whose holder can go to a
   commune within ``radius_km`` (the holder must still go to the requester's polling station:
   that commune must be one of the holder's, or the holder accepts to travel when asked).
   Candidate pairs come from a k-d tree on the communes' town halls; they are taken by
   increasing distance, each request and slot once.
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


def _slots(offers: list[Offer]) -> tuple[np.ndarray, np.ndarray]:
    """(offer index, abroad only?) of every free slot."""
    owner, abroad_only = [], []
    for i, offer in enumerate(offers):
        free = max(0, 2 - offer.used)
        if free and not offer.french_used:
            owner.append(i)
            abroad_only.append(False)
            free -= 1
        for _ in range(free):
            owner.append(i)
            abroad_only.append(True)
    return np.array(owner, dtype=np.int64), np.array(abroad_only, dtype=bool)


def _unit(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lon), np.radians(lat)
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


def plan(
    needs: list[Need],
    offers: list[Offer],
    points: np.ndarray,
    *,
    radius_km: float = 20.0,
) -> Plan:
    """The pairs to propose. ``points``: (n, 2) lon/lat of the communes the indexes name."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    result = Plan()
    owner, abroad_only = _slots(offers)
    if not needs or not len(owner):
        result.unmatched = [n.id for n in needs]
        return result

    # 1. Same commune: rows are requests, columns slots.
    slots_at: dict[int, list[int]] = {}
    for s, o in enumerate(owner):
        for c in offers[o].communes:
            slots_at.setdefault(c, []).append(s)
    rows, cols = [], []
    for r, need in enumerate(needs):
        for s in slots_at.get(need.commune, ()):
            if need.abroad or not abroad_only[s]:
                rows.append(r)
                cols.append(s)
    taken_slot = np.zeros(len(owner), dtype=bool)
    taken_offer_french = np.array([o.french_used for o in offers], dtype=bool)
    served = np.zeros(len(needs), dtype=bool)
    if rows:
        graph = csr_matrix(
            (np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(len(needs), len(owner))
        )
        chosen = maximum_bipartite_matching(graph, perm_type="column")
        for r in np.flatnonzero(chosen >= 0):
            s = int(chosen[r])
            # A holder has one "any" slot at most: a French request there is their only one.
            result.pairs.append((needs[r].id, offers[owner[s]].id, 0.0))
            taken_slot[s] = served[r] = True
            if not needs[r].abroad:
                taken_offer_french[owner[s]] = True
        result.same_commune = int(served.sum())

    # 2. Nearby: candidate (request, slot) pairs within the radius, nearest first.
    left = np.flatnonzero(~served)
    free = np.flatnonzero(~taken_slot)
    if len(left) and len(free) and radius_km > 0:
        from scipy.spatial import cKDTree

        slot_of, place_of = [], []
        for s in free:
            for c in offers[owner[s]].communes:
                slot_of.append(s)
                place_of.append(c)
        slot_of, place_of = np.array(slot_of), np.array(place_of)
        tree = cKDTree(_unit(points[place_of, 0], points[place_of, 1]))
        chord = 2 * math.sin(min(radius_km / EARTH_KM, math.pi) / 2)
        asked = _unit(points[[needs[r].commune for r in left], 0],
                      points[[needs[r].commune for r in left], 1])  # fmt: skip
        candidates = []
        for k, near in enumerate(tree.query_ball_point(asked, chord)):
            r = left[k]
            for j in near:
                s = slot_of[j]
                if abroad_only[s] and not needs[r].abroad:
                    continue
                d = float(np.linalg.norm(asked[k] - tree.data[j]))
                candidates.append((d, int(r), int(s)))
        candidates.sort()
        for d, r, s in candidates:
            if served[r] or taken_slot[s]:
                continue
            if not needs[r].abroad and taken_offer_french[owner[s]]:
                continue
            km = 2 * EARTH_KM * math.asin(min(1.0, d / 2))
            result.pairs.append((needs[r].id, offers[owner[s]].id, round(km, 1)))
            served[r] = taken_slot[s] = True
            if not needs[r].abroad:
                taken_offer_french[owner[s]] = True
            result.nearby += 1
    result.unmatched = [needs[r].id for r in np.flatnonzero(~served)]
    return result
