"""Background work of monitoring (run by ``nextwork worker``): every minute, the sources that
are due are polled, each in a task of its own (``runner``), and the last complete minute of
every busy rule is judged for spikes (``alerts``), and the publications that are due are
published (``publishing``)."""

from __future__ import annotations

import datetime

from django_tasks import task

from nextwork.common import schedule

TICK = datetime.timedelta(minutes=1)


@task()
def monitoring_tick() -> str:
    from nextwork.monitoring import alerts, publishing
    from nextwork.monitoring.runner import due

    # The next tick first: if a part below fails, the minute after still runs.
    schedule.plan_next(monitoring_tick)
    claimed = due()
    for source_id in claimed:
        poll_source_task.enqueue(source_id)
    found = alerts.check()
    sent = publishing.publish_due()  # what is due on Mastodon and Bluesky
    return (
        f"{len(claimed)} sources to poll; {found['checked']} busy rules, "
        f"{found['opened']} new spikes, {found['alerted']} alerted; "
        f"{sent['published']} published, {sent['retrying']} to retry, {sent['failed']} failed"
    )


@task()
def poll_source_task(source_id: int) -> str:
    from nextwork.monitoring.runner import poll_source

    return poll_source(source_id)


@task()
def deliver_webhook_task(delivery_id: int) -> str:
    """One attempt to POST a spike to its rule's webhook (``webhooks.deliver``)."""
    from nextwork.monitoring.webhooks import deliver

    return deliver(delivery_id)


schedule.register_every(monitoring_tick, TICK)
