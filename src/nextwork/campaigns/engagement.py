"""Representatives' engagement across campaigns: interactions, positions, responsiveness.

Internal pages (coordinators and staff): positions come from every report, internal or
publishable. The only score is written out where it is shown:

    support index = (supports − opposes) / (supports + neutral + opposes)

from −1 (all opposed) to +1 (all in favour); "unknown" positions are left out, and the
number of positions behind each index is shown beside it.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

from nextwork.campaigns.models import Assignment, Outcome, Position, Stance

FORMULA = "(favorables − opposés) / (favorables + neutres + opposés)"


def support_index(counts: Counter) -> float | None:
    known = counts[Stance.SUPPORTS] + counts[Stance.NEUTRAL] + counts[Stance.OPPOSES]
    if not known:
        return None
    return round((counts[Stance.SUPPORTS] - counts[Stance.OPPOSES]) / known, 2)


def representative(chamber: str, person_id: str, *, scope) -> dict | None:
    rows = list(
        Assignment.objects.filter(chamber=chamber, person_id=person_id)
        .filter(scope)
        .select_related("campaign", "mandate", "area", "relay")
        .order_by("-campaign__starts_at")
    )
    if not rows:
        return None
    requested = [a for a in rows if a.requested_at]
    answered = [a for a in requested if a.outcome in (Outcome.HELD, Outcome.REFUSED)]
    delays = [
        (a.outcome_at - a.requested_at).total_seconds() / 86400
        for a in answered
        if a.outcome_at and a.outcome_at >= a.requested_at
    ]
    positions = (
        Position.objects.filter(report__assignment__in=rows)
        .select_related("topic", "topic__campaign", "report")
        .order_by("-topic__campaign__starts_at", "topic__position")
    )
    return {
        "mandate": rows[0].mandate,
        "area": rows[0].area,
        "interactions": rows,
        "requests": len(requested),
        "answered": len(answered),
        "answer_rate": round(100 * len(answered) / len(requested)) if requested else None,
        "median_days": round(statistics.median(delays), 1) if delays else None,
        "meetings": sum(1 for a in rows if a.outcome == Outcome.HELD),
        "positions": list(positions),
    }


def positions_summary(campaign, *, scope) -> list[dict]:
    """For each topic, stance counts and the support index by group and by department."""
    positions = Position.objects.filter(report__assignment__campaign=campaign).select_related(
        "report__assignment__mandate", "report__assignment__area__parent"
    )
    allowed = set(
        Assignment.objects.filter(campaign=campaign).filter(scope).values_list("pk", flat=True)
    )
    topics: dict[int, dict] = {
        t.pk: {"topic": t, "groups": defaultdict(Counter), "departments": defaultdict(Counter)}
        for t in campaign.topics.all()
    }
    for p in positions:
        a = p.report.assignment
        if a.pk not in allowed:
            continue
        department = (
            a.area.parent.code if a.area.parent_id and a.chamber == "assembly" else a.area.code
        )
        topics[p.topic_id]["groups"][a.mandate.group or "—"][p.stance] += 1
        topics[p.topic_id]["departments"][department][p.stance] += 1

    def table(counters: dict) -> list[dict]:
        return sorted(
            (
                {
                    "name": name,
                    "supports": c[Stance.SUPPORTS],
                    "neutral": c[Stance.NEUTRAL],
                    "opposes": c[Stance.OPPOSES],
                    "unknown": c[Stance.UNKNOWN],
                    "count": sum(c.values()),
                    "index": support_index(c),
                }
                for name, c in counters.items()
            ),
            key=lambda row: (-row["count"], row["name"]),
        )

    return [
        {"topic": t["topic"], "groups": table(t["groups"]), "departments": table(t["departments"])}
        for t in topics.values()
    ]
