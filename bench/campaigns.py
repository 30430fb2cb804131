"""Benchmarks of action days (sections 8-9), run by ``bench/run.py --campaigns-bench``.

8. Opening a national campaign on both chambers (564 deputies + 348 senators in the data):
   ``campaign_open`` against a naive opening (one grant query and one ``save()`` per
   representative), measured in the same run.
9. With 20 past campaigns and their reports: ``progress()`` in process, then
   ``GET /api/v1/campaigns/{id}/progress`` and the dashboard page served by ``nextwork serve``,
   against ``/healthz`` served the same way.

Like the members benchmarks, they work on a scratch copy of the registry database.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import members
import numpy as np
import run as base

PAST_CAMPAIGNS = 20


def add_arguments(parser) -> None:
    group = parser.add_argument_group("campaign benchmarks (8-9)")
    group.add_argument(
        "--campaigns-bench", action="store_true", help="also run the campaign benchmarks"
    )
    group.add_argument(
        "--campaigns-only", action="store_true", help="run the campaign benchmarks only"
    )


def finish_args(parser, args) -> None:
    if args.campaigns_only:
        args.campaigns_bench = True


def _staff():
    from django.utils import timezone

    from nextwork.network.models import Grant, Member, Role

    staff = Member.objects.create_user(
        "equipe.campagnes@courriel.invalid", None, is_active=True, confirmed_at=timezone.now()
    )
    Grant.objects.create(member=staff, role=Role.STAFF)
    return staff


def _campaign(staff, title: str, days: int):
    from django.utils import timezone

    from nextwork.campaigns import services

    return services.campaign_create(
        data=services.CampaignIn(
            title=title,
            starts_at=timezone.now() + datetime.timedelta(days=days),
            chambers="both",
            topics=[services.TopicIn(f"Sujet {i}") for i in range(3)],
            templates=[
                services.TemplateIn("assembly", "Objet", "{representative_title}, {relay_name}"),
                services.TemplateIn("senate", "Objet", "{representative_title}, {relay_name}"),
            ],
        ),
        by=staff,
    )


def _naive_open(campaign) -> int:
    """What opening looks like without care: a query per representative, a save per row."""
    from django.db import transaction

    from nextwork.campaigns.models import Assignment
    from nextwork.network.models import Grant, Role
    from nextwork.territories.lookup import get_engine
    from nextwork.territories.models import Mandate

    engine = get_engine()
    n = 0
    with transaction.atomic():
        for mandate in Mandate.objects.filter(
            boundary_set_id=engine.boundary_set_id, end__isnull=True
        ).select_related("area"):
            roles = (
                [Role.RELAY, Role.SUBSTITUTE] if mandate.chamber == "assembly"
                else [Role.SENATE_RELAY]
            )  # fmt: skip
            grant = (
                Grant.objects.filter(area=mandate.area, role__in=roles, valid_to__isnull=True)
                .order_by("valid_from")
                .first()
            )
            Assignment(
                campaign=campaign,
                chamber=mandate.chamber,
                area=mandate.area,
                mandate=mandate,
                person_id=mandate.person_id,
                relay_id=grant.member_id if grant else None,
                grant=grant,
            ).save()
            n += 1
        transaction.set_rollback(True)  # measured, then thrown away
    return n


def bench_open(staff, results) -> None:
    from nextwork.campaigns import services

    base.say("\n8. Opening a national campaign on both chambers")
    naive_times, open_times = [], []
    report = None
    for i in range(3):
        campaign = _campaign(staff, f"bench naive {i}", 30)
        t0 = time.perf_counter()
        n = _naive_open(campaign)
        naive_times.append(time.perf_counter() - t0)
        campaign.delete()
        campaign = _campaign(staff, f"bench open {i}", 30)
        t0 = time.perf_counter()
        report = services.campaign_open(campaign=campaign, by=staff)
        open_times.append(time.perf_counter() - t0)
        if i < 2:
            campaign.delete()
    naive, opened = min(naive_times), min(open_times)
    base.say(
        f"  naive: a query and a save() per representative  {naive * 1000:8.0f} ms  "
        f"({n} assignments, best of 3)"
    )
    base.say(
        f"  campaign_open()                                 {opened * 1000:8.0f} ms  "
        f"({report.assignments} assignments, {report.with_relay} with a relay, "
        f"{len(report.vacant)} vacant seats; best of 3)  → {base.ratio_text(naive / opened)}"
    )
    results["campaigns_open"] = {
        "assignments": report.assignments,
        "with_relay": report.with_relay,
        "naive_ms": naive * 1000,
        "open_ms": opened * 1000,
        "ratio": naive / opened,
    }


def past_campaigns(staff, rng) -> list[int]:
    """20 opened campaigns whose assignments went through the funnel, with reports."""
    from django.db import transaction
    from django.utils import timezone

    from nextwork.campaigns import services
    from nextwork.campaigns.models import Assignment, Position, Report, Stage

    stages = [Stage.ASSIGNED, Stage.CONTACTED, Stage.SCHEDULED, Stage.HELD, Stage.REPORTED]
    ids = []
    now = timezone.now()
    for i in range(PAST_CAMPAIGNS):
        campaign = _campaign(staff, f"bench past {i}", 1 + i)
        services.campaign_open(campaign=campaign, by=staff)
        topics = list(campaign.topics.values_list("pk", flat=True))
        with transaction.atomic():
            rows = list(Assignment.objects.filter(campaign=campaign, relay__isnull=False))
            picks = rng.integers(0, len(stages), len(rows))
            for a, k in zip(rows, picks, strict=True):
                a.stage = stages[int(k)]
                a.contacted_at = now if k >= 1 else None
                a.meeting_at = now if k >= 2 else None
                a.outcome = "held" if k >= 3 else ""
            Assignment.objects.bulk_update(
                rows, ["stage", "contacted_at", "meeting_at", "outcome"], batch_size=500
            )
            reported = [a for a in rows if a.stage == Stage.REPORTED]
            Report.objects.bulk_create(
                Report(assignment=a, visibility="publishable" if j % 2 else "internal")
                for j, a in enumerate(reported)
            )
            reports = Report.objects.filter(assignment__campaign=campaign)
            Position.objects.bulk_create(
                Position(report=r, topic_id=t, stance=["supports", "neutral", "opposes"][j % 3])
                for j, r in enumerate(reports)
                for t in topics
            )
        ids.append(campaign.pk)
    return ids


def bench_progress(staff, rng, args, results, home: Path) -> None:
    from django.db import connections

    from nextwork.campaigns.models import Assignment, Campaign, Report
    from nextwork.campaigns.selectors import progress

    base.say(f"\n9. Progress with {PAST_CAMPAIGNS} past campaigns and their reports")
    t0 = time.perf_counter()
    ids = past_campaigns(staff, rng)
    base.say(
        f"  written in {time.perf_counter() - t0:.1f} s: {Assignment.objects.count():,} "
        f"assignments, {Report.objects.count():,} reports"
    )
    campaign = Campaign.objects.get(pk=ids[-1])
    inproc = members.time_calls(lambda: progress(campaign), 100, 5.0)
    base.say(
        f"  progress() in process          p50 {inproc['p50_ms']:7.2f} ms  "
        f"p95 {inproc['p95_ms']:.2f} ms"
    )
    cookie = members.staff_cookie()
    connections.close_all()
    out = {"in_process": inproc}
    with members.server(home, 2) as (_proc, port, _workdir):
        paths = {
            "/healthz": "/healthz",
            "progress": f"/api/v1/campaigns/{campaign.pk}/progress",
            "dashboard": f"/espace/campagnes/{campaign.pk}/",
        }
        for name, path in paths.items():
            times = []
            for _ in range(40):
                status, _body, seconds = members.get_with_cookie(port, path, cookie)
                if status != 200:
                    raise RuntimeError(f"{path}: HTTP {status}")
                times.append(seconds * 1000)
            ms = np.array(times[5:])  # the first requests warm the workers up
            out[name] = {"p50_ms": float(np.percentile(ms, 50)), "max_ms": float(ms.max())}
    floor = out["/healthz"]["p50_ms"]
    for name in ("/healthz", "progress", "dashboard"):
        row = out[name]
        base.say(
            f"  {name:<12} one request at a time  p50 {row['p50_ms']:7.2f} ms  "
            f"max {row['max_ms']:7.2f} ms  → ×{row['p50_ms'] / floor:.1f} /healthz"
        )
    results["campaigns_progress"] = out


def bench_campaigns(engine, args, rng, results, home: Path) -> None:
    started = time.perf_counter()
    base.say("\nAction days, on a scratch copy of the registry")
    with members.scratch_home(home) as scratch:
        members.fill_members(engine, 20_000, rng)
        granted = members.grant_relays(engine, rng)
        base.say(
            f"  populated: 20,000 members, {granted['relays']} relays, "
            f"{granted['substitutes']} substitutes, {granted['senate_relays']} senate relays"
        )
        staff = _staff()
        bench_open(staff, results)
        bench_progress(staff, rng, args, results, scratch)
    results["campaigns_seconds"] = time.perf_counter() - started
    base.say(f"\n  campaign benchmarks: {results['campaigns_seconds']:.0f} s")
