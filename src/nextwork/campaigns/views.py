"""Campaign pages: the relay's assignment (made for a phone), and the live dashboard."""

from __future__ import annotations

import datetime
import difflib
import zoneinfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from nextwork.campaigns import selectors, services
from nextwork.campaigns.models import (
    Assignment,
    Attachment,
    Campaign,
    ContactMethod,
    Outcome,
    RepresentativeContact,
    Stage,
    Stance,
    Status,
    Visibility,
)
from nextwork.common.errors import DomainError
from nextwork.common.richtext import render as markdown
from nextwork.network.models import Role
from nextwork.network.permissions import current_grants, is_staff
from nextwork.territories import svg
from nextwork.territories.lookup import get_engine
from nextwork.territories.models import SENATE_KINDS, Area


@login_required
@require_safe
def my_actions(request: HttpRequest) -> HttpResponse:
    rows = (
        Assignment.objects.filter(relay=request.user)
        .exclude(campaign__status=Status.DRAFT)
        .select_related("campaign", "area", "mandate")
        .order_by("-campaign__starts_at", "area__code")
    )
    return render(request, "campaigns/my_actions.html", {"assignments": rows})


def _assignment_for(request: HttpRequest, pk: int) -> Assignment:
    assignment = (
        selectors.assignments_for(request.user).exclude(campaign__status=Status.DRAFT).filter(pk=pk)
    ).first()
    if assignment is None:
        raise Http404
    return assignment


def _message(assignment: Assignment) -> dict:
    """The template filled for this seat, the relay's version, and what they changed."""
    template = assignment.campaign.templates.filter(chamber=assignment.chamber).first()
    if template is None:
        return {}
    values = services.template_values(assignment)
    subject = services.template_render(template.subject, values)
    body = services.template_render(template.body, values)
    mine_subject = assignment.message_subject or subject
    mine_body = assignment.message_body or body
    changes = [
        line
        for line in difflib.unified_diff(
            body.splitlines(), mine_body.splitlines(), lineterm="", n=0
        )
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return {
        "template_subject": subject,
        "template_body": body,
        "subject": mine_subject,
        "body": mine_body,
        "identical": mine_body.strip() == body.strip(),
        "changes": changes,
    }


def _contact(assignment: Assignment) -> dict:
    mandate = assignment.mandate
    card = RepresentativeContact.objects.filter(
        chamber=assignment.chamber, person_id=assignment.person_id
    ).first()
    return {
        "email": (card.email if card and card.email else mandate.email) or "",
        "phone": (card.phone if card and card.phone else mandate.phone) or "",
        "address": (card.office_address if card and card.office_address else mandate.address) or "",
        "source": (
            f"{card.source}, {card.checked_on:%d/%m/%Y}" if card else _("données publiques")
        ),
    }


def _local_input(value: str, zone: str) -> datetime.datetime | None:
    """A ``datetime-local`` field, read in the seat's time zone."""
    if not value:
        return None
    try:
        naive = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return naive.replace(tzinfo=zoneinfo.ZoneInfo(zone))


@login_required
@require_http_methods(["GET", "POST"])
def assignment_page(request: HttpRequest, pk: int) -> HttpResponse:
    assignment = _assignment_for(request, pk)
    campaign = assignment.campaign
    zone = services.seat_time_zone(assignment.area) or campaign.time_zone
    mine = assignment.relay_id == request.user.pk
    if request.method == "POST":
        if not mine:
            raise PermissionDenied
        action = request.POST.get("action")
        try:
            if action == "message":
                services.message_save(
                    assignment=assignment,
                    by=request.user,
                    subject=request.POST.get("subject", ""),
                    body=request.POST.get("body", ""),
                )
                messages.success(request, _("Votre message est enregistré."))
            elif action == "send":
                services.email_representative(assignment=assignment, by=request.user)
                messages.success(
                    request,
                    _("Message envoyé ; les réponses arriveront dans votre boîte aux lettres."),
                )
            elif action == "checklist":
                meeting_at = _local_input(request.POST.get("meeting_at", ""), zone)
                services.checklist_update(
                    assignment=assignment,
                    by=request.user,
                    data=services.ChecklistIn(
                        contact_method=request.POST.get("contact_method", ""),
                        contacted=bool(request.POST.get("contact_method")),
                        requested=request.POST.get("requested") == "on",
                        meeting_at=meeting_at,
                        meeting_place=request.POST.get("meeting_place", ""),
                        outcome=request.POST.get("outcome", ""),
                    ),
                )
                messages.success(request, _("Avancement enregistré."))
            elif action == "report":
                services.report_submit(
                    assignment=assignment, by=request.user, data=_report_from(request, campaign)
                )
                messages.success(request, _("Compte rendu enregistré. Merci !"))
            else:
                messages.error(request, _("Action inconnue."))
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("campaigns:assignment", pk=assignment.pk)
    report = getattr(assignment, "report", None) if hasattr(assignment, "report") else None
    positions = {p.topic_id: p for p in report.positions.all()} if report else {}
    topics = [
        {"topic": t, "briefing": markdown(t.briefing), "position": positions.get(t.pk)}
        for t in campaign.topics.all()
    ]
    start = services.local_start(campaign, assignment.area)
    return render(
        request,
        "campaigns/assignment.html",
        {
            "assignment": assignment,
            "campaign": campaign,
            "mine": mine,
            "start": start,
            "zone": zone,
            "days_left": (
                start.date() - timezone.localtime(timezone.now(), start.tzinfo).date()
            ).days,
            "briefing": markdown(campaign.briefing),
            "topics": topics,
            "attachments": campaign.attachments.all(),
            "message": _message(assignment),
            "contact": _contact(assignment),
            "report": report,
            "methods": ContactMethod.choices,
            "outcomes": Outcome.choices,
            "stances": Stance.choices,
            "visibilities": Visibility.choices,
            "meeting_local": timezone.localtime(assignment.meeting_at, zoneinfo.ZoneInfo(zone))
            if assignment.meeting_at
            else None,
            "stage_index": _stage_index(assignment.stage),
        },
    )


STEPS = [
    (Stage.ASSIGNED, _("Assignée")),
    (Stage.CONTACTED, _("Contact pris")),
    (Stage.SCHEDULED, _("Rendez-vous fixé")),
    (Stage.HELD, _("Rencontre tenue")),
    (Stage.REPORTED, _("Compte rendu")),
]


def _stage_index(stage: str) -> int:
    order = [Stage.ASSIGNED, Stage.CONTACTED, Stage.REQUESTED, Stage.SCHEDULED, Stage.HELD]
    order.append(Stage.REPORTED)
    position = order.index(stage)
    return {0: 0, 1: 1, 2: 1, 3: 2, 4: 3, 5: 4}[position]


def _report_from(request: HttpRequest, campaign) -> services.ReportIn:
    held_on = request.POST.get("held_on") or None
    try:
        held = datetime.date.fromisoformat(held_on) if held_on else None
    except ValueError:
        held = None
    return services.ReportIn(
        held_on=held,
        attendees=request.POST.get("attendees", ""),
        commitments=request.POST.get("commitments", ""),
        follow_up=request.POST.get("follow_up", ""),
        visibility=request.POST.get("visibility", Visibility.INTERNAL),
        positions=[
            services.PositionIn(
                topic=t.pk,
                stance=request.POST.get(f"stance-{t.pk}", Stance.UNKNOWN),
                quote=request.POST.get(f"quote-{t.pk}", ""),
                note=request.POST.get(f"note-{t.pk}", ""),
            )
            for t in campaign.topics.all()
        ],
    )


@login_required
@require_safe
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    """Briefing files: for those who take part in the campaign (relays, coordinators, staff)."""
    attachment = Attachment.objects.filter(pk=pk).select_related("campaign").first()
    if attachment is None:
        raise Http404
    if not selectors.visible_campaigns(request.user).filter(pk=attachment.campaign_id).exists():
        raise Http404
    response = FileResponse(
        attachment.file.open("rb"),
        content_type=attachment.content_type,
        as_attachment=attachment.content_type == "application/pdf",
        filename=attachment.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _require_coordination(member) -> None:
    if not current_grants(member, [Role.COORDINATOR, Role.STAFF]).exists():
        raise PermissionDenied


@login_required
@require_safe
def campaign_list(request: HttpRequest) -> HttpResponse:
    _require_coordination(request.user)
    campaigns = selectors.visible_campaigns(request.user)
    return render(request, "campaigns/campaign_list.html", {"campaigns": campaigns})


# The colour class of a seat on the campaign map, by the stage of its deputy's assignment.
MAP_CLASSES = {
    Stage.ASSIGNED: "stage-assigned",
    Stage.CONTACTED: "stage-contacted",
    Stage.REQUESTED: "stage-contacted",
    Stage.SCHEDULED: "stage-scheduled",
    Stage.HELD: "stage-held",
    Stage.REPORTED: "stage-reported",
}


@login_required
@require_safe
def campaign_dashboard(request: HttpRequest, pk: int) -> HttpResponse:
    _require_coordination(request.user)
    campaign = selectors.visible_campaigns(request.user).filter(pk=pk).first()
    if campaign is None:
        raise Http404
    progress = selectors.progress(campaign, caller=request.user)
    names = dict(
        Area.objects.filter(
            boundary_set_id=get_engine().boundary_set_id, kind__in=SENATE_KINDS
        ).values_list("code", "name")
    )
    for row in progress["by_department"]:
        row["name"] = names.get(row["code"], "")
    seats = dict(
        Assignment.objects.filter(campaign=campaign, chamber="assembly")
        .filter(selectors.assignment_scope(request.user))
        .values_list("area__code", "stage")
    )
    gaps = set(
        Assignment.objects.filter(campaign=campaign, chamber="assembly", relay__isnull=True)
        .filter(selectors.assignment_scope(request.user))
        .values_list("area__code", flat=True)
    )
    # Seats outside the campaign (or the caller's territory) stay pale.
    classes = dict.fromkeys(get_engine().seats, "stage-out")
    classes.update(
        {
            code: "stage-gap" if code in gaps else MAP_CLASSES.get(stage, "stage-assigned")
            for code, stage in seats.items()
        }
    )
    total = max(progress["total"], 1)
    funnel = [
        {
            "key": key,
            "label": label,
            "count": progress["stages"][key],
            "percent": round(100 * progress["stages"][key] / total),
        }
        for key, label in STEPS
    ]
    days, seconds = divmod(progress["seconds_to_start"], 86400)
    return render(
        request,
        "campaigns/dashboard.html",
        {
            "campaign": campaign,
            "progress": progress,
            "funnel": funnel,
            "countdown": {"days": days, "hours": seconds // 3600},
            "map_svg": svg.national_map(classes),
            "late": selectors.late_assignments(campaign, caller=request.user, limit=50),
            "is_staff": is_staff(request.user),
            "attachments": campaign.attachments.all(),
        },
    )


@login_required
@require_safe
def campaign_report(request: HttpRequest, pk: int, fmt: str = "html") -> HttpResponse:
    """The summary report (publishable content only), for coordinators and staff."""
    from nextwork.campaigns import report

    _require_coordination(request.user)
    campaign = selectors.visible_campaigns(request.user).filter(pk=pk).first()
    if campaign is None or campaign.status == Status.DRAFT:
        raise Http404
    name = f"journee-{campaign.pk}"
    if fmt == "pdf":
        response = HttpResponse(report.pdf(campaign), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
        return response
    if fmt == "csv":
        response = HttpResponse(report.csv_text(campaign), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    return HttpResponse(report.html(campaign))


@login_required
@require_safe
def representative_page(request: HttpRequest, chamber: str, person_id: str) -> HttpResponse:
    """Every interaction with one representative, within the caller's territory."""
    from nextwork.campaigns import engagement

    _require_coordination(request.user)
    data = engagement.representative(
        chamber, person_id, scope=selectors.assignment_scope(request.user)
    )
    if data is None:
        raise Http404
    return render(request, "campaigns/representative.html", {**data, "formula": engagement.FORMULA})


@login_required
@require_safe
def campaign_positions(request: HttpRequest, pk: int) -> HttpResponse:
    from nextwork.campaigns import engagement

    _require_coordination(request.user)
    campaign = selectors.visible_campaigns(request.user).filter(pk=pk).first()
    if campaign is None:
        raise Http404
    topics = engagement.positions_summary(campaign, scope=selectors.assignment_scope(request.user))
    return render(
        request,
        "campaigns/positions.html",
        {"campaign": campaign, "topics": topics, "formula": engagement.FORMULA},
    )


@require_safe
def public_list(request: HttpRequest) -> HttpResponse:
    campaigns = Campaign.objects.exclude(status=Status.DRAFT).order_by("-starts_at")[:50]
    return render(request, "campaigns/public_list.html", {"campaigns": campaigns})


@require_safe
def public_campaign(request: HttpRequest, pk: int) -> HttpResponse:
    """What happened, seat by seat: stages and publishable positions only, no relay's name."""
    from nextwork.campaigns import report

    campaign = Campaign.objects.exclude(status=Status.DRAFT).filter(pk=pk).first()
    if campaign is None:
        raise Http404
    data = report.build(campaign)
    seats = (
        Assignment.objects.filter(campaign=campaign)
        .select_related("area", "mandate")
        .order_by("chamber", "area__code", "mandate__last_name")
    )
    return render(
        request,
        "campaigns/public_campaign.html",
        {**data, "seats": seats, "description": markdown(campaign.description)},
    )


@login_required
@require_http_methods(["POST"])
def attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff add a file to the briefing kit from the campaign's dashboard."""
    campaign = selectors.visible_campaigns(request.user).filter(pk=pk).first()
    if campaign is None:
        raise Http404
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise services.InvalidInput("Choose a file.", field="file")
        services.attachment_size_check(upload.size or 0)
        services.attachment_add(
            campaign=campaign, name=upload.name, data=upload.read(), by=request.user
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Fichier ajouté au dossier."))
    return redirect("campaigns:dashboard", pk=campaign.pk)
