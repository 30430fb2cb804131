"""Benchmarks of the donation analytics (section 13), run by ``bench/run.py --fundraising-bench``.

``python bench/fundraising.py [--fundraising-db postgres://…] [--quick]`` is the same as
``bench/run.py --fundraising-only``.

13. 5,000,000 donations (``--fundraising-scale`` 1; 0.1 with ``--quick``) from 1,000,000 donor
    rows (one person in fifty has two rows with the same key), a long tail of amounts
    (log-normal, a third of them round sums), a Zipf-like choice of donor, 40,000 monthly
    donations paying up to 24 months, 2 % refunded/failed/pending rows that must not count,
    over two years. The same rows (same seed) in SQLite and, with ``--fundraising-db``, in a
    scratch PostgreSQL database (``nextwork_bench_fundraising``, dropped at the end).

    Measured in a child process set up on that database, as a server would be:
    ``analytics.summary()`` over everything, over one year, and over a period cutting months at
    both ends (first call, then the best of ``--fundraising-repeat``), against the baseline
    of the same run: a pure-Python loop over the same rows (raw cursor, dicts and lists,
    same figures). The figures of both must agree (totals exactly, Gini to 1e-9). Targets:
    ≤ 3 s on PostgreSQL, ≤ 10 s on SQLite.
"""

from __future__ import annotations

import bisect
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import run as base  # the helpers of bench/run.py (setup, output)

TARGETS = {"postgresql": 3.0, "sqlite": 10.0}
SCRATCH_DB = "nextwork_bench_fundraising"
SIZES = {"donations": 5_000_000, "donors": 1_000_000, "recurring": 40_000}
START = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
DAYS = 730


def add_arguments(parser) -> None:
    group = parser.add_argument_group("fundraising analytics benchmarks (13)")
    group.add_argument(
        "--fundraising-bench", action="store_true", help="also run the analytics benchmarks"
    )
    group.add_argument(
        "--fundraising-only", action="store_true", help="run the analytics benchmarks only"
    )
    group.add_argument(
        "--fundraising-db",
        default=None,
        help="a PostgreSQL server (postgres://user@host:port/db) to measure too; without it, "
        "SQLite only",
    )
    group.add_argument(
        "--fundraising-scale", type=float, default=None, help="share of 5 M donations: 1 [0.1]"
    )
    group.add_argument(
        "--fundraising-backends",
        default="sqlite,postgresql",
        help="which databases to measure: sqlite,postgresql (PostgreSQL needs --fundraising-db)",
    )
    group.add_argument(
        "--fundraising-repeat", type=int, default=3, help="timed calls after the first: 3"
    )


def finish_args(parser, args) -> None:
    if args.fundraising_only:
        args.fundraising_bench = True
    if args.fundraising_scale is None:
        args.fundraising_scale = 0.1 if args.quick else 1.0
    if args.fundraising_scale <= 0 or args.fundraising_repeat < 1:
        parser.error("--fundraising-scale and --fundraising-repeat must be positive")
    url = args.fundraising_db or ""
    if url and not url.startswith(("postgres://", "postgresql://")):
        parser.error("--fundraising-db names a PostgreSQL server: postgres://user@host:port/db")


# -- the parent: scratch databases, migration, the measuring process ------------------------------


def _scratch_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + SCRATCH_DB))


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def _run_child(home: Path, url: str | None, config: dict) -> dict:
    env = base.child_env(home)
    env.pop("DEBUG", None)
    if url:
        env["DATABASE_URL"] = url
    t0 = time.perf_counter()
    done = subprocess.run(
        [*base.nextwork_command(), "manage", "migrate", "--no-input"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"nextwork manage migrate failed (status {done.returncode})")
    base.say(f"  migrated in {time.perf_counter() - t0:.1f} s")
    out = home / "fundraising-results.json"
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(config)],
        env=env,
        check=False,
    )
    if done.returncode or not out.exists():
        raise SystemExit(f"the fundraising benchmark failed (status {done.returncode})")
    return json.loads(out.read_text())


def bench_fundraising(engine, args, rng, results, home: Path) -> None:
    started = time.perf_counter()
    scale = args.fundraising_scale
    sizes = {k: max(1, round(v * scale)) for k, v in SIZES.items()}
    base.say(
        f"\n13. Donation analytics: {sizes['donations']:,} donations, {sizes['donors']:,} donor "
        f"rows, {sizes['recurring']:,} monthly donations (scale {scale:g})"
    )
    out: dict = {"sizes": sizes, "scale": scale}
    wanted = {b.strip() for b in args.fundraising_backends.split(",")}
    backends = [("sqlite", None)] if "sqlite" in wanted else []
    if "postgresql" not in wanted:
        pass
    elif args.fundraising_db:
        backends.append(("postgresql", _scratch_url(args.fundraising_db)))
    else:
        base.say("  PostgreSQL skipped: give --fundraising-db postgres://… to measure it")
    for vendor, url in backends:
        base.say(f"\n  {vendor}:")
        with tempfile.TemporaryDirectory(prefix="nextwork-bench-fundraising-") as scratch:
            config = {
                "sizes": sizes,
                "seed": args.seed,
                "repeat": args.fundraising_repeat,
                "out": str(Path(scratch) / "fundraising-results.json"),
            }
            if url:
                _admin(args.fundraising_db, f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')
                _admin(args.fundraising_db, f'CREATE DATABASE "{SCRATCH_DB}"')
            try:
                out[vendor] = _run_child(Path(scratch), url, config)
            finally:
                if url:
                    _admin(
                        args.fundraising_db, f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)'
                    )
    out["target_met"] = all(out[v]["target_met"] for v in ("sqlite", "postgresql") if v in out)
    results["fundraising"] = out
    results["fundraising_seconds"] = time.perf_counter() - started
    base.say(f"\n  fundraising benchmarks: {results['fundraising_seconds']:.0f} s")


# -- the child: data ------------------------------------------------------------------------------


def _data(sizes: dict, seed: int) -> dict:
    """The rows, as numpy columns: the same for every backend at the same seed."""
    rng = np.random.default_rng(seed)
    n_donors, n_rec, n = sizes["donors"], sizes["recurring"], sizes["donations"]
    # Recurring payments: each monthly donation pays from its first month for 1 to 24 months.
    rec_donor = rng.integers(1, n_donors + 1, n_rec)
    rec_amount = rng.choice([500, 1000, 1500, 2000, 3000, 5000], n_rec)
    first = rng.integers(0, 24, n_rec)
    length = np.minimum(rng.integers(1, 25, n_rec), 24 - first)
    length = np.maximum(length, 1)
    rec_id = np.repeat(np.arange(1, n_rec + 1), length)
    offset = np.concatenate([np.arange(k) for k in length]) if n_rec else np.array([], int)
    month = np.repeat(first, length) + offset
    n_pay = min(len(rec_id), n // 2)
    rec_id, month = rec_id[:n_pay], month[:n_pay]
    month_start = np.array(
        [
            int(datetime.datetime(2024 + m // 12, m % 12 + 1, 1, tzinfo=datetime.UTC).timestamp())
            for m in range(25)
        ]
    )
    pay_when = month_start[month] + 3600 * 9 + (rec_id % 28) * 86400
    # One-off gifts: a Zipf-like donor, a log-normal amount, a third of round sums.
    m = n - n_pay
    donor = np.minimum((rng.pareto(1.1, m) * n_donors / 50).astype(np.int64), n_donors - 1) + 1
    amount = np.clip(rng.lognormal(8.0, 1.1, m), 100, 750_000).astype(np.int64)
    round_ = rng.random(m) < 0.33
    amount[round_] = rng.choice([1000, 2000, 3000, 5000, 10000, 20000], int(round_.sum()))
    when = int(START.timestamp()) + rng.integers(0, DAYS * 86400, m)
    cols = {
        "donor": np.concatenate([rec_donor[rec_id - 1], donor]),
        "amount": np.concatenate([rec_amount[rec_id - 1], amount]),
        "when": np.concatenate([pay_when, when]),
        "recurring": np.concatenate([rec_id, np.zeros(m, np.int64)]),
    }
    u = rng.random(n)
    cols["status"] = np.select(
        [u < 0.01, u < 0.015, u < 0.02], [3, 1, 2], default=0
    )  # 0 succeeded, 1 failed, 2 pending, 3 refunded
    cols["department"] = rng.integers(1, 96, n)
    cols["source"] = rng.integers(0, 5, n)
    cols["rec_donor"], cols["rec_amount"] = rec_donor, rec_amount
    return cols


STATUSES = ["succeeded", "failed", "pending", "refunded"]
SOURCES = ["", "newsletter", "twitter", "site", "mailing"]


def _timestamps(seconds: np.ndarray) -> np.ndarray:
    text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
    return np.char.replace(text, "T", " ")


def generate(sizes: dict, seed: int) -> dict:
    from django.db import connection, transaction

    from nextwork.fundraising import rollups
    from nextwork.fundraising.models import Beneficiary, Donation, Donor, DonorPerson, Recurring

    timings = {}
    t0 = time.perf_counter()
    cols = _data(sizes, seed)
    timings["numpy"] = time.perf_counter() - t0
    beneficiary = Beneficiary.objects.create(
        kind="association", name="Bench", legal_name="Bench", address="Paris"
    )
    n_donors = sizes["donors"]
    t0 = time.perf_counter()
    ids = np.arange(1, n_donors + 1)
    keys = np.where(ids % 50 == 0, ids - 1, ids)  # one person in fifty: two donor rows
    dtab, ntab, rtab = Donor._meta.db_table, Donation._meta.db_table, Recurring._meta.db_table
    ptab = DonorPerson._meta.db_table
    now = "2024-01-01 00:00:00"
    persons = ((int(k), f"{int(k):064x}") for k in np.unique(keys))  # person id = its key
    donors = (
        (int(i), f"{int(k):064x}", int(k), True, "Camille", f"D{int(i)}",
         f"d{int(k)}@example.org", "1 rue", "75011", "Paris", "FR", True, now)
        for i, k in zip(ids, keys, strict=True)
    )  # fmt: skip
    person_of = np.where(cols["donor"] % 50 == 0, cols["donor"] - 1, cols["donor"])
    recurring = (
        (i + 1, int(d), beneficiary.pk, int(a), "test", "", "active", 0, now)
        for i, (d, a) in enumerate(zip(cols["rec_donor"], cols["rec_amount"], strict=True))
    )
    when = _timestamps(cols["when"])
    if connection.vendor == "postgresql":
        when = np.char.add(when, "+00")
    rows = (
        (int(d), int(p), beneficiary.pk, int(a), "card", "test", "", STATUSES[s], int(r) or None,
         SOURCES[src], f"{dep:02d}", t, t if s in (0, 3) else None, "[]")
        for d, p, a, s, r, src, dep, t in zip(
            cols["donor"], person_of, cols["amount"], cols["status"], cols["recurring"],
            cols["source"], cols["department"], when, strict=True,
        )
    )  # fmt: skip
    person_cols = "id, key"
    donor_cols = (
        "id, key, person_id, natural_person, first_name, last_name, email, address, postcode, "
        "city, country, french_or_resident, created_at"
    )
    rec_cols = "id, donor_id, beneficiary_id, amount_cents, provider, provider_ref, status, failures, created_at"  # noqa: E501
    don_cols = (
        "donor_id, person_id, beneficiary_id, amount_cents, method, provider, provider_ref, "
        "status, recurring_id, source, department, created_at, succeeded_at, cap_scopes"
    )
    with transaction.atomic(), connection.cursor() as c:
        if connection.vendor == "postgresql":
            raw = c.cursor
            for table, columns, data in (
                (ptab, person_cols, persons),
                (dtab, donor_cols, donors),
                (rtab, rec_cols, recurring),
                (ntab, don_cols, rows),
            ):
                t1 = time.perf_counter()
                with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in data:
                        copy.write_row(row)
                timings[table] = time.perf_counter() - t1
            for table in (ptab, dtab, rtab, ntab):
                c.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )
        else:
            for table, columns, data in (
                (ptab, person_cols, persons),
                (dtab, donor_cols, donors),
                (rtab, rec_cols, recurring),
                (ntab, don_cols, rows),
            ):
                t1 = time.perf_counter()
                marks = ", ".join(["%s"] * len(columns.split(",")))
                batch = []
                for row in data:
                    batch.append(row)
                    if len(batch) == 100_000:
                        c.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", batch)
                        batch = []
                if batch:
                    c.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", batch)
                timings[table] = time.perf_counter() - t1
    # Loaded behind the services' back: the monthly roll-ups are computed once, as
    # ``nextwork manage fundraising_rollups`` does after an import.
    t1 = time.perf_counter()
    rollups.rebuild()
    timings["rollups"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    with connection.cursor() as c:
        c.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    timings["analyze"] = time.perf_counter() - t1
    return timings


# -- the child: measurements ----------------------------------------------------------------------


def pure_python(start, end) -> dict:
    """The baseline: the same figures from a loop over the rows, dicts and lists only."""
    from django.db import connection

    from nextwork.fundraising import analytics, rollups
    from nextwork.fundraising.models import Donation, Donor

    d, p = Donation._meta.db_table, Donor._meta.db_table
    where, params = "d.status = %s AND d.succeeded_at IS NOT NULL", ["succeeded"]
    if start:
        where += " AND d.succeeded_at >= %s AND d.succeeded_at < %s"
        params += [
            connection.ops.adapt_datetimefield_value(analytics._local_midnight(start)),
            connection.ops.adapt_datetimefield_value(
                analytics._local_midnight(end + datetime.timedelta(days=1))
            ),
        ]
    per_key: dict = {}
    amounts = []
    months: dict = {}
    first_seen: dict = {}
    first_month = rollups.month_of(START)
    bounds = [rollups.month_start(first_month + i) for i in range(DAYS // 28 + 2)]
    # The rows come as datetimes: aware on PostgreSQL, naive UTC on SQLite.
    naive = connection.vendor == "sqlite"
    edges = [b.astimezone(datetime.UTC).replace(tzinfo=None) if naive else b for b in bounds]
    with connection.cursor() as c:
        c.execute(
            f"SELECT p.key, d.amount_cents, d.succeeded_at, d.recurring_id FROM {d} d "
            f"JOIN {p} p ON p.id = d.donor_id WHERE {where}",
            params,
        )
        for key, cents, when, _recurring in c:
            total_max = per_key.get(key)
            per_key[key] = (
                (cents, cents) if total_max is None
                else (total_max[0] + cents, max(total_max[1], cents))
            )  # fmt: skip
            amounts.append(cents)
            m = bisect.bisect_right(edges, when)
            months.setdefault(m, set()).add(key)
            if key not in first_seen or first_seen[key] > m:
                first_seen[key] = m
    amounts.sort()
    n = len(amounts)
    total = sum(amounts)
    median = (
        0.0 if not n else float(amounts[n // 2]) if n % 2
        else (amounts[n // 2 - 1] + amounts[n // 2]) / 2
    )  # fmt: skip
    totals = sorted(t for t, _ in per_key.values())
    weighted = sum(i * x for i, x in enumerate(totals, 1))
    k = len(totals)
    gini = 2 * weighted / (k * sum(totals)) - (k + 1) / k if k else 0.0
    hist_edges = analytics.histogram_edges(amounts[-1] if amounts else 0)
    hist = [0] * len(hist_edges)
    for a in amounts:
        hist[bisect.bisect_right(hist_edges, a) - 1] += 1
    small = sum(1 for _, largest in per_key.values() if largest <= 10000)
    return {"total": total, "count": n, "donors": k, "median": median, "gini": gini,
            "donors_small_100": small, "histogram": hist[:-1],
            "months": len(months)}  # fmt: skip


def _timed(fn, repeat: int) -> tuple[float, float, object]:
    t0 = time.perf_counter()
    value = fn()
    first = time.perf_counter() - t0
    best = first
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return first, best, value


def measure(repeat: int) -> dict:
    from django.db import connection

    from nextwork.fundraising import analytics

    rows = []
    year = (datetime.date(2024, 1, 1), datetime.date(2024, 12, 31))
    # Months cut at both ends: the partial months are read from the donations themselves.
    cut = (datetime.date(2024, 3, 15), datetime.date(2025, 6, 10))
    periods = (("everything", (None, None)), ("one year (2024)", year),
               ("2024-03-15..2025-06-10", cut))  # fmt: skip
    for label, period in periods:
        first, best, data = _timed(lambda p=period: analytics.summary(start=p[0], end=p[1]), repeat)
        t0 = time.perf_counter()
        naive = pure_python(*period)
        naive_s = time.perf_counter() - t0
        t100 = next(t for t in data["thresholds"] if t["threshold_cents"] == 10000)
        agree = (
            naive["total"] == data["total"]
            and naive["count"] == data["count"]
            and naive["donors"] == data["donors"]
            and naive["median"] == data["median"]
            and abs(naive["gini"] - data["gini"]) < 1e-9
            and naive["donors_small_100"] == t100["donors_small"]
            and naive["histogram"] == [b["count"] for b in data["histogram"]]
        )
        rows.append(
            {
                "period": label,
                "first_s": first,
                "best_s": best,
                "python_s": naive_s,
                "ratio": naive_s / best,
                "agree": agree,
                "count": data["count"],
                "donors": data["donors"],
                "total_cents": data["total"],
                "gini": data["gini"],
                "median_cents": data["median"],
            }
        )
        base.say(
            f"    {label:<22} summary first {first:6.2f} s, best of {repeat} {best:6.2f} s | "
            f"pure Python {naive_s:6.1f} s ({naive_s / best:.1f}× slower) | "
            f"{data['count']:,} gifts, {data['donors']:,} persons, Gini {data['gini']:.4f}, "
            f"figures {'agree' if agree else 'DIFFER'}"
        )
    target = TARGETS[connection.vendor]
    met = all(r["best_s"] <= target and r["agree"] for r in rows)
    base.say(f"    target ≤ {target:g} s on {connection.vendor}: {'met' if met else 'MISSED'}")
    return {"rows": rows, "target_s": target, "target_met": met}


def worker(config: dict) -> None:
    import django

    django.setup()
    from django.db import connection

    t0 = time.perf_counter()
    timings = generate(config["sizes"], config["seed"])
    seconds = time.perf_counter() - t0
    base.say(
        f"  generated in {seconds:.0f} s on {connection.vendor} ("
        + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        + ")"
    )
    data = measure(config["repeat"])
    data["generation_seconds"] = seconds
    data["generation"] = timings
    Path(config["out"]).write_text(json.dumps(data, indent=2, default=str))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if sys.argv[1:2] == ["--worker"]:
        worker(json.loads(sys.argv[2]))
        sys.exit(0)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(base.main(["--fundraising-only", *sys.argv[1:]]))
