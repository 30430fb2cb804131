"""The analytics charts as SVG strings, drawn on the server (no JavaScript).

Each function takes the dict of ``analytics.summary`` and returns an ``<svg>`` with a
``<title>`` and a ``<desc>`` (``role="img"``, ``aria-labelledby``), axis labels as text, and
one ``<title>`` per mark giving its numbers, so a screen reader and a tooltip say the same.
The numbers behind each chart are also served as CSV (``analytics.chart_rows``).
"""

from __future__ import annotations

from itertools import count
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 24, 56
_ids = count(1)


def _euros(cents: float) -> str:
    euros = cents / 100
    return f"{euros:,.0f} €".replace(",", "\u202f") if euros >= 10 else f"{euros:.2f} €"


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
        body.append(_text(LEFT - 6, y + 4, f"{tick:.0%}", anchor="end"))
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
          y_label: str, x_label: str, fmt=str) -> str:  # fmt: skip
    """Stacked bars: ``series`` is (name, colour, values) from the bottom up."""
    if not labels:
        return _empty(title)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    tops = [sum(s[2][i] for s in series) for i in range(len(labels))]
    top = max(tops) or 1
    slot = plot_w / len(labels)
    body = _axes(x_label, y_label)
    body.append(_text(LEFT - 6, TOP + 4, fmt(top), anchor="end"))
    body.append(_text(LEFT - 6, HEIGHT - BOTTOM + 4, fmt(0), anchor="end"))
    every = max(1, len(labels) // 12)
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
        if i % every == 0:
            body.append(_text(LEFT + (i + 0.5) * slot, HEIGHT - BOTTOM + 16, label))
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
    desc = _(
        "Nombre de dons par tranche de montant (tranches logarithmiques 1, 2, 5, 10 € …), "
        "%(count)s dons au total."
    ) % {"count": data.get("count", 0)}
    return _bars(
        _("Répartition des dons par montant"), desc, labels,
        [(_("dons"), "#1f5fa8", [b["count"] for b in bins])],
        _("Nombre de dons"), _("Montant du don (échelle logarithmique)"),
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
