"""Small server-side SVG charts (no script, no outside request)."""

from __future__ import annotations

from html import escape


def coverage_curve_svg(points: list[dict], *, width: int = 640, height: int = 220) -> str:
    """Covered seats over time: a line with its area, the last value labelled."""
    if len(points) < 2:
        return ""
    pad_l, pad_r, pad_t, pad_b = 36, 84, 12, 26
    total = max(p["total"] for p in points) or 1
    first, last = points[0]["day"], points[-1]["day"]
    span = max((last - first).days, 1)

    def xy(p):
        x = pad_l + (p["day"] - first).days / span * (width - pad_l - pad_r)
        y = height - pad_b - p["covered"] / total * (height - pad_t - pad_b)
        return x, y

    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(xy, points))
    x0, base = pad_l, height - pad_b
    xn, yn = xy(points[-1])
    grid = []
    for share in (0.25, 0.5, 0.75, 1.0):
        y = height - pad_b - share * (height - pad_t - pad_b)
        grid.append(
            f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{pad_l - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
            f"{round(share * total)}</text>"
        )
    label = f"{points[-1]['covered']} / {total}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="curve" role="img" aria-label="{escape(label)}">'
        + "".join(grid)
        + f'<polygon class="area" points="{x0},{base} {line} {xn:.1f},{base}"/>'
        f'<polyline class="line" points="{line}"/>'
        f'<circle cx="{xn:.1f}" cy="{yn:.1f}" r="4" class="dot-end"/>'
        f'<text x="{xn + 8:.1f}" y="{yn + 4:.1f}" class="value">{escape(label)}</text>'
        f'<text x="{pad_l}" y="{height - 6}" class="axis">{first:%d/%m/%Y}</text>'
        f'<text x="{width - pad_r}" y="{height - 6}" class="axis" text-anchor="end">'
        f"{last:%d/%m/%Y}</text></svg>"
    )
