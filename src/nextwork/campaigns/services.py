"""Writing campaigns: create, open (the assignments), the relay's checklist and report."""

from __future__ import annotations

import datetime
import hashlib
import logging
import re
import zoneinfo
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from nextwork.campaigns.models import (
    Assignment,
    Attachment,
    Campaign,
    Chambers,
    ContactLog,
    ContactMethod,
    MessageTemplate,
    Outcome,
    Position,
    ReminderSent,
    Report,
    ReportVersion,
    RepresentativeContact,
    Stage,
    Stance,
    Status,
    Topic,
    Visibility,
)
from nextwork.common.errors import Conflict, Forbidden, InvalidInput
from nextwork.common.mail import send_after_commit
from nextwork.common.ratelimit import RateLimited
from nextwork.common.uploads import IMAGES_AND_PDF, checked_upload
from nextwork.network import permissions
from nextwork.network.models import Grant, Member, Role
from nextwork.privacy.services import audit_record
from nextwork.territories.lookup import get_engine
from nextwork.territories.models import SENATE_KINDS, Area, AreaKind, Chamber, Mandate

logger = logging.getLogger("nextwork.campaigns")

# -- message templates -------------------------------------------------------------------------

# The variables a template may use, with what they become.
TEMPLATE_VARIABLES = {
    "representative_title": "Madame la députée, Monsieur le sénateur…",
    "representative_name": "the representative's first and last name",
    "representative_group": "their parliamentary group",
    "constituency": "the constituency (or department, for senators)",
    "relay_name": "the relay's first and last name",
    "campaign_title": "the campaign's title",
    "campaign_date": "the day and hour of the action, in the seat's local time",
}
_BRACES = re.compile(r"\{([^{}]*)\}")


def template_check(text: str, *, field_name: str) -> None:
    """Every ``{name}`` must be a known variable, and braces only serve variables."""
    names = _BRACES.findall(text)
    unknown = sorted({n for n in names if n not in TEMPLATE_VARIABLES})
    if unknown:
        raise InvalidInput(
            f"Unknown variable {{{unknown[0]}}}; the variables are "
            + ", ".join(f"{{{v}}}" for v in TEMPLATE_VARIABLES)
            + ".",
            field=field_name,
            code="unknown_variable",
        )
    if "{" in _BRACES.sub("", text) or "}" in _BRACES.sub("", text):
        raise InvalidInput(
            "A brace that opens a variable must close it, as in {representative_name}.",
            field=field_name,
            code="unknown_variable",
        )


def template_render(text: str, values: dict[str, str]) -> str:
    return _BRACES.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _salutation(mandate: Mandate) -> str:
    female = mandate.sex == "F"
    if mandate.chamber == Chamber.SENATE:
        return "Madame la sénatrice" if female else "Monsieur le sénateur"
    return "Madame la députée" if female else "Monsieur le député"


def local_start(campaign: Campaign, area: Area | None = None) -> datetime.datetime:
    """The moment of the action in the seat's own time zone (overseas), else the campaign's."""
    zone = seat_time_zone(area) if area is not None else None
    return timezone.localtime(campaign.starts_at, zoneinfo.ZoneInfo(zone or campaign.time_zone))


# Departments and collectivities with their own time (the rest of France: Europe/Paris).
OVERSEAS_ZONES = {
    "971": "America/Guadeloupe",
    "972": "America/Martinique",
    "973": "America/Cayenne",
    "974": "Indian/Reunion",
    "975": "America/Miquelon",
    "976": "Indian/Mayotte",
    "977": "America/St_Barthelemy",
    "978": "America/Marigot",
    "986": "Pacific/Wallis",
    "987": "Pacific/Tahiti",
    "988": "Pacific/Noumea",
}


def seat_time_zone(area: Area) -> str | None:
    code = area.code.split("-")[0] if area.kind == AreaKind.CONSTITUENCY else area.code
    return OVERSEAS_ZONES.get(code)


def template_values(assignment: Assignment) -> dict[str, str]:
    mandate = assignment.mandate
    start = local_start(assignment.campaign, assignment.area)
    return {
        "representative_title": _salutation(mandate),
        "representative_name": mandate.full_name,
        "representative_group": mandate.group or "",
        "constituency": assignment.area.display_name,
        "relay_name": assignment.relay.full_name if assignment.relay else "",
        "campaign_title": assignment.campaign.title,
        "campaign_date": start.strftime("%d/%m/%Y %H:%M"),
    }


# -- campaigns ---------------------------------------------------------------------------------


@dataclass
class TopicIn:
    title: str
    briefing: str = ""
    asks: str = ""


@dataclass
class TemplateIn:
    chamber: str
    subject: str
    body: str


@dataclass
class CampaignIn:
    title: str
    starts_at: datetime.datetime
    chambers: str = Chambers.ASSEMBLY
    time_zone: str = "Europe/Paris"
    description: str = ""
    briefing: str = ""
    departments: list[str] = field(default_factory=list)
    topics: list[TopicIn] = field(default_factory=list)
    templates: list[TemplateIn] = field(default_factory=list)
    reminder_days: list[int] = field(default_factory=list)


def _require_staff(member: Member) -> None:
    if not permissions.is_staff(member):
        raise Forbidden("Only national staff prepare campaigns.", field=None)


def _clean(data: CampaignIn) -> list[Area]:
    if not data.title.strip():
        raise InvalidInput("The title is required.", field="title")
    if len(data.title) > 200:
        raise InvalidInput("The title is limited to 200 characters.", field="title")
    if data.chambers not in Chambers.values:
        raise InvalidInput(f"chambers is one of {', '.join(Chambers.values)}.", field="chambers")
    try:
        zoneinfo.ZoneInfo(data.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"Unknown time zone {data.time_zone!r}.", field="time_zone") from None
    if timezone.is_naive(data.starts_at):
        raise InvalidInput("The date needs a time zone offset.", field="starts_at")
    if data.starts_at <= timezone.now():
        raise InvalidInput("The date of a new campaign must be in the future.", field="starts_at")
    for text, name in ((data.description, "description"), (data.briefing, "briefing")):
        if len(text) > 50_000:
            raise InvalidInput(f"The {name} is limited to 50,000 characters.", field=name)
    if any(not 0 <= d <= 60 for d in data.reminder_days) or len(data.reminder_days) > 10:
        raise InvalidInput(
            "Reminders are sent 0 to 60 days before the action, 10 at most.",
            field="reminder_days",
        )
    for topic in data.topics:
        if not topic.title.strip() or len(topic.title) > 200:
            raise InvalidInput(
                "Each topic needs a title of 200 characters at most.", field="topics"
            )
    for template in data.templates:
        if template.chamber not in (Chamber.ASSEMBLY, Chamber.SENATE):
            raise InvalidInput("A template is for the assembly or the senate.", field="templates")
        template_check(template.subject, field_name="templates.subject")
        template_check(template.body, field_name="templates.body")
    engine = get_engine()
    areas = Area.objects.filter(boundary_set_id=engine.boundary_set_id, kind__in=SENATE_KINDS)
    found = {a.code: a for a in areas.filter(code__in=[c.upper() for c in data.departments])}
    for code in data.departments:
        if code.upper() not in found:
            raise InvalidInput(
                f"{code!r} is not a department code (75, 2A, 971, 99 for abroad).",
                field="departments",
            )
    return list(found.values())


@transaction.atomic
def campaign_create(*, data: CampaignIn, by: Member) -> Campaign:
    _require_staff(by)
    departments = _clean(data)
    campaign = Campaign.objects.create(
        title=data.title.strip(),
        description=data.description,
        briefing=data.briefing,
        starts_at=data.starts_at,
        time_zone=data.time_zone,
        chambers=data.chambers,
        reminder_days=sorted(set(data.reminder_days), reverse=True),
        created_by=by,
    )
    campaign.departments.set(departments)
    Topic.objects.bulk_create(
        Topic(
            campaign=campaign, position=i, title=t.title.strip(), briefing=t.briefing, asks=t.asks
        )
        for i, t in enumerate(data.topics)
    )
    for t in data.templates:
        MessageTemplate.objects.create(
            campaign=campaign, chamber=t.chamber, subject=t.subject, body=t.body
        )
    audit_record(actor=by, action="campaign.create", details={"campaign": campaign.pk})
    return campaign


# -- the briefing kit's files ------------------------------------------------------------------

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


def attachment_size_check(size: int) -> None:
    if size > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(
            f"The file is {size / 2**20:.1f} MB; at most "
            f"{MAX_ATTACHMENT_BYTES // 2**20} MB are accepted.",
            field="file",
        )


def attachment_add(*, campaign: Campaign, name: str, data: bytes, by: Member) -> Attachment:
    _require_staff(by)
    clean_name, mime, data = checked_upload(
        name, data, types=IMAGES_AND_PDF, max_bytes=MAX_ATTACHMENT_BYTES, field="file"
    )
    from django.core.files.base import ContentFile

    attachment = Attachment(
        campaign=campaign,
        name=clean_name,
        content_type=mime,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by=by,
    )
    attachment.file.save(clean_name, ContentFile(data), save=False)
    attachment.save()
    return attachment


# -- opening: one assignment per targeted representative ---------------------------------------


@dataclass
class OpenReport:
    assignments: int = 0
    with_relay: int = 0
    gaps: list[str] = field(default_factory=list)  # seats with nobody to go
    vacant: list[str] = field(default_factory=list)  # seats with no representative


@transaction.atomic
def campaign_open(*, campaign: Campaign, by: Member) -> OpenReport:
    """Draft → open: the assignments, for the titular relay, else a substitute."""
    _require_staff(by)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != Status.DRAFT:
        raise Conflict(f"This campaign is already {campaign.status}.", field=None)
    engine = get_engine()
    scope = list(campaign.departments.values_list("pk", flat=True))
    mandates = Mandate.objects.filter(
        boundary_set_id=engine.boundary_set_id, end__isnull=True
    ).select_related("area")
    chambers = [
        c
        for c, wanted in (
            (Chamber.ASSEMBLY, campaign.targets_assembly),
            (Chamber.SENATE, campaign.targets_senate),
        )
        if wanted
    ]
    mandates = mandates.filter(chamber__in=chambers)
    if scope:
        mandates = mandates.filter(Q(area_id__in=scope) | Q(area__parent_id__in=scope))
    relays = _relays_by_area()
    report = OpenReport()
    rows = []
    seats_with_deputy = set()
    for mandate in mandates.order_by("area__code", "last_name"):
        roles = (
            (Role.RELAY, Role.SUBSTITUTE) if mandate.chamber == Chamber.ASSEMBLY
            else (Role.SENATE_RELAY,)
        )  # fmt: skip
        grant = next((g for role in roles for g in relays.get((mandate.area_id, role), [])), None)
        if mandate.chamber == Chamber.ASSEMBLY:
            seats_with_deputy.add(mandate.area.code)
        rows.append(
            Assignment(
                campaign=campaign,
                chamber=mandate.chamber,
                area=mandate.area,
                mandate=mandate,
                person_id=mandate.person_id,
                relay_id=grant.member_id if grant else None,
                grant=grant,
            )
        )
        if grant is None:
            report.gaps.append(mandate.area.code)
    try:
        Assignment.objects.bulk_create(rows, batch_size=1000)
    except IntegrityError as exc:  # a representative listed twice in the data
        raise Conflict("The registry lists a representative twice.", field=None) from exc
    if campaign.targets_assembly:
        seats = Area.objects.filter(
            boundary_set_id=engine.boundary_set_id, kind=AreaKind.CONSTITUENCY
        )
        if scope:
            seats = seats.filter(parent_id__in=scope)
        report.vacant = sorted(set(seats.values_list("code", flat=True)) - seats_with_deputy)
    report.assignments = len(rows)
    report.with_relay = sum(1 for r in rows if r.relay_id)
    report.gaps = sorted(set(report.gaps))
    campaign.status = Status.OPEN
    campaign.opened_at = timezone.now()
    campaign.save(update_fields=["status", "opened_at"])
    audit_record(
        actor=by,
        action="campaign.open",
        details={"campaign": campaign.pk, "assignments": report.assignments},
    )
    return report


def _relays_by_area() -> dict[tuple[int, str], list[Grant]]:
    """Current relay grants by (area, role), the longest-serving first."""
    grants: dict[tuple[int, str], list[Grant]] = {}
    for grant in Grant.objects.filter(
        valid_to__isnull=True, role__in=[Role.RELAY, Role.SUBSTITUTE, Role.SENATE_RELAY]
    ).order_by("valid_from", "pk"):
        grants.setdefault((grant.area_id, grant.role), []).append(grant)
    return grants


@transaction.atomic
def campaign_close(*, campaign: Campaign, by: Member) -> Campaign:
    _require_staff(by)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != Status.OPEN:
        raise Conflict(f"Only an open campaign can be closed (this one is {campaign.status}).")
    campaign.status = Status.CLOSED
    campaign.closed_at = timezone.now()
    campaign.save(update_fields=["status", "closed_at"])
    return campaign


# -- the relay's work --------------------------------------------------------------------------


def _require_relay(assignment: Assignment, member: Member) -> None:
    if assignment.relay_id is None or assignment.relay_id != member.pk:
        raise Forbidden("Only the relay of this assignment records its progress.", field=None)


def _require_open(assignment: Assignment) -> None:
    if assignment.campaign.status != Status.OPEN:
        raise Conflict(
            f"The campaign is {assignment.campaign.status}: its checklist no longer changes.",
            field=None,
            code="campaign_not_open",
        )


@dataclass
class ChecklistIn:
    contact_method: str = ""
    contacted: bool = False
    requested: bool = False
    meeting_at: datetime.datetime | None = None
    meeting_place: str = ""
    outcome: str = ""


def _stage(assignment: Assignment) -> str:
    if Report.objects.filter(assignment=assignment).exists():
        return Stage.REPORTED
    if assignment.outcome == Outcome.HELD:
        return Stage.HELD
    if assignment.meeting_at:
        return Stage.SCHEDULED
    if assignment.requested_at:
        return Stage.REQUESTED
    if assignment.contacted_at:
        return Stage.CONTACTED
    return Stage.ASSIGNED


@transaction.atomic
def checklist_update(*, assignment: Assignment, by: Member, data: ChecklistIn) -> Assignment:
    assignment = (
        Assignment.objects.select_for_update().select_related("campaign").get(pk=assignment.pk)
    )
    _require_relay(assignment, by)
    _require_open(assignment)
    if data.contact_method and data.contact_method not in ContactMethod.values:
        raise InvalidInput(
            f"contact_method is one of {', '.join(ContactMethod.values)}.", field="contact_method"
        )
    if data.outcome and data.outcome not in Outcome.values:
        raise InvalidInput(f"outcome is one of {', '.join(Outcome.values)}.", field="outcome")
    if data.meeting_at is not None and timezone.is_naive(data.meeting_at):
        raise InvalidInput("The meeting time needs a time zone offset.", field="meeting_at")
    if len(data.meeting_place) > 300:
        raise InvalidInput("The place is limited to 300 characters.", field="meeting_place")
    now = timezone.now()
    if data.contacted or data.contact_method:
        assignment.contact_method = data.contact_method or assignment.contact_method
        assignment.contacted_at = assignment.contacted_at or now
    if data.requested:
        assignment.requested_at = assignment.requested_at or now
        assignment.contacted_at = assignment.contacted_at or now
    if data.meeting_at is not None:
        assignment.meeting_at = data.meeting_at
        assignment.meeting_place = data.meeting_place.strip()
        assignment.requested_at = assignment.requested_at or now
        assignment.contacted_at = assignment.contacted_at or now
    if data.outcome:
        assignment.outcome = data.outcome
        assignment.outcome_at = now
    assignment.stage = _stage(assignment)
    assignment.save()
    return assignment


@transaction.atomic
def message_save(*, assignment: Assignment, by: Member, subject: str, body: str) -> Assignment:
    """The relay's own version of the letter (kept to show what they changed)."""
    _require_relay(assignment, by)
    if len(subject) > 200 or len(body) > 20_000:
        raise InvalidInput("The message is too long (200 / 20,000 characters).", field="body")
    assignment.message_subject = subject.strip()
    assignment.message_body = body.strip()
    assignment.save(update_fields=["message_subject", "message_body", "updated_at"])
    return assignment


@dataclass
class PositionIn:
    topic: int
    stance: str = Stance.UNKNOWN
    quote: str = ""
    note: str = ""


@dataclass
class ReportIn:
    held_on: datetime.date | None = None
    attendees: str = ""
    commitments: str = ""
    follow_up: str = ""
    visibility: str = Visibility.INTERNAL
    positions: list[PositionIn] = field(default_factory=list)


def _report_data(report: Report) -> dict:
    return {
        "held_on": report.held_on.isoformat() if report.held_on else None,
        "attendees": report.attendees,
        "commitments": report.commitments,
        "follow_up": report.follow_up,
        "visibility": report.visibility,
        "positions": [
            {"topic": p.topic_id, "stance": p.stance, "quote": p.quote, "note": p.note}
            for p in report.positions.order_by("topic_id")
        ],
    }


@transaction.atomic
def report_submit(*, assignment: Assignment, by: Member, data: ReportIn) -> Report:
    """One report per assignment: submitting again updates it; after the close, the previous
    text is kept as a version. A campaign that is closed takes no new report."""
    assignment = (
        Assignment.objects.select_for_update().select_related("campaign").get(pk=assignment.pk)
    )
    _require_relay(assignment, by)
    if data.visibility not in Visibility.values:
        raise InvalidInput(
            f"visibility is one of {', '.join(Visibility.values)}.", field="visibility"
        )
    topics = set(assignment.campaign.topics.values_list("pk", flat=True))
    seen = set()
    for position in data.positions:
        if position.topic not in topics:
            raise InvalidInput(
                f"Topic {position.topic} is not a topic of this campaign.", field="positions"
            )
        if position.topic in seen:
            raise InvalidInput(f"Topic {position.topic} is given twice.", field="positions")
        seen.add(position.topic)
        if position.stance not in Stance.values:
            raise InvalidInput(f"stance is one of {', '.join(Stance.values)}.", field="positions")
        if len(position.quote) > 5000 or len(position.note) > 5000:
            raise InvalidInput(
                "Quotes and notes are limited to 5,000 characters.", field="positions"
            )
    for text, name in (
        (data.attendees, "attendees"),
        (data.commitments, "commitments"),
        (data.follow_up, "follow_up"),
    ):
        if len(text) > 10_000:
            raise InvalidInput(f"{name} is limited to 10,000 characters.", field=name)
    if data.held_on and data.held_on > timezone.localdate() + datetime.timedelta(days=1):
        raise InvalidInput("A meeting that is reported has already taken place.", field="held_on")
    report = Report.objects.filter(assignment=assignment).first()
    status = assignment.campaign.status
    if report is None and status != Status.OPEN:
        raise Conflict(
            f"The campaign is {status}: it takes no new report.",
            field=None,
            code="campaign_not_open",
        )
    if report is not None and status == Status.CLOSED:
        ReportVersion.objects.create(
            report=report, version=report.version, data=_report_data(report), replaced_by=by
        )
        report.version += 1
    if report is None:
        report = Report(assignment=assignment)
    report.held_on = data.held_on
    report.attendees = data.attendees
    report.commitments = data.commitments
    report.follow_up = data.follow_up
    report.visibility = data.visibility
    report.submitted_by = by
    report.save()
    report.positions.all().delete()
    Position.objects.bulk_create(
        Position(report=report, topic_id=p.topic, stance=p.stance, quote=p.quote, note=p.note)
        for p in data.positions
    )
    if not assignment.outcome:
        assignment.outcome = Outcome.HELD
        assignment.outcome_at = timezone.now()
    assignment.stage = Stage.REPORTED
    assignment.save(update_fields=["outcome", "outcome_at", "stage", "updated_at"])
    return report


# -- writing to the representative through the platform -----------------------------------------

# Emails one representative may receive through the platform in 24 hours, from all relays.
REPRESENTATIVE_EMAILS_PER_DAY = 3


def representative_email(assignment: Assignment) -> str:
    card = RepresentativeContact.objects.filter(
        chamber=assignment.chamber, person_id=assignment.person_id
    ).first()
    return (card.email if card and card.email else assignment.mandate.email) or ""


@transaction.atomic
def email_representative(*, assignment: Assignment, by: Member) -> ContactLog:
    """Send the relay's message (or the filled template) to the representative, with the
    relay's address as Reply-To; logged, and limited per representative."""
    from django.core.mail import EmailMessage

    # Lock the assignment row only: PostgreSQL refuses FOR UPDATE on the nullable relay join.
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("campaign", "mandate", "area", "relay")
        .get(pk=assignment.pk)
    )
    _require_relay(assignment, by)
    _require_open(assignment)
    to = representative_email(assignment)
    if not to:
        raise Conflict(
            "No email address is known for this representative: staff can add one.",
            field=None,
            code="no_address",
        )
    since = timezone.now() - datetime.timedelta(days=1)
    recent = ContactLog.objects.filter(
        chamber=assignment.chamber, person_id=assignment.person_id, sent_at__gte=since
    ).count()
    if recent >= REPRESENTATIVE_EMAILS_PER_DAY:
        raise RateLimited(
            f"This representative already received {recent} emails through the platform "
            "today: write tomorrow, or from your own mailbox.",
        )
    template = assignment.campaign.templates.filter(chamber=assignment.chamber).first()
    values = template_values(assignment)
    subject = assignment.message_subject or (
        template_render(template.subject, values) if template else assignment.campaign.title
    )
    body = assignment.message_body or (template_render(template.body, values) if template else "")
    if not body.strip():
        raise InvalidInput("Write your message first.", field="body")
    log = ContactLog.objects.create(
        assignment=assignment,
        chamber=assignment.chamber,
        person_id=assignment.person_id,
        sent_by=by,
        subject=subject[:200],
    )
    message = EmailMessage(subject=subject, body=body, to=[to], reply_to=[by.email])
    send_after_commit(message.send, what="representative email", ref=f"assignment #{assignment.pk}")
    assignment.contact_method = ContactMethod.EMAIL
    assignment.contacted_at = assignment.contacted_at or timezone.now()
    assignment.stage = _stage(assignment)
    assignment.save()
    audit_record(
        actor=by, action="campaign.email", details={"assignment": assignment.pk, "log": log.pk}
    )
    return log


# -- reminders ---------------------------------------------------------------------------------


def send_reminders(*, today: datetime.date | None = None) -> int:
    """Remind the relays who have not acted yet, on each of the campaign's reminder days.

    Each reminder is a messaging send (type "campaign calls": the relay's consent applies,
    like the one-click unsubscribe); recorded before it is queued, once per assignment and
    offset, so the daily task may run twice.
    """
    from django.conf import settings

    from nextwork.messaging.models import MessageType
    from nextwork.messaging.render import literal
    from nextwork.messaging.services import notify

    today = today or timezone.localdate()
    sent = 0
    for campaign in Campaign.objects.filter(status=Status.OPEN):
        days = (timezone.localtime(campaign.starts_at).date() - today).days
        if days not in (campaign.reminder_days or []):
            continue
        late = Assignment.objects.filter(
            campaign=campaign, stage=Stage.ASSIGNED, relay__isnull=False
        ).select_related("mandate")
        for assignment in late:
            try:
                with transaction.atomic():
                    ReminderSent.objects.create(assignment=assignment, days_before=days)
            except IntegrityError:
                continue
            url = f"{settings.NEXTWORK_SITE_URL}/espace/actions/{assignment.pk}/"
            body = (
                "Bonjour {{ first_name }},\n\n"
                f"La journée « {literal(campaign.title)} » a lieu dans {days} jour(s). "
                f"Votre mission : {assignment.mandate.title} {assignment.mandate.full_name}. "
                f"Le dossier, le message à adapter et la liste à cocher sont ici :\n{url}\n"
            )
            message = notify(
                key=f"campaign-reminder:{assignment.pk}:{days}",
                members=[assignment.relay_id],
                subject=f"J-{days} : {literal(campaign.title)}",
                body=body,
                message_type=MessageType.CAMPAIGN,
                cooldown=datetime.timedelta(days=1),
            )
            sent += message is not None
    return sent
