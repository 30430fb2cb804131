"""Campaign endpoints of /api/v1/: campaigns, opening, progress, assignments and reports."""

from __future__ import annotations

import datetime

from django.http import HttpRequest, HttpResponse
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from nextwork.api.auth import member_auth
from nextwork.campaigns import selectors, services
from nextwork.campaigns.models import Assignment, Campaign
from nextwork.common.errors import Forbidden, NotFound
from nextwork.network.apis import AUTH_ERRORS, ErrorOut
from nextwork.network.models import Role
from nextwork.network.permissions import current_grants

router = Router(tags=["campaigns"])


class TopicIn(Schema):
    title: str = Field(max_length=200)
    briefing: str = ""
    asks: str = ""


class TemplateIn(Schema):
    chamber: str = Field(description="assembly or senate")
    subject: str = Field(max_length=200)
    body: str = Field(max_length=20_000)


class CampaignIn(Schema):
    title: str = Field(max_length=200)
    starts_at: datetime.datetime = Field(description="With its offset: 2027-03-12T10:00:00+01:00")
    chambers: str = Field("assembly", description="assembly, senate or both")
    time_zone: str = "Europe/Paris"
    description: str = ""
    briefing: str = Field("", description="Markdown (a safe subset is rendered).")
    departments: list[str] = Field(
        default_factory=list, description="Department codes; empty for a national campaign."
    )
    topics: list[TopicIn] = Field(default_factory=list)
    templates: list[TemplateIn] = Field(default_factory=list)
    reminder_days: list[int] = Field(
        default_factory=list,
        description="Days before the action when relays who have not acted get a reminder.",
    )


class TopicOut(Schema):
    id: int
    title: str
    briefing: str
    asks: str


class CampaignOut(Schema):
    id: int
    title: str
    description: str
    starts_at: datetime.datetime
    time_zone: str
    chambers: str
    status: str
    departments: list[str]
    topics: list[TopicOut]


def _campaign_out(campaign: Campaign) -> dict:
    return {
        "id": campaign.pk,
        "title": campaign.title,
        "description": campaign.description,
        "starts_at": campaign.starts_at,
        "time_zone": campaign.time_zone,
        "chambers": campaign.chambers,
        "status": campaign.status,
        "departments": sorted(campaign.departments.values_list("code", flat=True)),
        "topics": [
            {"id": t.pk, "title": t.title, "briefing": t.briefing, "asks": t.asks}
            for t in campaign.topics.all()
        ],
    }


def _campaign_for(request: HttpRequest, campaign_id: int) -> Campaign:
    campaign = selectors.visible_campaigns(request.user).filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound("No campaign with this id.", field="campaign_id")
    return campaign


@router.get(
    "/campaigns",
    response={200: list[CampaignOut], **AUTH_ERRORS},
    auth=member_auth,
    summary="Action days (drafts for staff only)",
)
def campaign_list(request: HttpRequest):
    campaigns = selectors.visible_campaigns(request.user).prefetch_related("topics", "departments")
    return [_campaign_out(c) for c in campaigns[:200]]


@router.post(
    "/campaigns",
    response={201: CampaignOut, 400: ErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Prepare an action day (staff)",
)
def campaign_create(request: HttpRequest, payload: CampaignIn):
    campaign = services.campaign_create(
        data=services.CampaignIn(
            title=payload.title,
            starts_at=payload.starts_at,
            chambers=payload.chambers,
            time_zone=payload.time_zone,
            description=payload.description,
            briefing=payload.briefing,
            departments=payload.departments,
            topics=[services.TopicIn(**t.dict()) for t in payload.topics],
            templates=[services.TemplateIn(**t.dict()) for t in payload.templates],
            reminder_days=payload.reminder_days,
        ),
        by=request.user,
    )
    return Status(201, _campaign_out(campaign))


class OpenOut(Schema):
    assignments: int
    with_relay: int
    gaps: list[str] = Field(description="Seats whose representative nobody will meet.")
    vacant: list[str] = Field(description="Targeted constituencies without a deputy.")


@router.post(
    "/campaigns/{campaign_id}/open",
    response={200: OpenOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Open a draft: one assignment per targeted representative (staff)",
)
def campaign_open(request: HttpRequest, campaign_id: int):
    report = services.campaign_open(campaign=_campaign_for(request, campaign_id), by=request.user)
    return report.__dict__


@router.post(
    "/campaigns/{campaign_id}/close",
    response={200: CampaignOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Close an open campaign: no new report; edits are kept as versions (staff)",
)
def campaign_close(request: HttpRequest, campaign_id: int):
    campaign = services.campaign_close(
        campaign=_campaign_for(request, campaign_id), by=request.user
    )
    return _campaign_out(campaign)


class StepCounts(Schema):
    assigned: int
    contacted: int
    scheduled: int
    held: int
    reported: int


class DepartmentProgress(StepCounts):
    code: str
    targeted: int
    gaps: int


class ProgressOut(Schema):
    campaign: int
    status: str
    starts_at: datetime.datetime
    seconds_to_start: int
    total: int = Field(description="Representatives targeted (assignments, gaps included).")
    gaps: int
    stages: StepCounts
    by_department: list[DepartmentProgress]


@router.get(
    "/campaigns/{campaign_id}/progress",
    response={200: ProgressOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="The funnel, nationally and by department (coordinators: their territory)",
)
def campaign_progress(request: HttpRequest, campaign_id: int):
    campaign = _campaign_for(request, campaign_id)
    if not current_grants(request.user).exists():
        raise Forbidden("Progress is for relays, coordinators and staff.", field=None)
    return selectors.progress(campaign, caller=request.user)


class AssignmentOut(Schema):
    id: int
    campaign: int
    chamber: str
    area: str
    representative: str
    representative_id: str
    relay: str | None
    stage: str
    contact_method: str
    meeting_at: datetime.datetime | None
    meeting_place: str
    outcome: str


def _assignment_out(a: Assignment) -> dict:
    return {
        "id": a.pk,
        "campaign": a.campaign_id,
        "chamber": a.chamber,
        "area": a.area.code,
        "representative": a.mandate.full_name,
        "representative_id": a.person_id,
        "relay": a.relay.full_name if a.relay else None,
        "stage": a.stage,
        "contact_method": a.contact_method,
        "meeting_at": a.meeting_at,
        "meeting_place": a.meeting_place,
        "outcome": a.outcome,
    }


@router.get(
    "/assignments",
    response={200: list[AssignmentOut], **AUTH_ERRORS},
    auth=member_auth,
    summary="Assignments: mine, or my territory's for coordinators (staff: all)",
)
def assignment_list(request: HttpRequest, campaign: int, limit: int = 1000, offset: int = 0):
    found = _campaign_for(request, campaign)
    rows = selectors.assignments_for(request.user, found)
    offset = max(offset, 0)
    return [_assignment_out(a) for a in rows[offset : offset + max(1, min(limit, 1000))]]


class PositionIn(Schema):
    topic: int
    stance: str = Field("unknown", description="supports, neutral, opposes or unknown")
    quote: str = ""
    note: str = ""


class CampaignReportIn(Schema):
    held_on: datetime.date | None = None
    attendees: str = ""
    commitments: str = ""
    follow_up: str = ""
    visibility: str = Field("internal", description="internal or publishable")
    positions: list[PositionIn] = Field(default_factory=list)


class PositionOut(PositionIn):
    pass


class CampaignReportOut(CampaignReportIn):
    id: int
    assignment: int
    version: int
    positions: list[PositionOut]


@router.post(
    "/assignments/{assignment_id}/report",
    response={200: CampaignReportOut, 400: ErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="File (or update) the meeting report of my assignment",
)
def report_submit(request: HttpRequest, assignment_id: int, payload: CampaignReportIn):
    assignment = (
        selectors.assignments_for(request.user).filter(pk=assignment_id).first()
        if request.user.is_authenticated
        else None
    )
    if assignment is None:
        raise NotFound("No assignment of yours with this id.", field="assignment_id")
    report = services.report_submit(
        assignment=assignment,
        by=request.user,
        data=services.ReportIn(
            held_on=payload.held_on,
            attendees=payload.attendees,
            commitments=payload.commitments,
            follow_up=payload.follow_up,
            visibility=payload.visibility,
            positions=[services.PositionIn(**p.dict()) for p in payload.positions],
        ),
    )
    return {
        "id": report.pk,
        "assignment": assignment.pk,
        "version": report.version,
        "held_on": report.held_on,
        "attendees": report.attendees,
        "commitments": report.commitments,
        "follow_up": report.follow_up,
        "visibility": report.visibility,
        "positions": [
            {"topic": p.topic_id, "stance": p.stance, "quote": p.quote, "note": p.note}
            for p in report.positions.order_by("topic_id")
        ],
    }


def _report_campaign(request: HttpRequest, campaign_id: int) -> Campaign:
    if not current_grants(request.user, [Role.COORDINATOR, Role.STAFF]).exists():
        raise Forbidden("The summary report is for coordinators and staff.", field=None)
    campaign = _campaign_for(request, campaign_id)
    if campaign.status == "draft":
        raise NotFound("A draft has no report yet.", field="campaign_id")
    return campaign


@router.get(
    "/campaigns/{campaign_id}/report.pdf",
    response={200: None, **AUTH_ERRORS},
    auth=member_auth,
    summary="The summary report as PDF (publishable content only)",
    openapi_extra={
        "responses": {200: {"content": {"application/pdf": {"schema": {"type": "string"}}}}}
    },
)
def campaign_report_pdf(request: HttpRequest, campaign_id: int):
    from nextwork.campaigns import report

    campaign = _report_campaign(request, campaign_id)
    response = HttpResponse(report.pdf(campaign), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="journee-{campaign.pk}.pdf"'
    return response


@router.get(
    "/campaigns/{campaign_id}/report.csv",
    response={200: None, **AUTH_ERRORS},
    auth=member_auth,
    summary="One row per targeted representative (positions from publishable reports only)",
    openapi_extra={"responses": {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}},
)
def campaign_report_csv(request: HttpRequest, campaign_id: int):
    from nextwork.campaigns import report

    campaign = _report_campaign(request, campaign_id)
    response = HttpResponse(report.csv_text(campaign), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="journee-{campaign.pk}.csv"'
    return response


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    sha256: str


@router.post(
    "/campaigns/{campaign_id}/attachments",
    response={201: AttachmentOut, 400: ErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Add a file to the briefing kit (staff; PDF, PNG, JPEG or WebP, 10 MB at most)",
)
def attachment_add(request: HttpRequest, campaign_id: int, file: File[UploadedFile]):
    campaign = _campaign_for(request, campaign_id)
    services.attachment_size_check(file.size or 0)  # before reading a huge upload
    attachment = services.attachment_add(
        campaign=campaign, name=file.name or "fichier", data=file.read(), by=request.user
    )
    return Status(
        201,
        {
            "id": attachment.pk,
            "name": attachment.name,
            "content_type": attachment.content_type,
            "size": attachment.size,
            "sha256": attachment.sha256,
        },
    )
