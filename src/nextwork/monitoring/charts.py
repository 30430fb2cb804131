"""A rule's series as an SVG drawn on the server: counts per bucket as bars, the spikes as
shaded bands with their peak marked, time labels in local time. The chart has a ``<title>``
and a ``<desc>`` and every spike band its own ``<title>``; the same numbers are in the CSV."""

from __future__ import annotations

import datetime
import math
from xml.sax.saxutils import escape

from django.utils import timezone
from django.utils.translation import gettext as _

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 44


def _nice_top(value: int) -> int:
    """The axis' top: 1, 2 or 5 times a power of ten, at least the largest count."""
    if value <= 4:
        return max(value, 1)
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _ticks(points: list, bucket: str, span: datetime.timedelta, x_of) -> list:
    """Where to label the time axis: on round local hours for a day (every 4 hours), at
    local midnight for a week (every day) or a month (every 5 days)."""
    if not points:
        return []
    if bucket == "minute" or span <= datetime.timedelta(days=1):
        every, fmt = 4, "%H:%M"
    else:
        every, fmt = (1 if span <= datetime.timedelta(days=8) else 5), "%d/%m"
    found = []
    for p in points:
        local = timezone.localtime(p["t"])
        if local.minute:
            continue
        if fmt == "%H:%M" and local.hour % every == 0:
            found.append((x_of(p["t"]), f"{local:%H:%M}"))
        elif fmt == "%d/%m" and local.hour == 0 and local.toordinal() % every == 0:
            found.append((x_of(p["t"]), f"{local:%d/%m}"))
    return found


def series_svg(series: dict, spikes: list, *, title: str) -> str:
    points = series["points"]
    n = len(points)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_top(max((p["count"] for p in points), default=0))
    start, end = series["start"], series["end"]
    span = end - start

    def x_of(moment: datetime.datetime) -> float:
        return LEFT + plot_w * (moment - start) / span

    def y_of(count: float) -> float:
        return TOP + plot_h * (1 - count / top)

    body: list[str] = []
    for spike in spikes:  # bands first, under the bars
        s_end = spike.end or spike.peak + datetime.timedelta(minutes=1)
        if s_end <= start or spike.start >= end:
            continue
        x0, x1 = x_of(max(spike.start, start)), x_of(min(s_end, end))
        tip = _("Pic : %(count)s messages en 5 minutes (%(expected)s attendus), le %(when)s") % {
            "count": spike.count, "expected": f"{spike.expected:.0f}",
            "when": f"{timezone.localtime(spike.peak):%d/%m %H:%M}",
        }  # fmt: skip
        body.append(
            f'<rect class="spike" x="{x0:.1f}" y="{TOP}" width="{max(x1 - x0, 3):.1f}" '
            f'height="{plot_h}"><title>{escape(tip)}</title></rect>'
        )
        if start <= spike.peak < end:
            px = x_of(spike.peak)
            body.append(f'<path class="peak" d="M{px - 5:.1f},{TOP} h10 l-5,8 z"/>')
    bar_w = plot_w / max(n, 1)
    path = []
    for i, p in enumerate(points):
        if p["count"]:
            x, y = LEFT + i * bar_w, y_of(p["count"])
            path.append(f"M{x:.2f},{TOP + plot_h}V{y:.2f}h{max(bar_w, 0.6):.2f}V{TOP + plot_h}z")
    body.append(f'<path class="bars" d="{"".join(path)}"/>')
    # Axes: 0, half and top on y; about six time labels on x.
    for value in (0, top // 2, top) if top > 1 else (0, top):
        y = y_of(value)
        body.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
                    f'y2="{y:.1f}"/>')  # fmt: skip
        body.append(f'<text class="tick" x="{LEFT - 8}" y="{y + 4:.1f}" '
                    f'text-anchor="end">{value}</text>')  # fmt: skip
    for k, (x, label) in enumerate(_ticks(points, series["bucket"], span, x_of)):
        if x > WIDTH - RIGHT - 34:  # a label cut by the edge says nothing
            continue
        thin = " thin" if k % 2 else ""
        body.append(
            f'<text class="tick{thin}" x="{x:.1f}" y="{HEIGHT - BOTTOM + 18}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    unit = _("par minute") if series["bucket"] == "minute" else _("par heure")
    total = sum(p["count"] for p in points)
    desc = _("%(total)s messages, %(unit)s, du %(start)s au %(end)s ; %(spikes)s pic(s).") % {
        "total": total, "unit": unit,
        "start": f"{timezone.localtime(start):%d/%m %H:%M}",
        "end": f"{timezone.localtime(end):%d/%m %H:%M}", "spikes": len(spikes),
    }  # fmt: skip
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="series-title series-desc" class="series">'
        f'<title id="series-title">{escape(title)}</title>'
        f'<desc id="series-desc">{escape(desc)}</desc>'
        f"<style>.bars{{fill:#1d4ed8}}.spike{{fill:#fde68a;opacity:.7}}.peak{{fill:#b91c1c}}"
        f".grid{{stroke:#e5e7eb}}.tick{{font:12px system-ui,sans-serif;fill:#4b5563}}</style>"
        + "".join(body)
        + "</svg>"
    )
