"""Pages of the programme: the public document (latest version, any version, the changes
between two, the PDF) and the staff's editor of the draft (``/equipe/programme/``).

The editor is one page of small forms; each POST calls one service and redirects back to the
part of the page it changed. A refused form is shown again, its error next to its field.
"""

from __future__ import annotations

import functools
import hashlib
import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from nextwork.common.errors import DomainError, NotFound
from nextwork.network.permissions import is_staff
from nextwork.participation import programme
from nextwork.participation.models import Chapter, ProgrammeVersion, Proposal

# -- public pages --------------------------------------------------------------------------------


def _version_or_404(number: int) -> ProgrammeVersion:
    try:
        return programme.version(number)
    except NotFound as exc:
        raise Http404(_("Cette version du programme n'existe pas.")) from exc


def _document_context(found: ProgrammeVersion) -> dict:
    latest = programme.current_version()
    return {
        "version": found,
        "doc": programme.document(found.snapshot),
        "latest": latest,
        "is_latest": latest is not None and latest.number == found.number,
    }


@require_safe
def public(request: HttpRequest) -> HttpResponse:
    latest = programme.current_version()
    if latest is None:
        return render(request, "programme/public.html", {"version": None})
    return render(request, "programme/public.html", _document_context(latest))


@require_safe
def version_page(request: HttpRequest, number: int) -> HttpResponse:
    return render(request, "programme/public.html", _document_context(_version_or_404(number)))


@require_safe
def versions_page(request: HttpRequest) -> HttpResponse:
    return render(request, "programme/versions.html", {"versions": list(programme.versions())})


@require_safe
def diff_page(request: HttpRequest, a: int, b: int) -> HttpResponse:
    try:
        changes = programme.diff(a, b)
    except NotFound as exc:
        raise Http404(_("Cette version du programme n'existe pas.")) from exc
    except DomainError:
        return redirect("programme:version", number=b)
    context = {"changes": changes, "versions": list(programme.versions()), "a": a, "b": b}
    return render(request, "programme/diff.html", context)


@require_safe
def diff_pick(request: HttpRequest) -> HttpResponse:
    """The versions picked in the diff page's form (a GET form cannot build a path)."""
    try:
        a, b = int(request.GET.get("from", "")), int(request.GET.get("to", ""))
    except ValueError:
        return redirect("programme:versions")
    return redirect("programme:diff", a=a, b=b)


def _pdf_bytes(found: ProgrammeVersion, site: str) -> bytes:
    """The PDF of a version. Cached under what it shows (the public snapshot, language and site
    address): a proposal hidden since the last rendering changes the key, never a stale file."""
    from weasyprint import HTML

    context = _document_context(found)
    context["site"] = site
    context["organisation"] = settings.NEXTWORK_ORGANISATION or ""
    shown = json.dumps(
        [programme.public_snapshot(found.snapshot), found.note, context["site"]],
        cls=DjangoJSONEncoder,
        sort_keys=True,
    )
    digest = hashlib.sha256(shown.encode()).hexdigest()
    key = f"programme-pdf:{found.number}:{translation.get_language()}:{digest}"
    data = cache.get(key)
    if data is None:
        html = render_to_string("programme/document.html", context)
        data = HTML(string=html, base_url=None).write_pdf()
        cache.set(key, data, 24 * 3600)
    return data


@require_safe
def pdf(request: HttpRequest, number: int | None = None) -> HttpResponse:
    found = programme.current_version() if number is None else _version_or_404(number)
    if found is None:
        raise Http404(_("Aucune version du programme n'est encore publiée."))
    site = settings.NEXTWORK_SITE_URL or request.build_absolute_uri("/").rstrip("/")
    response = HttpResponse(_pdf_bytes(found, site), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="programme-v{found.number}.pdf"'
    return response


# -- the staff's editor --------------------------------------------------------------------------


def staff_only(view):
    """Anonymous: to the login page. Logged in without a staff grant: a 403 page."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_staff(request.user):
            return render(request, "programme/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _error_text(exc: DomainError) -> str:
    """The service's refusal in the words of the page (the API keeps the English message)."""
    if isinstance(exc, programme.ProposalsRefused):
        parts = []
        if exc.unknown:
            parts.append(
                _("Aucune proposition ne porte le numéro %(ids)s.")
                % {"ids": ", ".join(map(str, exc.unknown))}
            )
        if exc.not_public:
            parts.append(
                _(
                    "Proposition %(ids)s : pas publique (en attente de modération ou masquée), "
                    "elle ne peut pas être liée."
                )
                % {"ids": ", ".join(map(str, exc.not_public))}
            )
        return " ".join(parts)
    texts = {
        ("title", "required"): _("Donnez un titre."),
        ("title", "too_long"): _("Le titre compte au plus %(n)s caractères.")
        % {"n": programme.TITLE_MAX},
        ("intro", "too_long"): _("Le texte compte au plus %(n)s caractères.")
        % {"n": f"{programme.TEXT_MAX:,}".replace(",", " ")},
        ("body", "too_long"): _("Le texte compte au plus %(n)s caractères.")
        % {"n": f"{programme.TEXT_MAX:,}".replace(",", " ")},
        ("note", "too_long"): _("La note compte au plus %(n)s caractères.")
        % {"n": programme.NOTE_MAX},
        ("proposals", "too_many"): _("Une mesure est liée à %(n)s propositions au plus.")
        % {"n": programme.LINKS_MAX},
        ("position", "position"): _("Cette position n'existe pas."),
        (None, "empty"): _("Le programme est vide : ajoutez un chapitre avant de publier."),
        (None, "unchanged"): _(
            "Rien n'a changé depuis la dernière version : modifiez le brouillon avant de publier."
        ),
        (None, "race"): _(
            "Une autre version vient d'être publiée : relisez l'aperçu avant de publier."
        ),
        (None, "invalid"): _("Ce texte contient un caractère interdit."),
    }
    return str(texts.get((exc.field, exc.code)) or texts.get((None, exc.code)) or exc.message)


def _proposal_ids(raw: str) -> set[int]:
    """ "12, 15 40" → {12, 15, 40}; "#12" and "n°12" are read as 12."""
    ids = set()
    for token in raw.replace(",", " ").replace(";", " ").split():
        cleaned = token.removeprefix("n°").removeprefix("#")
        if not cleaned.isdigit() or len(cleaned) > 12:
            raise programme.InvalidInput(
                _("« %(token)s » n'est pas un numéro de proposition (exemple : 12, 15).")
                % {"token": token},
                field="proposals",
                code="not_a_number",
            )
        ids.add(int(cleaned))
    return ids


def _edit_context(request: HttpRequest, failed: dict | None = None) -> dict:
    """The editor: every chapter and measure with its form's values, and the one refused
    form (``failed``: its key, the field at fault, the message, the values sent)."""
    failed = failed or {}

    def form(key: str, values: dict) -> dict:
        if failed.get("key") == key:
            return {
                "key": key,
                "values": {**values, **failed["values"]},
                "field": failed["field"],
                "error": failed["message"],
            }
        return {"key": key, "values": values, "field": None, "error": None}

    chapters = list(Chapter.objects.prefetch_related("measures__proposals"))
    rows = []
    for c_index, chapter in enumerate(chapters, start=1):
        measures = list(chapter.measures.all())
        rows.append(
            {
                "chapter": chapter,
                "number": c_index,
                "first": c_index == 1,
                "last": c_index == len(chapters),
                "form": form(
                    f"chapter-{chapter.pk}", {"title": chapter.title, "intro": chapter.intro}
                ),
                "new_measure": form(f"new-measure-{chapter.pk}", {"title": "", "body": ""}),
                "measures": [
                    {
                        "measure": m,
                        "number": f"{c_index}.{m_index}",
                        "first": m_index == 1,
                        "last": m_index == len(measures),
                        "links": sorted(m.proposals.all(), key=lambda p: p.pk),
                        "form": form(
                            f"measure-{m.pk}",
                            {
                                "title": m.title,
                                "body": m.body,
                                "proposals": ", ".join(
                                    str(p.pk) for p in sorted(m.proposals.all(), key=lambda p: p.pk)
                                ),
                            },
                        ),
                    }
                    for m_index, m in enumerate(measures, start=1)
                ],
            }
        )
    return {
        "rows": rows,
        "chapters": chapters,
        "new_chapter": form("new-chapter", {"title": "", "intro": ""}),
        "latest": programme.current_version(),
        "has_changes": programme.has_changes(),
        "states": dict(Proposal._meta.get_field("state").choices),
    }


def _refused(request: HttpRequest, key: str, exc: DomainError, values: dict) -> HttpResponse:
    if isinstance(exc, NotFound):
        messages.error(request, _("Cet élément n'existe plus : la page a été rechargée."))
        return redirect("programme:edit")
    failed = {"key": key, "field": exc.field, "message": _error_text(exc), "values": values}
    response = render(request, "programme/edit.html", _edit_context(request, failed), status=400)
    return response


def _back(anchor: str = "") -> HttpResponse:
    url = reverse("programme:edit")
    return redirect(f"{url}#{anchor}" if anchor else url)


@staff_only
@require_safe
def edit(request: HttpRequest) -> HttpResponse:
    return render(request, "programme/edit.html", _edit_context(request))


@staff_only
@require_POST
def chapter_create(request: HttpRequest) -> HttpResponse:
    values = {k: request.POST.get(k, "") for k in ("title", "intro")}
    try:
        chapter = programme.chapter_create(by=request.user, **values)
    except DomainError as exc:
        return _refused(request, "new-chapter", exc, values)
    messages.success(request, _("Chapitre ajouté."))
    return _back(f"chapter-{chapter.pk}")


@staff_only
@require_POST
def chapter_update(request: HttpRequest, pk: int) -> HttpResponse:
    values = {k: request.POST.get(k, "") for k in ("title", "intro")}
    try:
        programme.chapter_update(by=request.user, chapter_id=pk, **values)
    except DomainError as exc:
        return _refused(request, f"chapter-{pk}", exc, values)
    messages.success(request, _("Chapitre enregistré."))
    return _back(f"chapter-{pk}")


@staff_only
@require_POST
def chapter_delete(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        programme.chapter_delete(by=request.user, chapter_id=pk)
    except DomainError as exc:
        return _refused(request, f"chapter-{pk}", exc, {})
    messages.success(request, _("Chapitre supprimé du brouillon."))
    return _back()


def _position(request: HttpRequest) -> int | None:
    try:
        return int(request.POST.get("position", ""))
    except ValueError:
        return None


@staff_only
@require_POST
def chapter_move(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        programme.chapter_move(by=request.user, chapter_id=pk, position=_position(request) or 0)
    except NotFound:
        messages.error(request, _("Cet élément n'existe plus : la page a été rechargée."))
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    return _back(f"chapter-{pk}")


@staff_only
@require_POST
def measure_create(request: HttpRequest, pk: int) -> HttpResponse:
    values = {k: request.POST.get(k, "") for k in ("title", "body")}
    try:
        measure = programme.measure_create(by=request.user, chapter_id=pk, **values)
    except DomainError as exc:
        return _refused(request, f"new-measure-{pk}", exc, values)
    messages.success(request, _("Mesure ajoutée."))
    return _back(f"measure-{measure.pk}")


@staff_only
@require_POST
def measure_update(request: HttpRequest, pk: int) -> HttpResponse:
    values = {k: request.POST.get(k, "") for k in ("title", "body", "proposals")}
    try:
        # Text and links are one form: both are saved, or neither.
        with transaction.atomic():
            programme.measure_update(
                by=request.user, measure_id=pk, title=values["title"], body=values["body"]
            )
            wanted = _proposal_ids(values["proposals"])
            # Unchanged links are left alone: a link to a proposal hidden since does not
            # block editing the text (it already shows as withdrawn to readers).
            if wanted != programme.linked_ids(measure_id=pk):
                programme.measure_link_proposals(
                    by=request.user, measure_id=pk, proposal_ids=wanted
                )
    except DomainError as exc:
        return _refused(request, f"measure-{pk}", exc, values)
    messages.success(request, _("Mesure enregistrée."))
    return _back(f"measure-{pk}")


@staff_only
@require_POST
def measure_delete(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        programme.measure_delete(by=request.user, measure_id=pk)
    except DomainError as exc:
        return _refused(request, f"measure-{pk}", exc, {})
    messages.success(request, _("Mesure supprimée du brouillon."))
    return _back()


@staff_only
@require_POST
def measure_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Up or down within its chapter (``position``), or to the end of another ``chapter``."""
    try:
        if "chapter" in request.POST:
            target = request.POST["chapter"]
            if not target.isdigit():
                messages.error(request, _("Choisissez un chapitre."))
                return _back(f"measure-{pk}")
            programme.measure_move(by=request.user, measure_id=pk, chapter_id=int(target))
        else:
            programme.measure_move(by=request.user, measure_id=pk, position=_position(request) or 0)
    except NotFound:
        messages.error(request, _("Cet élément n'existe plus : la page a été rechargée."))
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    return _back(f"measure-{pk}")


@staff_only
@require_http_methods(["GET", "POST"])
def preview(request: HttpRequest) -> HttpResponse:
    """The draft as readers would see it, what changed since the latest version, and the
    publish form."""
    context: dict = {"note": "", "error": None}
    if request.method == "POST":
        context["note"] = request.POST.get("note", "")
        try:
            published = programme.programme_publish(note=context["note"], by=request.user)
        except DomainError as exc:
            context["error"] = _error_text(exc)
        else:
            messages.success(request, _("Version %(n)s publiée.") % {"n": published.number})
            return redirect("programme:public")
    snapshot = programme.draft_snapshot()
    context.update(
        doc=programme.document(snapshot),
        changes=programme.draft_diff(),
        latest=programme.current_version(),
        has_changes=programme.has_changes(),
        now=timezone.now(),
    )
    return render(
        request, "programme/preview.html", context, status=400 if context["error"] else 200
    )
