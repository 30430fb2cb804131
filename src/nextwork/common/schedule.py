"""Periodic background work without cron: each periodic task plans its own next run.

The worker (``nextwork worker``) runs tasks through the Tasks API (django-tasks, database
backend by default). A periodic task is registered here with its local time of day
(``register``), or with an interval (``register_every``: the monitoring tick, every minute);
when the worker starts, any registered task with no run planned is enqueued to run at once (a
missed day is caught up), and every run plans the next one. Running a task twice on the same
day is harmless by design (the daily coverage snapshot keeps one row per day).

Several workers may start, or finish a run, at the same moment: the look for a planned run and
the enqueue happen under one lock per task (a PostgreSQL advisory lock; on SQLite the write
transaction itself), so a periodic task never gets two runs planned.
"""

from __future__ import annotations

import contextlib
import datetime
import zlib

from django.db import connection, transaction
from django.utils import timezone

# First key of the advisory locks taken here ("nwsc"), the second being the task's path.
_LOCK_SPACE = 0x6E777363

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


@contextlib.contextmanager
def _alone(task):
    """Hold the task's planning lock until the transaction that enqueues its run commits.

    On PostgreSQL, a transaction-scoped advisory lock keyed by the task's path; on SQLite,
    the transaction starts with the database's write lock (``transaction_mode`` IMMEDIATE).
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            key = zlib.crc32(task.module_path.encode()) - 2**31  # a signed 32-bit integer
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_SPACE, key])
        yield


def plan_next(task, *, now: datetime.datetime | None = None) -> None:
    """Called by a periodic task when it ran: enqueue its next run, unless one is planned."""
    _task, at = PERIODIC[task.module_path]
    with _alone(task):
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
        with _alone(task):
            if not _planned(task):
                task.enqueue()
                started.append(path)
    return started
