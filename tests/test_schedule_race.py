"""Two workers starting (or finishing a periodic run) at the same moment plan one run, not two."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from nextwork.common import schedule
from nextwork.monitoring.tasks import monitoring_tick

WORKERS = 4


@pytest.fixture
def empty_queue(django_db_setup, django_db_blocker):
    """No periodic run planned at the start (runs another test left committed are set aside and
    put back at the end); the threads commit for real (each has a connection of its own), and
    what they add is removed."""
    with django_db_blocker.unblock():
        waiting = DBTaskResult.objects.filter(
            task_path__in=list(schedule.PERIODIC), status=TaskResultStatus.READY
        )
        set_aside = list(waiting)
        waiting.delete()
        before = set(DBTaskResult.objects.values_list("id", flat=True))
    yield
    with django_db_blocker.unblock():
        DBTaskResult.objects.exclude(id__in=before).delete()
        DBTaskResult.objects.bulk_create(set_aside)


@pytest.fixture
def slow_look(monkeypatch):
    """Widen the window between "is a run planned?" and the enqueue, as a busy database would:
    without a lock, every worker would see nothing planned and enqueue its own run."""
    real = schedule._planned

    def planned(task):
        found = real(task)
        time.sleep(0.05)
        return found

    monkeypatch.setattr(schedule, "_planned", planned)


def _at_once(django_db_blocker, work) -> list[Exception]:
    errors: list[Exception] = []
    barrier = threading.Barrier(WORKERS)

    def run():
        try:
            barrier.wait()
            work()
        except Exception as exc:  # reported by the caller
            errors.append(exc)
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        threads = [threading.Thread(target=run) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return errors


def _planned_runs(django_db_blocker) -> dict[str, int]:
    with django_db_blocker.unblock():
        rows = DBTaskResult.objects.filter(
            task_path__in=list(schedule.PERIODIC), status=TaskResultStatus.READY
        ).values_list("task_path", flat=True)
        counts: dict[str, int] = {}
        for path in rows:
            counts[path] = counts.get(path, 0) + 1
        return counts


def test_workers_starting_together_plan_each_periodic_task_once(
    empty_queue, slow_look, django_db_blocker
):
    started: list[list[str]] = []

    errors = _at_once(django_db_blocker, lambda: started.append(schedule.ensure_planned()))

    assert errors == []
    assert _planned_runs(django_db_blocker) == dict.fromkeys(schedule.PERIODIC, 1)
    # Each task was planned by exactly one of the workers.
    planned_by_someone = sorted(path for paths in started for path in paths)
    assert planned_by_someone == sorted(schedule.PERIODIC)


def test_runs_finishing_together_plan_one_next_run(empty_queue, slow_look, django_db_blocker):
    errors = _at_once(django_db_blocker, lambda: schedule.plan_next(monitoring_tick))

    assert errors == []
    assert _planned_runs(django_db_blocker) == {monitoring_tick.module_path: 1}
