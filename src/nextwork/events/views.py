"""Event pages: the public list, map and detail, the calendar files, and the organisers' forms."""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from nextwork.common.errors import DomainError
from nextwork.events import ics, selectors, services, zones
from nextwork.events.models import Event, EventKind, RsvpStatus
from nextwork.network.signup import AmbiguousLocation
from nextwork.territories import lookup, svg
from nextwork.territories.selectors import department_sort_key

EVENTS_PER_PAGE = 30


def _department_filter(request: HttpRequest) -> tuple[str, str | None]:
    """The department asked for in the query, and an error when it is unknown."""
    code = request.GET.get("department", "").strip().upper()
    if not code:
        return "", None
    try:
        selectors.department_by_code(code)
    except DomainError:
        return "", _("« %(code)s » n'est pas un département : 75, 2A, 971 ou 99.") % {
            "code": code[:10]
        }
    return code, None


@require_safe
def event_list(request: HttpRequest) -> HttpResponse:
    code, error = _department_filter(request)
    events = selectors.upcoming(viewer=request.user, department=code or None)
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "events/list.html",
        {
            "page": page,
            "events": [_card(e) for e in page.object_list],
            "department": code,
            "departments": selectors.departments(),
            "error": error,
            "may_create": selectors.may_create_somewhere(request.user),
            "mine": list(selectors.my_events(request.user))
            if selectors.is_member(request.user)
            else [],
        },
        status=400 if error else 200,
    )


def _card(event: Event) -> dict:
    return {"event": event, "places_left": selectors.places_left(event)}


# The events map is the national seat map, painted by department and linked to the list.
SEAT_LINK = re.compile(r'href="/circonscriptions/([^/"]+)/"')
MAP_TITLE = re.compile(r'<title id="map-title">[^<]*</title>')


@require_safe
def event_map(request: HttpRequest) -> HttpResponse:
    engine = lookup.get_engine()
    counts = selectors.departments_with_upcoming(request.user)
    here = selectors.seats_with_upcoming(request.user)

    def department_of(code: str) -> str:
        seat = engine.seats.get(code)
        return seat["department"]["code"] if seat and seat["department"] else svg.seat_prefix(code)

    classes = {}
    for code in engine.seats:
        if code in here:
            classes[code] = "event-here"
        elif department_of(code) in counts:
            classes[code] = "event-department"
    drawing = SEAT_LINK.sub(
        lambda m: f'href="{reverse("events:list")}?department={department_of(m[1])}"',
        svg.national_map(classes),
    )
    title = _("Départements où des événements sont prévus")
    drawing = MAP_TITLE.sub(f'<title id="map-title">{title}</title>', drawing, count=1)
    names = {a.code: a.name for a in selectors.departments()}
    rows = sorted(
        ({"code": c, "name": names.get(c, c), "count": n} for c, n in counts.items()),
        key=lambda r: department_sort_key(r["code"]),
    )
    return render(
        request,
        "events/map.html",
        {"map_svg": drawing, "rows": rows, "total": sum(counts.values())},
    )


@require_safe
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    event = _readable(request, pk)
    rsvp = selectors.rsvp_of(request.user, event)
    return render(
        request,
        "events/detail.html",
        {
            "event": event,
            "places_left": selectors.places_left(event),
            "rsvp": rsvp,
            "waiting_position": selectors.waiting_position(rsvp),
            "manages": selectors.may_manage(request.user, event),
            "started": event.starts_at <= timezone.now(),
            "ended": event.ends_at <= timezone.now(),
            "zone_label": zones.zone_label(event.time_zone, event.starts_at),
            "campaign": event.campaign
            if event.campaign is not None and event.campaign.status != "draft"
            else None,
        },
    )


def _readable(request: HttpRequest, pk: int) -> Event:
    try:
        return selectors.event_for(request.user, pk)
    except DomainError as exc:
        raise Http404(exc.message) from exc


def _calendar_response(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


@require_safe
def event_ics(request: HttpRequest, pk: int) -> HttpResponse:
    event = _readable(request, pk)
    body = ics.calendar([event], base_url=_base_url(request), name=event.title)
    return _calendar_response(body, f"evenement-{event.pk}.ics")


@require_safe
def events_ics(request: HttpRequest) -> HttpResponse:
    """The feed of upcoming public events (what calendar apps subscribe to, without a login);
    cancelled ones stay in it, marked so, until they would have ended."""
    code, error = _department_filter(request)
    if error:
        return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
    events = selectors.upcoming(viewer=None, department=code or None, cancelled=True)[:500]
    name = _("Événements") + (f" — {code}" if code else "")
    body = ics.calendar(events, base_url=_base_url(request), name=name)
    return _calendar_response(body, f"evenements{'-' + code if code else ''}.ics")


# -- members' answers -----------------------------------------------------------------------

RSVP_ERRORS = {
    "event_cancelled": gettext_lazy("Cet événement est annulé."),
    "event_started": gettext_lazy("Cet événement a déjà commencé : les inscriptions sont closes."),
}


@login_required
@require_POST
def event_rsvp(request: HttpRequest, pk: int) -> HttpResponse:
    event = _readable(request, pk)
    going = request.POST.get("going") == "yes"
    try:
        rsvp, _created = services.rsvp_set(event=event, member=request.user, going=going)
    except DomainError as exc:
        text = RSVP_ERRORS.get(exc.code)
        messages.error(request, str(text) if text is not None else exc.message)
    else:
        if rsvp.status == RsvpStatus.GOING:
            messages.success(request, _("C'est noté : vous êtes inscrit·e. À bientôt !"))
        elif rsvp.status == RsvpStatus.WAITING:
            messages.info(
                request,
                _(
                    "L'événement est complet : vous êtes sur la liste d'attente. Si une place "
                    "se libère, elle est pour vous et vous recevrez un courriel."
                ),
            )
        else:
            messages.success(request, _("Vous êtes désinscrit·e de cet événement."))
    return redirect("events:detail", pk=event.pk)


# -- organisers -----------------------------------------------------------------------------

FORM_FIELDS = (
    "title",
    "kind",
    "description",
    "starts_at",
    "ends_at",
    "time_zone",
    "address",
    "country",
    "constituency",
    "capacity",
    "campaign",
    "place_key",
)
# The form's error texts, in the words of the page (the API keeps the English message).
FIELD_LABELS = {
    "title": gettext_lazy("Donnez un titre à l'événement."),
    "starts_at": gettext_lazy("Indiquez un début à venir (date et heure)."),
    "ends_at": gettext_lazy("La fin doit venir après le début, le même jour ou dans la semaine."),
    "capacity": gettext_lazy("Le nombre de places est un nombre entier, au moins 1 (ou vide)."),
    "time_zone": gettext_lazy("Ce fuseau horaire est inconnu (exemple : Europe/Paris)."),
    "kind": gettext_lazy("Choisissez le type d'événement."),
    "description": gettext_lazy("La description compte au plus 5 000 caractères."),
    "address": gettext_lazy(
        "Nous n'avons pas reconnu ce lieu : ajoutez son code postal (ou choisissez le pays, "
        "à l'étranger)."
    ),
    "country": gettext_lazy(
        "Ce pays n'est rattaché à aucune circonscription des Français de l'étranger."
    ),
    "constituency": gettext_lazy("Choisissez une des circonscriptions proposées."),
    "campaign": gettext_lazy(
        "Cette campagne n'existe pas, ou ne concerne pas le département de l'événement."
    ),
}


def _parse_local(value: str, field: str, errors: dict) -> datetime.datetime | None:
    """A datetime-local input ('2026-12-05T18:30'): naive, read in the event's zone."""
    value = value.strip()
    if not value:
        errors[field] = FIELD_LABELS[field]
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        errors[field] = FIELD_LABELS[field]
        return None
    return parsed.replace(tzinfo=None)


def _form_context(request: HttpRequest, form: dict, errors: dict, candidates: list) -> dict:
    return {
        "form": form,
        "errors": errors,
        "candidates": candidates,
        "kinds": EventKind.choices,
        "zones": zones.COMMON_ZONES,
        "countries": sorted(lookup.get_engine().countries.items(), key=lambda kv: kv[1][0]),
        "public": form.get("public", "on") == "on",
    }


def _form_error(exc: DomainError, errors: dict) -> list[dict]:
    if isinstance(exc, AmbiguousLocation):
        errors["constituency"] = _(
            "Ce lieu couvre plusieurs circonscriptions : choisissez celle de l'événement."
        )
        return exc.candidates
    if exc.field == "address" and exc.code == "forbidden":
        errors["address"] = _(
            "Vos rôles ne vous permettent pas d'organiser un événement à cet endroit : "
            "seulement dans votre département (relais) ou votre territoire (coordination)."
        )
        return []
    label = FIELD_LABELS.get(exc.field or "")
    errors[exc.field or "form"] = str(label) if label is not None else exc.message
    return []


def _submit(request: HttpRequest, event: Event | None) -> tuple[dict, dict, list, Event | None]:
    form = {k: request.POST.get(k, "").strip() for k in FORM_FIELDS}
    form["public"] = "on" if request.POST.get("public") == "on" else "off"
    if form["place_key"] != form["address"]:
        # The seat was chosen for another address than the one now typed: ask again.
        form["constituency"] = ""
    errors: dict[str, str] = {}
    starts = _parse_local(form["starts_at"], "starts_at", errors)
    ends = _parse_local(form["ends_at"], "ends_at", errors)
    if errors:
        return form, errors, [], None
    arguments = {
        "title": form["title"],
        "kind": form["kind"],
        "description": form["description"],
        "starts_at": starts,
        "ends_at": ends,
        "time_zone": form["time_zone"] or None,
        "place": services.Place(
            address=form["address"],
            country=form["country"] or None,
            constituency=form["constituency"] or None,
        ),
        "capacity": form["capacity"] or None,
        "campaign": form["campaign"] or None,
        "public": form["public"] == "on",
    }
    try:
        if event is None:
            saved = services.event_create(creator=request.user, **arguments)
        else:
            saved = services.event_update(event=event, by=request.user, **arguments)
    except DomainError as exc:
        return form, errors, _form_error(exc, errors), None
    return form, errors, [], saved


@login_required
@require_http_methods(["GET", "POST"])
def event_create(request: HttpRequest) -> HttpResponse:
    if not selectors.may_create_somewhere(request.user):
        return render(request, "events/denied.html", status=403)
    if request.method == "GET":
        return render(request, "events/form.html", _form_context(request, {"public": "on"}, {}, []))
    form, errors, candidates, saved = _submit(request, None)
    if saved is None:
        return render(
            request,
            "events/form.html",
            _form_context(request, form, errors, candidates),
            status=400,
        )
    messages.success(request, _("L'événement est publié."))
    return redirect("events:detail", pk=saved.pk)


def _managed(request: HttpRequest, pk: int) -> Event:
    try:
        return selectors.event_to_manage(request.user, pk)
    except DomainError as exc:
        raise Http404(exc.message) from exc


def _local_input(moment: datetime.datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


@login_required
@require_http_methods(["GET", "POST"])
def event_edit(request: HttpRequest, pk: int) -> HttpResponse:
    event = _managed(request, pk)
    if event.cancelled:
        messages.error(request, _("Cet événement est annulé : il ne peut plus être modifié."))
        return redirect("events:detail", pk=event.pk)
    if request.method == "GET":
        form = {
            "title": event.title,
            "kind": event.kind,
            "description": event.description,
            "starts_at": _local_input(event.starts_at, event.time_zone),
            "ends_at": _local_input(event.ends_at, event.time_zone),
            "time_zone": event.time_zone,
            "address": event.address,
            "constituency": event.constituency.code,
            "place_key": event.address,
            "capacity": event.capacity or "",
            "campaign": event.campaign_id or "",
            "public": "on" if event.public else "off",
        }
        return render(
            request,
            "events/form.html",
            {**_form_context(request, form, {}, []), "event": event},
        )
    form, errors, candidates, saved = _submit(request, event)
    if saved is None:
        return render(
            request,
            "events/form.html",
            {**_form_context(request, form, errors, candidates), "event": event},
            status=400,
        )
    messages.success(request, _("L'événement est à jour."))
    return redirect("events:detail", pk=saved.pk)


@login_required
@require_POST
def event_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    event = _managed(request, pk)
    services.event_cancel(event=event, by=request.user, reason=request.POST.get("reason", ""))
    messages.success(
        request, _("L'événement est annulé ; les personnes inscrites en sont informées.")
    )
    return redirect("events:detail", pk=event.pk)


@login_required
@require_safe
def event_attendees(request: HttpRequest, pk: int) -> HttpResponse:
    """Who comes and who waits: for the organisers only, each read written to the audit log."""
    event = _managed(request, pk)
    rows = selectors.attendees(event=event, caller=request.user)
    return render(
        request,
        "events/attendees.html",
        {
            "event": event,
            "going": [r for r in rows if r.status == RsvpStatus.GOING],
            "waiting": [r for r in rows if r.status == RsvpStatus.WAITING],
        },
    )
