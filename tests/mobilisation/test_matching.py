"""The matching planner on its own: the law's slots, the most same-commune pairs (checked
against brute force on small random cases), then the nearest within the radius."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nextwork.mobilisation.matching import Need, Offer, plan

# Three communes on a line along the equator, 0, 11 and 111 km apart (0.1° and 1° of lon).
POINTS = np.array([[0.0, 0.0], [0.1, 0.0], [1.0, 0.0]])


def _check_law(result, needs, offers):
    by_id = {n.id: n for n in needs}
    per_offer: dict[int, list[bool]] = {}
    requests = [r for r, _, _ in result.pairs]
    assert len(requests) == len(set(requests)), "a request matched twice"
    for request_id, offer_id, _km in result.pairs:
        per_offer.setdefault(offer_id, []).append(by_id[request_id].abroad)
    for offer in offers:
        new = per_offer.get(offer.id, [])
        french = sum(1 for abroad in new if not abroad) + offer.french_used
        assert french <= 1, "two French proxies"
        assert len(new) + offer.used <= 2, "more than two proxies"


def test_the_most_requests_in_their_own_commune():
    # Requests: A in commune 0, C in commune 1. Holders: H1 goes to 0 or 1, H2 to 0 only.
    # Greedy (A takes H1 first) leaves C alone; the maximum matching serves both.
    needs = [Need(1, 0), Need(2, 1)]
    offers = [Offer(10, (0, 1)), Offer(20, (0,))]
    result = plan(needs, offers, POINTS, radius_km=0)
    assert result.same_commune == 2 and result.unmatched == []
    assert sorted(result.pairs) == [(1, 20, 0.0), (2, 10, 0.0)]


def test_slots_follow_article_l73():
    # A holder with a French proxy already takes only a proxy established abroad.
    needs = [Need(1, 0), Need(2, 0, abroad=True), Need(3, 0, abroad=True)]
    offers = [Offer(10, (0,), french_used=True, used=1)]
    result = plan(needs, offers, POINTS, radius_km=0)
    assert result.pairs == [(2, 10, 0.0)] or result.pairs == [(3, 10, 0.0)]
    # A free holder: one French and one abroad, never two French.
    needs = [Need(1, 0), Need(2, 0), Need(3, 0, abroad=True)]
    result = plan(needs, [Offer(10, (0,))], POINTS, radius_km=0)
    matched = {r for r, _, _ in result.pairs}
    assert len(matched) == 2 and 3 in matched
    _check_law(result, needs, [Offer(10, (0,))])
    # A holder with two proxies already: nothing more.
    assert plan([Need(1, 0, abroad=True)], [Offer(10, (0,), used=2)], POINTS).pairs == []


def test_then_the_nearest_within_the_radius():
    needs = [Need(1, 0), Need(2, 0)]
    offers = [Offer(10, (1,)), Offer(20, (2,))]  # 11 km and 111 km away
    result = plan(needs, offers, POINTS, radius_km=20)
    assert result.same_commune == 0 and result.nearby == 1 and len(result.unmatched) == 1
    ((_, offer_id, km),) = result.pairs
    assert offer_id == 10 and 10.5 < km < 11.5
    wide = plan(needs, offers, POINTS, radius_km=150)
    assert wide.nearby == 2 and sorted(k for _, _, k in wide.pairs)[-1] > 100


def _brute_same_commune(needs, offers) -> int:
    """The largest number of requests served in their own commune, by trying every
    assignment (small cases only)."""
    slots = []
    for i, o in enumerate(offers):
        free = max(0, 2 - o.used)
        if free and not o.french_used:
            slots.append((i, False))
            free -= 1
        slots += [(i, True)] * free
    best = 0
    choices = [None, *range(len(slots))]
    for assignment in itertools.product(choices, repeat=len(needs)):
        used = [s for s in assignment if s is not None]
        if len(used) != len(set(used)):
            continue
        ok = all(
            s is None
            or (needs[r].commune in offers[slots[s][0]].communes
                and (needs[r].abroad or not slots[s][1]))
            for r, s in enumerate(assignment)
        )  # fmt: skip
        if ok:
            best = max(best, len(used))
    return best


@settings(max_examples=60, deadline=None)
@given(
    needs=st.lists(st.tuples(st.integers(0, 2), st.booleans()), min_size=1, max_size=5),
    offers=st.lists(
        st.tuples(st.sets(st.integers(0, 2), min_size=1, max_size=2), st.integers(0, 2),
                  st.booleans()),
        min_size=1, max_size=3,
    ),
)  # fmt: skip
def test_same_commune_pairs_are_as_many_as_brute_force_finds(needs, offers):
    needs = [Need(i, c, abroad) for i, (c, abroad) in enumerate(needs)]
    offers = [
        Offer(100 + i, tuple(sorted(cs)), french_used=used > 0 and french, used=used)
        for i, (cs, used, french) in enumerate(offers)
    ]
    result = plan(needs, offers, POINTS, radius_km=0)
    _check_law(result, needs, offers)
    assert result.same_commune == _brute_same_commune(needs, offers)
    wide = plan(needs, offers, POINTS, radius_km=500)
    _check_law(wide, needs, offers)
    assert wide.same_commune == result.same_commune


def test_communes_with_no_known_place_are_matched_in_their_commune_only():
    points = np.array([[0.0, 0.0], [np.nan, np.nan], [0.1, 0.0]])
    needs = [Need(1, 1), Need(2, 1), Need(3, 0)]
    offers = [Offer(10, (1,)), Offer(20, (1, 2))]
    result = plan(needs, offers, points, radius_km=50)
    assert result.same_commune == 2 and result.nearby == 0 and result.unmatched == [3]


def test_town_halls_missing_or_empty_fall_back_to_the_shape(db, registry):
    import shapely

    from nextwork.mobilisation.services import _points
    from nextwork.territories.models import Area, AreaKind

    empty = [
        pk
        for pk, wkb in Area.objects.filter(
            boundary_set=registry, kind=AreaKind.COMMUNE
        ).values_list("pk", "point")
        if not wkb or shapely.from_wkb(bytes(wkb)).is_empty
    ][:5]
    assert empty, "the registry has communes without a town hall point"
    out = _points(empty)
    shaped = Area.objects.filter(pk__in=empty).exclude(geometry=None).count()
    assert np.isfinite(out).all(axis=1).sum() >= shaped > 0
