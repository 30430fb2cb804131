"""Exactly once per recipient, with real workers: one killed in the middle of a 10,000-recipient
send and others started after it, and two senders on the same message at once.

These tests commit for real (the workers are other processes or threads with their own
connections), so they do not use the per-test transaction, and remove what they made.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.db import connection, connections
from django.utils import timezone

from nextwork.messaging import delivery, services
from nextwork.messaging.models import (
    Community,
    CommunityMembership,
    ConsentState,
    Delivery,
    DeliveryStatus,
    Message,
    MessageStatus,
)
from nextwork.network.models import Grant, Member, Role
from tests import smtp

SLUG = "exactly-once"


def _make_audience(size: int):
    now = timezone.now()
    Member.objects.bulk_create(
        Member(
            email=f"once{i}@example.org",
            first_name=f"N{i}",
            is_active=True,
            confirmed_at=now,
            password="!",
        )
        for i in range(size)
    )
    members = list(Member.objects.filter(email__startswith="once").values_list("pk", flat=True))
    community = Community.objects.create(slug=SLUG, name="Exactly once")
    CommunityMembership.objects.bulk_create(
        CommunityMembership(community=community, member_id=pk) for pk in members
    )
    ConsentState.objects.bulk_create(
        ConsentState(member_id=pk, channel="email", message_type="newsletter", given=True)
        for pk in members
    )
    staff = Member.objects.create_user("once-staff@example.org", is_active=True, confirmed_at=now)
    Grant.objects.create(member=staff, role=Role.STAFF)
    return staff, members


def _clean_up():
    from django_tasks_db.models import DBTaskResult

    from nextwork.network.models import CoverageSnapshot

    Message.objects.filter(segment__isnull=True, definition__community=[SLUG]).delete()
    Member.objects.filter(email__startswith="once").delete()
    Community.objects.filter(slug=SLUG).delete()
    DBTaskResult.objects.all().delete()
    CoverageSnapshot.objects.all().delete()


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        _clean_up()
        yield
        _clean_up()


def _message(staff) -> Message:
    return services.message_create(
        data=services.MessageIn(
            channel="email",
            message_type="newsletter",
            subject="Bonjour {{ first_name }}",
            body_text="Un message pour {{ first_name }}.",
            definition={"community": [SLUG]},
        ),
        by=staff,
    )


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return (
        f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or '127.0.0.1'}:{s['PORT']}/{s['NAME']}"
    )


def _worker(port: int, log) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nextwork.settings.base",
        "DATABASE_URL": _database_url(),
        "EMAIL_URL": f"smtp://127.0.0.1:{port}",
        "NEXTWORK_SITE_URL": "http://testserver",
        "NEXTWORK_SEND_LEASE": "5",
        "NEXTWORK_SEND_SWEEP": "1",
        "NEXTWORK_SEND_BATCH": "100",
    }
    nextwork = os.path.join(os.path.dirname(sys.executable), "nextwork")
    return subprocess.Popen(
        [nextwork, "worker", "--interval", "0.2"], env=env, stdout=log, stderr=subprocess.STDOUT
    )


def _wait(condition, timeout: float, what: str, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    tail = ""
    if log is not None:
        log.flush()
        with open(log.name) as f:
            tail = f.read()[-3000:]
    raise AssertionError(f"timed out waiting for {what}; the workers said:\n{tail}")


def _copies(inbox) -> dict[str, list[str]]:
    copies = collections.defaultdict(list)
    for rcpts, email in list(inbox.messages):
        for rcpt in rcpts:
            copies[rcpt].append(email["Message-ID"])
    return copies


def _check_exactly_once(message: Message, inbox, size: int, killed: int) -> None:
    copies = _copies(inbox)
    assert len(copies) == size, "every recipient got the message"
    rows = {
        m: (d, twice)
        for d, m, twice in Delivery.objects.filter(message=message).values_list(
            "pk", "member__email", "handed_twice"
        )
    }
    assert len(rows) == size
    twice = [email for email, (_d, t) in rows.items() if t]
    # A dead sender leaves at most the one message it had in flight; only that one may have
    # been handed over twice, with the same Message-ID (receivers drop the second copy).
    assert len(twice) <= killed
    for email, ids in copies.items():
        if email in twice:
            assert len(ids) <= 2 and len(set(ids)) == 1
        else:
            assert len(ids) == 1, f"{email} received {len(ids)} copies"
    assert set(Delivery.objects.filter(message=message).values_list("status", flat=True)) == {
        DeliveryStatus.SENT
    }


def test_worker_killed_mid_send_and_restarted_sends_each_exactly_once(
    committed, django_db_blocker, tmp_path
):
    size = 10_000
    inbox, controller = smtp.start()
    log = open(tmp_path / "workers.log", "w")
    workers: list[subprocess.Popen] = []
    try:
        with django_db_blocker.unblock():
            staff, _members = _make_audience(size)
            message = _message(staff)
            services.message_send(message=message, by=staff)  # enqueues the send task

            first = _worker(controller.port, log)
            workers.append(first)
            _wait(lambda: len(inbox.messages) >= size // 4, 180, "the first worker to send", log)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            at_kill = len(inbox.messages)
            assert at_kill < size, "the kill came before the end"

            # Two fresh workers: they find the message stalled, and share what is left.
            workers += [_worker(controller.port, log), _worker(controller.port, log)]
            _wait(
                lambda: Message.objects.get(pk=message.pk).status == MessageStatus.SENT,
                300,
                "the restarted workers to finish",
                log,
            )
            time.sleep(0.5)  # a copy still in the SMTP server's hands
            _check_exactly_once(message, inbox, size, killed=1)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(10)
                except subprocess.TimeoutExpired:
                    worker.kill()
        log.close()
        controller.stop()


def test_two_senders_on_the_same_message_never_send_twice(committed, django_db_blocker):
    size = 1_000
    inbox, controller = smtp.start()
    try:
        with django_db_blocker.unblock():
            staff, _members = _make_audience(size)
            message = _message(staff)
            services.message_send(message=message, by=staff)
            barrier = threading.Barrier(2)
            reports = []
            from django.test import override_settings

            def send(name: str):
                try:
                    barrier.wait(timeout=10)
                    reports.append(delivery.send_message(message.pk, sender=name))
                finally:
                    connections.close_all()

            with override_settings(NEXTWORK_SEND_BATCH=50, **smtp.settings_for(controller)):
                threads = [threading.Thread(target=send, args=(n,)) for n in ("a", "b")]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(120)
            assert sum(r.sent for r in reports) == size
            assert all(r.sent > 0 for r in reports), "both senders took part"
            _check_exactly_once(message, inbox, size, killed=0)
    finally:
        controller.stop()
