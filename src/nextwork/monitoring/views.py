"""The monitoring pages of staff (``/espace/veille/``): the rules with their last day, a rule's
series with its spikes, top posts and authors (and CSV), the sources' health, the mentions of
representatives, and a form to add a rule. Others get a 403, visitors the login page."""

from __future__ import annotations

import csv
import datetime
import io
import re

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from nextwork.common import messages
from nextwork.common.errors import DomainError, NotFound
from nextwork.monitoring import charts, selectors, services
from nextwork.monitoring.models import Mention, MinuteCount, RuleKind, Spike, WatchRule
from nextwork.network.permissions import is_staff

PERIODS = {
    "24h": ("minute", datetime.timedelta(hours=24)),
    "7j": ("hour", datetime.timedelta(days=7)),
    "30j": ("hour", datetime.timedelta(days=30)),
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# The services' refusals, in French for the pages (``common.messages``).
FRENCH = [
    ("name", r"^Name the rule", gettext_lazy("Donnez un nom à la règle.")),
    ("name", r"", gettext_lazy("200 caractères au plus pour le nom.")),
    ("terms", r"^Give at least one", gettext_lazy("Indiquez au moins un terme à écouter.")),
    ("terms", r"at most per rule", gettext_lazy("50 termes au plus par règle.")),
    ("terms", r"^terms\[(?P<n>\d+)\]: (?P<why>.+)$", gettext_lazy(
        "Terme n° %(n)s refusé : %(why)s")),
    ("exclusions", r"^exclusions\[(?P<n>\d+)\]: (?P<why>.+)$", gettext_lazy(
        "Exclusion n° %(n)s refusée : %(why)s")),
    ("languages", r"", gettext_lazy(
        "Langues : des codes comme fr, en, br, séparés par des virgules.")),
    ("min_count", r"", gettext_lazy("Seuil : un nombre entier de 1 à 100 000.")),
]  # fmt: skip


def _french(exc: DomainError) -> str:
    # The services count terms from 0, people from 1.
    return messages.sentence(
        exc, FRENCH, lambda v: {**v, "n": str(int(v["n"]) + 1)} if "n" in v else v
    )


def _staff(request: HttpRequest) -> None:
    if not is_staff(request.user):
        raise PermissionDenied


HANDLE = re.compile(r"@[\w.-]+(@[\w.-]+)?")


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula; a plain handle (@name@host) is
    left as it is, since it holds nothing a formula needs."""
    value = str(value)
    if value.startswith(FORMULA_STARTS) and not HANDLE.fullmatch(value):
        return f"'{value}"
    return value


@login_required
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    _staff(request)
    since = timezone.now() - datetime.timedelta(hours=24)
    rules = list(
        selectors.rules(request.user)
        .exclude(kind=RuleKind.REPRESENTATIVE)
        .annotate(
            last_spike=Max("spikes__start"),
            followed=Count("followers", filter=Q(followers=request.user)),
        )
    )
    # The day's figure comes from the minute counts, as the rule's chart does.
    day = dict(
        MinuteCount.objects.filter(minute__gte=since, rule__in=[r.pk for r in rules])
        .values("rule").annotate(total=Sum("count")).values_list("rule", "total")
    )  # fmt: skip
    for r in rules:
        r.day = day.get(r.pk, 0)
    spikes = list(selectors.spikes(request.user)[:10])
    sources = list(selectors.sources(request.user))
    failing = [s for s in sources if s.failures]
    representatives = WatchRule.objects.filter(kind=RuleKind.REPRESENTATIVE, active=True).count()
    return render(request, "monitoring/home.html", {
        "rules": rules, "spikes": spikes, "sources": sources, "failing": failing,
        "representatives": representatives,
    })  # fmt: skip


def _period(request: HttpRequest) -> tuple[str, str, datetime.timedelta]:
    key = request.GET.get("periode", "24h")
    if key not in PERIODS:
        key = "24h"
    bucket, span = PERIODS[key]
    return key, bucket, span


@login_required
@require_safe
def rule(request: HttpRequest, rule_id: int) -> HttpResponse:
    _staff(request)
    try:
        found = selectors.rule(request.user, rule_id)
    except NotFound:
        return render(request, "monitoring/missing.html", status=404)
    key, bucket, span = _period(request)
    end = timezone.now()
    series = selectors.series(request.user, found.pk, bucket=bucket, start=end - span)
    spikes = list(found.spikes.filter(start__lt=series["end"]).filter(
        Q(end__gte=series["start"]) | Q(end__isnull=True)).order_by("-start"))  # fmt: skip
    mentions = Mention.objects.filter(rule=found, published_at__gte=series["start"])
    top_posts = [m.post for m in mentions.select_related("post").order_by("-published_at")[:20]]
    authors = list(
        mentions.exclude(post__author_handle="", post__author="")
        .values("post__author_handle", "post__author", "post__network")
        .annotate(n=Count("id"))
        .order_by("-n", "post__author_handle")[:10]
    )
    svg = charts.series_svg(series, spikes, title=_("Mentions de « %(name)s »") % {
        "name": found.name})  # fmt: skip
    return render(request, "monitoring/rule.html", {
        "rule": found, "svg": svg, "period": key, "periods": list(PERIODS), "spikes": spikes,
        "top_posts": top_posts, "authors": authors,
        "total": sum(p["count"] for p in series["points"]),
        "following": found.followers.filter(pk=request.user.pk).exists(),
    })  # fmt: skip


@login_required
@require_safe
def rule_csv(request: HttpRequest, rule_id: int) -> HttpResponse:
    """The series shown (the same period), one bucket per row, zeros included."""
    _staff(request)
    try:
        found = selectors.rule(request.user, rule_id)
    except NotFound:
        return HttpResponse(status=404)
    key, bucket, span = _period(request)
    series = selectors.series(request.user, found.pk, bucket=bucket,
                              start=timezone.now() - span)  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Début (UTC)"), _("Messages")])
    for point in series["points"]:
        writer.writerow([point["t"].isoformat(), point["count"]])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="veille-{found.pk}-{key}.csv"'
    return response


@login_required
@require_safe
def rule_mentions_csv(request: HttpRequest, rule_id: int) -> HttpResponse:
    """The mentions of the period: time, network, author, address, text."""
    _staff(request)
    try:
        found = selectors.rule(request.user, rule_id)
    except NotFound:
        return HttpResponse(status=404)
    key, _bucket, span = _period(request)
    mentions = (
        Mention.objects.filter(rule=found, published_at__gte=timezone.now() - span)
        .select_related("post").order_by("-published_at")[:50_000]
    )  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Date (UTC)"), _("Réseau"), _("Auteur"), _("Adresse"), _("Texte")])
    for m in mentions:
        p = m.post
        writer.writerow([m.published_at.isoformat(), _cell(p.network),
                         _cell(p.author_handle or p.author), _cell(p.url),
                         _cell(" ".join(p.text.split())[:2000])])  # fmt: skip
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="veille-{found.pk}-{key}-messages.csv"'
    return response


@login_required
@require_POST
def rule_follow(request: HttpRequest, rule_id: int) -> HttpResponse:
    _staff(request)
    try:
        services.rule_follow(member=request.user, rule_id=rule_id,
                             follow=request.POST.get("follow") == "1")  # fmt: skip
    except NotFound:
        return render(request, "monitoring/missing.html", status=404)
    return redirect("monitoring:rule", rule_id=rule_id)


def _lines(raw: str) -> list[str]:
    return [line.strip() for line in (raw or "").replace(",", "\n").splitlines() if line.strip()]


@login_required
@require_http_methods(["GET", "POST"])
def rule_new(request: HttpRequest) -> HttpResponse:
    _staff(request)
    values = {"name": "", "terms": "", "exclusions": "", "languages": "fr", "min_count": "10"}
    errors: dict = {}
    if request.method == "POST":
        values = {k: request.POST.get(k, "")[:5000] for k in values}
        try:
            min_count = int(values["min_count"]) if values["min_count"].isascii() and \
                values["min_count"].isdigit() else -1  # fmt: skip
            made = services.rule_create(
                by=request.user, name=values["name"], terms=_lines(values["terms"]),
                exclusions=_lines(values["exclusions"]), languages=_lines(values["languages"]),
                min_count=min_count,
            )  # fmt: skip
            return redirect("monitoring:rule", rule_id=made.pk)
        except DomainError as exc:
            errors[exc.field or "form"] = _french(exc)
    return render(request, "monitoring/rule_new.html", {"values": values, "errors": errors},
                  status=400 if errors else 200)  # fmt: skip


@login_required
@require_safe
def sources(request: HttpRequest) -> HttpResponse:
    _staff(request)
    now = timezone.now()
    rows = []
    for source in selectors.sources(request.user):
        if not source.active:
            state = "off"
        elif source.failures:
            state = "failing"
        elif source.last_success_at is None:
            state = "new"
        else:
            state = "ok"
        due_in = (source.next_run_at - now) if source.next_run_at else None
        rows.append({"source": source, "state": state, "due_in": due_in})
    return render(request, "monitoring/sources.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def representatives(request: HttpRequest) -> HttpResponse:
    """Mentions of each deputy and senator over the last week; staff generate (or bring up to
    date) one rule per representative from the registry."""
    _staff(request)
    if request.method == "POST":
        done = services.representative_rules_sync(by=request.user)
        text = _("Règles des élus à jour : %(created)s créées, %(updated)s renommées, "
                 "%(ended)s arrêtées (mandat terminé).")  # fmt: skip
        flash.success(request, text % done)
        return redirect("monitoring:representatives")
    since = timezone.now() - datetime.timedelta(days=7)
    rules = list(
        WatchRule.objects.filter(kind=RuleKind.REPRESENTATIVE, active=True)
        .annotate(week=Count("mentions", filter=Q(mentions__published_at__gte=since)))
        .filter(week__gt=0)
        .order_by("-week", "name")[:100]
    )
    total = WatchRule.objects.filter(kind=RuleKind.REPRESENTATIVE, active=True).count()
    spikes = Spike.objects.filter(rule__kind=RuleKind.REPRESENTATIVE, start__gte=since).count()
    return render(request, "monitoring/representatives.html",
                  {"rules": rules, "total": total, "spikes": spikes})  # fmt: skip
