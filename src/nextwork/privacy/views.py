"""The audit log viewer of staff (``/espace/journal/``): the events, newest first, filtered by
actor, action and area, with their place in the hash chain, and a banner when ``verify`` finds
the chain broken. Others get a 403, visitors the login page; every viewing is itself audited.

And the members' rights: "Mes données" (``/espace/donnees/``: the zip of one's data, the
erasure of one's account) and the staff's erasure of a member."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe

from nextwork.common.errors import DomainError, InvalidInput
from nextwork.common.messages import sentence
from nextwork.common.paging import page_links
from nextwork.network.permissions import is_staff
from nextwork.privacy import chain, erasure, export, selectors
from nextwork.privacy.models import ErasureReason
from nextwork.privacy.services import audit_record

PER_PAGE = 50


@login_required
@require_safe
def journal(request: HttpRequest) -> HttpResponse:
    if not is_staff(request.user):
        raise PermissionDenied
    filters = {
        "actor": request.GET.get("actor", "").strip()[:254],
        "action": request.GET.get("action", "").strip()[:60],
        "area": request.GET.get("area", "").strip().upper()[:20],
    }
    actor_id = selectors.actor_lookup(filters["actor"]) if filters["actor"] else None
    unknown_actor = bool(filters["actor"]) and actor_id is None
    events = selectors.audit_events(
        actor_id=actor_id, action=filters["action"], area_prefix=filters["area"]
    )
    if unknown_actor:
        events = events.none()
    page = Paginator(events, PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)  # read before this viewing is itself recorded
    # The filters by id only: an email typed by staff is not written to the log.
    audit_record(
        actor=request.user,
        action="audit.view",
        area_code=filters["area"],
        details={"actor": actor_id, "action": filters["action"], "page": page.number},
    )
    return render(
        request,
        "privacy/journal.html",
        {
            "filters": filters,
            "unknown_actor": unknown_actor,
            "actions": selectors.audit_actions(),
            "page": page,
            "report": chain.verify_for_viewer(),
            **page_links(page, filters),
        },
    )


# -- members' rights: their data, their erasure (``/espace/donnees/``) -------------------------

ERASURE_SENTENCES = [
    ("confirmation", r"not your password", _("Ce n'est pas votre mot de passe.")),
    ("confirmation", r"type your password", _("Tapez votre mot de passe pour confirmer.")),
    ("confirmation", r"«", _("Tapez « effacer mon compte » pour confirmer.")),
    ("reason", r"Unknown reason", _("Choisissez un motif dans la liste.")),
    ("member", r"already erased", _("Ce compte n'existe plus : il a déjà été effacé.")),
    (None, r"Only the member", _("Seule l'équipe nationale peut effacer le compte d'un membre.")),
]


def _my_data_page(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    return render(
        request,
        "privacy/my_data.html",
        {
            "needs_password": erasure.needs_password(request.user),
            "phrase": erasure.CONFIRMATION_PHRASE,
            "error": error,
        },
        status=status,
    )


@login_required
@require_safe
def my_data(request: HttpRequest) -> HttpResponse:
    return _my_data_page(request)


@login_required
@require_POST
def my_data_export(request: HttpRequest) -> HttpResponse:
    content = export.member_export(request.user)
    response = HttpResponse(content, content_type="application/zip")
    stamp = timezone.now().strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="mes-donnees-{stamp}.zip"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def my_erasure(request: HttpRequest) -> HttpResponse:
    member = request.user
    try:
        erasure.confirm_self_erasure(
            member=member, confirmation=request.POST.get("confirmation", "")[:200]
        )
        erasure.member_erase(member=member, by=member, reason=ErasureReason.SELF)
    except DomainError as exc:
        return _my_data_page(request, error=sentence(exc, ERASURE_SENTENCES), status=400)
    logout(request)
    return redirect("privacy:goodbye")


@require_safe
def goodbye(request: HttpRequest) -> HttpResponse:
    return render(request, "privacy/goodbye.html")


@login_required
def staff_erasure(request: HttpRequest, public_id) -> HttpResponse:
    """Staff erase a member, with a reason, after a confirmation page naming them."""
    if not is_staff(request.user):
        raise PermissionDenied
    member = get_user_model().objects.filter(public_id=public_id).first()
    if member is None:
        raise Http404
    error = ""
    if request.method == "POST":
        reason = request.POST.get("reason", "")[:20]
        try:
            if request.POST.get("confirm") != "yes":
                raise InvalidInput("Tick the box to confirm.", field="confirm")
            erasure.member_erase(member=member, by=request.user, reason=reason)
        except DomainError as exc:
            error = (
                _("Cochez la case pour confirmer.")
                if exc.field == "confirm"
                else sentence(exc, ERASURE_SENTENCES)
            )
        else:
            messages.success(request, _("Le compte a été effacé."))
            return redirect("network:members")
    return render(
        request,
        "privacy/staff_erasure.html",
        {
            "member": member,
            "reasons": [(r.value, r.label) for r in ErasureReason if r in erasure.STAFF_REASONS],
            "error": error,
        },
        status=400 if error else 200,
    )
