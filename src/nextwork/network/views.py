"""Public network pages: the coverage map, sign-up and its confirmation."""

from __future__ import annotations

from collections import Counter

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from nextwork.common import ratelimit
from nextwork.common.errors import DomainError
from nextwork.network.charts import coverage_curve_svg
from nextwork.network.coordination import require_coordination
from nextwork.network.models import ConsentSource, Grant, MemberLocation, Role
from nextwork.network.permissions import current_grants
from nextwork.network.selectors import (
    STATUSES,
    application_area,
    applications_to_decide,
    coverage,
    coverage_curve,
    current_location,
    invitations_for,
    member_space,
    recruitment_gaps,
    seat_statuses,
)
from nextwork.network.services import (
    application_decide,
    grant_end,
    invitation_answer,
    relay_apply,
)
from nextwork.network.signup import (
    AmbiguousLocation,
    Location,
    current_signup_text,
    member_confirm,
    member_move,
    member_register,
    member_update_profile,
    render_consent,
    resolve_location,
)
from nextwork.territories import lookup, svg
from nextwork.territories.selectors import constituency_sort_key


@require_safe
def coverage_map(request: HttpRequest) -> HttpResponse:
    engine = lookup.get_engine()
    statuses = seat_statuses()
    groups: dict[str, dict] = {}
    for code in sorted(engine.seats, key=constituency_sort_key):
        seat = engine.seats[code]
        dept = seat["department"] or {"code": code.rsplit("-", 1)[0], "name": seat["name"]}
        group = groups.setdefault(dept["code"], {"department": dept, "seats": [], "covered": 0})
        group["seats"].append({**seat, "coverage": statuses[code]})
        group["covered"] += statuses[code] == "covered"
    counts = Counter(statuses.values())
    return render(
        request,
        "network/map.html",
        {
            "map_svg": svg.national_map(statuses),
            "groups": list(groups.values()),
            "counts": [(status, counts.get(status, 0)) for status in STATUSES],
            "covered": counts.get("covered", 0),
            "total": len(statuses),
            "percent": round(100 * counts.get("covered", 0) / len(statuses)) if statuses else 0,
        },
    )


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    text = current_signup_text()
    context = {
        "consent": render_consent(text),
        "consent_version": text.version,
        "countries": sorted(lookup.get_engine().countries.items(), key=lambda kv: kv[1][0]),
    }
    if request.method == "GET":
        return render(request, "network/signup.html", {**context, "form": {}})
    form = {k: request.POST.get(k, "").strip() for k in SIGNUP_FIELDS}
    errors: dict[str, str] = {}
    candidates = []
    if request.POST.get("consent") != "yes":
        errors["consent"] = _("Votre accord est nécessaire pour vous inscrire.")
    try:
        version = int(request.POST.get("consent_version", ""))
    except ValueError:
        version = -1
    if not errors:
        try:
            ratelimit.check(
                "signup",
                request.META.get("REMOTE_ADDR", ""),
                limit=settings.NEXTWORK_SIGNUP_RATE,
                window=3600,
            )
            member_register(
                email=form["email"],
                first_name=form["first_name"],
                last_name=form["last_name"],
                phone=form["phone"],
                location=_location(form),
                consent_version=version,
                source=ConsentSource.SITE,
                honeypot=form["website"],
                sms_opt_in=form["sms_opt_in"] == "on",
            )
        except DomainError as exc:
            candidates = _form_error(exc, errors)
    if errors:
        return render(
            request,
            "network/signup.html",
            {**context, "form": form, "errors": errors, "candidates": candidates},
            status=400,
        )
    return redirect("network:signup_sent")


SIGNUP_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "postcode",
    "address",
    "country",
    "constituency",
    "website",
    "sms_opt_in",
)


@require_safe
def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "network/signup_sent.html")


@require_safe
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        member = member_confirm(token=token)
    except DomainError as exc:
        return render(request, "network/confirm.html", {"error": exc.message}, status=400)
    return render(request, "network/confirm.html", {"member": member})


@login_required
@require_safe
def space(request: HttpRequest) -> HttpResponse:
    context = member_space(request.user)
    context["to_decide"] = list(applications_to_decide(request.user))
    context["coordinates"] = current_grants(request.user, [Role.COORDINATOR, Role.STAFF]).exists()
    # Relays, coordinators and staff keep their territory's public channels (presence audit,
    # publishing).
    context["speaks_for_an_area"] = current_grants(
        request.user, [Role.RELAY, Role.SENATE_RELAY, Role.COORDINATOR, Role.STAFF]
    ).exists()
    return render(request, "network/space.html", context)


APPLY_ERRORS = {
    "seat_to_choose": gettext_lazy(
        "Votre code postal couvre plusieurs circonscriptions : choisissez la vôtre dans votre "
        "profil avant de proposer votre candidature."
    ),
}


@login_required
@require_POST
def apply(request: HttpRequest) -> HttpResponse:
    location = current_location(request.user)
    if location is None:
        messages.error(request, _("Indiquez d'abord où vous habitez."))
        return redirect("network:space")
    role = request.POST.get("role", Role.RELAY)
    try:
        relay_apply(
            member=request.user,
            # A senate relay applies for the department (collectivity, French abroad).
            area=application_area(location.constituency, role),
            role=role,
            motivation=request.POST.get("motivation", "").strip(),
        )
    except DomainError as exc:
        messages.error(request, APPLY_ERRORS.get(exc.code, exc.message))
    else:
        messages.success(
            request,
            _(
                "Votre candidature est enregistrée : le coordinateur de "
                "votre département va l'examiner."
            ),
        )
    return redirect("network:space")


@login_required
@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    # Only applications the caller may decide on are found at all.
    application = applications_to_decide(request.user).filter(pk=pk).first()
    if application is None:
        raise Http404
    try:
        application_decide(
            application=application,
            decided_by=request.user,
            approve=request.POST.get("decision") == "approve",
            message=request.POST.get("message", "").strip(),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Décision enregistrée ; la personne en est informée."))
    return redirect("network:space")


@login_required
@require_POST
def step_down(request: HttpRequest, pk: int) -> HttpResponse:
    grant = Grant.objects.filter(pk=pk, member=request.user, valid_to__isnull=True).first()
    if grant is None:
        raise Http404
    grant_end(grant=grant, ended_by=request.user)
    messages.success(request, _("Vous n'exercez plus ce rôle. Merci pour votre engagement !"))
    return redirect("network:space")


@login_required
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    """Coverage numbers, curve, map and gaps, for coordinators (their territory) and staff."""
    require_coordination(request.user)
    figures = coverage()
    statuses = seat_statuses()
    return render(
        request,
        "network/dashboard.html",
        {
            "figures": figures,
            "percent": round(100 * figures["ratio"]),
            "curve": coverage_curve_svg(coverage_curve()),
            "map_svg": svg.national_map(statuses),
            "gaps": recruitment_gaps(caller=request.user, limit=25),
        },
    )


# Why an invitation cannot be accepted, in the words of the page (the API keeps the English).
ANSWER_ERRORS = {
    "seat_taken": gettext_lazy(
        "Ce siège a trouvé un relais titulaire depuis votre invitation : déclinez-la, "
        "ou proposez votre candidature comme suppléant."
    ),
    "inviter_gone": gettext_lazy(
        "La personne qui vous a invité·e ne coordonne plus ce territoire : cette invitation ne "
        "peut plus être acceptée. Déclinez-la, ou proposez vous-même votre candidature."
    ),
}


@login_required
@require_POST
def answer_invitation(request: HttpRequest, pk: int) -> HttpResponse:
    """The invited member accepts or declines; only their own pending invitations are found."""
    invitation = invitations_for(request.user).filter(pk=pk).first()
    if invitation is None:
        raise Http404
    answer = request.POST.get("answer")
    if answer not in ("accept", "decline"):
        messages.error(request, _("Choisissez d'accepter ou de décliner l'invitation."))
        return redirect("network:space")
    try:
        invitation_answer(application=invitation, member=request.user, accept=answer == "accept")
    except DomainError as exc:
        text = ANSWER_ERRORS.get(exc.code)
        messages.error(request, str(text) if text is not None else exc.message)
    else:
        messages.success(
            request,
            _("Bienvenue dans le réseau des relais ! Votre nouveau rôle est actif.")
            if answer == "accept"
            else _("Invitation déclinée ; la personne qui vous a invité·e en est informée."),
        )
    return redirect("network:space")


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    member = request.user
    location = current_location(member)
    context = {
        "location": location,
        "countries": sorted(lookup.get_engine().countries.items(), key=lambda kv: kv[1][0]),
        "history": MemberLocation.objects.filter(member=member)
        .select_related("constituency", "department")
        .order_by("-valid_from"),
    }
    if request.method == "GET":
        form, errors, candidates = {}, {}, []
        if location is not None and location.constituency is None and location.postcode:
            # Placed by a postcode that spans several seats (an import): offer them at once.
            form = {"postcode": location.postcode}
            try:
                resolve_location(Location(postcode=location.postcode))
            except DomainError as exc:
                candidates = _form_error(exc, errors)
        return render(
            request,
            "network/profile.html",
            {**context, "form": form, "errors": errors, "candidates": candidates},
        )
    form = {k: request.POST.get(k, "").strip() for k in PROFILE_FIELDS}
    errors: dict[str, str] = {}
    candidates = []
    try:
        with transaction.atomic():
            member_update_profile(
                member=member,
                first_name=form["first_name"],
                last_name=form["last_name"],
                phone=form["phone"],
                public_relay=request.POST.get("public_relay") == "on",
            )
            if form["postcode"] or form["address"] or form["country"]:
                member_move(
                    member=member,
                    location=_location(form),
                )
    except DomainError as exc:
        candidates = _form_error(exc, errors)
    if errors:
        member.refresh_from_db()
        return render(
            request,
            "network/profile.html",
            {**context, "form": form, "errors": errors, "candidates": candidates},
            status=400,
        )
    messages.success(request, _("Votre profil est à jour."))
    return redirect("network:space")


PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "phone",
    "postcode",
    "address",
    "country",
    "constituency",
)


def _location(form: dict) -> Location:
    """The place typed in a sign-up or profile form (and the seat chosen when it is ambiguous)."""
    return Location(
        postcode=form["postcode"] or None,
        address=form["address"] or None,
        country=form["country"] or None,
        constituency=form["constituency"] or None,
    )


def _form_error(exc: DomainError, errors: dict) -> list[dict]:
    """Put a domain error under its field; an ambiguous place also returns the candidates."""
    if isinstance(exc, AmbiguousLocation):
        errors["constituency"] = _(
            "Ce lieu couvre plusieurs circonscriptions : choisissez la vôtre."
        )
        return exc.candidates
    errors[exc.field or "form"] = exc.message
    return []
