"""Mobilisation pages: the public election calendar, the member's voting situation, their
proxies (asking, offering, the matches and their steps), and the coordinators' matching page.

Thin: each view reads its form, calls one service or selector, renders. Every POST needs a
login and its CSRF token; a refusal is shown in French next to the field at fault (``french``)
with what was typed kept; a success redirects (so that reloading does not post twice).
"""

from __future__ import annotations

import datetime
import re

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from nextwork.common import messages
from nextwork.common.errors import DomainError, InvalidInput
from nextwork.mobilisation import notices, selectors, services
from nextwork.mobilisation.models import (
    CURRENT,
    ProxyMatch,
    Registered,
    VotingSituation,
)

CHECK_REGISTRATION = notices.CHECK_REGISTRATION
OFFICIAL_REQUEST = notices.OFFICIAL_REQUEST
OFFICIAL_HELP = notices.OFFICIAL_HELP

# -- the services' errors in French -------------------------------------------------------------

# (field or None for any, regular expression on the English message, French text).
FRENCH = [
    (None, r"NUL character", gettext_lazy(
        "Le texte contient un caractère invalide (NUL) : retirez-le.")),
    (None, r"is (?P<n>[\d,]+) characters long; at most (?P<max>[\d,]+)", gettext_lazy(
        "Ce texte compte %(n)s caractères : %(max)s au plus sont acceptés.")),
    (None, r"^Sign in with a confirmed account", gettext_lazy(
        "Confirmez d'abord votre adresse électronique (avec le lien reçu par courriel).")),
    ("consent", r"^Tick the box", gettext_lazy(
        "Cochez la case pour accepter que nous conservions ces informations.")),
    ("consent", r"", gettext_lazy(
        "Indiquez d'abord votre situation électorale et acceptez que nous la conservions.")),
    ("registered", r"", gettext_lazy("Choisissez une des réponses proposées.")),
    (None, r"^Say in which commune", gettext_lazy("Indiquez la commune où vous votez.")),
    (None, r"^(?P<election>.+) is not held in (?P<place>.+)\.$", gettext_lazy(
        "« %(election)s » n'a pas lieu à %(place)s.")),
    (None, r"^Give the commune's INSEE code|^No area", gettext_lazy(
        "Commune introuvable : indiquez son code postal (75011) ou son code INSEE (75056).")),
    ("communes", r"^Name at least one", gettext_lazy(
        "Indiquez au moins une commune où vous pouvez aller voter.")),
    ("communes", r"^At most 20", gettext_lazy("20 communes au plus.")),
    ("communes", r"^(?P<code>\d{5}) names (?P<names>.+)\.$", gettext_lazy(
        "%(code)s désigne plusieurs communes (%(names)s) : indiquez le code INSEE de celle où "
        "vous pouvez aller, entre parenthèses.")),
    ("round", r"^This round is over", gettext_lazy("Ce tour a déjà eu lieu.")),
    ("round", r"until (?P<day>\d{4}-\d\d-\d\d)", gettext_lazy(
        "Les procurations de ce tour s'organisent ici jusqu'au %(day)s : adressez-vous "
        "maintenant directement à votre mairie, à un commissariat ou à une gendarmerie.")),
    ("round", r"withdraw the offer first", gettext_lazy(
        "Vous avez proposé de porter une procuration à ce tour : retirez d'abord votre offre.")),
    ("round", r"asked for a proxy on this round already", gettext_lazy(
        "Vous avez déjà demandé une procuration pour ce tour.")),
    ("round", r"cannot carry one", gettext_lazy(
        "Vous avez demandé une procuration pour ce tour : vous ne pouvez pas en porter une.")),
    ("round", r"offered already", gettext_lazy(
        "Vous proposez déjà de porter une procuration à ce tour.")),
    ("round", r"you started is under way", gettext_lazy(
        "Un appariement de ce tour que vous avez lancé est en cours : son bilan s'affiche ici "
        "quand il est fini.")),
    ("round", r"", gettext_lazy("Ce tour n'est pas (ou plus) ouvert aux procurations.")),
    ("request", r"has its holder already", gettext_lazy("Cette demande a déjà un mandataire.")),
    ("request", r"^This request is", gettext_lazy("Cette demande n'attend plus de mandataire.")),
    ("request", r"", gettext_lazy("Cette demande n'existe pas (ou plus).")),
    ("offer", r"only one \(art\. L73\)", gettext_lazy(
        "Ce mandataire porte déjà une procuration établie en France à ce tour : le code "
        "électoral n'en permet qu'une (art. L73).")),
    ("offer", r"two proxies", gettext_lazy(
        "Ce mandataire porte déjà deux procurations à ce tour, le maximum que permet le code "
        "électoral (art. L73).")),
    ("offer", r"another round", gettext_lazy("Cette offre est pour un autre tour.")),
    ("offer", r"own proxy", gettext_lazy("Personne ne peut porter sa propre procuration.")),
    ("offer", r"", gettext_lazy("Cette offre n'existe pas (ou plus).")),
    ("match", r"was cancelled", gettext_lazy("Cette mise en relation a été annulée.")),
    ("match", r"is established", gettext_lazy(
        "Cette procuration est établie : la personne qui l'a donnée la résilie sur "
        "maprocuration.gouv.fr (ou au commissariat), puis annule sa demande ici.")),
    ("match", r"vote took place", gettext_lazy("Le vote a eu lieu : rien à annuler.")),
    ("match", r"declined this request", gettext_lazy(
        "Cette mise en relation a déjà été refusée : proposez un autre mandataire.")),
    ("match", r"^Both sides accept", gettext_lazy(
        "La procuration s'établit une fois que vous avez accepté tous les deux.")),
    ("match", r"must be established", gettext_lazy(
        "La procuration doit d'abord être établie.")),
    ("match", r"not taken place", gettext_lazy(
        "Vous pourrez le dire le jour du vote, une fois que vous aurez voté.")),
    ("match", r"", gettext_lazy("Cette mise en relation n'existe pas (ou plus).")),
    (None, r"^The person giving the proxy", gettext_lazy(
        "C'est la personne qui donne procuration qui indique qu'elle est établie.")),
    (None, r"^The holder says", gettext_lazy("C'est le mandataire qui indique qu'il a voté.")),
    (None, r"grant lets you match|^Only coordinators", gettext_lazy(
        "Aucun de vos rôles ne vous permet d'organiser les procurations ici.")),
    ("radius_km", r"", gettext_lazy("Indiquez un rayon de 0 à 200 km.")),
]  # fmt: skip


def french(exc: DomainError) -> str:
    """The French sentence for a service's refusal; an unlisted one as the service wrote it."""
    return messages.sentence(exc, FRENCH, _readable)


def _readable(values: dict) -> dict:
    if "names" in values:
        values["names"] = values["names"].replace(" or ", ", ")
    if "day" in values:
        values["day"] = datetime.date.fromisoformat(values["day"]).strftime("%d/%m/%Y")
    return values


# -- places: an INSEE code or a postcode -------------------------------------------------------


def _place_codes(raw: str) -> list[tuple[str, str]]:
    """The communes (code, name) a typed code may mean: the commune of that INSEE code, and
    those of that postcode (13001 is Aix-en-Provence's INSEE code and Marseille 1er's
    postcode)."""
    from nextwork.territories.lookup import get_engine

    code = raw.strip().upper()
    found: dict[str, str] = {}
    try:
        found[code] = services.commune(code).name
    except DomainError:
        pass
    engine = get_engine()
    for insee in engine.postcodes.get(code, []):
        try:
            found.setdefault(insee, services.commune(insee).name)
        except DomainError:
            continue
    return list(found.items())


class Ambiguous(InvalidInput):
    def __init__(self, field: str, raw: str, choices: list[tuple[str, str]]):
        super().__init__(f"{raw} names several communes.", field=field)
        self.choices = choices


def _commune_code(raw: str, *, field: str = "commune", chosen: str = "") -> str:
    """The INSEE code to give the services for what the member typed: ``chosen`` when they
    picked among several communes, else the one commune the code means."""
    if chosen:
        return chosen
    raw = raw.strip()
    if not raw:
        return ""
    places = _place_codes(raw)
    if len(places) == 1:
        return places[0][0]
    if len(places) > 1:
        raise Ambiguous(field, raw, places)
    raise InvalidInput(f"No area {raw!r} in the registry.", field=field)


def _commune_codes(raw: str) -> list[str]:
    parts = [p for p in re.split(r"[\s,;]+", raw) if p]
    if len(parts) > 20:
        raise InvalidInput("At most 20 communes per offer.", field="communes")
    codes = []
    for part in parts:
        places = _place_codes(part)
        if not places:
            raise InvalidInput(f"No area {part!r} in the registry.", field="communes")
        if len(places) > 1 and places[0][0] == part.upper() and part.isdigit():
            # Both an INSEE code and another commune's postcode (13001): ask which.
            raise InvalidInput(
                f"{part} names {' or '.join(f'{n} ({c})' for c, n in places)}.",
                field="communes",
            )
        # A postcode covering several communes: the member can go to each of them.
        codes.extend(code for code, _name in places)
    return codes


def _error(errors: dict, exc: DomainError) -> None:
    errors[exc.field or "form"] = (
        french(exc)
        if not isinstance(exc, Ambiguous)
        else _("Ce code désigne plusieurs communes : choisissez la vôtre.")
    )
    if isinstance(exc, Ambiguous):
        errors["choices"] = exc.choices


# -- the election calendar (public) ------------------------------------------------------------


def _official() -> dict:
    return {
        "check_registration": CHECK_REGISTRATION,
        "official_request": OFFICIAL_REQUEST,
        "official_help": OFFICIAL_HELP,
    }


@require_safe
def election_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    elections = list(selectors.elections_public())
    coming = [e for e in elections if any(r.date >= today for r in e.rounds.all())]
    past = [e for e in elections if e not in coming]
    return render(
        request,
        "mobilisation/election_list.html",
        {"coming": coming, "past": past[::-1], "today": today, **_official()},
    )


@require_safe
def election_detail(request: HttpRequest, slug: str) -> HttpResponse:
    election = selectors.elections_public().filter(slug=slug).first()
    if election is None:
        raise Http404
    return render(
        request,
        "mobilisation/election_detail.html",
        {"election": election, "today": timezone.localdate(), **_official()},
    )


# -- the voting situation (member) -------------------------------------------------------------


def _situation_of(member) -> VotingSituation | None:
    return selectors.situation_of(member)


def _consent_body() -> str:
    from nextwork.messaging.texts import consent_text

    return consent_text(services.CONSENT_KIND).body.replace(
        "{organisation}", settings.NEXTWORK_ORGANISATION
    )


@require_http_methods(["GET", "POST"])
@login_required
def situation(request: HttpRequest) -> HttpResponse:
    current = _situation_of(request.user)
    values = {
        "registered": current.registered if current else "",
        "commune": current.commune.code if current and current.commune else "",
        "polling_station": current.polling_station if current else "",
        "consent": False,
    }
    errors: dict = {}
    if request.method == "POST":
        values = {
            "registered": request.POST.get("registered", ""),
            "commune": request.POST.get("commune", "").strip()[:20],
            "polling_station": request.POST.get("polling_station", ""),
            "consent": request.POST.get("consent") == "yes",
        }
        try:
            code = _commune_code(values["commune"], chosen=request.POST.get("commune_choice", ""))
            services.situation_set(
                member=request.user,
                consent=values["consent"],
                registered=values["registered"],
                commune_code=code,
                polling_station=values["polling_station"],
            )
        except DomainError as exc:
            _error(errors, exc)
        else:
            flash.success(request, _("Votre situation électorale est enregistrée."))
            return redirect("mobilisation:situation")
    return render(
        request,
        "mobilisation/situation.html",
        {
            "situation": current,
            "values": values,
            "errors": errors,
            "registered_choices": Registered.choices,
            "consent_body": _consent_body(),
            **_official(),
        },
        status=400 if errors else 200,
    )


@require_http_methods(["GET", "POST"])
@login_required
def situation_withdraw(request: HttpRequest) -> HttpResponse:
    """A confirmation step, then the consent withdrawn and everything it covered erased."""
    if request.method == "POST":
        cancelled = services.situation_withdraw(member=request.user)
        flash.success(
            request,
            _("Votre accord est retiré et votre situation électorale effacée.")
            + (
                " "
                + _(
                    "Vos procurations en cours sont annulées ; les personnes concernées sont "
                    "prévenues."
                )
                if cancelled
                else ""
            ),
        )
        return redirect("mobilisation:situation")
    return render(
        request,
        "mobilisation/situation_withdraw.html",
        {
            "situation": _situation_of(request.user),
            "requests": selectors.requests_of(request.user).count(),
            "offers": selectors.offers_of(request.user).count(),
        },
    )


# -- proxies (member) --------------------------------------------------------------------------

MATCH_ACTIONS = {"accept", "decline", "declared", "voted"}


def _proxies_context(member, posted: dict | None = None) -> dict:
    """Each open round with the member's request, offer and the forms; ``posted`` carries the
    form that was refused: {"round": id, "form": "request"|"offer", "values", "errors"}."""
    situation_now = _situation_of(member)
    my_requests = {r.round_id: r for r in selectors.requests_of(member)}
    my_offers = {o.round_id: o for o in selectors.offers_of(member)}
    matches = [
        {"view": selectors.match_view(m, member), "match": m} for m in selectors.matches_of(member)
    ]
    home = situation_now.commune.code if situation_now and situation_now.commune else ""
    rounds = []
    for the_round in selectors.open_rounds():
        row = {
            "round": the_round,
            "request": my_requests.get(the_round.pk),
            "offer": my_offers.get(the_round.pk),
            "request_form": {"values": {"commune": home, "abroad": False}, "errors": {}},
            "offer_form": {"values": {"communes": home}, "errors": {}},
            "matches": [m for m in matches if m["match"].round_id == the_round.pk],
        }
        if posted and posted.get("round") == the_round.pk and posted.get("form") in (
            "request", "offer"
        ):  # fmt: skip
            row[f"{posted['form']}_form"] = {
                "values": posted["values"], "errors": posted["errors"], "open": True,
            }  # fmt: skip
            if row["request"] or row["offer"]:  # the forms are not shown: say it above
                row["refused"] = [v for k, v in posted["errors"].items() if k != "choices"]
        rounds.append(row)
    return {
        "situation": situation_now,
        "rounds": rounds,
        "other_matches": [
            m for m in matches if m["match"].round_id not in {r["round"].pk for r in rounds}
        ],
        "posted": posted or {},
        "coordinates": selectors.coordinates_anything(member),
        "today": timezone.localdate(),
        **_official(),
    }


def _int(raw: str | None) -> int:
    # ASCII digits only: str.isdigit() is true for "²", which int() refuses.
    return int(raw) if raw and re.fullmatch(r"[0-9]{1,11}", raw) else 0


@require_http_methods(["GET", "POST"])
@login_required
def proxies(request: HttpRequest) -> HttpResponse:
    posted = None
    if request.method == "POST":
        posted = _proxies_post(request)
        if posted is None:
            return redirect(reverse("mobilisation:proxies") + request.POST.get("anchor", ""))
    return render(
        request,
        "mobilisation/proxies.html",
        _proxies_context(request.user, posted),
        status=400 if posted else 200,
    )


def _proxies_post(request: HttpRequest) -> dict | None:
    """One action of the proxies page; None when done, else what to show again."""
    action = request.POST.get("action", "")
    round_id = _int(request.POST.get("round"))
    member = request.user
    errors: dict = {}
    values: dict = {}
    try:
        if action == "request":
            values = {
                "commune": request.POST.get("commune", "").strip()[:20],
                "abroad": request.POST.get("established_abroad") == "yes",
            }
            services.request_create(
                member=member, round_id=round_id,
                commune_code=_commune_code(values["commune"],
                                           chosen=request.POST.get("commune_choice", "")),
                established_abroad=values["abroad"],
            )  # fmt: skip
            flash.success(request, _("Votre demande est enregistrée : nous vous écrivons dès "
                                     "qu'un mandataire vous est proposé."))  # fmt: skip
        elif action == "offer":
            values = {"communes": request.POST.get("communes", "")[:400]}
            services.offer_create(
                member=member, round_id=round_id, commune_codes=_commune_codes(values["communes"])
            )
            flash.success(request, _("Merci ! Votre offre est enregistrée : nous vous écrivons "
                                     "dès qu'une personne vous est proposée."))  # fmt: skip
        elif action == "cancel":
            services.request_cancel(request_id=_int(request.POST.get("request")), member=member)
            flash.success(request, _("Votre demande est annulée."))
        elif action == "withdraw":
            services.offer_withdraw(offer_id=_int(request.POST.get("offer")), member=member)
            flash.success(request, _("Votre offre est retirée."))
        elif action in MATCH_ACTIONS:
            match_id = _int(request.POST.get("match"))
            if action == "accept":
                services.match_accept(match_id=match_id, member=member)
                flash.success(request, _("Vous avez accepté."))
            elif action == "decline":
                services.match_decline(match_id=match_id, member=member)
                flash.success(request, _("Vous avez refusé : l'autre personne est prévenue."))
            else:
                services.match_step(match_id=match_id, member=member, step=action)
                flash.success(request, _("C'est noté, merci !"))
        else:
            raise InvalidInput("Unknown action.", field="form")
    except DomainError as exc:
        _error(errors, exc)
        form = action if action in ("request", "offer") else "list"
        return {"round": round_id, "form": form, "values": values, "errors": errors}
    return None


# -- coordination ------------------------------------------------------------------------------


LISTED = 100  # people shown per list; a department or the country has thousands


def _coordination_context(member, posted: dict | None = None) -> dict:
    rounds = []
    runs = list(selectors.runs_of(member)[:20])
    for the_round in selectors.open_rounds():
        waiting_all = (
            selectors.requests_in_scope(caller=member, round_id=the_round.pk)
            .filter(status="requested")
            .select_related("member")
            .order_by("created_at", "pk")
        )
        # Holders who can still take a proxy established in France (the usual request).
        french_held = ProxyMatch.objects.filter(CURRENT, offer=OuterRef("pk"), abroad=False)
        offers_all = (
            selectors.offers_in_scope(caller=member, round_id=the_round.pk)
            .exclude(Exists(french_held))
            .select_related("member")
            .order_by("created_at", "pk")
        )
        matches_all = (
            selectors.matches_in_scope(caller=member).filter(round_id=the_round.pk).filter(CURRENT)
        )
        waiting, offers = list(waiting_all[:LISTED]), list(offers_all[:LISTED])
        matches = [
            {**selectors.match_view(m, member), "label": m.get_status_display()}
            for m in matches_all.order_by("-updated_at", "-pk")[:LISTED]
        ]
        row = {
            "round": the_round, "waiting": waiting, "offers": offers, "matches": matches,
            "counts": {
                "waiting": _count(waiting, waiting_all), "offers": _count(offers, offers_all),
                "matches": _count(matches, matches_all),
            },
            "runs": [_run_view(r) for r in runs if r.round_id == the_round.pk][:3],
            "errors": {}, "values": {},
        }  # fmt: skip
        if posted and posted["round"] == the_round.pk:
            row.update(errors=posted["errors"], values=posted["values"])
            if not (waiting and offers):  # no matching form to show them next to
                row["refused"] = [
                    v for k, v in posted["errors"].items() if k in ("request", "offer")
                ]
        rounds.append(row)
    return {"rounds": rounds}


def _count(shown: list, query) -> int:
    return len(shown) if len(shown) < LISTED else query.count()


def _run_view(run) -> dict:
    if run.status == "done":
        text = _run_outcome(run.result, run.radius_km)
    elif run.status == "failed":
        text = _("L'appariement n'a pu se faire : %(error)s") % {"error": run.error}
    else:
        text = _("Appariement en cours (jusqu'à %(radius)s km) : rechargez la page dans un "
                 "instant.") % {"radius": f"{run.radius_km:g}"}  # fmt: skip
    return {"run": run, "text": text}


def _run_outcome(result: dict, radius: float) -> str:
    text = _(
        "Appariement automatique : %(waiting)s demande(s) en attente, %(proposed)s mise(s) en "
        "relation proposée(s) (%(same)s dans la même commune, %(nearby)s à moins de "
        "%(radius)s km)."
    ) % {
        "waiting": result["waiting"],
        "proposed": result["proposed"],
        "same": result["same_commune"],
        "nearby": result["nearby"],
        "radius": f"{radius:g}",
    }
    if result["unmatched"]:
        text += " " + _("%(n)s demande(s) restent sans mandataire à portée.") % {
            "n": result["unmatched"]
        }
    if result["refused"]:
        text += " " + _(
            "%(n)s mise(s) en relation n'ont pu être faites (déjà faites entre-temps)."
        ) % {"n": result["refused"]}
    return text


@require_http_methods(["GET", "POST"])
@login_required
def coordination(request: HttpRequest) -> HttpResponse:
    member = request.user
    if not selectors.coordinates_anything(member):
        return render(request, "mobilisation/coordination_denied.html", status=403)
    posted = None
    if request.method == "POST":
        action = request.POST.get("action", "")
        round_id = _int(request.POST.get("round"))
        values = {k: request.POST.get(k, "")[:20] for k in ("request", "offer", "radius_km")}
        errors: dict = {}
        try:
            if action == "propose":
                request_id = _int(values["request"])
                if not selectors.requests_in_scope(caller=member).filter(pk=request_id).exists():
                    raise InvalidInput("No proxy request.", field="request")
                services.match_propose(
                    request_id=request_id, offer_id=_int(values["offer"]), by=member
                )
                flash.success(request, _("Mise en relation proposée : les deux personnes sont "
                                         "prévenues par courriel."))  # fmt: skip
                return redirect("mobilisation:coordination")
            elif action == "run":
                try:
                    radius = float(values["radius_km"].replace(",", ".") or 20)
                except ValueError:
                    raise InvalidInput("radius_km", field="radius_km") from None
                services.match_run_queue(round_id=round_id, by=member, radius_km=radius)
                flash.info(request, _("Appariement lancé : les propositions partent par "
                                      "courriel au fur et à mesure, et son bilan s'affiche "
                                      "ci-dessous quand il est fini."))  # fmt: skip
                return redirect(reverse("mobilisation:coordination") + f"#tour-{round_id}")
            else:
                raise InvalidInput("Unknown action.", field="form")
        except DomainError as exc:
            _error(errors, exc)
            posted = {"round": round_id, "errors": errors, "values": values}
    return render(
        request,
        "mobilisation/coordination.html",
        _coordination_context(member, posted),
        status=400 if posted else 200,
    )
