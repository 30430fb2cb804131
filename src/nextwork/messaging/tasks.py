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
    """Enqueue a sender for every message whose rows nobody holds (a worker died)."""
    from nextwork.messaging.delivery import stalled_messages
    from nextwork.messaging.models import Message

    ids = sorted(set(stalled_messages()))
    for message in Message.objects.filter(pk__in=ids):
        send_message_task.using(priority=message.priority).enqueue(message.pk)
    return ids


@task()
def weekly_digest() -> str:
    """On Mondays, one email per member who chose the weekly digest; every day, plan the next."""
    from django.utils import timezone

    from nextwork.messaging.digest import send_digests

    sent = send_digests() if timezone.localdate().weekday() == 0 else 0
    schedule.plan_next(weekly_digest)
    return f"{sent} digests sent"


schedule.register(weekly_digest, DIGEST_AT)
