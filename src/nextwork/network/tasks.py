"""Background work of the relay network (run by ``nextwork worker``)."""

from __future__ import annotations

import datetime

from django_tasks import task

from nextwork.common import schedule

SNAPSHOT_AT = datetime.time(0, 5)  # local time: the curve gets one point per day


@task()
def daily_coverage_snapshot() -> str:
    """Record today's coverage for the progress curve, then plan tomorrow's run."""
    from nextwork.network.services import coverage_snapshot_take

    snapshot = coverage_snapshot_take()
    schedule.plan_next(daily_coverage_snapshot)
    return f"{snapshot.day}: {snapshot.covered}/{snapshot.total} seats covered"


schedule.register(daily_coverage_snapshot, SNAPSHOT_AT)
