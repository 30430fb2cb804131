"""The pages of the presence audit and of publishing (``/espace/veille/presence/``,
``/espace/veille/publier/``, ``/espace/veille/publications/``), for staff (the organisation
and every area) and for relays and coordinators (their areas). Who sees and changes what is
decided by ``presence.selectors`` and the services; a member without a grant gets a 403, a
visitor the login page. The services speak English: the pages say it in French
(``common.messages``)."""

from __future__ import annotations

import datetime
import zoneinfo

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from nextwork.common import messages
from nextwork.common.errors import DomainError, Forbidden, NotFound
from nextwork.monitoring import publishing
from nextwork.monitoring.models import (
    Channel,
    ChannelKind,
    ChannelSnapshot,
    PresenceReport,
)
from nextwork.monitoring.presence import reader_for
from nextwork.monitoring.presence import selectors as presence
from nextwork.monitoring.presence import services as presence_services
from nextwork.network.permissions import current_grants, is_staff
from nextwork.territories.models import Area, AreaKind

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
HISTORY = 30  # reports drawn in the history of a scope
LOG_PAGE = 30  # publications per page of the log

# The services' refusals, in French for the pages.
FRENCH = [
    ("kind", r"", gettext_lazy("Choisissez le type de canal.")),
    ("url", r"is required", gettext_lazy("Indiquez l'adresse du canal.")),
    ("url", r"characters long", gettext_lazy("1 000 caractères au plus pour l'adresse.")),
    ("url", r"holds spaces", gettext_lazy(
        "L'adresse contient des espaces : copiez-la telle que le navigateur l'affiche.")),
    ("url", r"must start with https://.*\(for example (?P<example>\S+)\)", gettext_lazy(
        "L'adresse doit commencer par https:// (par exemple %(example)s).")),
    ("url", r"user name or password", gettext_lazy(
        "L'adresse ne doit contenir ni nom d'utilisateur ni mot de passe.")),
    ("url", r"^A .+ channel is on (?P<host>\S+): .+ is on (?P<actual>\S+) "
            r"\(for example (?P<example>\S+)\)", gettext_lazy(
        "Ce réseau est sur %(host)s, cette adresse sur %(actual)s (par exemple "
        "%(example)s).")),
    ("url", r"Mastodon.*\(for example (?P<example>\S+)\)", gettext_lazy(
        "Un compte Mastodon s'écrit https://instance/@nom (par exemple %(example)s).")),
    ("url", r"Bluesky.*\(for example (?P<example>\S+)\)", gettext_lazy(
        "Un compte Bluesky s'écrit https://bsky.app/profile/identifiant (par exemple "
        "%(example)s).")),
    ("url", r"already registered", gettext_lazy("Ce canal est déjà enregistré ici.")),
    ("label", r"", gettext_lazy("200 caractères au plus pour le libellé.")),
    ("area", r"No active channel", gettext_lazy(
        "Aucun canal actif ici : enregistrez d'abord les canaux à auditer.")),
    ("area", r"At most (?P<n>\d+)", gettext_lazy(
        "%(n)s canaux actifs au plus sont audités par périmètre.")),
    ("area", r"", gettext_lazy(
        "Zone inconnue : un code comme 75-02 (circonscription), 75 (département) ou R11 "
        "(région).")),
    ("name", r"is required", gettext_lazy("Indiquez le nom affiché sur le profil.")),
    ("name", r"", gettext_lazy("300 caractères au plus pour le nom.")),
    ("description", r"", gettext_lazy("5 000 caractères au plus pour la description.")),
    ("last_post_at", r"future", gettext_lazy("Cette date est dans le futur.")),
    ("last_post_at", r"", gettext_lazy("Une date comme 03/11/2026.")),
    ("website", r"", gettext_lazy("Une adresse qui commence par https://.")),
    ("text", r"is required", gettext_lazy("Écrivez le texte à publier.")),
    ("text", r"characters long", gettext_lazy("Le texte est trop long pour être publié.")),
    ("text", r"NUL", gettext_lazy("Le texte contient un caractère invalide.")),
    ("link", r"user name or password", gettext_lazy(
        "Le lien ne doit contenir ni nom d'utilisateur ni mot de passe.")),
    ("link", r"", gettext_lazy(
        "Le lien doit commencer par https:// (ou http://), sans espace, 1 000 caractères au "
        "plus.")),
    ("channels", r"at least one", gettext_lazy("Choisissez au moins un canal.")),
    ("channels", r"at most", gettext_lazy("30 canaux au plus par publication.")),
    ("channels", r"deactivated", gettext_lazy("Un des canaux choisis a été désactivé.")),
    ("channels", r"", gettext_lazy("Vous ne publiez pas sur l'un des canaux choisis.")),
    ("scheduled_at", r"in the past", gettext_lazy(
        "Cette heure est passée : laissez vide pour publier tout de suite.")),
    ("scheduled_at", r"year ahead", gettext_lazy("Un an à l'avance au plus.")),
    (None, r"^No current grant", gettext_lazy("Vous ne gérez pas les canaux de cette zone.")),
]  # fmt: skip
SEVERITIES = [
    ("high", gettext_lazy("À corriger d'abord")),
    ("medium", gettext_lazy("Important")),
    ("low", gettext_lazy("Finitions")),
]


def _french(exc: DomainError) -> str:
    # Unlisted refusals (the publishers') are French already.
    return messages.sentence(exc, FRENCH)


def _code(area: Area | None) -> str:
    """The scope as the selectors read it back: 75-02, 75, R11; empty: the organisation."""
    if area is None:
        return ""
    return f"R{area.code}" if area.kind == AreaKind.REGION else area.code


def _scope_name(area: Area | None) -> str:
    return area.display_name if area is not None else _("L'organisation (national)")


def _scopes(user) -> list[tuple[str, str]]:
    """The scopes offered to ``user``: the organisation for staff, the areas of their grants
    and those holding channels they see; 403 for anyone else."""
    try:
        seen = list(presence.channels(user, active=None).exclude(area=None)
                    .values_list("area", flat=True).distinct())  # fmt: skip
    except Forbidden:
        raise PermissionDenied from None
    staff = is_staff(user)
    granted = [] if staff else [g.area_id for g in current_grants(user, presence.ROLES)]
    areas = Area.objects.filter(pk__in={*seen, *granted}).order_by("kind", "code")
    found = [("", _scope_name(None))] if staff else []
    return found + [(_code(a), f"{a.display_name} ({_code(a)})") for a in areas]


def _scope(request: HttpRequest, scopes: list[tuple[str, str]]) -> Area | None:
    code = (request.POST.get("zone") or request.GET.get("code") or request.GET.get("zone")
            or scopes[0][0]).strip()  # fmt: skip
    try:
        area = presence.area(code)
    except DomainError:
        raise Http404 from None
    if not presence.can_manage(request.user, area):
        raise PermissionDenied
    return area


def _latest_snapshots(channels: list[Channel]) -> dict[int, ChannelSnapshot]:
    latest: dict[int, ChannelSnapshot] = {}
    found = ChannelSnapshot.objects.filter(channel__in=channels).order_by(
        "channel_id", "-read_at", "-pk")  # fmt: skip
    for snapshot in found:
        latest.setdefault(snapshot.channel_id, snapshot)
    return latest


def _reports(user, area: Area | None) -> list[PresenceReport]:
    presence.require_manage(user, area, "read the presence reports")
    scope = PresenceReport.objects.filter(area=area) if area is not None else \
        PresenceReport.objects.filter(area__isnull=True)  # fmt: skip
    return list(scope.select_related("previous").order_by("-created_at", "-pk")[:HISTORY])


def history_svg(reports: list[PresenceReport]) -> SafeString:
    """The scores over time, oldest left, as a small line (0 at the bottom, 100 at the top)."""
    points = list(reversed(reports))
    width, height, pad = 600, 140, 24
    step = (width - 2 * pad) / max(len(points) - 1, 1)

    def y(score: int) -> float:
        return pad + (100 - score) * (height - 2 * pad) / 100

    coords = [(f"{pad + i * step:.1f}", f"{y(r.score):.1f}") for i, r in enumerate(points)]
    line = " ".join(f"{x},{yy}" for x, yy in coords)
    dots = format_html_join("", '<circle cx="{}" cy="{}" r="4"><title>{}</title></circle>',
                            ((x, yy, f"{r.created_at.astimezone(PARIS):%d/%m/%Y} : {r.score}")
                             for (x, yy), r in zip(coords, points, strict=True)))  # fmt: skip
    grid = format_html_join("", '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                            '<text class="tick" x="0" y="{}">{}</text>',
                            ((pad, width - pad, f"{y(v):.1f}", f"{y(v):.1f}", f"{y(v) + 4:.1f}", v)
                             for v in (0, 50, 100)))  # fmt: skip
    return format_html(
        '<svg class="history" viewBox="0 0 {} {}" role="img" aria-label="{}">{}'
        '<polyline points="{}"/>{}</svg>',
        width, height, _("Évolution du score"), grid, line, dots,
    )  # fmt: skip


def _findings(report: PresenceReport | None, channels: dict[int, Channel]) -> list[dict]:
    if report is None:
        return []
    groups = []
    for severity, title in SEVERITIES:
        items = []
        for f in report.findings:
            if f.get("severity") == severity:
                names = [channels[pk].label or channels[pk].get_kind_display()
                         for pk in f.get("channels", []) if pk in channels]  # fmt: skip
                items.append({**f, "names": names})
        if items:
            groups.append({"severity": severity, "title": title, "items": items})
    return groups


def _presence_page(request: HttpRequest, area: Area | None, scopes, *, values=None,
                   errors=None, entry=None, status=200) -> HttpResponse:  # fmt: skip
    user = request.user
    scope_channels = presence.channels(user, area=area)
    if area is None:
        scope_channels = scope_channels.filter(area__isnull=True)
    channels = list(scope_channels.select_related("area"))
    latest = _latest_snapshots(channels)
    rows = [{"channel": c, "snapshot": latest.get(c.pk), "by_hand": reader_for(c.kind) is None}
            for c in channels]  # fmt: skip
    reports = _reports(user, area)
    report = reports[0] if reports else None
    previous = report.previous if report is not None else None
    return render(request, "monitoring/presence.html", {
        "scopes": scopes, "zone": _code(area), "scope_name": _scope_name(area), "rows": rows,
        "kinds": ChannelKind.choices, "values": values or {"kind": "website", "url": "",
                                                           "label": ""},
        "errors": errors or {}, "entry": entry or {}, "report": report, "previous": previous,
        "delta": report.score - previous.score if previous else None,
        "groups": _findings(report, {c.pk: c for c in channels}),
        "history": reports, "svg": history_svg(reports) if len(reports) > 1 else "",
        "staff": is_staff(user), "audit_seconds": int(presence_services.AUDIT_SECONDS),
    }, status=status)  # fmt: skip


@login_required
@require_http_methods(["GET", "POST"])
def presence_home(request: HttpRequest) -> HttpResponse:
    """The channels of a scope, their last reading, the latest report; POST adds a channel."""
    scopes = _scopes(request.user)
    area = _scope(request, scopes)
    if request.method != "POST":
        return _presence_page(request, area, scopes)
    values = {k: request.POST.get(k, "")[:2000] for k in ("kind", "url", "label")}
    try:
        made = presence_services.channel_create(by=request.user, kind=values["kind"],
                                                url=values["url"], area=area,
                                                label=values["label"])  # fmt: skip
    except DomainError as exc:
        errors = {exc.field if exc.field in values else "form": _french(exc)}
        return _presence_page(request, area, scopes, values=values, errors=errors, status=400)
    flash.success(request, _("Canal ajouté : %(url)s") % {"url": made.url})
    return redirect(f"{reverse('monitoring:presence')}?zone={_code(area)}")


@login_required
@require_POST
def presence_audit(request: HttpRequest) -> HttpResponse:
    """Read every channel of the scope now (synchronous, bounded by the service)."""
    scopes = _scopes(request.user)
    area = _scope(request, scopes)
    try:
        report = presence_services.presence_audit(by=request.user, area=area)
    except DomainError as exc:
        flash.error(request, _french(exc))
    else:
        flash.success(request, _("Audit terminé : %(score)s sur 100.") % {"score": report.score})
    return redirect(f"{reverse('monitoring:presence')}?zone={_code(area)}")


def _hand_date(raw: str) -> datetime.datetime | None:
    """A day typed in the form, at noon in Paris; ValueError when it is not one."""
    if not raw:
        return None
    day = datetime.date.fromisoformat(raw)
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=PARIS)


@login_required
@require_POST
def presence_enter(request: HttpRequest, channel_id: int) -> HttpResponse:
    """What a profile that no reader can read shows, typed by hand."""
    scopes = _scopes(request.user)
    try:
        channel = presence.channel(request.user, channel_id)
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None
    area = channel.area
    fields = ("name", "description", "last_post_at", "website")
    values = {k: request.POST.get(k, "")[:6000] for k in fields}
    errors: dict = {}
    try:
        last_post_at = _hand_date(values["last_post_at"].strip())
    except ValueError:
        errors["last_post_at"] = _("Une date comme 03/11/2026.")
    if not errors:
        try:
            presence_services.snapshot_enter(
                by=request.user, channel=channel, name=values["name"],
                description=values["description"], last_post_at=last_post_at,
                website=values["website"].strip(),
            )  # fmt: skip
        except DomainError as exc:
            errors[exc.field if exc.field in values else "form"] = _french(exc)
    if errors:
        entry = {"channel": channel.pk, "values": values, "errors": errors}
        return _presence_page(request, area, scopes, entry=entry, status=400)
    flash.success(request, _("Profil enregistré ; le prochain audit l'utilisera."))
    return redirect(f"{reverse('monitoring:presence')}?zone={_code(area)}#canal-{channel.pk}")


# -- publishing -----------------------------------------------------------------------------


def _schedule(day: str, time: str) -> datetime.datetime | None:
    if not day and not time:
        return None
    moment = datetime.datetime.combine(datetime.date.fromisoformat(day),
                                       datetime.time.fromisoformat(time or "09:00"))  # fmt: skip
    return moment.replace(tzinfo=PARIS)


@login_required
@require_http_methods(["GET", "POST"])
def publish(request: HttpRequest) -> HttpResponse:
    """Compose once; "Vérifier" shows each channel's text and problems, "Publier" composes
    the publication (the worker sends it within a minute, or at its time)."""
    try:
        channels = list(
            presence.channels(request.user).select_related("area", "publishing_account")
        )
    except Forbidden:
        raise PermissionDenied from None
    values = {"text": "", "link": "", "day": "", "time": "", "channels": []}
    errors: dict = {}
    rows: list[dict] = []
    if request.method == "POST":
        values = {k: request.POST.get(k, "")[: publishing.MAX_TEXT + 10]
                  for k in ("text", "link", "day", "time")}  # fmt: skip
        values["channels"] = request.POST.getlist("channels")[: publishing.MAX_CHANNELS + 1]
        try:
            scheduled_at = _schedule(values["day"].strip(), values["time"].strip())
        except ValueError:
            errors["schedule"] = _("Une date (jj/mm/aaaa) et une heure (hh:mm).")
            scheduled_at = None
        wanted = dict(by=request.user, text=values["text"], link=values["link"],
                      channel_ids=values["channels"], scheduled_at=scheduled_at)  # fmt: skip
        try:
            plan = publishing.publication_preview(**wanted)
        except DomainError as exc:
            errors.setdefault(_field(exc), _french(exc))
            plan = None
        rows = plan.targets if plan else []
        refused = bool(plan and plan.errors)
        if not errors and not refused and request.POST.get("action") == "publish":
            try:
                made = publishing.publication_create(**wanted)
            except DomainError as exc:
                errors[_field(exc)] = _french(exc)
            else:
                flash.success(request, _("Publication enregistrée (n° %(n)s).") % {"n": made.pk})
                return redirect("monitoring:publications")
        if refused:
            errors.setdefault("text", _("Le texte est refusé par au moins un canal : voyez "
                                        "ci-dessous quoi changer."))  # fmt: skip
    groups: dict[str, list[Channel]] = {}
    for channel in channels:
        name = channel.area.display_name if channel.area_id else _("L'organisation (national)")
        groups.setdefault(name, []).append(channel)
    return render(request, "monitoring/publish.html", {
        "values": values, "errors": errors, "rows": rows, "groups": groups,
        "checked": request.method == "POST" and request.POST.get("action") != "publish",
        "staff": is_staff(request.user),
    }, status=400 if errors else 200)  # fmt: skip


def _field(exc: DomainError) -> str:
    if exc.field == "scheduled_at":
        return "schedule"
    return exc.field if exc.field in ("text", "link", "channels") else "form"


@login_required
@require_safe
def publications(request: HttpRequest) -> HttpResponse:
    """The log: what was published where, newest first, with each target's fate."""
    try:
        found = publishing.publications(request.user)
    except Forbidden:
        raise PermissionDenied from None
    page = request.GET.get("page", "1")
    page = int(page) if page.isascii() and page.isdigit() and 0 < int(page) < 10_000 else 1
    start = (page - 1) * LOG_PAGE
    items = list(found.select_related("created_by")[start : start + LOG_PAGE + 1])
    entries = [{"publication": p, "targets": publishing.visible_targets(request.user, p)}
               for p in items[:LOG_PAGE]]  # fmt: skip
    return render(request, "monitoring/publish_log.html", {
        "entries": entries, "page": page, "more": len(items) > LOG_PAGE,
        "staff": is_staff(request.user),
    })  # fmt: skip
