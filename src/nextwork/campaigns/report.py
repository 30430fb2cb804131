"""The summary report of an action day, built from the data: HTML, PDF and CSV.

It is the document an organisation sends to the President of the Assemblée, so it only holds
what relays marked **publishable**: quotes, commitments and positions come from publishable
meeting reports; counts of meetings come from the checklists (no text, no names).
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from nextwork.campaigns.models import (
    Assignment,
    Campaign,
    Outcome,
    Position,
    Report,
    Stage,
    Stance,
    Visibility,
)
from nextwork.common.richtext import render as markdown
from nextwork.network.models import CoverageSnapshot
from nextwork.network.selectors import coverage

STANCES = [Stance.SUPPORTS, Stance.NEUTRAL, Stance.OPPOSES, Stance.UNKNOWN]


def _coverage_on(campaign: Campaign) -> dict:
    """Seats with a relay on the day (the snapshot of that day, else today's figure)."""
    day = timezone.localtime(campaign.starts_at).date()
    snapshot = CoverageSnapshot.objects.filter(day__lte=day).order_by("-day").first()
    if snapshot is not None and (day - snapshot.day).days <= 1:
        return {"covered": snapshot.covered, "total": snapshot.total, "day": snapshot.day}
    now = coverage()
    return {"covered": now["covered"], "total": now["total"], "day": timezone.localdate()}


def build(campaign: Campaign) -> dict:
    assignments = Assignment.objects.filter(campaign=campaign)
    stages = Counter(assignments.values_list("stage", flat=True))
    outcomes = Counter(assignments.exclude(outcome="").values_list("outcome", flat=True))
    publishable = Report.objects.filter(
        assignment__campaign=campaign, visibility=Visibility.PUBLISHABLE
    ).select_related("assignment__mandate", "assignment__area")
    positions = Position.objects.filter(report__in=publishable).select_related(
        "topic", "report__assignment__mandate", "report__assignment__area"
    )
    by_topic: dict[int, dict] = {}
    for topic in campaign.topics.all():
        by_topic[topic.pk] = {
            "topic": topic,
            "totals": Counter(),
            "groups": defaultdict(Counter),
        }
    quotes = []
    for p in positions:
        entry = by_topic[p.topic_id]
        group = p.report.assignment.mandate.group or "—"
        entry["totals"][p.stance] += 1
        entry["groups"][group][p.stance] += 1
        if p.quote.strip():
            a = p.report.assignment
            quotes.append(
                {
                    "topic": p.topic.title,
                    "quote": p.quote.strip(),
                    "who": f"{a.mandate.title} {a.mandate.full_name}",
                    "group": a.mandate.group,
                    "seat": a.area.name,
                    "stance": p.get_stance_display(),
                }
            )
    topics = [
        {
            "topic": entry["topic"],
            "totals": [entry["totals"][s] for s in STANCES],
            "count": sum(entry["totals"].values()),
            "groups": sorted(
                ((g, [c[s] for s in STANCES], sum(c.values())) for g, c in entry["groups"].items()),
                key=lambda row: (-row[2], row[0]),
            ),
        }
        for entry in by_topic.values()
    ]
    commitments = [
        {
            "who": f"{r.assignment.mandate.title} {r.assignment.mandate.full_name}",
            "seat": r.assignment.area.name,
            "text": r.commitments.strip(),
        }
        for r in publishable.order_by("assignment__area__code")
        if r.commitments.strip()
    ]
    reached = {
        "requested": assignments.exclude(requested_at=None).count(),
        "scheduled": assignments.exclude(meeting_at=None).count(),
        "held": outcomes.get(Outcome.HELD, 0),
        "refused": outcomes.get(Outcome.REFUSED, 0),
        "no_answer": outcomes.get(Outcome.NO_ANSWER, 0),
        "reported": stages.get(Stage.REPORTED, 0),
    }
    return {
        "campaign": campaign,
        "organisation": settings.NEXTWORK_ORGANISATION,
        "generated_at": timezone.now(),
        "start": timezone.localtime(campaign.starts_at),
        "coverage": _coverage_on(campaign),
        "targeted": assignments.count(),
        "with_relay": assignments.exclude(relay=None).count(),
        "deputies": assignments.filter(chamber="assembly").count(),
        "senators": assignments.filter(chamber="senate").count(),
        "reached": reached,
        "publishable": publishable.count(),
        "reports": Report.objects.filter(assignment__campaign=campaign).count(),
        "topics": topics,
        "stances": [Stance(s).label for s in STANCES],
        "quotes": quotes[:60],
        "commitments": commitments[:60],
        "recommendations": markdown(campaign.recommendations),
    }


def html(campaign: Campaign) -> str:
    return render_to_string("campaigns/report_document.html", build(campaign))


def pdf(campaign: Campaign) -> bytes:
    from weasyprint import HTML

    return HTML(string=html(campaign), base_url=None).write_pdf()


CSV_COLUMNS = [
    "chamber",
    "seat",
    "representative",
    "group",
    "has_relay",
    "stage",
    "outcome",
    "meeting_requested",
    "meeting_scheduled",
    "report_publishable",
]


def csv_text(campaign: Campaign) -> str:
    """One row per targeted representative; stances only from publishable reports."""
    topics = list(campaign.topics.all())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS + [f"position: {t.title}" for t in topics])
    rows = (
        Assignment.objects.filter(campaign=campaign)
        .select_related("area", "mandate", "report")
        .order_by("chamber", "area__code", "mandate__last_name")
    )
    stances = {
        (p.report.assignment_id, p.topic_id): p.stance
        for p in Position.objects.filter(
            report__assignment__campaign=campaign, report__visibility=Visibility.PUBLISHABLE
        ).select_related("report")
    }
    for a in rows:
        report = getattr(a, "report", None) if _has_report(a) else None
        publishable = report is not None and report.visibility == Visibility.PUBLISHABLE
        writer.writerow(
            [
                a.chamber,
                a.area.code,
                a.mandate.full_name,
                a.mandate.group,
                "yes" if a.relay_id else "no",
                a.stage,
                a.outcome,
                "yes" if a.requested_at else "no",
                "yes" if a.meeting_at else "no",
                "yes" if publishable else "no",
                *[stances.get((a.pk, t.pk), "") if publishable else "" for t in topics],
            ]
        )
    return out.getvalue()


def _has_report(assignment: Assignment) -> bool:
    try:
        assignment.report  # noqa: B018 (select_related fetched it, or raises)
    except Report.DoesNotExist:
        return False
    return True
