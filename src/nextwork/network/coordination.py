"""Coordinator pages: the members of a territory, their CSV export and co-optation.

Coordinators see the members living under their grants (a department or a region), staff see
all; every read and every export is written to the audit log (counts, never personal data).
"""

from __future__ import annotations

import csv
import itertools
import uuid
from collections.abc import Iterable, Iterator

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from nextwork.common.errors import Conflict, DomainError
from nextwork.common.paging import page_links, query_string
from nextwork.network.models import Grant, Role
from nextwork.network.permissions import current_grants
from nextwork.network.selectors import (
    application_area,
    area_in_scope,
    current_roles,
    grant_scope_filter,
    member_rows,
    members_for_export,
)
from nextwork.network.services import relay_invite, substitute_promote
from nextwork.privacy.services import audit_record


def require_coordination(member) -> None:
    """Coordinators and staff only (what they then see is scoped by their grants)."""
    if not current_grants(member, [Role.COORDINATOR, Role.STAFF]).exists():
        raise PermissionDenied


@login_required
@require_safe
def gap_members(request: HttpRequest, code: str) -> HttpResponse:
    """CSV of the confirmed members of a seat, to invite one of them: scoped and audited."""
    require_coordination(request.user)
    try:
        locations = members_for_export(caller=request.user, area_code=code)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    # The seat itself, not a department that the code would also name.
    locations = locations.filter(
        member__confirmed_at__isnull=False, constituency__code=code.upper()
    )
    audit_record(
        actor=request.user,
        action="members.export",
        area_code=code.upper(),
        details={"count": locations.count(), "format": "csv", "purpose": "recruitment"},
    )
    return members_csv(locations, filename=f"membres-{code.upper()}.csv")


MEMBERS_PER_PAGE = 50
CONFIRMED_FILTERS = {"yes": False, "no": True}  # the value of member__confirmed_at__isnull
# Domain errors of these pages, in the words of the page (the API keeps the English message).
ERRORS = {
    "unknown_area": gettext_lazy(
        "« %(zone)s » n'est ni une circonscription (75-02), ni un département (75), "
        "ni une région (R11)."
    ),
    "outside": gettext_lazy(
        "%(zone)s n'est pas dans le territoire que vous coordonnez : "
        "vous ne pouvez pas en voir les membres."
    ),
    "seat_taken": gettext_lazy(
        "Cette circonscription a déjà un relais titulaire : invitez plutôt un suppléant."
    ),
    "not_confirmed": gettext_lazy(
        "Ce membre n'a pas encore confirmé son adresse électronique : il ne peut pas être invité."
    ),
    "already_holds": gettext_lazy("Ce membre exerce déjà ce rôle ici."),
    "already_pending": gettext_lazy(
        "Ce membre a déjà une candidature ou une invitation en attente ici."
    ),
}


def error_text(exc: DomainError, **values) -> str:
    text = ERRORS.get(exc.code)
    return str(text) % values if text is not None else exc.message


def _member_list(request: HttpRequest):
    """The members page's filters, read from the query, and the list they select.

    The list is ``members_for_export``, scoped by the caller's grants; a zone outside them is
    refused (NotFound) rather than shown empty.
    """
    zone = request.GET.get("zone", "").strip().upper()
    confirmed = request.GET.get("confirmed", "")
    if confirmed not in CONFIRMED_FILTERS:
        confirmed = ""
    area = area_in_scope(caller=request.user, code=zone) if zone else None
    locations = members_for_export(caller=request.user, area_code=zone or None)
    if confirmed:
        locations = locations.filter(member__confirmed_at__isnull=CONFIRMED_FILTERS[confirmed])
    return {"zone": zone, "confirmed": confirmed, "area": area}, locations


def _zone_not_found(request: HttpRequest, exc: DomainError) -> HttpResponse:
    """An unknown zone, or one outside the caller's grants: a 404 that says which, and nothing
    about the members there."""
    zone = request.GET.get("zone", "").strip().upper()
    return render(request, "404.html", {"message": error_text(exc, zone=zone)}, status=404)


def _linked(filters: dict) -> dict:
    """The filters that go into links (the resolved area is not one: the zone code is)."""
    return {k: v for k, v in filters.items() if k != "area"}


def _filter_query(filters: dict, **extra) -> str:
    return query_string(_linked(filters), **extra)


@login_required
@require_safe
def members(request: HttpRequest) -> HttpResponse:
    """Members living in the caller's territory (coordinators: their grants, staff: all),
    filtered by zone and confirmation, 50 a page; every read is written to the audit log."""
    require_coordination(request.user)
    try:
        filters, locations = _member_list(request)
    except DomainError as exc:
        return _zone_not_found(request, exc)
    page = Paginator(locations, MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    rows = member_rows(page.object_list)
    audit_record(
        actor=request.user,
        action="members.read",
        area_code=filters["zone"],
        details={
            "count": len(rows),
            "total": page.paginator.count,
            "page": page.number,
            "confirmed": filters["confirmed"] or "all",
        },
    )
    territory = [
        g.area for g in current_grants(request.user, [Role.COORDINATOR]).order_by("area__code")
    ]
    return render(
        request,
        "network/members.html",
        {
            "filters": filters,
            "page": page,
            "rows": rows,
            "territory": territory,
            "query": _filter_query(filters),
            **page_links(page, _linked(filters)),
        },
    )


@login_required
@require_safe
def members_export(request: HttpRequest) -> HttpResponse:
    """The members page's list as CSV, with the same filters; audited as an export."""
    require_coordination(request.user)
    try:
        filters, locations = _member_list(request)
    except DomainError as exc:
        return _zone_not_found(request, exc)
    audit_record(
        actor=request.user,
        action="members.export",
        area_code=filters["zone"],
        details={
            "count": locations.count(),
            "format": "csv",
            "confirmed": filters["confirmed"] or "all",
        },
    )
    return members_csv(locations, filename=f"membres-{filters['zone'] or 'territoire'}.csv")


class _Echo:
    """A file-like object whose write returns the line, for a streamed csv.writer."""

    def write(self, value: str) -> str:
        return value


# A spreadsheet runs a cell that starts like a formula: names come from the public sign-up.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def members_csv(locations, *, filename: str) -> StreamingHttpResponse:
    """The one members CSV of the site (a gap's members, the members page): email, names,
    constituency, confirmed, current roles. Streamed by chunks, so that staff exporting a whole
    national network hold no list in memory; the caller scopes ``locations`` and audits."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _csv_rows(locations)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv_rows(locations) -> Iterator[list[str]]:
    yield ["email", "first_name", "last_name", "constituency", "confirmed", "roles"]
    for chunk in _chunks(locations.iterator(chunk_size=2000), 2000):
        roles = current_roles(loc.member_id for loc in chunk)
        for loc in chunk:
            member = loc.member
            yield [
                _cell(member.email),
                _cell(member.first_name),
                _cell(member.last_name),
                loc.constituency.code if loc.constituency else "",
                "yes" if member.confirmed_at else "no",
                " ".join(
                    f"{g.role}:{g.area.code if g.area else 'national'}"
                    for g in roles.get(member.pk, [])
                ),
            ]


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


@login_required
@require_POST
def invite(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Co-optation from the members page: the member must live in the caller's territory."""
    require_coordination(request.user)
    back = reverse("network:members")
    query = _filter_query({k: request.POST.get(k, "") for k in ("zone", "confirmed", "page")})
    if query:
        back += "?" + query
    location = members_for_export(caller=request.user).filter(member__public_id=public_id).first()
    if location is None:
        raise Http404
    role = request.POST.get("role", "")
    try:
        area = application_area(location.constituency, role)
        relay_invite(member=location.member, area=area, role=role, invited_by=request.user)
    except DomainError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request,
            _("%(name)s est invité·e (%(role)s, %(area)s) et en est informé·e par courriel.")
            % {"name": location.member.full_name, "role": Role(role).label, "area": area.code},
        )
    return redirect(back)


@login_required
@require_POST
def promote(request: HttpRequest, pk: int) -> HttpResponse:
    """A substitute of a seat in the caller's territory becomes its titular relay."""
    require_coordination(request.user)
    back = reverse("network:members")
    query = _filter_query({k: request.POST.get(k, "") for k in ("zone", "confirmed", "page")})
    if query:
        back += "?" + query
    grant = (
        Grant.objects.filter(pk=pk, role=Role.SUBSTITUTE, valid_to__isnull=True)
        .filter(grant_scope_filter(request.user, [Role.COORDINATOR]))
        .select_related("area", "member")
        .first()
    )
    if grant is None:
        raise Http404
    try:
        substitute_promote(grant=grant, promoted_by=request.user)
    except Conflict:
        messages.error(
            request,
            _(
                "%(area)s a déjà un relais titulaire : il doit quitter son rôle avant que "
                "le suppléant ne le remplace."
            )
            % {"area": grant.area.code},
        )
    except DomainError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request,
            _("%(name)s est désormais relais titulaire de %(area)s.")
            % {"name": grant.member.full_name, "area": grant.area.code},
        )
    return redirect(back)
