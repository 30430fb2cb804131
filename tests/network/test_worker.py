"""The worker records the daily coverage snapshot and plans the next one, with no cron."""

from __future__ import annotations

import datetime
import io
import zoneinfo

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

from nextwork.common.schedule import next_occurrence
from nextwork.network.models import CoverageSnapshot
from nextwork.network.tasks import daily_coverage_snapshot

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


@pytest.fixture
def worker(monkeypatch):
    # The real worker loop, inside the test's transaction: only its connection recycling
    # (which would close the test's connection) is switched off.
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)

    def run() -> str:
        out = io.StringIO()
        call_command("worker", "--batch", stdout=out)
        return out.getvalue()

    return run


def planned():
    return DBTaskResult.objects.filter(
        task_path=daily_coverage_snapshot.module_path, status=TaskResultStatus.READY
    )


def test_the_worker_takes_today_s_snapshot_and_plans_tomorrow_s(registry, worker):
    assert not CoverageSnapshot.objects.exists()

    output = worker()

    assert "planned now: nextwork.network.tasks.daily_coverage_snapshot" in output
    assert "planned now: nextwork.campaigns.tasks.daily_campaign_reminders" in output
    today = CoverageSnapshot.objects.get(day=timezone.localdate())
    assert today.total == 577
    done = DBTaskResult.objects.get(
        status=TaskResultStatus.SUCCESSFUL, task_path=daily_coverage_snapshot.module_path
    )
    assert done.return_value.endswith("/577 seats covered")
    # The next run is tomorrow (or today, before 00:05) at 00:05, Paris time.
    nxt = planned().get()
    local = nxt.run_after.astimezone(PARIS)
    assert (local.hour, local.minute) == (0, 5)
    assert nxt.run_after > timezone.now()
    # A second start finds the run planned: nothing is doubled, nothing runs early.
    assert "planned now" not in worker()
    assert planned().count() == 1
    done = DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL)
    assert sorted(done.values_list("task_path", flat=True)) == [
        "nextwork.campaigns.tasks.daily_campaign_reminders",
        "nextwork.messaging.tasks.sweep_stalled",  # looks for stalled sends at each start
        "nextwork.messaging.tasks.weekly_digest",
        "nextwork.mobilisation.tasks.polling_eve_reminders",
        "nextwork.mobilisation.tasks.polling_morning_reminders",
        "nextwork.mobilisation.tasks.proxy_step_reminders",
        "nextwork.mobilisation.tasks.registration_reminders",
        "nextwork.monitoring.tasks.monitoring_tick",  # every minute: polls the due sources
        "nextwork.network.tasks.daily_coverage_snapshot",
        "nextwork.privacy.tasks.apply_retention",  # every night: the retention policies
        "nextwork.privacy.tasks.seal_audit_log",  # every minute: seals the audit log
    ]


def test_next_occurrence_is_the_next_local_time_of_day():
    at = datetime.time(0, 5)
    before = datetime.datetime(2026, 3, 28, 23, 0, tzinfo=PARIS)
    assert next_occurrence(at, before) == datetime.datetime(2026, 3, 29, 0, 5, tzinfo=PARIS)
    # Across the change to summer time (29 March 2026), still 00:05 local.
    after = datetime.datetime(2026, 3, 29, 0, 5, tzinfo=PARIS)
    nxt = next_occurrence(at, after)
    assert (nxt.date(), nxt.hour, nxt.minute) == (datetime.date(2026, 3, 30), 0, 5)
    assert nxt.utcoffset() == datetime.timedelta(hours=2)
