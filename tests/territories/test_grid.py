"""The grid accelerator (territories/grid.py) answers exactly as the plain polygon test."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely import affinity
from shapely.geometry import GeometryCollection, MultiPolygon, Point, Polygon, box

from nextwork.territories.grid import build_grid_index, exact_indexes_at
from nextwork.territories.sampling import points_inside


def _near_outlines(geoms, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Points on the outlines' vertices and pieces, and at 1e-12 to 1e-3 degree from them."""
    coords = shapely.get_coordinates(geoms)
    k = rng.integers(0, len(coords) - 1, n)
    x, y = coords[k, 0].copy(), coords[k, 1].copy()
    along = rng.random(n)  # a point on the piece to the next vertex (or a ring jump: fine)
    x += along * (coords[k + 1, 0] - x)
    y += along * (coords[k + 1, 1] - y)
    on_vertex = slice(0, n // 5)
    x[on_vertex], y[on_vertex] = coords[k[on_vertex], 0], coords[k[on_vertex], 1]
    moved = slice(2 * n // 5, n)
    size = 10.0 ** rng.uniform(-12, -3, n)[moved]
    angle = rng.uniform(0, 2 * np.pi, n)[moved]
    x[moved] += size * np.cos(angle)
    y[moved] += size * np.sin(angle)
    return x, y


def _in_outlines(geoms, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points inside randomly chosen outlines (small ones as likely as large)."""
    return points_inside(geoms, n, rng)


def _on_cell_edges(grid_index, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Points exactly on (or one rounding away from) the lines between cells."""
    xs, ys = [], []
    for g in grid_index.grids:
        m = max(n * g.nx * g.ny // grid_index.stats["cells"], 10)
        x = g.x0 + rng.integers(0, g.nx, m) / g.inv + rng.random(m) / g.inv
        y = g.y0 + rng.integers(0, g.ny, m) / g.inv + rng.random(m) / g.inv
        snap_x, snap_y = rng.random(m) < 0.7, rng.random(m) < 0.7
        x[snap_x] = g.x0 + np.round((x[snap_x] - g.x0) * g.inv) / g.inv
        y[snap_y] = g.y0 + np.round((y[snap_y] - g.y0) * g.inv) / g.inv
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _anywhere(grid_index, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points over each grid (sea, neighbouring countries) and a little beyond."""
    xs, ys = [], []
    for g in grid_index.grids:
        x0, y0, x1, y1 = g.bounds
        m = max(n * g.nx * g.ny // grid_index.stats["cells"], 100)
        xs.append(rng.uniform(x0 - 0.1, x1 + 0.1, m))
        ys.append(rng.uniform(y0 - 0.1, y1 + 0.1, m))
    odd = [np.nan, np.inf, -np.inf, 0.0, 180.0, -180.0, 90.0, -90.0, 2.35, 48.85]
    xs.append(np.repeat(odd, len(odd)))
    ys.append(np.tile(odd, len(odd)))
    return np.concatenate(xs), np.concatenate(ys)


def assert_same_as_exact(index, geoms, x, y, single: int = 2000):
    tree = shapely.STRtree(geoms)
    expected = exact_indexes_at(geoms, tree, x, y)
    got = index.indexes_at(x, y)
    wrong = np.flatnonzero(got != expected)
    assert not len(wrong), [
        (float(x[i]), float(y[i]), int(got[i]), int(expected[i])) for i in wrong[:10]
    ]
    for i in np.linspace(0, len(x) - 1, min(single, len(x))).astype(int):
        assert index.index_at(float(x[i]), float(y[i])) == expected[i], (x[i], y[i])
    return expected


# -- the real registry ------------------------------------------------------------------------


def test_grid_is_exact_on_the_registry(engine):
    """200,000 points: inside communes, near and on their outlines, on cell edges, anywhere."""
    rng = np.random.default_rng(20250601)
    grid, geoms = engine.grid, engine.unit_geoms
    assert grid is not None and grid.stats["grids"] >= 2  # the metropole and overseas
    parts = [
        _in_outlines(geoms, 60_000, rng),
        _near_outlines(geoms, 70_000, rng),
        _on_cell_edges(grid, 30_000, rng),
        _anywhere(grid, 40_000, rng),
    ]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    assert len(x) >= 200_000
    expected = assert_same_as_exact(grid, geoms, x, y)
    # The sample really covers the hard cases: outside all, and in boundary cells.
    assert (expected == -1).sum() > 10_000
    assert (expected >= 0).sum() > 120_000
    # Through the engine too, bulk and single.
    assert np.array_equal(engine.units_at(x, y), expected)
    for i in range(0, len(x), 997):
        code = engine.unit_at(float(x[i]), float(y[i]))
        assert code == (engine.unit_codes[expected[i]] if expected[i] >= 0 else None)


def test_engine_without_grid_takes_the_plain_path(engine, monkeypatch):
    rng = np.random.default_rng(7)
    x, y = _near_outlines(engine.unit_geoms, 5_000, rng)
    with_grid = engine.units_at(x, y)
    singles = [engine.unit_at(float(a), float(b)) for a, b in zip(x[:300], y[:300], strict=True)]
    monkeypatch.setattr(engine, "grid", None)
    assert np.array_equal(engine.units_at(x, y), with_grid)
    assert [engine.unit_at(float(a), float(b)) for a, b in zip(x[:300], y[:300], strict=True)] == (
        singles
    )


def test_grid_budget(engine):
    grid = engine.grid
    assert grid.nbytes < 100e6
    assert grid.build_seconds < 10


def test_grid_point_in_lozere(engine):
    i = engine.grid.index_at(3.501, 44.518)
    assert engine.unit_codes[i].startswith("48")
    assert engine.grid.index_at(-3.0, 46.0) == -1  # at sea, in the Bay of Biscay


# -- made-up outlines: overlaps, holes, invalid, odd types --------------------------------------


def _check(geoms, cells_per_degree: int, n: int = 30_000, seed: int = 1):
    geoms = np.array(geoms, dtype=object)
    index = build_grid_index(geoms, cells_per_degree=cells_per_degree)
    rng = np.random.default_rng(seed)
    polygons = geoms[np.isin(shapely.get_type_id(geoms), (3, 6))]
    if len(polygons):
        x0, y0, x1, y1 = shapely.total_bounds(polygons)
    else:
        x0, y0, x1, y1 = 0.0, 0.0, 1.0, 1.0
    x = rng.uniform(x0 - 1, x1 + 1, n)
    y = rng.uniform(y0 - 1, y1 + 1, n)
    # On the cell lattice, on vertices and pieces, and close to them.
    lattice = slice(0, n // 4)
    x[lattice] = np.round(x[lattice] * cells_per_degree) / cells_per_degree
    y[: n // 8] = np.round(y[: n // 8] * cells_per_degree) / cells_per_degree
    if len(polygons):
        nx, ny = _near_outlines(polygons, n // 2, rng)
        x[-(n // 2) :], y[-(n // 2) :] = nx, ny
    return assert_same_as_exact(index, geoms, x, y), index


@pytest.mark.parametrize("cells_per_degree", [2, 16, 256])
def test_overlaps_lowest_index_wins(cells_per_degree):
    geoms = [box(1, 1, 3, 3), box(0, 0, 2, 2), box(0.5, 0.5, 0.75, 0.75)]
    expected, index = _check(geoms, cells_per_degree)
    assert index.index_at(1.5, 1.5) == 0
    assert index.index_at(0.6, 0.6) == 1
    assert index.index_at(2.5, 2.5) == 0
    assert set(np.unique(expected)) == {-1, 0, 1}  # 2 lies inside 1: never the answer


def test_holes_and_enclaves():
    ring = Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (3, 1), (3, 3), (1, 3)]])
    expected, index = _check([ring, box(1, 1, 3, 3), box(1.5, 1.5, 2.5, 2.5)], 8)
    assert index.index_at(2, 2) == 1
    assert index.index_at(0.5, 0.5) == 0
    assert index.index_at(1, 2) == -1  # on the shared outline: in none, as contains_xy says
    assert set(np.unique(expected)) == {-1, 0, 1}


def test_invalid_and_odd_geometries_take_the_exact_path():
    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    collection = GeometryCollection([box(5, 5, 6, 6), Point(7, 7)])
    _expected, index = _check([bowtie, box(1, 0, 3, 1), collection, None, Polygon()], 8)
    assert index.stats["untrusted"] == 4


def test_clusters_far_apart():
    geoms = [
        box(0, 0, 1, 1),
        box(1, 0, 2, 1),
        MultiPolygon([box(30, 30, 31, 31), box(32, 30, 33, 31)]),
        box(30.2, 30.2, 30.4, 30.4),
        box(-60, 10, -59, 11),
    ]
    _expected, index = _check(geoms, 32)
    assert index.stats["grids"] == 3
    assert index.index_at(30.3, 30.3) == 2
    assert index.index_at(32.5, 30.5) == 2
    assert index.index_at(-59.5, 10.5) == 4
    assert index.index_at(15, 15) == -1


def test_one_outline_spread_far_and_wide():
    """Parts very far apart make one huge cluster: its resolution is lowered to fit."""
    geoms = [MultiPolygon([box(0, 0, 1, 1), box(150, 60, 151, 61)]), box(150.2, 60.2, 150.4, 60.4)]
    _expected, index = _check(geoms, 256)
    assert index.stats["grids"] == 1
    assert index.nbytes < 200e6
    assert index.index_at(150.3, 60.3) == 0
    assert index.index_at(0.5, 0.5) == 0


@pytest.mark.parametrize("cells_per_degree", [4, 64])
def test_many_small_and_thin_outlines(cells_per_degree):
    squares = [
        box(i / 10, j / 10, (i + 1) / 10, (j + 1) / 10) for i in range(20) for j in range(20)
    ]
    _check(squares, cells_per_degree)
    thin = [affinity.rotate(box(0, 0, 5, 0.01), a, origin=(0, 0)) for a in range(0, 180, 7)]
    _check(thin, cells_per_degree)


def test_empty():
    index = build_grid_index(np.array([], dtype=object))
    assert index.index_at(1.0, 2.0) == -1
    assert index.indexes_at(np.array([1.0]), np.array([2.0])).tolist() == [-1]
    assert index.indexes_at(np.array([]), np.array([])).tolist() == []
