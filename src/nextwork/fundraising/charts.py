"""The analytics charts as SVG strings, drawn on the server (no JavaScript).

Each function takes the dict of ``analytics.summary`` and returns an ``<svg>`` with a
``<title>`` and a ``<desc>`` (``role="img"``, ``aria-labelledby``), axis labels as text, and
one ``<title>`` per mark giving its numbers, so a screen reader and a tooltip say the same.
The numbers behind each chart are also served as CSV (``analytics.chart_rows``).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from itertools import count
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 72, 28, 24, 56
_ids = count(1)


def _euros(cents: float) -> str:
    euros = cents / 100
    return f"{euros:,.0f} €".replace(",", "\u202f") if euros >= 10 else f"{euros:.2f} €"


def _short_euros(cents: int) -> str:
    """A bin edge on an axis: 1 €, 20 €, 500 €, 2 k€."""
    euros = cents / 100
    if euros >= 1000:
        return f"{euros / 1000:,.0f}\u202fk€".replace(",", "\u202f")
    return f"{euros:.0f}\u202f€" if euros == int(euros) else f"{euros:.2f}\u202f€"


def _svg(title: str, desc: str, body: list[str]) -> str:
    n = next(_ids)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-labelledby="chart-title-{n} chart-desc-{n}" font-family="sans-serif" '
        f'font-size="12">'
        f'<title id="chart-title-{n}">{escape(title)}</title>'
        f'<desc id="chart-desc-{n}">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def _axes(x_label: str, y_label: str) -> list[str]:
    x0, y0 = LEFT, HEIGHT - BOTTOM
    return [
        f'<line x1="{x0}" y1="{y0}" x2="{WIDTH - RIGHT}" y2="{y0}" stroke="#333"/>',
        f'<line x1="{x0}" y1="{TOP}" x2="{x0}" y2="{y0}" stroke="#333"/>',
        _text((x0 + WIDTH - RIGHT) / 2, HEIGHT - 12, x_label),
        _text(
            16, (TOP + y0) / 2, y_label, extra=f' transform="rotate(-90 16 {(TOP + y0) / 2:.1f})"'
        ),
    ]


def _empty(title: str) -> str:
    return _svg(
        title, _("Aucun don sur la période."), [_text(WIDTH / 2, HEIGHT / 2, _("Aucune donnée"))]
    )


def lorenz_svg(data: dict) -> str:
    title = _("Courbe de Lorenz des dons")
    if not data.get("donors"):
        return _empty(title)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(p: float, s: float) -> str:
        return f"{LEFT + p * plot_w:.1f},{TOP + (1 - s) * plot_h:.1f}"

    points = " ".join(xy(p["donors"], p["amount"]) for p in data["lorenz"])
    desc = _(
        "Part cumulée du montant selon la part cumulée des donateurs, du plus petit au plus "
        "grand ; coefficient de Gini %(gini).3f sur %(donors)s donateurs."
    ) % {"gini": data["gini"], "donors": data["donors"]}
    body = _axes(_("Part des donateurs (du plus petit au plus grand)"), _("Part du montant"))
    for tick in (0, 0.25, 0.5, 0.75, 1):
        x, y = LEFT + tick * plot_w, TOP + (1 - tick) * plot_h
        body.append(_text(x, HEIGHT - BOTTOM + 16, f"{tick:.0%}"))
        body.append(_text(LEFT - 6, y + 4, f"{tick:.0%}", anchor="end", extra=' class="tick"'))
    body.append(
        f'<polyline points="{xy(0, 0)} {xy(1, 1)}" fill="none" stroke="#999" '
        f'stroke-dasharray="4 4"><title>{escape(_("Égalité parfaite"))}</title></polyline>'
    )
    body.append(
        f'<polyline points="{points}" fill="none" stroke="#b0203a" stroke-width="2">'
        f"<title>{escape(_('Courbe de Lorenz'))}</title></polyline>"
    )
    body.append(_text(LEFT + 8, TOP + 12, f"Gini = {data['gini']:.3f}", anchor="start"))
    return _svg(title, desc, body)


def _bars(title: str, desc: str, labels: list[str], series: list[tuple[str, str, list[float]]],
          y_label: str, x_label: str, fmt=str, edges: list[str] | None = None) -> str:  # fmt: skip
    """Stacked bars: ``series`` is (name, colour, values) from the bottom up. The axis shows
    ``labels`` under the bars, or ``edges`` (one more) at their boundaries; every other one
    has the class ``thin``, which a narrow page may hide (the bars' titles keep them all)."""
    if not labels:
        return _empty(title)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    tops = [sum(s[2][i] for s in series) for i in range(len(labels))]
    top = max(tops) or 1
    slot = plot_w / len(labels)
    body = _axes(x_label, y_label)
    body.append(_text(LEFT - 6, TOP + 4, fmt(top), anchor="end", extra=' class="tick"'))
    body.append(_text(LEFT - 6, HEIGHT - BOTTOM, fmt(0), anchor="end", extra=' class="tick"'))
    # One axis label in ``every``, so that they do not touch (about 6.2 units a character).
    shown = edges or labels
    every = max(1, math.ceil(len(shown) * (max(map(len, shown)) + 1) * 6.2 / plot_w))
    for i, label in enumerate(labels):
        base = 0.0
        for name, colour, values in series:
            v = values[i]
            h = v / top * plot_h
            y = TOP + plot_h - base - h
            body.append(
                f'<rect x="{LEFT + i * slot + slot * 0.1:.1f}" y="{y:.1f}" '
                f'width="{slot * 0.8:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(f'{label} — {name} : {fmt(v)}')}</title></rect>"
            )
            base += h
        if i % every == 0 and edges is None:
            thin = ' class="x thin"' if (i // every) % 2 else ' class="x"'
            body.append(_text(LEFT + (i + 0.5) * slot, HEIGHT - BOTTOM + 16, label, extra=thin))
    for i, edge in enumerate(edges or []):
        if i % every == 0:
            thin = ' class="x thin"' if (i // every) % 2 else ' class="x"'
            body.append(_text(LEFT + i * slot, HEIGHT - BOTTOM + 16, edge, extra=thin))
    for j, (name, colour, _values) in enumerate(series):
        x = WIDTH - RIGHT - 160 * (len(series) - j)
        body.append(f'<rect x="{x}" y="{TOP - 16}" width="10" height="10" fill="{colour}"/>')
        body.append(_text(x + 14, TOP - 7, name, anchor="start"))
    return _svg(title, desc, body)


def histogram_svg(data: dict) -> str:
    bins = [b for b in data.get("histogram", [])]
    while bins and bins[-1]["count"] == 0:
        bins.pop()
    labels = [f"{_euros(b['from_cents'])}–{_euros(b['to_cents'])}" for b in bins]
    edges = [_short_euros(b["from_cents"]) for b in bins] + (
        [_short_euros(bins[-1]["to_cents"])] if bins else []
    )
    desc = _(
        "Nombre de dons par tranche de montant (tranches logarithmiques 1, 2, 5, 10 € …), "
        "%(count)s dons au total."
    ) % {"count": data.get("count", 0)}
    return _bars(
        _("Répartition des dons par montant"), desc, labels,
        [(_("dons"), "#1f5fa8", [b["count"] for b in bins])],
        _("Nombre de dons"), _("Montant du don (échelle logarithmique)"), edges=edges,
    )  # fmt: skip


def months_svg(data: dict) -> str:
    months = data.get("months", [])
    desc = _("Donateurs de chaque mois : nouveaux (premier don) et fidèles (déjà donateurs).")
    return _bars(
        _("Nouveaux et anciens donateurs par mois"), desc, [m["month"] for m in months],
        [(_("nouveaux"), "#2e8b57", [m["new"] for m in months]),
         (_("anciens"), "#1f5fa8", [m["returning"] for m in months])],
        _("Donateurs"), _("Mois"),
    )  # fmt: skip


def mrr_svg(data: dict) -> str:
    rows = data.get("mrr", [])
    kept = [f"{r['month']} : {r['retention']:.0%}" for r in rows if r.get("retention") is not None]
    desc = _("Revenu mensuel des dons mensuels réussis. Rétention d'un mois sur l'autre : ") + (
        ", ".join(kept) or "—"
    )
    return _bars(
        _("Revenu mensuel récurrent"), desc, [r["month"] for r in rows],
        [(_("dons mensuels"), "#b0203a", [r["mrr"] for r in rows])],
        _("Montant"), _("Mois"), fmt=_euros,
    )  # fmt: skip


def _percent(share: float) -> str:
    return f"{share:.0%}".replace("%", "\u202f%")


def thresholds_svg(data: dict) -> str:
    """Side by side for each threshold: the share of the amount given in gifts at or under it
    and the share of the donors whose largest gift is at or under it."""
    title = _("Part des petits dons")
    rows = sorted(data.get("thresholds", []), key=lambda t: t["threshold_cents"])
    if not data.get("count") or not rows:
        return _empty(title)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    series = [
        (_("part du montant"), "#1f5fa8", "share_amount"),
        (_("part des donateurs"), "#2e8b57", "share_donors"),
    ]
    desc = _(
        "Pour chaque seuil : part du montant venue des dons inférieurs ou égaux au seuil, et "
        "part des donateurs dont le plus gros don l'est. "
    ) + " ; ".join(
        f"≤ {_euros(t['threshold_cents'])} : {_percent(t['share_amount'])}, "
        f"{_percent(t['share_donors'])}"
        for t in rows
    )
    body = _axes(_("Seuil (don inférieur ou égal à)"), _("Part du total"))
    for tick in (0, 0.25, 0.5, 0.75, 1):
        y = TOP + (1 - tick) * plot_h
        body.append(_text(LEFT - 6, y + 4, f"{tick:.0%}", anchor="end", extra=' class="tick"'))
        if tick:
            body.append(
                f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>'
            )
    slot = plot_w / len(rows)
    bar = slot * 0.8 / len(series)
    for i, t in enumerate(rows):
        label = f"≤ {_euros(t['threshold_cents'])}"
        for j, (name, colour, key) in enumerate(series):
            h = t[key] * plot_h
            x = LEFT + i * slot + slot * 0.1 + j * bar
            body.append(
                f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(f'{label} — {name} : {_percent(t[key])}')}</title></rect>"
            )
            body.append(_text(x + bar / 2, TOP + plot_h - h - 4, _percent(t[key])))
        body.append(_text(LEFT + (i + 0.5) * slot, HEIGHT - BOTTOM + 16, label))
    for j, (name, colour, _key) in enumerate(series):
        x = LEFT + 8 + 250 * j
        body.append(f'<rect x="{x}" y="{TOP - 16}" width="10" height="10" fill="{colour}"/>')
        body.append(_text(x + 14, TOP - 7, name, anchor="start"))
    return _svg(title, desc, body)


SOURCES_SHOWN = 10


def sources_svg(data: dict) -> str:
    """Horizontal bars of the amount by source (the link's ``utm_source``…), the largest
    ``SOURCES_SHOWN`` and the rest together."""
    title = _("Montant par source")
    rows = [r for r in data.get("sources", []) if r["total"]]
    if not rows:
        return _empty(title)
    if len(rows) > SOURCES_SHOWN:
        rest = rows[SOURCES_SHOWN - 1 :]
        rows = [*rows[: SOURCES_SHOWN - 1],
            {"source": _("autres sources (%(n)s)") % {"n": len(rest)},
             "total": sum(r["total"] for r in rest), "count": sum(r["count"] for r in rest)},
        ]  # fmt: skip
    label_w, value_w = 200, 96
    plot_w = WIDTH - label_w - value_w - RIGHT
    row_h = min(32, (HEIGHT - TOP - 8) / len(rows))
    top = max(r["total"] for r in rows)
    desc = _("Montant et nombre de dons par source : ") + " ; ".join(
        f"{r['source'] or _('sans source')} : {_euros(r['total'])} ({r['count']})" for r in rows
    )
    body = []
    for i, r in enumerate(rows):
        name = r["source"] or _("(sans source)")
        short = name if len(name) <= 24 else name[:23] + "…"
        y = TOP + i * row_h
        w = max(r["total"] / top * plot_w, 1)
        gifts = _("%(total)s, %(count)s dons") % {"total": _euros(r["total"]), "count": r["count"]}
        body.append(
            _text(label_w - 8, y + row_h / 2 + 4, short, anchor="end", extra=' class="label"')
        )
        body.append(
            f'<rect x="{label_w}" y="{y + row_h * 0.15:.1f}" width="{w:.1f}" '
            f'height="{row_h * 0.7:.1f}" fill="#1f5fa8">'
            f"<title>{escape(name + ' : ' + gifts)}</title></rect>"
        )
        body.append(_text(label_w + w + 6, y + row_h / 2 + 4, _euros(r["total"]), anchor="start"))
    body.append(
        f'<line x1="{label_w}" y1="{TOP}" x2="{label_w}" '
        f'y2="{TOP + len(rows) * row_h:.1f}" stroke="#333"/>'
    )
    return _svg(title, desc, body)


# -- the map by department ----------------------------------------------------------------------

MAP_COLOURS = ("#d6e4f5", "#9fc2e8", "#5f98d4", "#2b6cb8", "#0b3f80")
NO_GIFT = "#eef0f4"
_MAP_VIEWBOX = 'viewBox="0 0 1000 805"'
_MAP_TITLE = re.compile(r'<title id="map-title">[^<]*</title>')
_SEAT_TITLE = re.compile(r'data-code="([^"]+)"><title>[^<]*</title>')


def department_classes(totals: dict[str, int], k: int = len(MAP_COLOURS)) -> list[int]:
    """The upper bounds (cents) of up to ``k`` quantile classes of the departments' totals,
    ascending; fewer when there are fewer distinct totals."""
    values = sorted(v for v in totals.values() if v > 0)
    if not values:
        return []
    bounds = []
    for i in range(1, k + 1):
        bound = values[min(len(values) - 1, -(-i * len(values) // k) - 1)]
        if not bounds or bound > bounds[-1]:
            bounds.append(bound)
    return bounds


def departments_map_svg(data: dict) -> str:
    """The 577 seats, each coloured by the quantile class of its department's total (a
    department with no gift stays neutral), with a legend of the classes."""
    from nextwork.territories import svg as maps
    from nextwork.territories.lookup import get_engine

    engine = get_engine()
    rows = {r["department"]: r for r in data.get("departments", []) if r["department"]}
    totals = {code: r["total"] for code, r in rows.items()}
    bounds = department_classes(totals)

    def department_of(code: str) -> str:
        seat = engine.seats.get(code)
        return seat["department"]["code"] if seat and seat["department"] else maps.seat_prefix(code)

    classes, titles = {}, {}
    for code, seat in engine.seats.items():
        dep = department_of(code)
        row = rows.get(dep)
        if row and row["total"] > 0:
            classes[code] = f"gift-q{bisect_left(bounds, row['total']) + 1}"
            what = _("%(total)s, %(count)s dons") % {
                "total": _euros(row["total"]),
                "count": row["count"],
            }
        else:
            what = _("aucun don")
        dep_name = seat["department"]["name"] if seat["department"] else dep
        titles[code] = f"{seat['name']} — {dep_name} ({dep}) : {what}"
    drawing = maps.national_map(classes)
    drawing = _SEAT_TITLE.sub(
        lambda m: f'data-code="{m[1]}"><title>{escape(titles.get(m[1], m[1]))}</title>', drawing
    )
    title = _("Montant des dons par département")
    drawing = _MAP_TITLE.sub(
        lambda _m: f'<title id="map-title">{escape(title)}</title>', drawing, count=1
    )
    style = [f".gifts-map .seat {{ fill: {NO_GIFT}; stroke: #fff; }}"]
    style += [
        f".gifts-map .seat.gift-q{i + 1} {{ fill: {colour}; }}"
        for i, colour in enumerate(MAP_COLOURS[: len(bounds)])
    ]
    # The legend under the map, three entries a row, large enough to read on a phone.
    entries = [(NO_GIFT, _("aucun don"))]
    lower = 0
    for i, bound in enumerate(bounds):
        label = f"{_euros(lower)} – {_euros(bound)}" if i else f"≤ {_euros(bound)}"
        entries.append((MAP_COLOURS[i], label))
        lower = bound
    rows = -(-len(entries) // 3)
    height = 815 + rows * 50 + 6
    legend = [f'<rect x="0" y="812" width="1000" height="{height - 812}" fill="#fff"/>']
    for i, (colour, label) in enumerate(entries):
        x, y = 8 + (i % 3) * 333, 822 + (i // 3) * 50
        legend.append(
            f'<rect x="{x}" y="{y}" width="34" height="34" fill="{colour}" stroke="#888"/>'
        )
        legend.append(_text(x + 44, y + 27, label, anchor="start", extra=' font-size="29"'))
    drawing = drawing.replace(_MAP_VIEWBOX, f'viewBox="0 0 1000 {height}"', 1)
    drawing = drawing.replace('class="national-map"', 'class="national-map gifts-map"', 1)
    head = drawing.index(">", drawing.index("<svg")) + 1
    return (
        drawing[:head]
        + f"<style>{''.join(style)}</style>"
        + drawing[head : -len("</svg>")]
        + "".join(legend)
        + "</svg>"
    )
