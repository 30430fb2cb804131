"""Periodic background work without cron: each periodic task plans its own next run.

The worker (``nextwork worker``) runs tasks through the Tasks API (django-tasks, database
backend by default). A periodic task is registered here with its local time of day
(``register``), or with an interval (``register_every``: the monitoring tick, every minute);
when the worker starts, any registered task with no run planned is enqueued to run at once (a
missed day is caught up), and every run plans the next one. Running a task twice on the same
day is harmless by design (the daily coverage snapshot keeps one row per day).
"""

from __future__ import annotations

import datetime

from django.utils import timezone

# Task path → (task, local time of day, or the interval between two runs).
PERIODIC: dict[str, tuple[object, datetime.time | datetime.timedelta]] = {}


def register(task, at: datetime.time) -> None:
    PERIODIC[task.module_path] = (task, at)


def register_every(task, every: datetime.timedelta) -> None:
    PERIODIC[task.module_path] = (task, every)


def next_occurrence(at: datetime.time, now: datetime.datetime | None = None) -> datetime.datetime:
    """The first local ``at`` strictly after ``now``."""
    now = timezone.localtime(now or timezone.now())
    candidate = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if candidate <= now:
        candidate = timezone.localtime(
            timezone.make_aware(
                datetime.datetime.combine(now.date() + datetime.timedelta(days=1), at)
            )
        )
    return candidate


def _planned(task) -> bool:
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(
        task_path=task.module_path, status=TaskResultStatus.READY
    ).exists()


def plan_next(task, *, now: datetime.datetime | None = None) -> None:
    """Called by a periodic task when it ran: enqueue its next run, unless one is planned."""
    _task, at = PERIODIC[task.module_path]
    if not _planned(task):
        if isinstance(at, datetime.timedelta):
            run_after = (now or timezone.now()) + at
        else:
            run_after = next_occurrence(at, now)
        task.using(run_after=run_after).enqueue()


def ensure_planned() -> list[str]:
    """Enqueue, to run at once, every periodic task with no run planned; their paths."""
    started = []
    for path, (task, _at) in PERIODIC.items():
        if not _planned(task):
            task.enqueue()
            started.append(path)
    return started
