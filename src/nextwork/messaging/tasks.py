"""Background work of messaging (run by ``nextwork worker``)."""

from __future__ import annotations

import datetime

from django_tasks import task

from nextwork.common import schedule

DIGEST_AT = datetime.time(8, 0)  # local time, on Mondays


@task()
def send_message_task(message_id: int) -> str:
    """Hand a message over to its recipients (several may run for one message at once)."""
    from nextwork.messaging.delivery import send_message

    report = send_message(message_id)
    return (
        f"message #{message_id}: {report.sent} sent, {report.skipped} skipped, "
        f"{report.retried} to retry, {report.failed} failed"
    )


def resume_stalled() -> list[int]:
    """Enqueue a sender for every message nobody is sending (a worker died, or its task was
    lost), unless one already waits in the queue."""
    from nextwork.messaging.delivery import enqueue_once, stalled_messages
    from nextwork.messaging.models import Message

    ids = stalled_messages()
    for message in Message.objects.filter(pk__in=ids):
        enqueue_once(message.pk, priority=message.priority)
    return ids


@task()
def sweep_stalled() -> str:
    """Every few seconds to minutes: resume messages whose sender died, then plan the next
    sweep (NEXTWORK_SEND_SWEEP seconds later)."""
    ids = resume_stalled()
    _forget_old_sweeps()
    plan_sweep(after=True)
    return f"resumed {len(ids)} messages"


def _forget_old_sweeps() -> None:
    """A sweep runs every minute or so: keep an hour of their results, not every one."""
    import datetime as dt

    from django.utils import timezone
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(
        task_path=sweep_stalled.module_path,
        status=TaskResultStatus.SUCCESSFUL,
        finished_at__lt=timezone.now() - dt.timedelta(hours=1),
    ).delete()


def plan_sweep(*, after: bool = False) -> None:
    """Keep one sweep planned (at once when the worker starts; later after each sweep)."""
    import datetime as dt

    from django.conf import settings
    from django.utils import timezone
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    if DBTaskResult.objects.filter(
        task_path=sweep_stalled.module_path, status=TaskResultStatus.READY
    ).exists():
        return
    if after:
        delay = dt.timedelta(seconds=getattr(settings, "NEXTWORK_SEND_SWEEP", 60))
        sweep_stalled.using(run_after=timezone.now() + delay).enqueue()
    else:
        sweep_stalled.enqueue()


@task()
def weekly_digest() -> str:
    """On Mondays, one email per member who chose the weekly digest; every day, plan the next."""
    from django.utils import timezone

    from nextwork.messaging.digest import send_digests

    sent = send_digests() if timezone.localdate().weekday() == 0 else 0
    schedule.plan_next(weekly_digest)
    return f"{sent} digests sent"


schedule.register(weekly_digest, DIGEST_AT)
