"""The scale-out proof, driven by .ci/scaleout (which starts PostgreSQL and Redis for it).

Two ``nextwork serve`` and two ``nextwork worker`` share one PostgreSQL and one Redis, as in
docs/deployment.md; a local SMTP sink receives every email. Then:

(a) sign-ups sent to both web processes at once, some addresses twice on different processes:
    each stored once, one confirmation email each; a per-address rate limit counted across
    both processes (the Redis cache is shared);
(b) a send to the 2,000 members of a demo network handed over by both workers: each recipient
    gets exactly one copy, and both workers did part of it;
(c) an action day opened for every seat with a deputy: one assignment each, and every relay
    who has one gets exactly one reminder email, sent by the workers.

Also: the periodic tasks the two workers planned when they started at once are planned once.
Prints a short report; exits 1 on any failed check. Loopback only.

SCALEOUT_PREPARED=1 skips ``nextwork setup`` (a database and NEXTWORK_HOME made earlier), to
work on this script without waiting for the territory import each time.
"""

from __future__ import annotations

import collections
import concurrent.futures
import datetime
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/smtp.py: the project's SMTP sink

import httpx  # noqa: E402
from tests import smtp  # noqa: E402

TMP = Path(os.environ["SCALEOUT_TMP"])
BIN = Path(sys.executable).parent
MEMBERS = 2000  # the audience of the send (b)
SIGNUP_LIMIT = 40  # NEXTWORK_SIGNUP_RATE: sign-ups per address and hour
DISTINCT, TWICE = 24, 8  # (a): addresses signed up once, and twice on both processes
DOMAIN = "scaleout.test"
NEWSLETTER = "[scaleout] Nouvelles pour {{ first_name }}"
TITLE = "Journée scaleout"

failures: list[str] = []
report: list[str] = []


def check(ok: bool, what: str) -> None:
    (report if ok else failures).append(("ok    " if ok else "FAIL  ") + what)
    print(("ok    " if ok else "FAIL  ") + what, flush=True)


def free_port() -> int:
    return smtp.free_port()


# -- processes ----------------------------------------------------------------------------------

children: list[subprocess.Popen] = []


def environment(smtp_port: int, site_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nextwork.settings.base",
        "NEXTWORK_HOME": str(TMP / "home"),
        "SECRET_KEY": SECRET_KEY,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "DEFAULT_FROM_EMAIL": "scaleout@example.org",
        "NEXTWORK_SITE_URL": f"http://127.0.0.1:{site_port}",
        "NEXTWORK_SIGNUP_RATE": str(SIGNUP_LIMIT),
        # The per-minute write ceiling per address would also answer 429: out of the way, so
        # that a refusal here is the sign-up limit's.
        "NEXTWORK_WRITES_PER_MINUTE": "100000,100000",
        "NEXTWORK_SEND_BATCH": "50",  # small claims, so that two senders interleave
        "NEXTWORK_SEND_SWEEP": "2",
        "LOG_LEVEL": "INFO",
    }


def start(name: str, *args: str, env: dict) -> subprocess.Popen:
    log = open(TMP / f"{name}.log", "w")  # kept open for the child
    process = subprocess.Popen(
        [str(BIN / "nextwork"), *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # gunicorn forks: the whole group is stopped at the end
    )
    children.append(process)
    with open(TMP / "pids", "a") as pids:
        pids.write(f"{process.pid}\n")
    return process


def stop_all() -> None:
    for process in children:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in children:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def run(*args: str, env: dict) -> str:
    done = subprocess.run(
        [str(BIN / "nextwork"), *args], env=env, capture_output=True, text=True, timeout=900
    )
    if done.returncode:
        raise SystemExit(f"nextwork {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def wait_for(condition, what: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        for process in children:
            if process.poll() is not None:
                failures.append(f"FAIL  a process died (exit {process.returncode}): {process.args}")
                return False
        time.sleep(0.25)
    failures.append(f"FAIL  timed out waiting for {what}")
    return False


def tail(name: str, lines: int = 30) -> str:
    path = TMP / f"{name}.log"
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


SECRET_KEY = secrets.token_urlsafe(50)


# -- (a) sign-ups -------------------------------------------------------------------------------


def signup(client: httpx.Client, base: str, email: str, version: int) -> int:
    response = client.post(
        f"{base}/api/v1/members",
        json={
            "email": email,
            "first_name": "Camille",
            "last_name": "Essai",
            "postcode": "48000",
            "consent_version": version,
        },
    )
    if response.status_code == 429:
        code = response.json().get("error", {}).get("code")
        return 429 if code == "rate_limited" else -429
    return response.status_code


def check_signups(bases: list[str], inbox) -> None:
    from nextwork.network.models import Member

    page = httpx.get(f"{bases[0]}/inscription/", follow_redirects=True, timeout=10)
    version = int(re.search(r'name="consent_version" value="(\d+)"', page.text).group(1))
    once = [f"once{i}@{DOMAIN}" for i in range(DISTINCT)]
    twice = [f"twice{i}@{DOMAIN}" for i in range(TWICE)]
    # Round-robin: request i goes to process i % 2; each twice-address once to each process.
    jobs = [(bases[i % 2], email) for i, email in enumerate(once)]
    jobs += [(base, email) for email in twice for base in bases]
    with httpx.Client(timeout=30) as client, concurrent.futures.ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(lambda job: signup(client, job[0], job[1], version), jobs))
    check(
        codes.count(201) == len(jobs),
        f"(a) {len(jobs)} sign-ups sent at once to both web processes: all answered 201 "
        f"(got {dict(collections.Counter(codes))})",
    )
    stored = collections.Counter(
        Member.objects.filter(email__endswith=f"@{DOMAIN}").values_list("email", flat=True)
    )
    check(
        set(stored) == set(once + twice) and set(stored.values()) == {1},
        f"(a) {len(stored)} members stored, once each ({len(twice)} addresses sent to both "
        "processes at the same moment)",
    )
    if not wait_for(lambda: _confirmations(inbox, DOMAIN).total() >= len(stored), "mails", 60):
        return
    time.sleep(0.5)  # a mail still on its way would show as a duplicate
    confirmations = _confirmations(inbox, DOMAIN)
    check(
        set(confirmations) == set(once + twice) and set(confirmations.values()) == {1},
        f"(a) one confirmation email per address ({confirmations.total()} for {len(stored)})",
    )
    check_shared_rate_limit(bases, version)


def _confirmations(inbox, domain: str) -> collections.Counter:
    return collections.Counter(
        rcpt
        for rcpts, mail in list(inbox.messages)
        if mail["Subject"].startswith("Confirmez votre inscription")
        for rcpt in rcpts
        if rcpt.endswith(f"@{domain}")
    )


def check_shared_rate_limit(bases: list[str], version: int) -> None:
    """From another loopback address (its own count): twice the limit, alternating between
    the processes, at once. A cache per process would let each process accept the limit."""
    sent = SIGNUP_LIMIT * 2
    for _attempt in range(2):  # again if the hour's window turned during the burst
        hour = int(time.time() // 3600)
        transport = httpx.HTTPTransport(local_address="127.0.0.2")
        with (
            httpx.Client(timeout=30, transport=transport) as client,
            concurrent.futures.ThreadPoolExecutor(12) as pool,
        ):
            jobs = [(bases[i % 2], f"limit{_attempt}-{i}@rl.{DOMAIN}") for i in range(sent)]
            codes = list(pool.map(lambda job: signup(client, job[0], job[1], version), jobs))
        if int(time.time() // 3600) == hour:
            break
    refused_by = {base for (base, _e), code in zip(jobs, codes, strict=True) if code == 429}
    check(
        codes.count(201) == SIGNUP_LIMIT and codes.count(429) == sent - SIGNUP_LIMIT,
        f"(a) rate limit shared: {sent} sign-ups from one address over both processes, "
        f"{codes.count(201)} accepted (limit {SIGNUP_LIMIT}), {codes.count(429)} refused",
    )
    check(len(refused_by) == 2, "(a) both web processes refused past the shared limit")


# -- (b) and (c): prepared as staff would, through the services the API calls -------------------


def prepare_send_and_action_day() -> dict:
    from django.db import transaction
    from django.utils import timezone
    from django_tasks.base import TaskResultStatus

    from nextwork.campaigns import services as campaigns
    from nextwork.messaging import services as messaging
    from nextwork.messaging.models import ConsentState
    from nextwork.messaging.tasks import send_message_task
    from nextwork.network.models import Grant, Member, Role
    from nextwork.territories.models import Chamber, Mandate

    staff = Grant.objects.filter(role=Role.STAFF, valid_to__isnull=True).first().member
    audience = list(
        Member.objects.filter(
            email__startswith="membre", email__endswith="@demo.invalid"
        ).values_list("pk", flat=True)
    )
    ConsentState.objects.bulk_create(
        ConsentState(member_id=pk, channel="email", message_type=kind, given=True)
        for pk in audience
        for kind in ("newsletter", "campaign")
    )
    message = messaging.message_create(
        data=messaging.MessageIn(
            channel="email",
            message_type="newsletter",
            subject=NEWSLETTER,
            body_text="Bonjour {{ first_name }}, voici les nouvelles de la semaine.",
            definition={"confirmed": True},
        ),
        by=staff,
    )
    messaging.message_send(message=message, by=staff)  # queues one sender task
    # The hardest case for "exactly once": a second sender on the same message at the same
    # time (as the sweep starts one when it thinks a sender died), so each worker runs one.
    send_message_task.enqueue(message.pk)

    starts = timezone.now() + datetime.timedelta(days=3)
    campaign = campaigns.campaign_create(
        data=campaigns.CampaignIn(
            title=TITLE, starts_at=starts, chambers="assembly", reminder_days=[3]
        ),
        by=staff,
    )
    with transaction.atomic():
        opened = campaigns.campaign_open(campaign=campaign, by=staff)
    from django_tasks_db.models import DBTaskResult

    assert (
        not DBTaskResult.objects.exclude(task_path=send_message_task.module_path)
        .filter(status=TaskResultStatus.READY)
        .exists()
    ), "no periodic task planned before"
    deputies = Mandate.objects.filter(
        chamber=Chamber.ASSEMBLY, end__isnull=True, boundary_set__active=True
    ).count()
    return {
        "deputies": deputies,
        "message": message.pk,
        "audience": len(audience),
        "campaign": campaign.pk,
        "assignments": opened.assignments,
        "with_relay": opened.with_relay,
    }


def check_send(prepared: dict, inbox) -> None:
    from django_tasks_db.models import DBTaskResult

    from nextwork.messaging.models import Delivery, Message, MessageStatus
    from nextwork.messaging.tasks import send_message_task
    from nextwork.network.models import Member

    pk = prepared["message"]
    if not wait_for(
        lambda: Message.objects.get(pk=pk).status == MessageStatus.SENT, "the send (b)", 300
    ):
        return
    time.sleep(0.5)
    expected = set(
        Member.objects.filter(
            email__startswith="membre", email__endswith="@demo.invalid"
        ).values_list("email", flat=True)
    )
    copies = collections.Counter(
        rcpt
        for rcpts, mail in list(inbox.messages)
        if mail["Subject"].startswith("[scaleout] Nouvelles")
        for rcpt in rcpts
    )
    check(
        set(copies) == expected and set(copies.values()) == {1},
        f"(b) send to {len(expected)} members: {len(copies)} recipients at the SMTP sink, "
        f"{copies.total()} emails, none twice, nobody else",
    )
    rows = Delivery.objects.filter(message_id=pk)
    statuses = collections.Counter(rows.values_list("status", flat=True))
    check(
        statuses == {"sent": len(expected)} and not rows.filter(handed_twice=True).exists(),
        f"(b) deliveries: {dict(statuses)}, none handed over twice",
    )
    senders = collections.Counter(rows.values_list("claimed_by", flat=True))
    tasks = DBTaskResult.objects.filter(
        task_path=send_message_task.module_path, args_kwargs__args__0=pk
    )
    workers = {tuple(t.worker_ids) for t in tasks}
    check(
        len(senders) >= 2 and len({w for ids in workers for w in ids}) >= 2,
        f"(b) both workers sent part of it: deliveries per sender {sorted(senders.values())}, "
        f"sender tasks run by {len({w for ids in workers for w in ids})} workers",
    )


def check_action_day(prepared: dict, inbox) -> None:
    from nextwork.campaigns.models import Assignment, ReminderSent
    from nextwork.messaging.models import Message, MessageStatus

    assignments = Assignment.objects.filter(campaign_id=prepared["campaign"])
    per_mandate = collections.Counter(assignments.values_list("mandate_id", flat=True))
    count = assignments.count()
    check(
        count == prepared["assignments"] == prepared["deputies"] > 0
        and set(per_mandate.values()) == {1},
        f"(c) action day opened: {assignments.count()} assignments, one per deputy, "
        f"{prepared['with_relay']} with a relay",
    )
    relays = set(assignments.filter(relay__isnull=False).values_list("relay__email", flat=True))
    subject = f"J-3 : {TITLE}"

    def reminders() -> collections.Counter:
        return collections.Counter(
            rcpt
            for rcpts, mail in list(inbox.messages)
            if mail["Subject"] == subject
            for rcpt in rcpts
        )

    wait_for(lambda: reminders().total() >= len(relays), "the reminders (c)", 300)
    time.sleep(0.5)
    got = reminders()
    recorded = ReminderSent.objects.filter(assignment__campaign_id=prepared["campaign"]).count()
    check(
        set(got) == relays and set(got.values()) == {1} and recorded == prepared["with_relay"],
        f"(c) reminders: {got.total()} emails to {len(relays)} relays, one each "
        f"({recorded} recorded)",
    )
    waiting = Message.objects.filter(subject__startswith="J-3").exclude(status=MessageStatus.SENT)
    check(not waiting.exists(), "(c) every reminder message is marked sent")


def check_workers_and_schedule() -> None:
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from nextwork.common.schedule import PERIODIC

    ran = collections.Counter(
        w for ids in DBTaskResult.objects.values_list("worker_ids", flat=True) for w in ids
    )
    check(
        len(ran) == 2 and min(ran.values()) > 0,
        f"tasks spread over the workers: {sorted(ran.values())}",
    )
    twice = DBTaskResult.objects.exclude(status=TaskResultStatus.READY)
    doubled = [r.id for r in twice if len(r.worker_ids) > 1]
    check(not doubled, "no task was claimed by two workers")
    periodic = DBTaskResult.objects.filter(task_path__in=list(PERIODIC))
    # The first runs wait behind the sends in the queue: let them finish.
    wait_for(
        lambda: not (periodic.ready().exists() or periodic.filter(status="RUNNING").exists()),
        "the first runs of the periodic tasks",
        120,
    )
    planned = collections.Counter(
        DBTaskResult.objects.filter(
            task_path__in=list(PERIODIC), status=TaskResultStatus.READY
        ).values_list("task_path", flat=True)
    )
    daily = [p for p, (_t, at) in PERIODIC.items() if isinstance(at, datetime.time)]
    finished = DBTaskResult.objects.filter(task_path__in=daily).exclude(
        status=TaskResultStatus.READY
    )
    runs = collections.Counter(finished.values_list("task_path", flat=True))
    failed = {r.task_path: r.exception_class_path for r in finished.exclude(status="SUCCESSFUL")}
    doubled = {path: n for path, n in planned.items() if n > 1}
    once = all(runs[path] == 1 and planned[path] == 1 for path in daily)
    check(
        not doubled and once,
        f"periodic tasks: none of {len(PERIODIC)} planned twice, each of the {len(daily)} daily "
        "ones ran once and is planned once, although both workers started together"
        + ("" if not doubled and once else f" (planned {planned}, ran {runs}, failed {failed})"),
    )


# -- the run ------------------------------------------------------------------------------------


def main() -> int:
    began = time.monotonic()
    inbox, controller = smtp.start()
    web_ports = [free_port(), free_port()]
    env = environment(controller.port, web_ports[0])
    os.environ.update(env)  # this process reads and prepares data as one more client
    try:
        if not os.environ.get("SCALEOUT_PREPARED"):
            run("setup", env=env)
        run("demo", "--members", str(MEMBERS), env=env)
        print(f"setup and a {MEMBERS}-member demo network: {time.monotonic() - began:.0f} s")

        import django

        django.setup()
        bases = [f"http://127.0.0.1:{port}" for port in web_ports]
        for i, port in enumerate(web_ports):
            start(f"web{i + 1}", "serve", "--port", str(port), "--workers", "2", env=env)

        def up() -> bool:
            try:
                return all(httpx.get(f"{b}/healthz", timeout=2).status_code == 200 for b in bases)
            except httpx.HTTPError:
                return False

        if wait_for(up, "the web processes", 120):
            check_signups(bases, inbox)

        prepared = prepare_send_and_action_day()
        for i in range(2):  # both at once: their start-up planning races
            start(f"worker{i + 1}", "worker", "--interval", "0.2", env=env)
        check_send(prepared, inbox)
        check_action_day(prepared, inbox)
        check_workers_and_schedule()
    except Exception as exc:  # reported as a failure, with the processes' last words
        failures.append(f"FAIL  {type(exc).__name__}: {exc}")
    finally:
        stop_all()
        controller.stop()
    print(f"\nscale-out: {len(report)} checks passed, {len(failures)} failed, "
          f"{time.monotonic() - began:.0f} s")  # fmt: skip
    if failures:
        print("\n".join(failures))
        for name in ("web1", "web2", "worker1", "worker2"):
            print(f"--- last lines of {name}.log\n{tail(name)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
