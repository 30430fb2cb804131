"""The pages with which staff, coordinators and community coordinators write to members.

Every write and every check is a service (``services.py``, ``communities.py``); these views
read the form, call one service and show its answer. What a sender may choose (their scopes:
national, each area they coordinate, each community they coordinate) comes from
``segments.scopes_of``; a forged choice is refused by the service, and said in French next
to the field it concerns (``compose_forms.py`` reads the forms and words the errors).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from html import escape

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from nextwork.common.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from nextwork.messaging import communities, segments, services
from nextwork.messaging import render as templating
from nextwork.messaging.compose_forms import (
    NATIONAL,
    audience_args,
    audience_from,
    audience_from_definition,
    audience_summary,
    author_values,
    definition_for_count,
    error_place,
    french,
    live_count,
    message_scope_args,
    number,
    scope_args,
    scope_label,
    scope_of_message,
    scope_value,
    sms_estimate,
)
from nextwork.messaging.models import (
    PLATFORM_TYPES,
    Channel,
    Community,
    CommunityCoordinator,
    Message,
    MessageStatus,
    MessageType,
    Segment,
)
from nextwork.network.models import Member, Role
from nextwork.network.permissions import is_staff

PER_PAGE = 25
# The HTML preview runs in a sandboxed iframe (no script, opaque origin) and its own policy
# forbids anything but inline styles and images: what staff wrote cannot reach the site.
PREVIEW_CSP = "default-src 'none'; img-src https: data:; style-src 'unsafe-inline'"
STAT_ROWS = [
    ("queued", gettext_lazy("en file")),
    ("sent", gettext_lazy("envoyés")),
    ("delivered", gettext_lazy("remis")),
    ("bounced", gettext_lazy("rejetés")),
    ("complained", gettext_lazy("signalés comme indésirables")),
    ("failed", gettext_lazy("échecs")),
    ("skipped", gettext_lazy("non envoyés")),
    ("digest", gettext_lazy("gardés pour le résumé")),
    ("opened", gettext_lazy("ouverts")),
    ("clicked", gettext_lazy("cliqués")),
    ("unsubscribed", gettext_lazy("désinscriptions")),
]


# Shown only when not zero: rare, or meaningless for the channel.
OPTIONAL_STATS = {"complained", "digest"}
EMAIL_ONLY_STATS = {"opened", "clicked", "unsubscribed"}


def stat_rows(message: Message, stats: dict) -> list[tuple[str, str, str]]:
    return [
        (key, label, number(stats[key]))
        for key, label in STAT_ROWS
        if (key not in OPTIONAL_STATS or stats[key])
        and (message.channel == Channel.EMAIL or key not in EMAIL_ONLY_STATS or stats[key])
    ]


# -- who may use these pages ----------------------------------------------------------------------


def sender_required(view: Callable) -> Callable:
    """Logged in (else the login page), and a sender (else a clear 403 page)."""

    @login_required
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        scopes = segments.scopes_of(request.user)
        if not scopes:
            return render(
                request,
                "messaging/compose/forbidden.html",
                {
                    "reason": _(
                        "Seuls l'équipe nationale, les coordinateurs de territoire et les "
                        "coordinateurs de communauté écrivent aux membres."
                    )
                },
                status=403,
            )
        request.sender_scopes = scopes
        return view(request, *args, **kwargs)

    return wrapped


def _message_or_404(request: HttpRequest, pk: int) -> Message:
    try:
        return services.message_for(pk, by=request.user)
    except NotFound as exc:
        raise Http404(_("Ce message n'existe pas, ou vous ne pouvez pas le voir.")) from exc


def _messages_of(member: Member) -> QuerySet[Message]:
    """The messages a sender sees in the list: their own; every one for staff."""
    rows = Message.objects.select_related("scope_area", "scope_community", "created_by")
    if not is_staff(member):
        rows = rows.filter(created_by=member)
    return rows.order_by("-created_at", "-pk")


def _segments_of(member: Member) -> QuerySet[Segment]:
    """Saved segments the sender may use (``services.segment_visible`` says the same)."""
    rows = Segment.objects.order_by("name", "pk")
    return rows if is_staff(member) else rows.filter(created_by=member)


# -- 1. the list ----------------------------------------------------------------------------------


@never_cache
@sender_required
@require_http_methods(["GET"])
def message_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(_messages_of(request.user), PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        {"message": m, "stats": services.message_stats(m), "scope": scope_of_message(m)}
        for m in page.object_list
    ]
    return render(
        request,
        "messaging/compose/list.html",
        {"page": page, "rows": rows, "staff": is_staff(request.user)},
    )


# -- 2. a new message -----------------------------------------------------------------------------


def _type_choices(scopes: list[segments.Scope]):
    if all(s.community is not None for s in scopes):
        return [(MessageType.COMMUNITY.value, MessageType.COMMUNITY.label)]
    return [(v, label) for v, label in MessageType.choices if v not in PLATFORM_TYPES]


def _form_context(request: HttpRequest, form: dict, aud: dict, errors: dict, **extra) -> dict:
    scopes = request.sender_scopes
    return {
        "form": form,
        "aud": aud,
        "errors": errors,
        "scope_choices": [(scope_value(s), scope_label(s)) for s in scopes],
        "type_choices": _type_choices(scopes),
        "channel_choices": list(Channel.choices),
        "role_choices": [(r, Role(r).label) for r in segments.ROLES],
        "community_choices": list(
            communities.visible_to(request.user).order_by("name").values_list("slug", "name")
        ),
        "segment_choices": list(_segments_of(request.user).values_list("pk", "name")),
        "language_choices": settings.LANGUAGES,
        "variables": list(templating.VARIABLES),
        **extra,
    }


def _message_form(data=None, message: Message | None = None, scopes=None) -> dict:
    if data is not None:
        return {
            "channel": data.get("channel", Channel.EMAIL),
            "message_type": data.get("message_type", ""),
            "scope": data.get("scope", ""),
            "subject": data.get("subject", ""),
            "body_html": data.get("body_html", ""),
            "body_text": data.get("body_text", ""),
            "sms_text": data.get("sms_text", ""),
        }
    if message is not None:
        sms = message.channel == Channel.SMS
        return {
            "channel": message.channel,
            "message_type": message.message_type,
            "scope": scope_value(
                segments.Scope(area=message.scope_area, community=message.scope_community)
            ),
            "subject": message.subject,
            "body_html": message.body_html,
            "body_text": "" if sms else message.body_text,
            "sms_text": message.body_text if sms else "",
        }
    only_community = scopes and all(s.community is not None for s in scopes)
    return {
        "channel": Channel.EMAIL,
        "message_type": MessageType.COMMUNITY if only_community else MessageType.NEWSLETTER,
        "scope": scope_value(scopes[0]) if scopes else NATIONAL,
        "subject": "",
        "body_html": "",
        "body_text": "",
        "sms_text": "",
    }


@never_cache
@sender_required
@require_http_methods(["GET", "POST"])
def message_new(request: HttpRequest) -> HttpResponse:
    """Write a message: "Compter" shows the live count, "Enregistrer" makes a draft."""
    errors: dict[str, str] = {}
    count = None
    if request.method == "GET":
        form = _message_form(scopes=request.sender_scopes)
        aud = audience_from(None)
        source = request.GET.get("depuis", "")
        if source.isdigit():  # start again from an earlier message
            earlier = _message_or_404(request, int(source))
            form = _message_form(message=earlier)
            if earlier.segment_id:
                aud = {**aud, "source": "segment", "segment": str(earlier.segment_id)}
            else:
                aud = audience_from_definition(earlier.definition) or aud
        return render(request, "messaging/compose/form.html", _form_context(request, form, aud, {}))

    form = _message_form(request.POST)
    aud = audience_from(request.POST)
    sms = form["channel"] == Channel.SMS
    action = request.POST.get("action", "save")
    controls: list[str] = []
    try:
        scope = scope_args(form["scope"], request.sender_scopes)
        target, controls = audience_args(aud, request.user)
        if action == "count":
            count = live_count(
                by=request.user,
                definition=definition_for_count(target, request.user),
                scope=scope,
                channel=form["channel"] if form["channel"] in Channel.values else Channel.EMAIL,
                message_type=form["message_type"]
                if form["message_type"] in MessageType.values
                else MessageType.NEWSLETTER,
                sms_text=form["sms_text"],
                values=author_values(request.user),
            )
        else:
            message = services.message_create(
                data=services.MessageIn(
                    channel=form["channel"],
                    message_type=form["message_type"],
                    subject=form["subject"] if not sms else "",
                    body_html=form["body_html"] if not sms else "",
                    body_text=form["sms_text"] if sms else form["body_text"],
                    **target,
                    **scope,
                ),
                by=request.user,
            )
    except DomainError as exc:
        errors[error_place(exc, controls, sms=sms)] = french(exc)
    else:
        if action != "count":
            messages.success(
                request,
                _("Brouillon enregistré. Vérifiez l'aperçu, envoyez-vous un test, puis envoyez."),
            )
            return redirect("messaging:compose_detail", pk=message.pk)
    context = _form_context(request, form, aud, errors, count=count)
    if request.headers.get("X-Requested-With") == "count":  # the inline script's live count
        return render(request, "messaging/compose/_count.html", context, status=200)
    return render(request, "messaging/compose/form.html", context, status=400 if errors else 200)


# -- 3. one message -------------------------------------------------------------------------------


def _preview_document(html: str, text: str) -> str:
    """The whole HTML document shown in the preview iframe (``srcdoc``), footer included."""
    footer = templating.footer_html(
        unsubscribe_url="#",
        preferences_url="#",
        organisation=settings.NEXTWORK_ORGANISATION or "nextwork",
    )
    body = html or f"<pre style='white-space:pre-wrap;font:inherit'>{escape(text)}</pre>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{PREVIEW_CSP}\">"
        "<base target='_blank'>"
        "<style>body{font-family:system-ui,sans-serif;margin:16px;color:#1d2433;"
        "line-height:1.5;overflow-wrap:anywhere}img{max-width:100%;height:auto}</style>"
        f"</head><body>{body}{footer}</body></html>"
    )


def _count_for(request: HttpRequest, message: Message, preview: dict) -> tuple[dict | None, str]:
    """The live count of a message's audience, or why it cannot be counted."""
    definition = message.segment.definition if message.segment_id else message.definition
    try:
        if isinstance(definition, dict) and services.INTERNAL_KEY in definition:
            reachable = services.message_audience(message).count()
            box = {
                "members": number(len(definition[services.INTERNAL_KEY])),
                "reachable": number(reachable),
                "reachable_n": reachable,
                "channel": message.get_channel_display(),
                "type": message.get_message_type_display(),
            }
            if message.channel == Channel.SMS:
                box["sms"] = sms_estimate(message.body_text, reachable)
            return box, ""
        return live_count(
            by=request.user,
            definition=definition,
            scope=message_scope_args(message),
            channel=message.channel,
            message_type=message.message_type,
            sms_text=message.body_text,
            values=author_values(request.user),
        ), ""
    except DomainError as exc:
        return None, french(exc)


@never_cache
@sender_required
@require_http_methods(["GET"])
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    message = _message_or_404(request, pk)
    preview = services.message_preview(message, member=request.user)
    draft = message.status == MessageStatus.DRAFT
    count, count_error = _count_for(request, message, preview) if draft else (None, "")
    stats = None if draft else services.message_stats(message)
    return render(
        request,
        "messaging/compose/detail.html",
        {
            "message": message,
            "scope": scope_of_message(message),
            "audience": audience_summary(message),
            "preview": preview,
            "preview_doc": _preview_document(preview["html"], preview["text"])
            if message.channel == Channel.EMAIL
            else "",
            "count": count,
            "count_error": count_error,
            "stats": stats,
            "stat_rows": stat_rows(message, stats) if stats else [],
            "can_cancel": message.status in (MessageStatus.QUEUED, MessageStatus.SENDING),
            "draft": draft,
        },
    )


@sender_required
@require_POST
def message_test(request: HttpRequest, pk: int) -> HttpResponse:
    message = _message_or_404(request, pk)
    try:
        where = services.message_test_send(message=message, by=request.user)
    except DomainError as exc:
        messages.error(request, french(exc))
    else:
        messages.success(
            request,
            _("Un exemplaire de test vous a été envoyé par courriel (%(email)s).")
            % {"email": request.user.email}
            if where == "email"
            else _("Un SMS de test vous a été envoyé."),
        )
    return redirect("messaging:compose_detail", pk=message.pk)


@never_cache
@sender_required
@require_http_methods(["GET", "POST"])
def message_send(request: HttpRequest, pk: int) -> HttpResponse:
    """The confirmation step that states the count, then the send itself."""
    message = _message_or_404(request, pk)
    if message.status != MessageStatus.DRAFT:
        messages.info(request, _("Ce message n'est plus un brouillon."))
        return redirect("messaging:compose_detail", pk=message.pk)
    if request.method == "POST":
        try:
            services.message_send(message=message, by=request.user)
        except DomainError as exc:
            messages.error(request, french(exc))
        else:
            messages.success(
                request,
                _("Message en file d'envoi : rechargez la page pour suivre les chiffres."),
            )
        return redirect("messaging:compose_detail", pk=message.pk)
    preview = services.message_preview(message, member=request.user)
    count, count_error = _count_for(request, message, preview)
    question = ""
    if count is not None:
        question = ngettext(
            "Envoyer à %(count)s membre ?", "Envoyer à %(count)s membres ?", count["reachable_n"]
        ) % {"count": count["reachable"]}
    return render(
        request,
        "messaging/compose/confirm_send.html",
        {
            "message": message,
            "scope": scope_of_message(message),
            "audience": audience_summary(message),
            "preview": preview,
            "count": count,
            "count_error": count_error,
            "question": question,
        },
    )


@sender_required
@require_POST
def message_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    message = _message_or_404(request, pk)
    try:
        services.message_cancel(message=message, by=request.user)
    except DomainError as exc:
        messages.error(request, french(exc))
    else:
        messages.success(
            request, _("Envoi annulé : les messages pas encore partis ne partiront pas.")
        )
    return redirect("messaging:compose_detail", pk=message.pk)


# -- 4. an urgent alert ---------------------------------------------------------------------------


ALERT_PLACES = {"channels", "scope", "subject", "body", "audience", "segment", "areas", "roles",
                "communities", "exclude_community", "active_days", "confirmed"}  # fmt: skip


def _alert_form(data=None, scopes=None) -> dict:
    if data is None:
        return {
            "channels": [Channel.EMAIL.value],
            "scope": scope_value(scopes[0]) if scopes else NATIONAL,
            "subject": "",
            "body": "",
        }
    return {
        "channels": [c for c in data.getlist("channels") if c],
        "scope": data.get("scope", ""),
        "subject": data.get("subject", ""),
        "body": data.get("body", ""),
    }


@never_cache
@sender_required
@require_http_methods(["GET", "POST"])
def alert_new(request: HttpRequest) -> HttpResponse:
    """An urgent alert in one step: the form, a confirmation with the counts, the send."""
    errors: dict[str, str] = {}
    if request.method == "GET":
        form, aud = _alert_form(scopes=request.sender_scopes), audience_from(None)
        return render(
            request,
            "messaging/compose/alert_form.html",
            _form_context(request, form, aud, errors, alert=True),
        )
    form, aud = _alert_form(request.POST), audience_from(request.POST)
    action = request.POST.get("action", "review")
    controls: list[str] = []
    if action != "edit":
        try:
            scope = scope_args(form["scope"], request.sender_scopes)
            target, controls = audience_args(aud, request.user)
            answer = services.alert_send(
                data=services.AlertIn(
                    channels=form["channels"],
                    subject=form["subject"],
                    body=form["body"],
                    **target,
                    **scope,
                ),
                by=request.user,
                confirm=action == "confirm",
            )
        except DomainError as exc:
            place = error_place(exc, controls)
            # One text serves both channels: its errors are shown under it.
            place = {"body_text": "body", "body_html": "body"}.get(place, place)
            errors[place if place in ALERT_PLACES else "form"] = french(exc)
        else:
            reachable = answer["reachable"]
            if answer["confirmed"]:
                parts = [f"{Channel(c).label} : {number(n)}" for c, n in reachable.items()]
                messages.success(
                    request,
                    _("Alerte envoyée : elle part en priorité (%(counts)s membres joignables).")
                    % {"counts": ", ".join(parts)},
                )
                return redirect("messaging:compose_list")
            rows = []
            for channel, n in reachable.items():
                row = {"channel": Channel(channel).label, "count": number(n), "n": n}
                if channel == Channel.SMS:
                    row["sms"] = sms_estimate(form["body"], n, author_values(request.user))
                rows.append(row)
            return render(
                request,
                "messaging/compose/alert_confirm.html",
                {
                    "form": form,
                    "aud": aud,
                    "rows": rows,
                    "scope": dict(
                        (scope_value(s), scope_label(s)) for s in request.sender_scopes
                    ).get(form["scope"], form["scope"]),
                    "post": request.POST,
                },
            )
    return render(
        request,
        "messaging/compose/alert_form.html",
        _form_context(request, form, aud, errors, alert=True),
        status=400 if errors else 200,
    )


# -- 5. a community's coordinators ----------------------------------------------------------------


def _member_by_email(email: str) -> Member:
    member = Member.objects.filter(email__iexact=(email or "").strip()).first()
    if member is None:
        raise NotFound("No member with this email.", field="email")
    return member


def _coordinators(community: Community):
    return (
        CommunityCoordinator.objects.filter(community=community)
        .select_related("member", "granted_by")
        .order_by("valid_to", "-valid_from")
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def community_coordination(request: HttpRequest, slug: str) -> HttpResponse:
    """Staff name and end a community's coordinators (each change is audited)."""
    if not is_staff(request.user):
        return render(
            request,
            "messaging/compose/forbidden.html",
            {"reason": _("Seule l'équipe nationale nomme les coordinateurs d'une communauté.")},
            status=403,
        )
    try:
        community = communities.community_for(request.user, slug=slug)
    except DomainError as exc:
        raise Http404(_("Cette communauté n'existe pas.")) from exc
    errors: dict[str, str] = {}
    email = ""
    if request.method == "POST":
        action = request.POST.get("action")
        email = request.POST.get("email", "")
        try:
            if action == "grant":
                member = _member_by_email(email)
                communities.coordinator_grant(
                    actor=request.user, community=community, member=member
                )
                messages.success(
                    request,
                    _("%(name)s coordonne désormais la communauté.")
                    % {"name": member.full_name or member.email},
                )
            elif action == "end":
                member = Member.objects.filter(public_id=request.POST.get("member")).first()
                if member is None:
                    raise NotFound("No such member.", field="member")
                communities.coordinator_end(actor=request.user, community=community, member=member)
                messages.success(
                    request,
                    _("%(name)s ne coordonne plus la communauté.")
                    % {"name": member.full_name or member.email},
                )
            else:
                raise InvalidInput("Unknown action.", field="action")
        except DomainError as exc:
            if exc.field == "email":
                errors["email"] = _("Aucun membre n'a cette adresse électronique.")
            elif isinstance(exc, Conflict):
                errors["email"] = _("Ce membre coordonne déjà cette communauté.")
            elif exc.field == "member" and isinstance(exc, InvalidInput):
                errors["email"] = _("Seul un membre actif peut coordonner une communauté.")
            elif isinstance(exc, NotFound):
                errors["form"] = _("Ce membre ne coordonne pas cette communauté.")
            elif isinstance(exc, Forbidden):
                errors["form"] = french(exc)
            else:
                errors["form"] = exc.message
        else:
            return redirect(reverse("messaging:community_coordination", args=[community.slug]))
    rows = list(_coordinators(community))
    return render(
        request,
        "messaging/compose/coordination.html",
        {
            "community": community,
            "current": [r for r in rows if r.valid_to is None],
            "past": [r for r in rows if r.valid_to is not None][:20],
            "errors": errors,
            "email": email,
        },
        status=400 if errors else 200,
    )
