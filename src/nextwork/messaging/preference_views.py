"""The member's preferences page: consents per channel and type, digest, tracking, history.

Reached logged in, or without logging in through the signed link of every bulk email
(``?t=``, see ``preferences.preferences_url``). The link wins over a session: it names the
member whose messages it came with.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from nextwork.common.errors import DomainError
from nextwork.messaging import consent
from nextwork.messaging.models import Channel, MessageType
from nextwork.messaging.preferences import (
    OFFERED,
    member_from_token,
    preferences_of,
    preferences_update,
)
from nextwork.network.models import Member

HISTORY_LINES = 100

DESCRIPTIONS = {
    MessageType.NEWSLETTER: gettext_lazy("Les nouvelles de l'association et de son action."),
    MessageType.CAMPAIGN: gettext_lazy(
        "Les appels à agir : journées d'action, mobilisations, événements près de chez vous."
    ),
    MessageType.ALERT: gettext_lazy(
        "Les messages urgents, quand une décision approche et qu'il faut réagir vite."
    ),
    MessageType.COMMUNITY: gettext_lazy("Les nouvelles des communautés dont vous êtes membre."),
    MessageType.PARTICIPATION: gettext_lazy(
        "Les réponses à vos propositions et les nouveaux commentaires des discussions que vous "
        "suivez."
    ),
}

TEXT_NAMES = {
    "signup": gettext_lazy("texte d'inscription"),
    "sms": gettext_lazy("accord SMS"),
    "community_news": gettext_lazy("accord des communautés"),
    "preferences": gettext_lazy("page des préférences"),
    "participation": gettext_lazy("accord de suivi des propositions"),
}


def _masked(email: str) -> str:
    """c•••@example.org: enough to recognise one's address on a forwarded link, no more."""
    local, _at, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}"


def _rows(member: Member, current: dict, form: dict | None) -> list[dict]:
    rows = []
    for message_type in MessageType:
        row = {
            "type": message_type,
            "label": message_type.label,
            "help": DESCRIPTIONS[message_type],
        }
        for channel in Channel:
            key = f"{channel.value}.{message_type.value}"
            offered = message_type in OFFERED[channel]
            checked = (
                form.get(key, False)
                if form is not None
                else current.get((channel.value, message_type.value), False)
            )
            row[channel.value] = {"name": key, "offered": offered, "checked": checked}
        rows.append(row)
    return rows


def _history(member: Member) -> list[dict]:
    lines = []
    for event in consent.history(member)[:HISTORY_LINES]:
        text = event.text
        lines.append(
            {
                "event": event,
                "text": f"{TEXT_NAMES.get(text.kind, text.kind)}, v{text.version}" if text else "",
            }
        )
    return lines


@never_cache  # the page may be reached by a personal link: never kept by a shared cache
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    token = request.GET.get("t") or request.POST.get("t") or ""
    if token:
        try:
            member = member_from_token(token)
        except DomainError as exc:
            return render(
                request,
                "messaging/preferences_link_error.html",
                {"error": exc.message, "expired": exc.code == "expired"},
                status=400,
            )
    elif request.user.is_authenticated:
        member = request.user
    else:
        return redirect_to_login(request.get_full_path())

    # Only the member, logged in, gives new consents; the emailed link may only withdraw.
    may_give = request.user.is_authenticated and request.user.pk == member.pk
    errors: dict[str, str] = {}
    form = None
    if request.method == "POST":
        form = {
            f"{c.value}.{t.value}": request.POST.get(f"{c.value}.{t.value}") == "on"
            for c in Channel
            for t in OFFERED[c]
        }
        answers = {
            (c.value, t.value): form[f"{c.value}.{t.value}"]
            for c in Channel
            for t in OFFERED[c]
            # Without a phone the SMS boxes are disabled (never sent): nothing to change,
            # unless a box arrives ticked anyway, which the service refuses by name.
            if c != Channel.SMS or member.phone or form[f"{c.value}.{t.value}"]
        }
        try:
            changes = preferences_update(
                member=member,
                consents=answers,
                weekly_digest=request.POST.get("weekly_digest") == "on",
                tracking=request.POST.get("tracking") == "on",
                language=request.POST.get("language") or None,
                may_give=may_give,
            )
        except DomainError as exc:
            message = exc.message
            if exc.code == "login_to_give":
                message = _(
                    "Connectez-vous pour donner un nouvel accord : par le lien d'un message, "
                    "vous pouvez seulement retirer les vôtres."
                )
            errors = {"form": message, "field": exc.field or ""}
        else:
            if changes:
                messages.success(request, _("Vos préférences sont enregistrées."))
            else:
                messages.info(request, _("Vos préférences sont enregistrées (aucun changement)."))
            url = reverse("messaging:preferences")
            if token:
                url += "?" + urlencode({"t": token})
            return HttpResponseRedirect(url)

    prefs = preferences_of(member)
    return render(
        request,
        "messaging/preferences.html",
        {
            "member": member,
            "token": token,
            "by_link": bool(token),
            "masked_email": _masked(member.email),
            "rows": _rows(member, consent.current_consents(member), form),
            "has_phone": bool(member.phone),
            "weekly_digest": request.POST.get("weekly_digest") == "on"
            if form is not None
            else prefs.weekly_digest,
            "tracking": request.POST.get("tracking") == "on"
            if form is not None
            else prefs.tracking,
            "language": (request.POST.get("language") if form is not None else None)
            or prefs.language,
            "languages": settings.LANGUAGES,
            "confirmed": member.confirmed_at is not None,
            "may_give": may_give,
            "history": _history(member),
            "history_limit": HISTORY_LINES,
            "errors": errors,
        },
        status=400 if errors else 200,
    )
