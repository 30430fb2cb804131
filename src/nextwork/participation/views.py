"""Participation pages: consultations and their proposals, a proposal's thread, the organisers'
forms, the moderation queue, the news, and the relay's list of proposals for a meeting.

Every read goes through ``selectors`` (what the viewer may see) and every write through one
service; these views read the form, call it, and show its answer. A service's refusal is
shown in French next to the field at fault (``forms.french``), the other fields kept as typed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from nextwork.common.errors import DomainError, Forbidden, InvalidInput
from nextwork.common.richtext import render as markdown
from nextwork.participation import forms, meetings, moderation, selectors, services
from nextwork.participation.models import (
    AnswerStatus,
    Consultation,
    NewsItem,
    Phase,
    Proposal,
    ReportReason,
    State,
)

PER_PAGE = 20
SORTS = [
    ("supported", gettext_lazy("Plus soutenues")),
    ("recent", gettext_lazy("Plus récentes")),
    ("discussed", gettext_lazy("Plus discutées")),
]
HELD_NOTICE = gettext_lazy("Votre proposition sera publiée après relecture par un modérateur.")
PROPOSE_FIELDS = ("title", "body", "area", "attachments")


def _not_found(exc: DomainError) -> Http404:
    return Http404(exc.message)


def _consultation(request: HttpRequest, pk: int) -> Consultation:
    try:
        return selectors.consultation_for(pk, viewer=request.user)
    except DomainError as exc:
        raise _not_found(exc) from exc


def _proposal(request: HttpRequest, pk: int) -> Proposal:
    try:
        return selectors.proposal_for(pk, viewer=request.user)
    except DomainError as exc:
        raise _not_found(exc) from exc


def _member(request: HttpRequest):
    return request.user if request.user.is_authenticated else None


def _denied(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "participation/denied.html", {"reason": reason}, status=403)


def _back(request: HttpRequest, default: str) -> HttpResponse:
    """Back where the form was (the list, the page), never to another site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


# -- consultations --------------------------------------------------------------------------------


@require_safe
def consultation_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rows = selectors.consultations_visible(request.user).annotate(
        rank=Case(
            When(opens_at__lte=now, closes_at__gt=now, then=Value(0)),
            When(opens_at__gt=now, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
    )
    page = Paginator(rows.order_by("rank", "closes_at", "-id"), 30).get_page(
        request.GET.get("page")
    )
    for consultation in page.object_list:
        consultation.phase_label = Phase(consultation.phase_at(now)).label
    return render(
        request,
        "participation/consultation_list.html",
        {
            "page": page,
            "may_open": selectors.may_open_somewhere(request.user),
            "news": NewsItem.objects.filter(published_at__lte=now)[:3],
        },
    )


def _list_params(request: HttpRequest) -> dict:
    sort = request.GET.get("sort", "supported")
    if sort not in dict(SORTS):
        sort = "supported"
    return {"sort": sort, "q": forms.text_of(request.GET, "q", 300).strip()}


def _consultation_page(
    request: HttpRequest,
    consultation: Consultation,
    *,
    form: dict | None = None,
    errors: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    params = _list_params(request)
    errors = dict(errors or {})
    try:
        number = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        number = 1
    try:
        proposals, total = selectors.proposals_list(
            consultation,
            viewer=request.user,
            sort=params["sort"],
            query=params["q"],
            limit=PER_PAGE,
            offset=(number - 1) * PER_PAGE,
        )
    except InvalidInput as exc:
        errors["q"] = forms.french(exc)
        proposals, total = [], 0
        status = 400
    supported = selectors.supported_ids(request.user, [p.pk for p in proposals])
    for proposal in proposals:
        proposal.supported = proposal.pk in supported
    pages = max(1, -(-total // PER_PAGE))
    member = _member(request)
    phase = consultation.phase
    return render(
        request,
        "participation/consultation.html",
        {
            "consultation": consultation,
            "text": markdown(consultation.text),
            "phase": phase,
            "phase_label": Phase(phase).label,
            "proposals": proposals,
            "total": total,
            "number": number,
            "pages": pages,
            "previous": number - 1 if number > 1 else None,
            "next_page": number + 1 if number < pages else None,
            "sorts": SORTS,
            **params,
            "supports_open": phase in (Phase.PROPOSALS, Phase.SUPPORT),
            "proposals_open": phase == Phase.PROPOSALS,
            "supports_left": selectors.supports_left(member, consultation) if member else None,
            "confirmed": selectors.is_confirmed(member),
            "manages": selectors.may_manage(member, consultation),
            "form": form or {},
            "errors": errors,
            "max_attachments": services.MAX_ATTACHMENTS,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def consultation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = _consultation(request, pk)
    if request.method == "GET":
        return _consultation_page(request, consultation)
    if not request.user.is_authenticated:
        return redirect(f"{reverse('network:login')}?next={request.path}")
    form = {k: forms.text_of(request.POST, k) for k in ("title", "body", "area")}
    errors = forms.proposal_precheck(form, max_title=services.MAX_TITLE, max_body=services.MAX_BODY)
    files = request.FILES.getlist("attachments")
    files = [f for f in files if f.name]
    if len(files) > services.MAX_ATTACHMENTS:
        errors["attachments"] = _("Trois fichiers au plus par proposition.")
    for upload in files:
        if upload.size > services.MAX_ATTACHMENT_BYTES:
            errors["attachments"] = _(
                "« %(name)s » pèse %(size)s Mo : 5 Mo au plus sont acceptés."
            ) % {"name": upload.name[:100], "size": f"{upload.size / 2**20:.1f}".replace(".", ",")}
    if not errors:
        try:
            proposal = services.proposal_submit(
                consultation=consultation,
                author=request.user,
                title=form["title"],
                body=form["body"],
                area_code=form["area"].strip(),
                attachments=[services.AttachmentIn(f.name, f.read()) for f in files],
            )
        except DomainError as exc:
            errors[forms.place(exc, PROPOSE_FIELDS)] = forms.french(exc)
        else:
            if proposal.state == State.PENDING:
                messages.info(request, str(HELD_NOTICE))
            else:
                messages.success(request, _("Votre proposition est publiée. Merci !"))
            return redirect("participation:proposal", pk=proposal.pk)
    if files and "attachments" not in errors:
        errors["files_again"] = _("Choisissez de nouveau vos fichiers avant d'envoyer.")
    return _consultation_page(request, consultation, form=form, errors=errors, status=400)


# -- a proposal -----------------------------------------------------------------------------------


def _comment_view(comment, viewer, consultation, failed: dict) -> None:
    """What the thread shows of a comment: its text, or why not."""
    if comment.deleted_at is not None:
        comment.shown = "deleted"
    elif comment.state == State.HIDDEN and not selectors.can_read_text(
        viewer, comment, consultation
    ):
        comment.shown = "hidden"
    else:
        comment.shown = "text"
    comment.mine = viewer is not None and comment.author_id == viewer.pk
    for name in ("reply", "edit", "report", "review"):
        key = f"{name}-{comment.pk}"
        setattr(comment, f"failed_{name}", failed if failed.get("form") == key else None)


def _proposal_page(
    request: HttpRequest, proposal: Proposal, *, failed: dict | None = None, status: int = 200
) -> HttpResponse:
    """The proposal's page; ``failed`` is a form sent back with its error (``form`` names it,
    ``field`` and ``message`` say what is wrong, ``values`` what was typed)."""
    failed = failed or {}
    member = _member(request)
    consultation = proposal.consultation
    readable = selectors.can_read_text(member, proposal, consultation)
    comments = selectors.comments_of(proposal, viewer=member)
    for comment in comments:
        _comment_view(comment, member, consultation, failed)
        for reply in comment.reply_list:
            _comment_view(reply, member, consultation, failed)
    phase = consultation.phase
    is_author = member is not None and proposal.author_id == member.pk
    published = proposal.state == State.PUBLISHED
    manages = selectors.may_manage(member, consultation)
    answers = list(proposal.answers.all()) if readable else []
    for item in answers:
        item.html = markdown(item.text)
    return render(
        request,
        "participation/proposal.html",
        {
            "proposal": proposal,
            "consultation": consultation,
            "readable": readable,
            "body": markdown(proposal.body) if readable else "",
            "versions": list(proposal.versions.all()) if readable else [],
            "attachments": list(proposal.attachments.all()) if readable else [],
            "answers": answers,
            "answer": answers[-1] if answers else None,
            "comments": comments,
            "meetings": meetings.meetings_of(proposal) if published else [],
            "phase": phase,
            "phase_label": Phase(phase).label,
            "is_author": is_author,
            "may_edit": is_author
            and phase == Phase.PROPOSALS
            and proposal.state != State.HIDDEN
            and not proposal.merged_into_id
            and not proposal.answer_status,
            "may_review": is_author
            and proposal.state == State.HIDDEN
            and proposal.review_requested_at is None,
            "may_comment": published and phase in (Phase.PROPOSALS, Phase.SUPPORT),
            "may_support": published
            and not proposal.merged_into_id
            and phase in (Phase.PROPOSALS, Phase.SUPPORT),
            "supported": proposal.pk in selectors.supported_ids(member, [proposal.pk]),
            "follows": selectors.follows(member, proposal),
            "supports_left": selectors.supports_left(member, consultation) if member else None,
            "confirmed": selectors.is_confirmed(member),
            "manages": manages,
            "moderates": selectors.may_moderate(member, consultation),
            "statuses": AnswerStatus.choices,
            "reasons": ReportReason.choices,
            "failed": failed,
        },
        status=status,
    )


@require_safe
def proposal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _proposal_page(request, _proposal(request, pk))


def _failed(form: str, exc: DomainError, values: dict) -> dict:
    return {
        "form": form,
        "field": exc.field,
        "message": forms.french(exc),
        "values": values,
        "forbidden": isinstance(exc, Forbidden),
    }


def _post_on_proposal(view: Callable) -> Callable:
    """A form on a proposal's page: logged in, POST, on a proposal the member can see. The view
    returns None when done (back to the page) or the failed form to show again."""

    @login_required
    @require_POST
    @functools.wraps(view)
    def wrapped(request: HttpRequest, pk: int, *args, **kwargs) -> HttpResponse:
        proposal = _proposal(request, pk)
        failed = view(request, proposal, *args, **kwargs)
        if isinstance(failed, HttpResponse):
            return failed
        if failed and failed.get("forbidden"):
            # A form this member was never shown (an organiser's, another's comment).
            return _denied(request, failed["message"])
        if failed:
            return _proposal_page(request, _proposal(request, pk), failed=failed, status=400)
        return _back(request, reverse("participation:proposal", args=[proposal.pk]))

    return wrapped


@_post_on_proposal
def support(request: HttpRequest, proposal: Proposal):
    withdraw = request.POST.get("action") == "withdraw"
    try:
        if withdraw:
            services.support_withdraw(proposal_id=proposal.pk, member=request.user)
            messages.success(request, _("Votre soutien est retiré."))
        else:
            services.support_add(proposal_id=proposal.pk, member=request.user)
            messages.success(request, _("Merci pour votre soutien !"))
    except DomainError as exc:
        messages.error(request, forms.french(exc))
    return None


@_post_on_proposal
def follow(request: HttpRequest, proposal: Proposal):
    wanted = request.POST.get("follow") == "yes"
    try:
        services.follow_set(proposal=proposal, member=request.user, follow=wanted)
    except DomainError as exc:
        messages.error(request, forms.french(exc))
        return None
    if wanted:
        messages.success(
            request,
            _(
                "Vous suivez cette proposition : ses réponses et commentaires vous seront "
                "envoyés par courriel."
            ),
        )
    else:
        messages.success(request, _("Vous ne suivez plus cette proposition."))
    return None


@_post_on_proposal
def proposal_edit(request: HttpRequest, proposal: Proposal):
    values = {k: forms.text_of(request.POST, k) for k in ("title", "body")}
    try:
        services.proposal_edit(
            proposal=proposal, by=request.user, title=values["title"], body=values["body"]
        )
    except DomainError as exc:
        return _failed("edit", exc, values)
    proposal.refresh_from_db(fields=["state"])
    if proposal.state == State.PENDING:
        messages.info(request, str(HELD_NOTICE))
    else:
        messages.success(request, _("Votre proposition est à jour."))
    return None


@_post_on_proposal
def comment_add(request: HttpRequest, proposal: Proposal):
    body = forms.text_of(request.POST, "body")
    parent = request.POST.get("parent", "")
    form = f"reply-{parent}" if parent.isdigit() else "comment"
    try:
        comment = services.comment_add(
            proposal=proposal,
            author=request.user,
            body=body,
            parent_id=int(parent) if parent.isdigit() else None,
        )
    except DomainError as exc:
        return _failed(form, exc, {"body": body})
    if comment.state == State.PENDING:
        messages.info(
            request, _("Votre commentaire sera publié après relecture par un modérateur.")
        )
    return redirect(reverse("participation:proposal", args=[proposal.pk]) + f"#c{comment.pk}")


@_post_on_proposal
def comment_edit(request: HttpRequest, proposal: Proposal, comment_id: int):
    body = forms.text_of(request.POST, "body")
    try:
        services.comment_edit(comment_id=comment_id, by=request.user, body=body)
    except DomainError as exc:
        return _failed(f"edit-{comment_id}", exc, {"body": body})
    return redirect(reverse("participation:proposal", args=[proposal.pk]) + f"#c{comment_id}")


@_post_on_proposal
def comment_delete(request: HttpRequest, proposal: Proposal, comment_id: int):
    try:
        services.comment_delete(comment_id=comment_id, by=request.user)
    except DomainError as exc:
        messages.error(request, forms.french(exc))
    else:
        messages.success(request, _("Votre commentaire est supprimé."))
    return None


def _kind_and_id(request: HttpRequest, proposal: Proposal) -> tuple[str, int] | None:
    kind = request.POST.get("kind", "")
    target = request.POST.get("id", "")
    if kind == "proposal":
        return kind, proposal.pk
    if kind == "comment" and target.isdigit() and proposal.comments.filter(pk=target).exists():
        return kind, int(target)
    return None


@_post_on_proposal
def report(request: HttpRequest, proposal: Proposal):
    target = _kind_and_id(request, proposal)
    if target is None:
        raise Http404
    kind, item = target
    values = {"reason": request.POST.get("reason", ""), "note": forms.text_of(request.POST, "note")}
    try:
        moderation.report_create(
            kind=kind, target_id=item, reason=values["reason"], note=values["note"], by=request.user
        )
    except DomainError as exc:
        return _failed(f"report-{item}" if kind == "comment" else "report", exc, values)
    messages.success(request, _("Merci : un modérateur va examiner votre signalement."))
    return None


@_post_on_proposal
def review(request: HttpRequest, proposal: Proposal):
    target = _kind_and_id(request, proposal)
    if target is None:
        raise Http404
    kind, item = target
    note = forms.text_of(request.POST, "note")
    try:
        moderation.review_request(kind=kind, target_id=item, note=note, by=request.user)
    except DomainError as exc:
        return _failed(f"review-{item}" if kind == "comment" else "review", exc, {"note": note})
    messages.success(
        request, _("Votre demande de réexamen est envoyée : un modérateur vous répondra.")
    )
    return None


@_post_on_proposal
def answer(request: HttpRequest, proposal: Proposal):
    values = {"status": request.POST.get("status", ""), "text": forms.text_of(request.POST, "text")}
    try:
        services.proposal_answer(
            proposal_id=proposal.pk, status=values["status"], text=values["text"], by=request.user
        )
    except DomainError as exc:
        return _failed("answer", exc, values)
    messages.success(
        request, _("La réponse est publiée ; l'auteur et les soutiens en sont informés.")
    )
    return None


@_post_on_proposal
def merge(request: HttpRequest, proposal: Proposal):
    raw = request.POST.get("target", "").strip().lstrip("#nN°").strip()
    if not raw.isdigit():
        return {
            "form": "merge",
            "field": "target",
            "message": _("Indiquez le numéro de la proposition (par exemple 42)."),
            "values": {"target": raw[:20]},
        }
    try:
        target = services.proposal_merge(source_id=proposal.pk, target_id=int(raw), by=request.user)
    except DomainError as exc:
        return _failed("merge", exc, {"target": raw})
    messages.success(
        request, _("Les propositions sont regroupées ; leurs auteurs en sont informés.")
    )
    return redirect("participation:proposal", pk=target.pk)


@require_safe
def attachment(request: HttpRequest, pk: int, attachment_id: int) -> FileResponse:
    """A proposal's file, for those who may read its text (not a hidden one's, to others)."""
    proposal = _proposal(request, pk)
    if not selectors.can_read_text(_member(request), proposal, proposal.consultation):
        raise Http404
    item = proposal.attachments.filter(pk=attachment_id).first()
    if item is None:
        raise Http404
    response = FileResponse(
        item.file.open("rb"),
        content_type=item.content_type,
        # Images show in the browser; a PDF is saved (its viewer is none of our business).
        as_attachment=not item.content_type.startswith("image/"),
        filename=item.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


# -- organisers -----------------------------------------------------------------------------------

CONSULTATION_FIELDS = (
    "title",
    "text",
    "area",
    "opens_at",
    "proposals_close_at",
    "closes_at",
    "supports_per_member",
)


def organiser_required(view: Callable) -> Callable:
    """Logged in (else the login page), and staff or a coordinator (else a 403 page)."""

    @login_required
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not selectors.may_open_somewhere(request.user):
            return _denied(
                request,
                _(
                    "Seuls l'équipe nationale et les coordinateurs de territoire organisent les "
                    "consultations et les modèrent."
                ),
            )
        return view(request, *args, **kwargs)

    return wrapped


def _consultation_form(request: HttpRequest) -> tuple[dict, dict, services.ConsultationIn | None]:
    form = {k: forms.text_of(request.POST, k) for k in CONSULTATION_FIELDS}
    form["publish"] = request.POST.get("publish") == "on"
    errors: dict[str, str] = {}
    dates = {}
    for name in ("opens_at", "proposals_close_at", "closes_at"):
        dates[name] = forms.parse_local(form[name])
        if dates[name] is None and (form[name].strip() or name != "proposals_close_at"):
            errors[name] = _("Indiquez une date et une heure.")
    quota, readable = forms.parse_quota(form["supports_per_member"])
    if not readable:
        errors["supports_per_member"] = _(
            "Soutiens par membre : laissez vide (sans limite) ou indiquez un nombre de 1 à 10 000."
        )
    if errors:
        return form, errors, None
    data = services.ConsultationIn(
        title=form["title"],
        text=form["text"],
        opens_at=dates["opens_at"],
        proposals_close_at=dates["proposals_close_at"],
        closes_at=dates["closes_at"],
        area_code=form["area"].strip(),
        supports_per_member=quota,
        publish=form["publish"],
    )
    return form, errors, data


@organiser_required
@require_http_methods(["GET", "POST"])
def consultation_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "participation/consultation_form.html", {"form": {"publish": True}})
    form, errors, data = _consultation_form(request)
    if data is not None:
        try:
            consultation = services.consultation_create(data=data, by=request.user)
        except DomainError as exc:
            errors[forms.place(exc, CONSULTATION_FIELDS)] = forms.french(exc)
        else:
            messages.success(request, _("La consultation est enregistrée."))
            return redirect("participation:consultation", pk=consultation.pk)
    return render(
        request,
        "participation/consultation_form.html",
        {"form": form, "errors": errors},
        status=400,
    )


@organiser_required
@require_http_methods(["GET", "POST"])
def consultation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = _consultation(request, pk)
    if not selectors.may_manage(request.user, consultation):
        return _denied(request, _("Seuls les organisateurs de cette consultation la modifient."))
    if request.method == "GET":
        form = {
            "title": consultation.title,
            "text": consultation.text,
            "area": _area_code(consultation.area),
            "opens_at": forms.local_input(consultation.opens_at),
            "proposals_close_at": forms.local_input(consultation.proposals_close_at),
            "closes_at": forms.local_input(consultation.closes_at),
            "supports_per_member": consultation.supports_per_member or "",
            "publish": consultation.status == "published",
        }
        return render(
            request,
            "participation/consultation_form.html",
            {"form": form, "consultation": consultation},
        )
    form, errors, data = _consultation_form(request)
    if data is not None:
        try:
            services.consultation_update(consultation=consultation, data=data, by=request.user)
        except DomainError as exc:
            errors[forms.place(exc, CONSULTATION_FIELDS)] = forms.french(exc)
        else:
            messages.success(request, _("La consultation est à jour."))
            return redirect("participation:consultation", pk=consultation.pk)
    return render(
        request,
        "participation/consultation_form.html",
        {"form": form, "errors": errors, "consultation": consultation},
        status=400,
    )


def _area_code(area) -> str:
    """The code ``area_by_code`` reads back (regions are written R84)."""
    if area is None:
        return ""
    return f"R{area.code}" if area.kind == "region" else area.code


@organiser_required
@require_http_methods(["GET", "POST"])
def moderation_queue(request: HttpRequest) -> HttpResponse:
    failed: dict = {}
    status = 200
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        target = request.POST.get("id", "")
        action = request.POST.get("action", "")
        reason = forms.text_of(request.POST, "reason", 2000)
        if kind in ("proposal", "comment") and target.isdigit():
            try:
                moderation.moderate(
                    kind=kind, target_id=int(target), action=action, reason=reason, by=request.user
                )
            except DomainError as exc:
                failed = {"key": f"{kind}-{target}", "message": forms.french(exc), "reason": reason}
                status = 400
            else:
                messages.success(request, DONE.get(action, _("C'est fait.")))
                return redirect("participation:moderation")
        else:
            raise Http404
    try:
        waiting = moderation.queue(request.user)
    except DomainError as exc:
        return _denied(request, forms.french(exc))
    for items in waiting.values():
        for item in items:
            item.key = f"{item.kind}-{item.pk}"
            item.failed = failed if failed.get("key") == item.key else None
            item.proposal_id_for_link = item.pk if item.kind == "proposal" else item.proposal_id
            item.held_names = [HELD_FOR.get(code, code) for code in item.held_for]
    shown = any(item.failed for items in waiting.values() for item in items)
    return render(
        request,
        "participation/moderation.html",
        # An error about an item no longer (or never) in the queue shows at the top.
        {"waiting": waiting, "error": failed.get("message") if failed and not shown else None},
        status=status,
    )


DONE = {
    "approve": gettext_lazy("Contenu publié ; son auteur en est informé."),
    "hide": gettext_lazy("Contenu masqué ; son auteur en est informé."),
    "restore": gettext_lazy("Contenu rétabli ; son auteur en est informé."),
    "uphold": gettext_lazy("Masquage maintenu ; son auteur en est informé."),
    "dismiss": gettext_lazy("Signalements classés ; le contenu reste visible."),
}
# Why the spam heuristic held something (``moderation.spam_reasons``).
HELD_FOR = {
    "links": gettext_lazy("liens"),
    "repeat": gettext_lazy("texte répété"),
    "new_account": gettext_lazy("compte récent"),
    "shouting": gettext_lazy("majuscules"),
}


# -- news -----------------------------------------------------------------------------------------


@require_safe
def news_list(request: HttpRequest) -> HttpResponse:
    rows = NewsItem.objects.filter(published_at__lte=timezone.now())
    page = Paginator(rows, 10).get_page(request.GET.get("page"))
    for item in page.object_list:
        item.html = markdown(item.body)
    return render(request, "participation/news.html", {"page": page})


# -- the relay's meeting --------------------------------------------------------------------------


@login_required
@require_POST
def meeting_proposals(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """Attach a proposal to the relay's meeting, or take it off; back to the assignment."""
    number = request.POST.get("proposal", "")
    try:
        if request.POST.get("action") == "detach":
            meetings.meeting_detach(
                assignment_id=assignment_id, proposal_id=number, by=request.user
            )
            messages.success(request, _("La proposition est retirée de la liste."))
        else:
            meetings.meeting_attach(
                assignment_id=assignment_id, proposal_id=number, by=request.user
            )
            messages.success(request, _("La proposition est ajoutée à la liste de la rencontre."))
    except Forbidden as exc:
        return _denied(request, forms.french(exc))
    except DomainError as exc:
        if exc.code == "not_found" and exc.field == "assignment":
            raise Http404 from exc
        messages.error(request, forms.french(exc))
    return redirect(reverse("campaigns:assignment", args=[assignment_id]) + "#propositions")
