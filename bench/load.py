"""Load test (17): concurrent sign-ups and supports against ``nextwork serve`` on PostgreSQL.

    python bench/load.py [--seconds 60] [--clients 32] [--database-url URL]

What it does, all on loopback:

1. starts a throwaway PostgreSQL cluster (Debian's initdb/pg_ctl, as user postgres when run
   as root, a free port, a temporary folder), unless ``--database-url`` names a database to
   use (it must be empty or hold a previous run: migrations run on it);
2. ``nextwork setup`` into a temporary NEXTWORK_HOME with that database, then seeds a
   national consultation with proposals and confirmed members, each with a session;
3. ``nextwork serve`` (``--workers`` × ``--threads``), the sign-up and write rate limits
   raised through its environment (the load comes from one address);
4. the baseline: the same clients on ``/healthz`` for a few seconds (the framework floor);
5. for ``--seconds``, ``--clients`` concurrent clients (httpx, one connection pool each) post
   sign-ups (unique emails) and supports (a random member supports a random proposal; one
   support in four repeats a pair already answered, to prove that a repeat is refused with
   a 409 and counted once); every request and its answer is recorded;
6. the checks, in the database: every sign-up answered 201 exists exactly once with the id
   it was answered; every support answered 201 exists exactly once; every proposal's counter
   equals its rows; no support row exists that no request asked for; no 5xx, no transport
   error. Exits with status 1 when a check fails.

``bench/run.py --load-bench`` (or ``--load-only``) runs it as section 17. The fault tests
(tests/faults/) reuse its cluster, site and client.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIGNUP_POSTCODE = "48000"  # Mende: one constituency, no ambiguity
# The load comes from one address: the per-address limits are raised for it.
RAISED_LIMITS = {
    "NEXTWORK_SIGNUP_RATE": "100000000",
    "NEXTWORK_WRITES_PER_MINUTE": "100000000,100000000",
}


def say(text: str = "") -> None:
    print(text, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nextwork_command() -> list[str]:
    script = Path(sys.executable).with_name("nextwork")
    return [str(script)] if script.exists() else [sys.executable, "-m", "nextwork.cli"]


def tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


# -- a throwaway PostgreSQL cluster ---------------------------------------------------------------


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL binaries, else initdb on the PATH; None when missing."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts[-3])
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Cluster:
    """A PostgreSQL cluster in a temporary folder, loopback only, on a free port, trust auth
    for the role ``nextwork``. Root runs the server as user postgres (it refuses root)."""

    def __init__(self, bin_dir: Path | None = None):
        self.bin = bin_dir or postgres_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) are not installed")
        self.root = Path(tempfile.mkdtemp(prefix="nextwork-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.running = False

    def _run(self, *command: str, check: bool = True, timeout: float = 120):
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*prefix, *command], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode:
            raise RuntimeError(
                f"{Path(command[0]).name} failed ({done.returncode}): {done.stderr[-2000:]}"
                f"\n{tail(self.log)}"
            )
        return done

    def start(self) -> Cluster:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run(
            str(self.bin / "initdb"),
            "-D", str(self.data), "-A", "trust", "-U", "nextwork", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        self._pg_ctl("start")
        self.running = True
        self._run(
            str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", "nextwork", "nextwork",
        )  # fmt: skip
        return self

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
            "-o", options, *extra, action,
        )  # fmt: skip

    def restart(self) -> float:
        """``pg_ctl restart -m fast``: every connection is cut; seconds until it accepts again."""
        started = time.perf_counter()
        self._pg_ctl("restart", "-m", "fast")
        return time.perf_counter() - started

    def halt(self) -> None:
        """``pg_ctl stop -m fast``: the server is down until ``resume``."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        self._pg_ctl("start")

    def createdb(self, name: str, template: str | None = None) -> str:
        extra = ["-T", template] if template else []
        self._run(
            str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", "nextwork", *extra, name,
        )  # fmt: skip
        return self.url(name)

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return None

    def url(self, name: str = "nextwork") -> str:
        return f"postgres://nextwork@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.running:
            self._run(
                str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop",
                check=False,
            )  # fmt: skip
            self.running = False
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Cluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


# -- the site: a NEXTWORK_HOME, setup, seed, serve -------------------------------------------------


class Site:
    """A temporary NEXTWORK_HOME on ``database_url``, set up, seeded, and served."""

    def __init__(self, database_url: str | None, *, env: dict | None = None):
        self.home = Path(tempfile.mkdtemp(prefix="nextwork-load-"))
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "DEBUG", "DJANGO_SETTINGS_MODULE", "EMAIL_URL")
        }
        self.env.update(
            NEXTWORK_HOME=str(self.home), DJANGO_SETTINGS_MODULE="nextwork.settings.base"
        )
        if database_url:
            self.env["DATABASE_URL"] = database_url
        self.env.update(RAISED_LIMITS)
        self.env.update(env or {})
        self.server: subprocess.Popen | None = None
        self.port = 0
        self.log = self.home / "server.log"

    def run(self, *command: str, timeout: float = 600) -> subprocess.CompletedProcess:
        done = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode:
            raise RuntimeError(
                f"{' '.join(command[:3])} failed ({done.returncode}):\n"
                f"{done.stdout[-2000:]}{done.stderr[-3000:]}"
            )
        return done

    def setup(self) -> float:
        started = time.perf_counter()
        self.run(*nextwork_command(), "setup")
        return time.perf_counter() - started

    def seed(self, *, members: int, proposals: int) -> dict:
        """Members, a consultation and its proposals, each member with a session (the same
        as a login, without the password hashing that is not what this measures)."""
        out = self.home / "plan.json"
        self.run(
            sys.executable, str(Path(__file__).resolve()), "--internal-seed", str(out),
            "--members", str(members), "--proposals", str(proposals),
        )  # fmt: skip
        return json.loads(out.read_text())

    def check(self, plan: dict, records: list[Record]) -> dict:
        """The database checks, run in a child process with the site's settings."""
        given = self.home / "records.json"
        out = self.home / "checks.json"
        given.write_text(json.dumps({"plan": plan, "records": [asdict(r) for r in records]}))
        self.run(
            sys.executable, str(Path(__file__).resolve()), "--internal-check", str(given), str(out)
        )
        return json.loads(out.read_text())

    def serve(self, *, workers: int = 2, threads: int = 4, timeout: float = 120) -> int:
        self.port = free_port()
        with self.log.open("ab") as log:
            self.server = subprocess.Popen(
                [
                    *nextwork_command(),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(workers),
                    "--threads",
                    str(threads),
                ],
                env=self.env,
                stdout=subprocess.DEVNULL,  # the console email backend: fake addresses, unread
                stderr=log,
                start_new_session=True,
            )
        wait_ready(self.server, self.port, self.log, timeout)
        return self.port

    def stop(self) -> None:
        if self.server is not None:
            stop_group(self.server)
            self.server = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> Site:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def wait_ready(proc, port: int, log: Path, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server stopped (status {proc.returncode}):\n{tail(log)}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {timeout:.0f} s:\n{tail(log)}")


def stop_group(proc: subprocess.Popen, grace: float = 20) -> None:
    """Stop a process started with ``start_new_session`` and everything it forked."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
    try:  # children left behind by a killed parent
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# -- the clients -----------------------------------------------------------------------------------


@dataclass
class Record:
    kind: str  # "signup", "support", "healthz"
    key: str  # the email, "member:proposal", or ""
    status: int  # 0: no answer (transport error)
    seconds: float
    started: float  # monotonic clock
    answer: str = ""  # the sign-up's id, the error code, or the transport error's type
    retry_after: str = ""
    json_error: bool = False  # the body is our JSON error format


def _answer(response) -> tuple[str, bool]:
    try:
        body = response.json()
    except ValueError:
        return "", False
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("code", "")), True
    if isinstance(body, dict) and "id" in body:
        return str(body["id"]), False
    return "", False


@dataclass
class Load:
    """``clients`` threads, each with its own httpx client, until ``seconds`` have passed."""

    port: int
    plan: dict
    clients: int = 32
    seconds: float = 60.0
    signup_share: float = 0.5
    repeat_share: float = 0.25
    seed: int = 2024
    run_id: str = field(default_factory=lambda: f"{int(time.time())}")
    records: list[Record] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, kind: str = "writes") -> list[Record]:
        self.stop.clear()
        per_client: list[list[Record]] = [[] for _ in range(self.clients)]
        target = self._writes if kind == "writes" else self._healthz
        threads = [
            threading.Thread(target=target, args=(i, per_client[i]), daemon=True)
            for i in range(self.clients)
        ]
        timer = threading.Timer(self.seconds, self.stop.set)
        timer.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=self.seconds + 60)
        timer.cancel()
        self.stop.set()
        records = [r for chunk in per_client for r in chunk]
        self.records.extend(records)
        return records

    def _client(self):
        import httpx

        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            timeout=httpx.Timeout(15.0, connect=5.0),
            limits=httpx.Limits(max_connections=1),
        )

    def _send(self, client, kind, key, method, path, **kwargs) -> Record:
        import httpx

        started = time.monotonic()
        try:
            response = client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            return Record(kind, key, 0, time.monotonic() - started, started, type(exc).__name__)
        answer, json_error = _answer(response) if response.status_code != 200 else ("", False)
        return Record(
            kind,
            key,
            response.status_code,
            time.monotonic() - started,
            started,
            answer,
            response.headers.get("retry-after", ""),
            json_error,
        )

    def _healthz(self, i: int, out: list[Record]) -> None:
        with self._client() as client:
            while not self.stop.is_set():
                out.append(self._send(client, "healthz", "", "GET", "/healthz"))

    def _writes(self, i: int, out: list[Record]) -> None:
        rng = random.Random(f"{self.seed}-{self.run_id}-{i}")
        members, proposals = self.plan["members"], self.plan["proposals"]
        supported: list[tuple[dict, int]] = []
        n = 0
        with self._client() as client:
            while not self.stop.is_set():
                n += 1
                client.cookies.clear()  # a sign-up is anonymous; a support, its member's own
                if rng.random() < self.signup_share:
                    email = f"load-{self.run_id}-{i}-{n}@example.org"
                    payload = {
                        "email": email,
                        "first_name": "Charge",
                        "last_name": f"Client{i}",
                        "postcode": SIGNUP_POSTCODE,
                        "consent_version": self.plan["consent_version"],
                    }
                    out.append(
                        self._send(client, "signup", email, "POST", "/api/v1/members", json=payload)
                    )
                    continue
                if supported and rng.random() < self.repeat_share:
                    member, proposal = rng.choice(supported)
                else:
                    member, proposal = rng.choice(members), rng.choice(proposals)
                record = self._send(
                    client,
                    "support",
                    f"{member['id']}:{proposal}",
                    "POST",
                    f"/api/v1/proposals/{proposal}/support",
                    headers={
                        "Cookie": f"sessionid={member['session']}; csrftoken={member['csrf']}",
                        "X-CSRFToken": member["csrf"],
                    },
                )
                out.append(record)
                if record.status == 201:
                    supported.append((member, proposal))


# -- figures ---------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_snapshot(roots: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) of each root process and its children (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for pid in [p for root in roots for p in (root, *_children(root))]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return out


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two snapshots (a process born between them counts whole)."""
    return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())


def percentiles(seconds: list[float]) -> dict:
    if not seconds:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    if len(seconds) == 1:
        return {"p50_ms": seconds[0] * 1e3, "p95_ms": seconds[0] * 1e3, "p99_ms": seconds[0] * 1e3}
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {"p50_ms": cuts[49] * 1e3, "p95_ms": cuts[94] * 1e3, "p99_ms": cuts[98] * 1e3}


def figures(records: list[Record], seconds: float) -> dict:
    by_kind: dict[str, dict] = {}
    for kind in sorted({r.kind for r in records}):
        mine = [r for r in records if r.kind == kind]
        statuses: dict[str, int] = {}
        for r in mine:
            name = str(r.status) if r.status else f"error:{r.answer}"
            statuses[name] = statuses.get(name, 0) + 1
        by_kind[kind] = {
            "requests": len(mine),
            "per_second": len(mine) / seconds if seconds else 0.0,
            "statuses": dict(sorted(statuses.items())),
            **percentiles([r.seconds for r in mine if r.status]),
        }
    return by_kind


def print_figures(title: str, by_kind: dict) -> None:
    say(f"  {title}")
    for kind, f in by_kind.items():
        p = " / ".join(
            "—" if f[k] is None else f"{f[k]:.1f}" for k in ("p50_ms", "p95_ms", "p99_ms")
        )
        say(
            f"    {kind:8s} {f['requests']:7,d} requests, {f['per_second']:8,.1f}/s, "
            f"p50/p95/p99 {p} ms, answers {f['statuses']}"
        )


# -- in the child processes: seed and check --------------------------------------------------------


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nextwork.settings.base")
    import django

    django.setup()


def internal_seed(out: Path, members: int, proposals: int) -> None:
    import datetime
    import secrets

    _django()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.db import transaction
    from django.utils import timezone
    from django.utils.module_loading import import_string

    from nextwork.network.models import Member
    from nextwork.network.signup import current_signup_text
    from nextwork.participation.models import Consultation, Proposal

    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    backend = settings.AUTHENTICATION_BACKENDS[0]
    now = timezone.now()
    tag = secrets.token_hex(4)
    with transaction.atomic():
        people = Member.objects.bulk_create(
            Member(
                email=f"load-member-{tag}-{i}@example.org",
                first_name="Membre",
                last_name=f"Charge{i}",
                password=f"!{secrets.token_urlsafe(30)}",  # unusable, as after a sign-up
                is_active=True,
                confirmed_at=now - datetime.timedelta(days=90),
            )
            for i in range(members)
        )
        consultation = Consultation.objects.create(
            title="Consultation de charge",
            opens_at=now - datetime.timedelta(days=1),
            proposals_close_at=now + datetime.timedelta(days=10),
            closes_at=now + datetime.timedelta(days=20),
            status="published",
        )
        ideas = [
            Proposal.objects.create(
                consultation=consultation,
                author=people[i % len(people)],
                title=f"Proposition {i}",
                body="Une proposition pour la charge.",
            )
            for i in range(proposals)
        ]
    plan_members = []
    rows = []
    for member in people:
        session = store()
        data = {
            SESSION_KEY: str(member.pk),
            BACKEND_SESSION_KEY: backend,
            HASH_SESSION_KEY: member.get_session_auth_hash(),
        }
        if hasattr(store, "get_model_class"):  # sessions in the database: one INSERT for all
            key = session._get_new_session_key()
            rows.append(
                store.get_model_class()(
                    session_key=key,
                    session_data=session.encode(data),
                    expire_date=now + datetime.timedelta(days=1),
                )
            )
        else:
            session.update(data)
            session.create()
            key = session.session_key
        csrf = secrets.token_hex(16)  # an unmasked 32-character CSRF secret
        plan_members.append({"id": member.pk, "session": key, "csrf": csrf})
    if rows:
        store.get_model_class().objects.bulk_create(rows, batch_size=1000)
    plan = {
        "consultation": consultation.pk,
        "proposals": [p.pk for p in ideas],
        "members": plan_members,
        "consent_version": current_signup_text().version,
    }
    out.write_text(json.dumps(plan))


def internal_check(given: Path, out: Path) -> None:
    """Compare the answers with the rows; write the findings (counts and failures)."""
    _django()
    from django.db.models import Count

    from nextwork.network.models import Member
    from nextwork.participation.models import Proposal, Support

    data = json.loads(given.read_text())
    plan, records = data["plan"], [Record(**r) for r in data["records"]]
    failures: list[str] = []

    signups = [r for r in records if r.kind == "signup"]
    accepted = {r.key: r.answer for r in signups if r.status == 201}
    if len(accepted) != sum(1 for r in signups if r.status == 201):
        failures.append("an email was answered 201 twice (the load sends each email once)")
    attempted = {r.key for r in signups}
    stored: dict[str, list[str]] = {}
    keys = sorted(attempted)
    for start in range(0, len(keys), 2000):
        for email, public_id in Member.objects.filter(
            email__in=keys[start : start + 2000]
        ).values_list("email", "public_id"):
            stored.setdefault(email, []).append(str(public_id))
    missing = [e for e in accepted if e not in stored]
    doubled = [e for e, ids in stored.items() if len(ids) > 1]
    wrong_id = [e for e, i in accepted.items() if e in stored and stored[e] != [i]]
    unanswered = [e for e in stored if e not in accepted]
    if missing:
        failures.append(f"{len(missing)} sign-ups answered 201 are not stored")
    if doubled:
        failures.append(f"{len(doubled)} sign-ups are stored more than once")
    if wrong_id:
        failures.append(f"{len(wrong_id)} sign-ups are stored under another id than answered")

    supports = [r for r in records if r.kind == "support"]
    ok_pairs = [r.key for r in supports if r.status == 201]
    asked_pairs = {r.key for r in supports}
    member_ids = [m["id"] for m in plan["members"]]
    rows = list(
        Support.objects.filter(proposal__consultation_id=plan["consultation"])
        .values("member_id", "proposal_id")
        .annotate(n=Count("id"))
    )
    row_pairs = {f"{r['member_id']}:{r['proposal_id']}": r["n"] for r in rows}
    if len(set(ok_pairs)) != len(ok_pairs):
        failures.append(
            f"{len(ok_pairs) - len(set(ok_pairs))} supports were answered 201 a second time"
        )
    lost = [p for p in set(ok_pairs) if p not in row_pairs]
    if lost:
        failures.append(f"{len(lost)} supports answered 201 are not stored")
    multiple = [p for p, n in row_pairs.items() if n > 1]
    if multiple:
        failures.append(f"{len(multiple)} supports are stored more than once")
    strangers = [p for p in row_pairs if p not in asked_pairs]
    if strangers:
        failures.append(f"{len(strangers)} support rows match no request")
    stored_unanswered = [p for p in row_pairs if p not in set(ok_pairs)]
    counters = {
        p.pk: p.support_count
        for p in Proposal.objects.filter(consultation_id=plan["consultation"]).only(
            "pk", "support_count"
        )
    }
    counted = dict(
        Support.objects.filter(proposal__consultation_id=plan["consultation"])
        .values_list("proposal_id")
        .annotate(n=Count("id"))
        .values_list("proposal_id", "n")
    )
    off = [pk for pk, n in counters.items() if n != counted.get(pk, 0)]
    if off:
        failures.append(f"{len(off)} proposals' support counters differ from their rows")
    repeats = sum(
        1 for r in supports if r.status == 409 and r.key in row_pairs and r.answer == "conflict"
    )
    findings = {
        "signups_accepted": len(accepted),
        "signups_stored": len(stored),
        "signups_stored_unanswered": len(unanswered),
        "supports_accepted": len(ok_pairs),
        "support_rows": sum(row_pairs.values()),
        "supports_stored_unanswered": len(stored_unanswered),
        "repeats_refused": repeats,
        "members_seeded": len(member_ids),
        "proposals": len(counters),
        "failures": failures,
    }
    out.write_text(json.dumps(findings))


# -- the whole run ---------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/load.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration: 60")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients: 32")
    parser.add_argument(
        "--baseline-seconds", type=float, default=None, help="/healthz duration: seconds / 4"
    )
    parser.add_argument("--workers", type=int, default=2, help="server processes: 2")
    parser.add_argument("--threads", type=int, default=4, help="threads per process: 4")
    parser.add_argument("--members", type=int, default=2000, help="seeded members: 2000")
    parser.add_argument("--proposals", type=int, default=50, help="seeded proposals: 50")
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL database to use; default: a throwaway cluster for the run",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--internal-seed", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--internal-check", nargs=2, type=Path, default=None, help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.clients < 1 or args.workers < 1 or args.threads < 1:
        parser.error("--seconds, --clients, --workers and --threads must be positive")
    if args.members < 1 or args.proposals < 1:
        parser.error("--members and --proposals must be positive")
    if args.baseline_seconds is None:
        args.baseline_seconds = max(2.0, min(15.0, args.seconds / 4))
    return args


def machine() -> dict:
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def run(args) -> dict:
    """The whole load test; returns the figures and checks (``failures`` empty when sound)."""
    info = machine()
    say(
        f"Load test: {args.clients} clients for {args.seconds:g} s; "
        f"{info['cpus']} CPUs ({info['cpu']})"
    )
    cluster = None
    try:
        url = args.database_url
        if not url:
            cluster = Cluster()  # assigned first: a failed start is cleaned up too
            cluster.start()
            url = cluster.url()
            say(f"  PostgreSQL: throwaway cluster on port {cluster.port} ({cluster.bin})")
        with Site(url) as site:
            say(f"  `nextwork setup`: {site.setup():.1f} s")
            started = time.perf_counter()
            plan = site.seed(members=args.members, proposals=args.proposals)
            say(
                f"  seeded {len(plan['members']):,} members with sessions and "
                f"{len(plan['proposals'])} proposals in {time.perf_counter() - started:.1f} s"
            )
            port = site.serve(workers=args.workers, threads=args.threads)
            say(f"  `nextwork serve` on 127.0.0.1:{port}: {args.workers} × {args.threads} threads")
            roots = [site.server.pid] + ([cluster.pid()] if cluster and cluster.pid() else [])
            base = Load(port, plan, clients=args.clients, seconds=args.baseline_seconds)
            cpu0 = cpu_snapshot(roots)
            base_records = base.run("healthz")
            base_cpu = cpu_used(cpu0, cpu_snapshot(roots))
            baseline = figures(base_records, args.baseline_seconds)
            load = Load(port, plan, clients=args.clients, seconds=args.seconds)
            cpu0 = cpu_snapshot(roots)
            t0 = time.monotonic()
            records = load.run("writes")
            elapsed = time.monotonic() - t0
            load_cpu = cpu_used(cpu0, cpu_snapshot(roots))
            loadavg = os.getloadavg()
            site.stop()  # every answer is in: nothing in flight while we count
            measured = figures(records, elapsed)
            checks = site.check(plan, records)
    finally:
        if cluster is not None:
            cluster.stop()
    failures = list(checks["failures"])
    errors = sum(1 for r in records if r.status == 0)
    server_errors = sum(1 for r in records if r.status >= 500)
    if server_errors:
        failures.append(f"{server_errors} answers were 5xx")
    if errors:
        failures.append(f"{errors} requests got no answer (transport errors)")
    unexpected = sorted(
        {
            f"{r.kind} {r.status} {r.answer}"
            for r in records
            if r.status not in (0, 201) and not (r.kind == "support" and r.status == 409)
        }
    )
    if unexpected:
        failures.append(f"unexpected answers: {', '.join(unexpected[:5])}")
    writes = len(records) / elapsed if elapsed else 0.0
    floor = baseline.get("healthz", {}).get("per_second", 0.0)
    result = {
        "machine": info,
        "clients": args.clients,
        "seconds": elapsed,
        "server": f"{args.workers} workers × {args.threads} threads",
        "baseline": baseline,
        "load": measured,
        "writes_per_second": writes,
        "healthz_per_second": floor,
        "ratio": floor / writes if writes else None,
        "cpu_ms_per_healthz": 1e3 * base_cpu / len(base_records) if base_records else None,
        "cpu_ms_per_write": 1e3 * load_cpu / len(records) if records else None,
        "load_average_after": loadavg,
        "checks": checks,
        "failures": failures,
        "target_met": not failures,
    }
    print_figures(f"baseline, /healthz for {args.baseline_seconds:g} s:", baseline)
    print_figures(f"load, sign-ups and supports for {elapsed:.1f} s:", measured)
    say(
        f"  writes: {writes:,.1f} requests/s; /healthz {floor:,.1f}/s, "
        f"×{result['ratio'] or 0:,.1f} the cost of a write"
    )
    if result["cpu_ms_per_write"] and result["cpu_ms_per_healthz"]:
        say(
            f"  server and PostgreSQL CPU: {result['cpu_ms_per_write']:.1f} ms per write, "
            f"{result['cpu_ms_per_healthz']:.2f} ms per /healthz "
            f"(×{result['cpu_ms_per_write'] / result['cpu_ms_per_healthz']:,.1f}); "
            f"load average at the end {loadavg[0]:.1f}"
        )
    say(
        f"  stored: {checks['signups_stored']:,} sign-ups ({checks['signups_accepted']:,} "
        f"answered 201), {checks['support_rows']:,} supports ({checks['supports_accepted']:,} "
        f"answered 201; {checks['repeats_refused']:,} repeats refused with 409)"
    )
    say("  checks: " + ("all passed" if not failures else "FAILED: " + "; ".join(failures)))
    return result


# -- bench/run.py section 17 -----------------------------------------------------------------------


def add_arguments(parser) -> None:
    group = parser.add_argument_group("load test (17)")
    group.add_argument(
        "--load-bench", action="store_true", help="also run the load test (PostgreSQL binaries)"
    )
    group.add_argument("--load-only", action="store_true", help="run the load test only")
    group.add_argument("--load-seconds", type=float, default=None, help="load duration: 60 [10]")
    group.add_argument("--load-clients", type=int, default=32, help="concurrent clients: 32")
    group.add_argument(
        "--load-database-url", default=None, help="PostgreSQL database; default: throwaway cluster"
    )


def finish_args(parser, args) -> None:
    if args.load_only:
        args.load_bench = True


def bench_load(args, results: dict) -> None:
    say("\n== 17. Load: concurrent sign-ups and supports on PostgreSQL (bench/load.py)")
    seconds = args.load_seconds or (10.0 if args.quick else 60.0)
    argv = ["--seconds", str(seconds), "--clients", str(args.load_clients)]
    if args.load_database_url:
        argv += ["--database-url", args.load_database_url]
    if args.quick:
        argv += ["--members", "500", "--proposals", "20"]
    results["load"] = run(parse_args(argv))


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.internal_seed:
        internal_seed(args.internal_seed, args.members, args.proposals)
        return 0
    if args.internal_check:
        internal_check(*args.internal_check)
        return 0
    result = run(args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
