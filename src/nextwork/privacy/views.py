"""The audit log viewer of staff (``/espace/journal/``): the events, newest first, filtered by
actor, action and area, with their place in the hash chain, and a banner when ``verify`` finds
the chain broken. Others get a 403, visitors the login page; every viewing is itself audited."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_GET

from nextwork.network.permissions import is_staff
from nextwork.privacy import chain, selectors
from nextwork.privacy.services import audit_record

PER_PAGE = 50


def _query(filters: dict, **extra) -> str:
    query = QueryDict(mutable=True)
    for key, value in {**filters, **extra}.items():
        if value not in ("", None):
            query[key] = value
    return query.urlencode()


@login_required
@require_GET
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
            "report": chain.verify(),
            "previous_query": _query(filters, page=page.previous_page_number())
            if page.has_previous()
            else None,
            "next_query": _query(filters, page=page.next_page_number())
            if page.has_next()
            else None,
        },
    )
