"""Background work of monitoring (run by ``nextwork worker``): every minute, the sources that
are due are polled, each in a task of its own (``runner``)."""

from __future__ import annotations

import datetime

from django_tasks import task

from nextwork.common import schedule

TICK = datetime.timedelta(minutes=1)


@task()
def monitoring_tick() -> str:
    from nextwork.monitoring.runner import due

    claimed = due()
    for source_id in claimed:
        poll_source_task.enqueue(source_id)
    schedule.plan_next(monitoring_tick)
    return f"{len(claimed)} sources to poll"


@task()
def poll_source_task(source_id: int) -> str:
    from nextwork.monitoring.runner import poll_source

    return poll_source(source_id)


schedule.register_every(monitoring_tick, TICK)
