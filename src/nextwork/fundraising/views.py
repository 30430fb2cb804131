"""Fundraising pages: giving, personal fundraising pages and receipts. Thin: each view reads
its form, calls one service or selector, renders.

The services speak English (the API shows their messages as they are); the pages show a French
sentence next to the field at fault (``french``), as ``participation/forms.py`` does."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from nextwork.common import messages
from nextwork.common.errors import DomainError, InvalidInput, NotFound, Unavailable
from nextwork.fundraising import pages, receipts_pdf, rules
from nextwork.fundraising.models import Beneficiary, BeneficiaryKind, Frequency, Method
from nextwork.network.permissions import is_staff

# -- the services' errors in French -------------------------------------------------------------

# (field or None for any, regular expression on the English message, French text).
FRENCH = [
    (None, r"NUL character", gettext_lazy(
        "Le texte contient un caractère invalide (NUL) : retirez-le.")),
    ("natural_person", r"natural persons only", gettext_lazy(
        "Seules les personnes physiques peuvent donner à ce bénéficiaire : une entreprise, une "
        "association ou toute autre personne morale ne le peut pas. Cochez la case si vous "
        "donnez à titre personnel, avec vos propres fonds.")),
    ("french_or_resident", r"", gettext_lazy(
        "Les dons à un parti politique doivent venir d'une personne de nationalité française "
        "ou résidant en France (loi n° 88-227 du 11 mars 1988, art. 11-4).")),
    ("amount", r"^In cash, a gift may not exceed (?P<max>.+?):", gettext_lazy(
        "En espèces, un don ne peut dépasser %(max)s : donnez le reste par chèque, virement ou "
        "carte.")),
    ("amount", r"^This gift of (?P<amount>.+?) would bring your gifts to political parties in "
     r"(?P<year>\d+) to (?P<total>.+?), above the legal cap of (?P<cap>.+?) \(", gettext_lazy(
        "Ce don de %(amount)s porterait vos dons aux partis politiques en %(year)s à "
        "%(total)s, au-delà du plafond légal de %(cap)s par personne et par an (loi n° 88-227 "
        "du 11 mars 1988, art. 11-4).")),
    ("amount", r"^This gift of (?P<amount>.+?) would bring your gifts to the campaigns of the "
     r"election (?P<election>\S+) to (?P<total>.+?), above the legal cap of (?P<cap>.+?) \(",
     gettext_lazy(
        "Ce don de %(amount)s porterait vos dons aux candidats de l'élection %(election)s à "
        "%(total)s, au-delà du plafond légal de %(cap)s par personne (code électoral, "
        "art. L52-8).")),
    ("amount", r"^A gift is at least (?P<min>.+)\.$", gettext_lazy(
        "Un don est d'au moins %(min)s.")),
    ("amount", r"^A gift is at most", gettext_lazy(
        "Pour un don de plus d'un million d'euros, contactez l'équipe.")),
    ("amount", r"", gettext_lazy("Indiquez un montant en euros, par exemple 25 ou 25,50.")),
    ("email", r"", gettext_lazy("Indiquez une adresse électronique valide.")),
    ("first_name", r"is required", gettext_lazy("Indiquez votre prénom.")),
    ("last_name", r"is required", gettext_lazy("Indiquez votre nom.")),
    ("address", r"is required", gettext_lazy("Indiquez votre adresse.")),
    ("postcode", r"is required", gettext_lazy("Indiquez votre code postal.")),
    ("city", r"is required", gettext_lazy("Indiquez votre commune.")),
    ("country", r"", gettext_lazy("Indiquez le pays par son code à deux lettres (FR).")),
    ("page", r"collects for another beneficiary", gettext_lazy(
        "Cette page de collecte soutient un autre bénéficiaire.")),
    ("page", r"^No fundraising page", gettext_lazy(
        "Cette page de collecte n'existe pas ou a été masquée par la modération.")),
    ("beneficiary", r"", gettext_lazy("Ce bénéficiaire ne reçoit pas de dons.")),
    ("frequency", r"", gettext_lazy(
        "Un don mensuel se fait par carte ou prélèvement, pas par chèque ni virement.")),
    ("method", r"", gettext_lazy("Choisissez un des moyens de paiement proposés.")),
    ("provider", r"", gettext_lazy("Choisissez un des moyens de paiement proposés.")),
    ("title", r"is required", gettext_lazy("Donnez un titre.")),
    ("reason", r"is required", gettext_lazy("Indiquez la raison de votre décision.")),
    (None, r"is (?P<n>[\d,]+) characters long; at most (?P<max>[\d,]+)", gettext_lazy(
        "Ce texte compte %(n)s caractères : %(max)s au plus sont acceptés. Raccourcissez-le.")),
    ("goal", r"at least", gettext_lazy("L'objectif est d'au moins 1 €.")),
    ("goal", r"at most", gettext_lazy("L'objectif est d'au plus 1 000 000 €.")),
    ("goal", r"", gettext_lazy("Indiquez un objectif en euros, par exemple 500.")),
    ("photo", r"^The file is empty", gettext_lazy("Ce fichier est vide.")),
    ("photo", r"^The file is (?P<size>[\d.]+) MB", gettext_lazy(
        "Cette photo pèse %(size)s Mo : 5 Mo au plus sont acceptés.")),
    ("photo", r"^Only ", gettext_lazy("Seules les photos PNG, JPEG et WebP sont acceptées.")),
    ("photo", r"^(?P<name>.+) is not what its extension says", gettext_lazy(
        "« %(name)s » n'est pas ce qu'annonce son extension : choisissez une vraie photo PNG, "
        "JPEG ou WebP.")),
    (None, r"confirmed email address", gettext_lazy(
        "Confirmez d'abord votre adresse électronique (avec le lien reçu par courriel) pour "
        "créer une page de collecte.")),
    (None, r"hidden already", gettext_lazy("Cette page est déjà masquée.")),
    (None, r"is not hidden", gettext_lazy("Cette page n'est pas masquée.")),
    (None, r"^Only staff", gettext_lazy("Seule l'équipe nationale peut faire cela.")),
]  # fmt: skip


def french(exc: DomainError) -> str:
    """The French sentence for a service's refusal; an unlisted one as the service wrote it."""
    if isinstance(exc, Unavailable):
        return _(
            "Le service de paiement ne répond pas : rien n'a été débité. Réessayez dans quelques "
            "minutes."
        )
    found = messages.lookup(exc, FRENCH)
    if found is None:
        return exc.message
    text, values = found
    values = {k: v.replace(",", " ") for k, v in values.items()}
    sentence = text % values if values else text
    left = re.search(r"You may still give (?P<left>.+?)\.$", exc.message)
    if left:
        sentence += " " + _("Vous pouvez encore donner %(left)s.") % left.groupdict()
    elif "You have reached the cap" in exc.message:
        sentence += " " + _("Vous avez atteint ce plafond.")
    return sentence


def _euros_to_cents(raw: str, field: str) -> int:
    text = (raw or "").replace("€", "").replace("\u202f", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidInput("Give an amount in euros.", field=field, code="format") from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")) or value <= 0:
        raise InvalidInput("Give an amount in euros.", field=field, code="format")
    return int(value * 100)


# -- receipts -----------------------------------------------------------------------------------


@require_safe
@login_required
def receipt_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        receipt = receipts_pdf.access_receipt(request.user, pk)
    except NotFound:
        raise Http404 from None
    response = HttpResponse(receipts_pdf.render(receipt), content_type="application/pdf")
    name = f"recu-{receipt.year}-{receipt.number:06d}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_safe
@login_required
def my_receipts(request: HttpRequest) -> HttpResponse:
    rows = [
        {"receipt": r, "number": f"{r.year}-{r.number:06d}", "amount": rules.euros(r.amount_cents)}
        for r in receipts_pdf.receipts_of(request.user)
    ]
    return render(request, "fundraising/my_receipts.html", {"rows": rows})


# -- giving -------------------------------------------------------------------------------------

SUGGESTED_EUROS = {Frequency.ONCE: [10, 20, 50, 100, 200], Frequency.MONTHLY: [5, 10, 20, 50]}
DONOR_FIELDS = ("first_name", "last_name", "email", "address", "postcode", "city", "country")
UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


def _source(params) -> str:
    """The attribution kept in ``Donation.source``: ``?source=`` as given, else the utm
    parameters as a query string."""
    if params.get("source"):
        return params["source"].strip()[:200]
    return urlencode([(k, params[k].strip()) for k in UTM if params.get(k)])[:200]


def _payment_choices() -> list[dict]:
    """Each (provider, method) a donor may choose, e.g. ``stripe:card``."""
    from nextwork.fundraising import providers

    choices = []
    for name in providers.available():
        provider = providers.get(name)
        for method in provider.methods:
            choices.append(
                {
                    "value": f"{name}:{method}",
                    "label": (
                        _("%(method)s (paiement fictif de test)") % {"method": Method(method).label}
                        if name == "test"
                        else Method(method).label
                    ),
                    "monthly": bool(provider.recurring),
                    "online": name != "manual",
                }
            )
    return choices


def _legal(beneficiary: Beneficiary) -> dict:
    rule = rules.rule_for(beneficiary.kind)
    return {
        "cap": rules.euros(rule.cap_cents) if rule.cap_cents else "",
        "cash_max": rules.euros(rule.cash_max_cents) if rule.cash_max_cents else "",
        "reference": rule.reference,
        "is_party": beneficiary.kind == BeneficiaryKind.PARTY,
        "is_campaign": beneficiary.kind == BeneficiaryKind.CAMPAIGN,
        "is_association": beneficiary.kind == BeneficiaryKind.ASSOCIATION,
    }


@require_safe
def give_index(request: HttpRequest) -> HttpResponse:
    found = list(Beneficiary.objects.filter(active=True).order_by("name"))
    query = request.GET.urlencode()
    if len(found) == 1:
        url = reverse("fundraising:give", args=[found[0].pk])
        return redirect(f"{url}?{query}" if query else url)
    return render(request, "fundraising/give_index.html", {"beneficiaries": found, "query": query})


def _page_for(slug: str, beneficiary: Beneficiary):
    if not slug:
        return None
    try:
        page = pages.page_public(slug)
    except NotFound:
        return None
    if page.hidden_at or page.beneficiary_id != beneficiary.pk:
        return None
    return page


@require_http_methods(["GET", "POST"])
def give(request: HttpRequest, beneficiary_id: int) -> HttpResponse:
    beneficiary = Beneficiary.objects.filter(pk=beneficiary_id, active=True).first()
    if beneficiary is None:
        raise Http404(_("Ce bénéficiaire ne reçoit pas de dons."))
    params = request.POST if request.method == "POST" else request.GET
    page = _page_for(params.get("page", ""), beneficiary)
    user = request.user if request.user.is_authenticated else None
    values = {
        "frequency": params.get("frequency") or Frequency.ONCE,
        "amount": params.get("amount", "50"),
        "amount_other": params.get("amount_other", ""),
        "payment": params.get("payment", ""),
        "natural_person": params.get("natural_person") == "on",
        "french_or_resident": params.get("french_or_resident") == "on",
        "source": _source(params),
        "page": page.slug if page else "",
    }
    for name in DONOR_FIELDS:
        values[name] = params.get(name, "")
    if request.method == "GET" and user is not None:
        values.update(first_name=user.first_name, last_name=user.last_name, email=user.email)
    values["country"] = values["country"] or "FR"
    errors: dict[str, str] = {}
    if request.method == "POST":
        response = _give_submit(request, beneficiary, values, errors, user)
        if response is not None:
            return response
    legal = _legal(beneficiary)
    progress = pages.page_progress(page) if page else None
    return render(
        request,
        "fundraising/give.html",
        {
            "beneficiary": beneficiary,
            "legal": legal,
            "values": values,
            "errors": errors,
            "fundraising_page": page,
            "progress": progress,
            "page_amounts": _amounts(progress) if progress else None,
            "suggested": SUGGESTED_EUROS,
            "payments": _payment_choices(),
            "frequencies": Frequency.choices,
        },
        status=400 if errors else 200,
    )


def _give_submit(request, beneficiary, values, errors, user) -> HttpResponse | None:
    from nextwork.fundraising import intents
    from nextwork.fundraising.services import DonorIn

    legal = _legal(beneficiary)
    try:
        raw = values["amount_other"] if values["amount"] == "other" else values["amount"]
        amount_cents = _euros_to_cents(raw, "amount")
    except InvalidInput as exc:
        errors["amount"] = french(exc)
    # The declarations are explicit: unticked, the gift is refused here with the law's words,
    # before the services would (an association takes gifts from companies too).
    if not (legal["is_party"] or legal["is_campaign"]):
        values["natural_person"] = True
    provider_name, _sep, method = values["payment"].partition(":")
    if not provider_name:
        errors["payment"] = _("Choisissez un moyen de paiement.")
    if errors:
        return None
    try:
        donation, step = intents.donation_start(
            provider_name=provider_name,
            beneficiary_id=beneficiary.pk,
            donor=DonorIn(
                **{name: values[name] for name in DONOR_FIELDS},
                natural_person=values["natural_person"],
                french_or_resident=values["french_or_resident"],
            ),
            amount_cents=amount_cents,
            frequency=values["frequency"],
            method=method,
            source=values["source"],
            page_slug=values["page"],
            member=user,
            return_path=reverse("fundraising:thanks"),
        )
    except DomainError as exc:
        field = {"method": "payment", "provider": "payment"}.get(exc.field or "", exc.field)
        errors[field or "form"] = french(exc)
        return None
    request.session["fundraising_last"] = {
        "donation": donation.pk,
        "amount": rules.euros(donation.amount_cents),
        "method": donation.method,
        "provider": donation.provider,
        "legal_name": beneficiary.legal_name,
        "address": beneficiary.address,
        "monthly": values["frequency"] == Frequency.MONTHLY,
        "text": step.get("text", ""),
    }
    if step.get("kind") == "redirect":
        return redirect(step["url"])
    return redirect(f"{reverse('fundraising:thanks')}?{urlencode({'don': donation.pk})}")


@require_safe
def thanks(request: HttpRequest) -> HttpResponse:
    last = request.session.get("fundraising_last") or {}
    if str(last.get("donation")) != request.GET.get("don"):
        last = {}  # another donation's page: say thanks, show nothing of it
    return render(
        request,
        "fundraising/thanks.html",
        {
            "last": last,
            "cancelled": request.GET.get("paiement") == "annule",
            "reference": f"DON-{last['donation']}" if last else "",
        },
    )


# -- personal fundraising pages -----------------------------------------------------------------


def _absolute(request, path: str) -> str:
    """An address for other sites (share previews): on NEXTWORK_SITE_URL when it is set, so
    the preview does not depend on the host the request came through."""
    if path.startswith(("http://", "https://")):  # a storage that serves files elsewhere
        return path
    if settings.NEXTWORK_SITE_URL:
        return f"{settings.NEXTWORK_SITE_URL}{path}"
    return request.build_absolute_uri(path)


def _share_preview(request, page, share: str) -> dict | None:
    """OpenGraph and Twitter card values of a page; none for a hidden page (a link shared
    before the moderation shows no title, text or photo)."""
    if page.hidden_at is not None:
        return None
    text = " ".join(strip_tags(page.text).split())
    if text:
        description = Truncator(text).chars(200)
    else:
        description = _("Collecte pour %(name)s.") % {"name": page.beneficiary.name}
    return {
        "title": page.title,
        "description": description,
        "url": share,
        "image": _absolute(request, page.photo.url) if page.photo else "",
    }


def _page_context(request, page) -> dict:
    progress = pages.page_progress(page)
    path = reverse("fundraising:page", args=[page.slug])
    share = request.build_absolute_uri(path)
    donate = reverse("fundraising:give", args=[page.beneficiary_id])
    donate += "?" + urlencode({"page": page.slug})
    return {
        "page": page,
        "progress": progress,
        "raised": rules.euros(progress["raised_cents"]),
        "goal": rules.euros(progress["goal_cents"]),
        "share_url": share,
        "preview": _share_preview(request, page, _absolute(request, path)),
        "donate_url": donate,
        "is_owner": request.user.is_authenticated and page.owner_id == request.user.pk,
        "can_moderate": is_staff(request.user) if request.user.is_authenticated else False,
    }


@require_safe
def page_public(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        page = pages.page_public(slug)
    except NotFound:
        raise Http404(_("Cette page de collecte n'existe pas.")) from None
    return render(request, "fundraising/page.html", _page_context(request, page))


@require_POST
@login_required
def page_moderate(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        page = pages.page_public(slug)
    except NotFound:
        raise Http404 from None
    if not is_staff(request.user):
        raise Http404
    try:
        pages.page_moderate(
            page_id=page.pk,
            by=request.user,
            hide=request.POST.get("action") == "hide",
            reason=request.POST.get("reason", ""),
        )
    except DomainError as exc:
        context = _page_context(request, page) | {"moderation_error": french(exc)}
        return render(request, "fundraising/page.html", context, status=400)
    return redirect("fundraising:page", slug=page.slug)


@require_safe
@login_required
def my_pages(request: HttpRequest) -> HttpResponse:
    rows = [
        {"page": p, "progress": pages.page_progress(p)} | _amounts(pages.page_progress(p))
        for p in pages.pages_of(request.user)
    ]
    return render(request, "fundraising/my_pages.html", {"rows": rows})


def _amounts(progress: dict) -> dict:
    return {
        "raised": rules.euros(progress["raised_cents"]),
        "goal": rules.euros(progress["goal_cents"]),
    }


def _page_form(request) -> tuple[dict, dict, int | None]:
    values = {k: request.POST.get(k, "") for k in ("title", "text", "goal", "beneficiary")}
    errors: dict[str, str] = {}
    goal = None
    try:
        goal = _euros_to_cents(values["goal"], "goal")
    except InvalidInput as exc:
        errors["goal"] = french(exc)
    return values, errors, goal


@require_http_methods(["GET", "POST"])
@login_required
def page_new(request: HttpRequest) -> HttpResponse:
    beneficiaries = list(Beneficiary.objects.filter(active=True).order_by("name"))
    values = {"title": "", "text": "", "goal": "", "beneficiary": request.GET.get("pour", "")}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values, errors, goal = _page_form(request)
        if not errors:
            try:
                page = pages.page_create(
                    owner=request.user,
                    beneficiary_id=int(values["beneficiary"] or 0)
                    if values["beneficiary"].isdigit()
                    else 0,
                    title=values["title"],
                    text=values["text"],
                    goal_cents=goal,
                    photo=request.FILES.get("photo"),
                )
            except DomainError as exc:
                errors[exc.field or "form"] = french(exc)
            else:
                return redirect("fundraising:page_edit", pk=page.pk)
    return render(
        request,
        "fundraising/page_form.html",
        {"values": values, "errors": errors, "beneficiaries": beneficiaries, "page": None},
        status=400 if errors else 200,
    )


@require_http_methods(["GET", "POST"])
@login_required
def page_edit(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        page = pages.page_owned(pk, request.user)
    except NotFound:
        raise Http404 from None
    values = {"title": page.title, "text": page.text, "goal": f"{page.goal_cents / 100:g}"}
    errors: dict[str, str] = {}
    saved = False
    if request.method == "POST":
        values, errors, goal = _page_form(request)
        if not errors:
            try:
                page = pages.page_update(
                    page_id=page.pk,
                    by=request.user,
                    title=values["title"],
                    text=values["text"],
                    goal_cents=goal,
                    photo=request.FILES.get("photo"),
                )
                saved = True
            except DomainError as exc:
                errors[exc.field or "form"] = french(exc)
    donations = pages.page_donations(page, request.user)
    for row in donations:
        row["amount"] = rules.euros(row["amount_cents"])
    context = _page_context(request, page) | {
        "values": values,
        "errors": errors,
        "saved": saved,
        "donations": donations,
    }
    return render(request, "fundraising/page_form.html", context, status=400 if errors else 200)


@require_POST
@login_required
def page_thank(request: HttpRequest, pk: int, donation_id: int) -> HttpResponse:
    try:
        page = pages.page_owned(pk, request.user)
        pages.donation_thank(donation_id=donation_id, by=request.user)
    except NotFound:
        raise Http404 from None
    return redirect(f"{reverse('fundraising:page_edit', args=[page.pk])}#dons")
