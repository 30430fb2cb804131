"""Random points inside areas: benchmark and test data, and demo datasets."""

from __future__ import annotations

import numpy as np
import shapely


def points_inside(
    geoms, n: int, rng: np.random.Generator, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points (lon, lat), each uniform inside an area drawn at random.

    Areas are drawn uniformly (a village as likely as a city) or in proportion to ``weights``
    (population, say). Rejection sampling in each area's bounding box.
    """
    bounds = shapely.bounds(geoms)
    p = None if weights is None else weights / weights.sum()
    xs, ys, got = [], [], 0
    while got < n:
        m = int((n - got) * 1.8) + 100
        i = rng.integers(0, len(geoms), m) if p is None else rng.choice(len(geoms), m, p=p)
        x = rng.uniform(bounds[i, 0], bounds[i, 2])
        y = rng.uniform(bounds[i, 1], bounds[i, 3])
        inside = shapely.contains_xy(geoms[i], x, y)
        xs.append(x[inside])
        ys.append(y[inside])
        got += int(inside.sum())
    x, y = np.concatenate(xs)[:n], np.concatenate(ys)[:n]
    order = rng.permutation(n)
    return x[order], y[order]
