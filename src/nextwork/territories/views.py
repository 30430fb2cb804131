"""Public pages: home with the 'trouver ma circonscription' form, results, seat page, map."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from nextwork.common.errors import DomainError, NotFound
from nextwork.territories import lookup, selectors, svg
from nextwork.territories.models import Chamber, Mandate


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    engine = lookup.get_engine()
    seats = engine.seats.values()
    return render(
        request,
        "territories/home.html",
        {
            "countries": sorted(engine.countries.items(), key=lambda kv: kv[1][0]),
            "seat_count": len(engine.seats),
            "vacant_count": sum(1 for s in seats if s["vacant"]),
            "senator_count": Mandate.objects.filter(
                boundary_set_id=engine.boundary_set_id, chamber=Chamber.SENATE, end__isnull=True
            ).count(),
        },
    )


# What people read on the page; the API keeps the precise English messages for developers.
FRIENDLY_ERRORS = {
    ("invalid", "postcode"): _(
        "Ce code postal n'est pas valide : il compte cinq chiffres, par exemple 48000."
    ),
    ("not_found", "postcode"): _(
        "Ce code postal n'existe pas. Vérifiez-le, ou saisissez votre adresse."
    ),
    ("invalid", "q"): _("Nous n'avons pas reconnu cette adresse : ajoutez le code postal."),
    ("not_found", "country"): _(
        "Ce pays n'est rattaché à aucune circonscription des Français "
        "de l'étranger dans nos données."
    ),
    ("invalid", "country"): _("Pour la France, saisissez un code postal ou une adresse."),
    ("not_found", "commune"): _("Cette commune est inconnue."),
}


@require_safe
def find(request: HttpRequest) -> HttpResponse:
    params = {k: request.GET.get(k, "").strip() for k in ("postcode", "q", "country", "commune")}
    query = {k: v for k, v in params.items() if v}
    error = None
    result = None
    if not query:
        error = _("Saisissez un code postal, une adresse, ou choisissez un pays.")
    else:
        # One field at a time, in order of precision, so a half-filled form still answers.
        name = next(k for k in ("q", "postcode", "commune", "country") if k in query)
        try:
            result = lookup.locate(**{name: query[name]})
        except DomainError as exc:
            error = FRIENDLY_ERRORS.get((exc.code, exc.field), exc.message)
    if result and len(result["candidates"]) == 1 and not result["ambiguous"]:
        code = result["candidates"][0]["code"]
        return redirect(reverse("territories:constituency", args=[code]))
    status = 200 if result else 400
    return render(
        request,
        "territories/find.html",
        {"result": result, "error": error, "query": params},
        status=status,
    )


@require_safe
def constituency(request: HttpRequest, code: str) -> HttpResponse:
    try:
        seat = selectors.constituency_detail(code)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return render(
        request,
        "territories/constituency.html",
        {"seat": seat, "outline": svg.constituency_outline(code)},
    )
