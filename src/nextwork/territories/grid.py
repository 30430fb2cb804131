"""A uniform-grid accelerator for exact point-in-commune lookups.

The commune outlines are cut into square cells (``cells_per_degree`` a side, in degrees of
longitude and latitude), one grid per cluster of territory (the metropole with Corsica, each
overseas department). A cell that no outline crosses lies wholly inside the same communes, so it
holds the answer directly; only a point in a cell that some outline crosses is tested against
the outlines, and only against the few that cross or cover that cell.

The answer is the same as the plain polygon test for every point: the lowest index of the
outlines that contain the point (``shapely.contains_xy``, so a point on an outline belongs to
none of its sides), -1 when none does. Two guarantees make it so:

* every cell that an outline may touch is marked, conservatively: for each straight piece of
  every ring, column by column, the rows its latitude range covers, widened by a margin far
  larger than the rounding of the arithmetic (``_TOL``);
* an unmarked cell is filled with the outlines that hold its centre, found by an even-odd scan
  line at the centre's latitude. The centre is at least half a cell away from every outline that
  does not cross the cell, so rounding cannot change that answer.

Invalid or non-polygonal outlines are never trusted to the scan line: every cell of their
bounding box is marked, so they always go through the exact test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import shapely

#: Default resolution: 1/256 degree, about 300 m × 430 m in the metropole.
CELLS_PER_DEGREE = 256
#: Size, in degrees, of the coarse squares used to group outlines into clusters.
CLUSTER_DEGREES = 1.0
#: At most so many cells in one grid: a wider cluster gets coarser cells.
MAX_CELLS = 16_000_000
#: Margin, in cells, by which an outline's cell span is widened against rounding.
_TOL = 1e-6
_NONE = np.iinfo(np.int32).max


def exact_indexes_at(geoms, tree, lons, lats) -> np.ndarray:
    """The reference answer, without grid: STRtree candidates, then ``contains_xy``.

    Lowest index of the outlines containing each point, -1 where none does.
    """
    x = np.asarray(lons, dtype=np.float64)
    y = np.asarray(lats, dtype=np.float64)
    best = np.full(len(x), _NONE, dtype=np.int64)
    if len(x):
        pairs = tree.query(shapely.points(x, y))
        inside = shapely.contains_xy(geoms[pairs[1]], x[pairs[0]], y[pairs[0]])
        np.minimum.at(best, pairs[0][inside], pairs[1][inside])
    best[best == _NONE] = -1
    return best


def exact_index_at(geoms, tree, lon: float, lat: float) -> int:
    """Single-point version of :func:`exact_indexes_at`."""
    hits = [
        int(i)
        for i in tree.query(shapely.Point(lon, lat))
        if shapely.contains_xy(geoms[i], lon, lat)
    ]
    return min(hits) if hits else -1


@dataclass
class Grid:
    """The cells of one cluster. ``cells`` holds, row by row (south to north):

    * ``>= 0``: every point of the cell lies in that outline (the lowest index if several);
    * ``-1``: no outline holds any point of the cell;
    * ``<= -2``: a boundary cell ``b = -2 - value``, whose candidate outlines, lowest index
      first, are ``cand[ptr[b]:ptr[b + 1]]``.
    """

    x0: float
    y0: float
    inv: float  # cells per degree
    nx: int
    ny: int
    cells: np.ndarray
    ptr: np.ndarray
    cand: np.ndarray

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x0 + self.nx / self.inv, self.y0 + self.ny / self.inv)

    @property
    def nbytes(self) -> int:
        return self.cells.nbytes + self.ptr.nbytes + self.cand.nbytes


@dataclass
class GridIndex:
    geoms: np.ndarray
    grids: list[Grid]
    build_seconds: float = 0.0
    stats: dict = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(g.nbytes for g in self.grids)

    # -- one point --------------------------------------------------------------------------

    def index_at(self, lon: float, lat: float) -> int:
        """Index of the outline holding the point, -1 when none (same as the exact test)."""
        for g in self.grids:
            fx = (lon - g.x0) * g.inv
            fy = (lat - g.y0) * g.inv
            if 0.0 <= fx < g.nx and 0.0 <= fy < g.ny:
                value = g.cells.item(int(fy) * g.nx + int(fx))
                if value >= -1:
                    return value
                b = -2 - value
                cand = g.cand[g.ptr.item(b) : g.ptr.item(b + 1)]
                hit = shapely.contains_xy(self.geoms[cand], lon, lat)  # one call: faster
                k = int(hit.argmax())  # the first, i.e. lowest, candidate holding the point
                return int(cand[k]) if hit[k] else -1
        return -1  # the grids cover every outline: outside them, no outline holds the point

    # -- many points ------------------------------------------------------------------------

    def indexes_at(self, lons, lats) -> np.ndarray:
        """Bulk version: an int64 array of indexes, -1 where no outline holds the point."""
        x = np.asarray(lons, dtype=np.float64)
        y = np.asarray(lats, dtype=np.float64)
        out = np.full(len(x), -1, dtype=np.int64)
        todo = None  # positions still to place; None: all of them
        for g in self.grids:
            if todo is not None and not len(todo):
                break
            xs, ys = (x, y) if todo is None else (x[todo], y[todo])
            fx = xs - g.x0
            fx *= g.inv
            fy = ys - g.y0
            fy *= g.inv
            ok = (fx >= 0.0) & (fx < g.nx) & (fy >= 0.0) & (fy < g.ny)
            if ok.all():
                pos = todo
                rest = None
            else:
                sel = np.flatnonzero(ok)
                pos = sel if todo is None else todo[sel]
                rest = np.flatnonzero(~ok) if todo is None else todo[~ok]
                fx, fy, xs, ys = fx[sel], fy[sel], xs[sel], ys[sel]
            self._place(g, pos, fx, fy, xs, ys, out)
            if rest is None:
                break
            todo = rest
        return out

    def _place(self, g: Grid, pos, fx, fy, xs, ys, out) -> None:
        cell = fy.astype(np.int64)
        cell *= g.nx
        cell += fx.astype(np.int64)
        value = g.cells[cell]
        border = np.flatnonzero(value < -1)
        if pos is None:
            out[:] = value
        else:
            out[pos] = value
        if not len(border):
            return
        b = -2 - value[border].astype(np.int64)
        start = g.ptr[b].astype(np.int64)
        count = g.ptr[b + 1].astype(np.int64) - start
        target = border if pos is None else pos[border]
        bx, by = xs[border], ys[border]
        found = np.full(len(border), -1, dtype=np.int64)
        active = np.arange(len(border))
        step = 0
        # Candidates lowest index first: the first outline holding the point is the answer.
        while len(active):
            c = g.cand[start[active] + step]
            hit = shapely.contains_xy(self.geoms[c], bx[active], by[active])
            found[active[hit]] = c[hit]
            step += 1
            active = active[~hit & (count[active] > step)]
        out[target] = found


# -- building ---------------------------------------------------------------------------------


def build_grid_index(
    geoms,
    *,
    cells_per_degree: int = CELLS_PER_DEGREE,
    cluster_degrees: float = CLUSTER_DEGREES,
) -> GridIndex:
    """Cut the outlines ``geoms`` (an array of polygons, lon/lat) into grids."""
    started = time.perf_counter()
    geoms = np.asarray(geoms, dtype=object)
    bounds = shapely.bounds(geoms).reshape(-1, 4)
    usable = np.isfinite(bounds).all(axis=1)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))  # Polygon, MultiPolygon
    trusted = usable & polygonal & shapely.is_valid(geoms)
    edges = _edges(geoms, np.flatnonzero(trusted))
    grids = []
    stats = {"cells": 0, "boundary_cells": 0, "candidates": 0, "untrusted": int((~trusted).sum())}
    for box in _clusters(bounds[usable], cluster_degrees):
        grid = _build_grid(bounds, usable, trusted, edges, box, cells_per_degree)
        stats["cells"] += grid.nx * grid.ny
        stats["boundary_cells"] += len(grid.ptr) - 1
        stats["candidates"] += len(grid.cand)
        grids.append(grid)
    grids.sort(key=lambda g: -g.nx * g.ny)  # the largest (the metropole) is tried first
    index = GridIndex(geoms=geoms, grids=grids)
    index.build_seconds = time.perf_counter() - started
    stats["grids"] = len(grids)
    stats["megabytes"] = round(index.nbytes / 1e6, 1)
    index.stats = stats
    return index


@dataclass
class _Edges:
    """The straight pieces of every ring of the trusted outlines."""

    x1: np.ndarray
    y1: np.ndarray
    x2: np.ndarray
    y2: np.ndarray
    owner: np.ndarray  # index of the outline


def _edges(geoms: np.ndarray, which: np.ndarray) -> _Edges:
    parts, part_owner = shapely.get_parts(geoms[which], return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, vertex_ring = shapely.get_coordinates(rings, return_index=True)
    first = np.flatnonzero(vertex_ring[:-1] == vertex_ring[1:])  # both ends on one ring
    owner = which[part_owner[ring_part[vertex_ring[first]]]]
    return _Edges(
        coords[first, 0],
        coords[first, 1],
        coords[first + 1, 0],
        coords[first + 1, 1],
        owner.astype(np.int64),
    )


def _clusters(bounds: np.ndarray, size: float) -> list[tuple[float, float, float, float]]:
    """Bounding boxes of groups of outlines whose boxes cover touching coarse squares."""
    lo = np.floor(bounds[:, :2] / size).astype(np.int64)
    hi = np.floor(bounds[:, 2:] / size).astype(np.int64)
    squares: dict[tuple[int, int], int] = {}
    for (i0, j0), (i1, j1) in zip(lo.tolist(), hi.tolist(), strict=True):
        for i in range(i0, i1 + 1):
            for j in range(j0, j1 + 1):
                squares[(i, j)] = -1
    label = 0
    for start, seen in squares.items():
        if seen >= 0:
            continue
        squares[start] = label
        stack = [start]
        while stack:
            i, j = stack.pop()
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    near = (i + di, j + dj)
                    if squares.get(near) == -1:
                        squares[near] = label
                        stack.append(near)
        label += 1
    groups = np.array([squares[(i, j)] for i, j in lo.tolist()], dtype=np.int64)
    boxes = []
    for k in range(label):
        member = bounds[groups == k]
        boxes.append(
            (
                float(member[:, 0].min()),
                float(member[:, 1].min()),
                float(member[:, 2].max()),
                float(member[:, 3].max()),
            )
        )
    return boxes


def _expand(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs (start, count): the run number and the value start + k of each element."""
    counts = np.maximum(counts, 0)
    run = np.repeat(np.arange(len(counts)), counts)
    offsets = np.cumsum(counts) - counts
    return run, starts[run] + (np.arange(len(run)) - offsets[run])


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    keys = np.sort(keys)
    if len(keys):
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    return keys


def _marks(fx1, fy1, fx2, fy2, owner, nx: int, ny: int, n: int) -> np.ndarray:
    """Sorted keys ``cell * n + outline`` of every cell a piece of outline may cross."""
    step = 200_000  # pieces at a time, to bound the memory used meanwhile
    keys = [
        _sorted_unique(
            _piece_marks(
                fx1[k : k + step],
                fy1[k : k + step],
                fx2[k : k + step],
                fy2[k : k + step],
                owner[k : k + step],
                nx,
                ny,
                n,
            )
        )
        for k in range(0, len(owner), step)
    ]
    return _sorted_unique(np.concatenate(keys)) if keys else np.empty(0, dtype=np.int64)


def _piece_marks(fx1, fy1, fx2, fy2, owner, nx: int, ny: int, n: int) -> np.ndarray:
    """Column by column, the piece's latitude range over the column (widened by the rounding
    margin) gives the rows; near-vertical pieces take their whole latitude range.
    """
    xmin, xmax = np.minimum(fx1, fx2), np.maximum(fx1, fx2)
    ymin, ymax = np.minimum(fy1, fy2), np.maximum(fy1, fy2)
    ilo = np.clip(np.floor(xmin - _TOL), 0, nx - 1).astype(np.int64)
    ihi = np.clip(np.floor(xmax + _TOL), 0, nx - 1).astype(np.int64)
    piece, col = _expand(ilo, ihi - ilo + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (fy2 - fy1) / (fx2 - fx1)
    slope = slope[piece]
    steep = ~(np.abs(slope) < 1e6)  # vertical (inf, nan) or nearly so
    slope[steep] = 0.0
    x1, y1 = fx1[piece], fy1[piece]
    a = np.maximum(xmin[piece], col - _TOL)
    b = np.minimum(xmax[piece], col + (1 + _TOL))
    ya = y1 + (a - x1) * slope
    yb = y1 + (b - x1) * slope
    widen = _TOL + 1e-9 * np.abs(slope)
    ylo, yhi = ymin[piece] - _TOL, ymax[piece] + _TOL
    lo = np.where(steep, ylo, np.maximum(np.minimum(ya, yb) - widen, ylo))
    hi = np.where(steep, yhi, np.minimum(np.maximum(ya, yb) + widen, yhi))
    del a, b, ya, yb, widen, ylo, yhi, x1, y1, slope, steep
    jlo = np.clip(np.floor(lo), 0, ny - 1).astype(np.int64)
    jhi = np.clip(np.floor(hi), 0, ny - 1).astype(np.int64)
    pc, row = _expand(jlo, jhi - jlo + 1)
    keys = row * nx + col[pc]
    keys *= n
    keys += owner[piece[pc]]
    return keys


def _runs(fx1, fy1, fx2, fy2, owner, nx: int, ny: int):
    """Even-odd scan lines through the cell centres (row r at r + 0.5).

    Returns the runs (row, first column, column after the last, outline): the cells of a row
    whose centres the outline holds.
    """
    lo_y, hi_y = np.minimum(fy1, fy2), np.maximum(fy1, fy2)
    first_row = np.clip(np.ceil(lo_y - 0.5), 0, ny).astype(np.int64)  # half-open [lo, hi)
    rows_count = np.clip(np.ceil(hi_y - 0.5), 0, ny).astype(np.int64) - first_row
    piece, row = _expand(first_row, rows_count)
    t = (row + 0.5 - fy1[piece]) / (fy2[piece] - fy1[piece])
    cross = fx1[piece] + t * (fx2[piece] - fx1[piece])
    who = owner[piece]
    del piece, t
    order = np.lexsort((cross, row, who))
    cross, row, who = cross[order], row[order], who[order]
    if len(who) % 2 or np.any(who[0::2] != who[1::2]) or np.any(row[0::2] != row[1::2]):
        raise RuntimeError("odd crossings on a scan line: an outline ring is not closed")
    start = np.clip(np.ceil(cross[0::2] - 0.5), 0, nx).astype(np.int64)  # centres in [in, out)
    stop = np.clip(np.ceil(cross[1::2] - 0.5), 0, nx).astype(np.int64)
    some = stop > start
    return row[0::2][some], start[some], stop[some], who[0::2][some]


def _build_grid(bounds, usable, trusted, edges: _Edges, box, cells_per_degree: int) -> Grid:
    inv = float(cells_per_degree)
    width, height = box[2] - box[0], box[3] - box[1]
    while (width * inv + 4) * (height * inv + 4) > MAX_CELLS and inv > 1 / 64:
        inv /= 2  # any resolution is exact: this one keeps the memory bounded
    # Aligned on whole cells, with one spare cell all round.
    x0 = (np.floor(box[0] * inv) - 1) / inv
    y0 = (np.floor(box[1] * inv) - 1) / inv
    nx = int(np.ceil((box[2] - x0) * inv)) + 2
    ny = int(np.ceil((box[3] - y0) * inv)) + 2
    size = nx * ny
    x1, y1 = x0 + nx / inv, y0 + ny / inv
    n = len(bounds)
    # Every outline whose box meets the grid takes part, wherever its cluster.
    member = (
        usable
        & (bounds[:, 0] <= x1)
        & (bounds[:, 2] >= x0)
        & (bounds[:, 1] <= y1)
        & (bounds[:, 3] >= y0)
    )
    keep = member[edges.owner]
    owner = edges.owner[keep]
    fx1 = (edges.x1[keep] - x0) * inv
    fy1 = (edges.y1[keep] - y0) * inv
    fx2 = (edges.x2[keep] - x0) * inv
    fy2 = (edges.y2[keep] - y0) * inv

    # 1. Marks: (cell, outline) for every cell an outline may cross.
    marked = _marks(fx1, fy1, fx2, fy2, owner, nx, ny, n)
    untrusted = np.flatnonzero(member & ~trusted)
    if len(untrusted):  # never trust the scan line with these: all their box is marked
        extra = [marked]
        for k in untrusted.tolist():
            i0, j0 = np.floor((bounds[k, :2] - (x0, y0)) * inv - 1).astype(np.int64).tolist()
            i1, j1 = np.floor((bounds[k, 2:] - (x0, y0)) * inv + 1).astype(np.int64).tolist()
            ii, jj = np.meshgrid(
                np.arange(max(i0, 0), min(i1, nx - 1) + 1),
                np.arange(max(j0, 0), min(j1, ny - 1) + 1),
            )
            extra.append((jj.ravel() * nx + ii.ravel()) * n + k)
        marked = _sorted_unique(np.concatenate(extra))
    marked_cell = marked // n
    marked_who = (marked - marked_cell * n).astype(np.int32)
    del marked
    # The boundary cells, in order; a cell's slot is its rank among them.
    new = np.diff(marked_cell, prepend=-1) != 0
    boundary_cells = marked_cell[new]
    marked_slot = np.cumsum(new, dtype=np.int32) - 1
    del new, marked_cell
    nb = len(boundary_cells)

    # 2. Runs of cell centres held by each outline; the cells held by exactly one outline
    # are found by difference arrays, the few held by several by expanding their runs.
    row, start, stop, who = _runs(fx1, fy1, fx2, fy2, owner, nx, ny)
    del fx1, fy1, fx2, fy2, owner
    a = row * nx + start
    b = row * nx + stop
    del row, start, stop
    count = np.zeros(size + 1, dtype=np.int16)  # how many outlines hold the centre
    np.add.at(count, a, 1)
    np.add.at(count, b, -1)
    np.cumsum(count, out=count)
    cells = np.zeros(size + 1, dtype=np.int32)  # the sum of their indexes
    np.add.at(cells, a, who.astype(np.int32))
    np.add.at(cells, b, -who.astype(np.int32))
    np.cumsum(cells, out=cells)
    cells[count == 0] = -1
    several = np.flatnonzero(count >= 2)
    del count
    if len(several):
        touch = np.flatnonzero(np.searchsorted(several, b) > np.searchsorted(several, a))
        run, cell = _expand(a[touch], b[touch] - a[touch])
        inner = np.isin(cell, several)
        cells[several] = _NONE
        np.minimum.at(cells, cell[inner], who[touch][run[inner]].astype(np.int32))
        del run, cell, inner
    cells = cells[:size]

    # 3. Boundary cells: their candidates are the outlines marked there, plus the lowest
    # outline that holds the whole cell (it holds the centre, unmarked); the outlines above
    # that one can never win.
    first_slot = np.searchsorted(boundary_cells, a)
    run, slot = _expand(first_slot, np.searchsorted(boundary_cells, b) - first_slot)
    held = slot * n + who[run]
    del run, slot, a, b, first_slot
    mkeys = marked_slot.astype(np.int64) * n + marked_who
    where = np.minimum(np.searchsorted(mkeys, held), max(len(mkeys) - 1, 0))
    held = held[mkeys[where] != held] if len(mkeys) else held
    whole = np.full(nb, _NONE, dtype=np.int32)
    np.minimum.at(whole, held // n, (held % n).astype(np.int32))
    del held, where, mkeys
    useful = marked_who < whole[marked_slot]
    has_whole = np.flatnonzero(whole != _NONE).astype(np.int32)
    cand_slot = np.concatenate([marked_slot[useful], has_whole])
    cand_who = np.concatenate([marked_who[useful], whole[has_whole]])
    order = np.lexsort((cand_who, cand_slot))
    cand_slot, cand_who = cand_slot[order], cand_who[order]
    per_slot = np.bincount(cand_slot, minlength=nb)
    # A cell whose only candidate holds all of it is not a boundary cell after all.
    first = np.cumsum(per_slot) - per_slot
    lone = (per_slot == 1) & (whole != _NONE)
    lone[lone] &= cand_who[first[lone]] == whole[lone]
    cells[boundary_cells[lone]] = whole[lone]
    kept = ~lone
    cells[boundary_cells[kept]] = -2 - np.arange(int(kept.sum()), dtype=np.int32)
    ptr = np.zeros(int(kept.sum()) + 1, dtype=np.int64)
    np.cumsum(per_slot[kept], out=ptr[1:])
    cand = cand_who[kept[cand_slot]]
    return Grid(
        x0=float(x0),
        y0=float(y0),
        inv=inv,
        nx=nx,
        ny=ny,
        cells=cells,
        ptr=ptr.astype(np.int32) if ptr[-1] < 2**31 else ptr,
        cand=cand,
    )
