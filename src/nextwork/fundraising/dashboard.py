"""The staff dashboard of donation analytics: the key figures and the charts (SVG drawn on the
server), each with a link to the numbers behind it as CSV from the API.

The period and threshold are checked by the same function as the API (``analytics_apis.period``)
and each page shown is one row of the audit log, as each API call is."""

from __future__ import annotations

import datetime
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe

from nextwork.common import messages
from nextwork.common.errors import InvalidInput
from nextwork.fundraising import analytics, charts
from nextwork.fundraising.analytics_apis import period
from nextwork.network.permissions import is_staff
from nextwork.privacy.services import audit_record

API = "/api/v1/donations/analytics"
DEFAULT_THRESHOLD = 100  # euros, as the API

# (field, pattern on the English message of ``period``, French text).
FRENCH = [
    ("from", r"between", gettext_lazy("Indiquez une date de début entre 1900 et 2999.")),
    ("from", r"", gettext_lazy("Indiquez la date de début au format AAAA-MM-JJ.")),
    ("to", r"ends before it starts", gettext_lazy(
        "La date de fin est avant la date de début.")),
    ("to", r"between", gettext_lazy("Indiquez une date de fin entre 1900 et 2999.")),
    ("to", r"", gettext_lazy("Indiquez la date de fin au format AAAA-MM-JJ.")),
    ("threshold", r"", gettext_lazy(
        "Indiquez le seuil en euros entiers, de 1 à 1 000 000 (par exemple 50).")),
]  # fmt: skip


def default_period(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The last 12 months: from the first day of the month eleven months ago to today."""
    year, month = today.year, today.month - 11
    if month < 1:
        year, month = year - 1, month + 12
    return datetime.date(year, month, 1), today


def _threshold(raw: str) -> int:
    text = raw.replace("€", "").replace("\u202f", "").replace(" ", "").strip()
    if not text.isdigit():
        raise InvalidInput("Give the threshold in whole euros.", field="threshold")
    return int(text)


@require_safe
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    if not is_staff(request.user):
        raise PermissionDenied
    first, last = default_period(timezone.localdate())
    values = {
        "from": request.GET.get("from", first.isoformat()).strip(),
        "to": request.GET.get("to", last.isoformat()).strip(),
        "threshold": request.GET.get("threshold", str(DEFAULT_THRESHOLD)).strip(),
    }
    errors: dict[str, str] = {}
    try:
        threshold = _threshold(values["threshold"])
    except InvalidInput as exc:
        errors["threshold"] = _french(exc)
        threshold = DEFAULT_THRESHOLD
    try:
        start, end, thresholds = period(values["from"] or None, values["to"] or None, threshold)
    except InvalidInput as exc:
        errors.setdefault(exc.field or "from", _french(exc))
    if errors:
        return render(
            request, "fundraising/dashboard.html", {"values": values, "errors": errors}, status=400
        )
    data = analytics.summary(start=start, end=end, thresholds=thresholds)
    audit_record(
        actor=request.user,
        action="fundraising.analytics",
        details={"what": "dashboard", "from": values["from"], "to": values["to"],
                 "threshold": threshold},
    )  # fmt: skip
    query = urlencode({"from": values["from"], "to": values["to"], "threshold": threshold})
    context = {
        "values": values,
        "errors": {},
        "data": data,
        "threshold": threshold,
        # Euros and percentages as numbers: the template formats them for the language.
        "money": {key: Decimal(data[key]) / 100 for key in ("total", "mean", "median")},
        "small_amount": 100 * data["share_amount_small"],
        "small_donors": 100 * data["share_donors_small"],
        "charts": [
            {"id": chart, "svg": draw(data), "csv": f"{API}/{chart}.csv?{query}", **text}
            for chart, draw, text in _charts()
        ],
        "json": f"{API}?{query}",
    }
    return render(request, "fundraising/dashboard.html", context)


def _french(exc: InvalidInput) -> str:
    found = messages.lookup(exc, FRENCH)
    return found[0] if found else exc.message


def _charts():
    """(CSV name, drawing, caption and how to read it) of each chart, in the page's order."""
    return [
        ("thresholds", charts.thresholds_svg, {
            "caption": gettext_lazy("Part des petits dons selon le seuil"),
            "read": gettext_lazy(
                "Pour chaque seuil, la barre bleue donne la part du montant total venue des dons "
                "inférieurs ou égaux au seuil ; la verte, la part des donateurs dont aucun don ne "
                "le dépasse. Une barre verte haute et une bleue basse : beaucoup de petits "
                "donateurs, peu de montant."),
        }),
        ("histogram", charts.histogram_svg, {
            "caption": gettext_lazy("Nombre de dons par montant"),
            "read": gettext_lazy(
                "Chaque barre compte les dons d'une tranche de montant ; les tranches "
                "s'élargissent (1, 2, 5, 10, 20 € …) pour montrer ensemble les petits et les gros "
                "dons."),
        }),
        ("lorenz", charts.lorenz_svg, {
            "caption": gettext_lazy("Concentration des dons (courbe de Lorenz)"),
            "read": gettext_lazy(
                "Les donateurs sont rangés du plus petit au plus gros total. Un point de la "
                "courbe dit quelle part du montant viennent les x % de donateurs qui donnent le "
                "moins. Plus la courbe s'éloigne de la diagonale, plus les dons sont concentrés ; "
                "le coefficient de Gini va de 0 (tous égaux) à 1 (un seul donateur)."),
        }),
        ("months", charts.months_svg, {
            "caption": gettext_lazy("Nouveaux et anciens donateurs par mois"),
            "read": gettext_lazy(
                "Chaque mois, les personnes qui ont donné : en vert celles dont c'est le premier "
                "don, en bleu celles qui avaient déjà donné avant."),
        }),
        ("mrr", charts.mrr_svg, {
            "caption": gettext_lazy("Revenu mensuel des dons mensuels"),
            "read": gettext_lazy(
                "Le montant des dons mensuels réussis chaque mois. Le fichier CSV donne aussi la "
                "rétention : la part des donateurs mensuels d'un mois qui donnent encore le mois "
                "suivant."),
        }),
        ("departments", charts.departments_map_svg, {
            "caption": gettext_lazy("Montant des dons par département"),
            "read": gettext_lazy(
                "Chaque circonscription prend la couleur du total de son département : cinq "
                "classes de même effectif, du plus clair au plus foncé ; en gris, les départements "
                "sans don. Le département est celui de l'adresse du donateur."),
        }),
        ("sources", charts.sources_svg, {
            "caption": gettext_lazy("Montant des dons par source"),
            "read": gettext_lazy(
                "La source est celle du lien suivi par le donateur (utm_source …) ; « sans "
                "source » : arrivé directement."),
        }),
    ]  # fmt: skip
