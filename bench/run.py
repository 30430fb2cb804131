"""Benchmarks of the lookup engine and of the HTTP API (``make bench``; see docs/benchmarks.md).

Every figure is printed with a baseline measured in the same run, on the same machine:

1. single point, in process: ``engine.unit_at`` and ``engine.locate_point``, p50/p95 µs,
   against a naive loop over every commune outline (and the STRtree path, for reference);
2. bulk: ``engine.units_at`` on a million points, points/s, against the plain STRtree query +
   ``contains_xy`` and the naive loop extrapolated; the answers must be identical;
3. ``locate_postcode`` and ``locate_commune``, µs per call, against the same rows read by
   two indexed ORM queries (SQLite);
4. HTTP: ``nextwork serve`` on a free loopback port, loaded from another process:
   ``/api/v1/locate?lat=..&lon=..`` against ``/healthz`` (the framework floor);
5-7. with ``--members-bench`` (or ``--members-only``): members CSV import, coverage with a
   million members, re-assignment after a boundary change (see bench/members.py);
8-9. with ``--campaigns-bench`` (or ``--campaigns-only``): action days (bench/campaigns.py);
10-11. with ``--messaging-bench`` (or ``--messaging-only``): segments over a million members,
   sending emails to a local SMTP server (see bench/messaging.py);
12. with ``--participation-bench`` (or ``--participation-only``) and ``--participation-db``:
   listing, sorting and searching 100,000 proposals with 5 M supports on PostgreSQL
   (see bench/participation.py);
13. with ``--fundraising-bench`` (or ``--fundraising-only``): donation analytics over 5 M
   donations on SQLite and, with ``--fundraising-db``, PostgreSQL (see bench/fundraising.py);
14. with ``--mobilisation-bench`` (or ``--mobilisation-only``): matching 100,000 proxy requests
   against 100,000 offers over every commune, against a greedy pass (see bench/mobilisation.py);
15-16. with ``--monitoring-bench`` (or ``--monitoring-only``): watch-rule matching and spike
   detection (see bench/monitoring.py);
17. with ``--load-bench`` (or ``--load-only``): concurrent sign-ups and supports against
   ``nextwork serve`` on a throwaway PostgreSQL cluster, with the database checks
   (see bench/load.py).

The registry is imported by ``nextwork setup`` into a fresh temporary NEXTWORK_HOME (SQLite,
never ./var nor DATABASE_URL), removed at the end unless ``--home`` names a folder to keep.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import http.client
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGETS = {"single_p50_us": 20.0, "bulk_points_per_s": 1e6, "http_ratio": 1.5}


# The optional sections, in the order they run; ``--all`` turns every one on.
SECTIONS = (
    "members", "campaigns", "messaging", "participation", "fundraising", "mobilisation",
    "monitoring", "load",
)  # fmt: skip


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and [quick defaults], a smoke run (~40 s)"
    )
    parser.add_argument("--points", type=int, default=None, help="bulk points: 1000000 [100000]")
    parser.add_argument("--single", type=int, default=None, help="single-point calls: 20000 [2000]")
    parser.add_argument("--naive", type=int, default=None, help="naive-loop points: 200 [20]")
    parser.add_argument(
        "--codes", type=int, default=None, help="postcode and commune calls: 20000 [2000]"
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=None,
        help="HTTP requests per endpoint, at most (Python client; wrk is bounded in time "
        "only): 20000 [2000]",
    )
    parser.add_argument(
        "--http-seconds",
        type=float,
        default=None,
        help="HTTP seconds per endpoint, at most: 10 [3]",
    )
    parser.add_argument("--connections", type=int, default=4, help="concurrent HTTP connections: 4")
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="alternated HTTP runs per endpoint, the best counts: 2 [1]",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of the server: 2")
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="HTTP load generator: wrk when installed (auto), else a Python client",
    )
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP benchmark")
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="NEXTWORK_HOME to use and keep (setup runs if it holds no database); "
        "default: a temporary folder, removed at the end",
    )
    parser.add_argument("--seed", type=int, default=2024, help="random seed: 2024")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    import campaigns
    import fundraising
    import load
    import members
    import messaging
    import mobilisation
    import monitoring
    import participation

    members.add_arguments(parser)
    campaigns.add_arguments(parser)
    messaging.add_arguments(parser)
    participation.add_arguments(parser)
    fundraising.add_arguments(parser)
    mobilisation.add_arguments(parser)
    monitoring.add_arguments(parser)
    load.add_arguments(parser)
    parser.add_argument(
        "--all",
        action="store_true",
        help="every benchmark, sections 1-17 (what `make bench` runs). The PostgreSQL sections "
        "use --participation-db and --fundraising-db when given, else one throwaway cluster "
        "started for the run (PostgreSQL binaries needed); the load test starts its own",
    )
    args = parser.parse_args(argv)
    args.cluster = None
    if args.all:
        for name in SECTIONS:
            setattr(args, f"{name}_bench", True)
        if not (args.participation_db and args.fundraising_db):
            args.cluster = load.Cluster()  # started by main(), its port chosen now
            args.participation_db = args.participation_db or args.cluster.url()
            args.fundraising_db = args.fundraising_db or args.cluster.url()
    members.finish_args(parser, args)
    campaigns.finish_args(parser, args)
    messaging.finish_args(parser, args)
    participation.finish_args(parser, args)
    fundraising.finish_args(parser, args)
    mobilisation.finish_args(parser, args)
    monitoring.finish_args(parser, args)
    load.finish_args(parser, args)
    sizes = (
        {
            "points": 100_000,
            "single": 2_000,
            "naive": 20,
            "codes": 2_000,
            "requests": 2_000,
            "http_seconds": 3.0,
            "rounds": 1,
        }
        if args.quick
        else {
            "points": 1_000_000,
            "single": 20_000,
            "naive": 200,
            "codes": 20_000,
            "requests": 20_000,
            "http_seconds": 10.0,
            "rounds": 2,
        }
    )
    for name, value in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if min(args.points, args.single, args.naive, args.codes, args.requests) < 1:
        parser.error("sizes must be positive")
    if args.http_seconds <= 0 or min(args.connections, args.workers, args.rounds) < 1:
        parser.error("--http-seconds, --connections, --workers and --rounds must be positive")
    return args


# -- output ------------------------------------------------------------------------------------


def say(text: str = "") -> None:
    print(text, flush=True)


def fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def ratio_text(ratio: float, faster: str = "faster") -> str:
    return f"×{ratio:,.1f} {faster}" if ratio >= 1 else f"×{1 / ratio:,.2f} slower"


# -- environment -------------------------------------------------------------------------------


def child_env(home: Path) -> dict:
    """The environment of every process we start: SQLite under ``home``, base settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DEBUG", "DJANGO_SETTINGS_MODULE")
    }
    env["NEXTWORK_HOME"] = str(home)
    env["DJANGO_SETTINGS_MODULE"] = "nextwork.settings.base"
    return env


def nextwork_command() -> list[str]:
    script = Path(sys.executable).with_name("nextwork")
    return [str(script)] if script.exists() else [sys.executable, "-m", "nextwork.cli"]


def prepare_home(args) -> tuple[Path, bool]:
    if args.home is not None:
        home, temporary = args.home.resolve(), False
        home.mkdir(parents=True, exist_ok=True)
    else:
        home, temporary = Path(tempfile.mkdtemp(prefix="nextwork-bench-")), True
    if (home / "nextwork.sqlite3").exists():
        say(f"Registry: reusing {home}")
        return home, temporary
    say(f"Registry: `nextwork setup` into {home} …")
    started = time.perf_counter()
    done = subprocess.run(
        [*nextwork_command(), "setup"],
        env=child_env(home),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"nextwork setup failed (status {done.returncode})")
    say(f"  imported in {time.perf_counter() - started:.1f} s")
    return home, temporary


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import shapely

    return {
        "date": datetime.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "shapely": shapely.__version__,
        "system": f"{platform.system()} {platform.release()}",
    }


# -- sampling ----------------------------------------------------------------------------------


def sample_points(engine, n: int, rng, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points, each uniform inside a commune drawn at random (or by ``weights``)."""
    from nextwork.territories.sampling import points_inside

    return points_inside(engine.unit_geoms, n, rng, weights)


def population_weights(engine) -> np.ndarray:
    return np.array(
        [max(engine.units.get(c, {}).get("population") or 1, 1) for c in engine.unit_codes],
        dtype=np.float64,
    )


# -- timing ------------------------------------------------------------------------------------


def time_each(fn, calls: list[tuple]) -> np.ndarray:
    """Microseconds of each call (garbage collector paused, as in a steady server)."""
    out = np.empty(len(calls))
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for k, call in enumerate(calls):
            t0 = clock()
            fn(*call)
            out[k] = clock() - t0
    finally:
        gc.enable()
    return out / 1000.0


def summary(us: np.ndarray) -> dict:
    return {
        "n": len(us),
        "p50_us": float(np.percentile(us, 50)),
        "p95_us": float(np.percentile(us, 95)),
        "mean_us": float(us.mean()),
    }


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


# -- 1. single points --------------------------------------------------------------------------


def bench_single(engine, args, rng, results) -> None:
    import shapely

    from nextwork.territories.grid import exact_index_at

    say("\n1. Single point, in process (points uniform inside random communes)")
    x, y = sample_points(engine, args.single, rng)
    pts = list(zip(x.tolist(), y.tolist(), strict=True))
    swapped = [(lat, lon) for lon, lat in pts]
    for fn, calls in ((engine.unit_at, pts[:500]), (engine.locate_point, swapped[:500])):
        time_each(fn, calls)  # warm up
    unit = summary(time_each(engine.unit_at, pts))
    locate = summary(time_each(engine.locate_point, swapped))
    geoms, tree = engine.unit_geoms, engine.tree
    strtree = summary(time_each(lambda lon, lat: exact_index_at(geoms, tree, lon, lat), pts))

    outlines = list(geoms)
    contains_xy = shapely.contains_xy

    def naive(lon, lat):
        for i, geom in enumerate(outlines):
            if contains_xy(geom, lon, lat):
                return i
        return -1

    naive_pts = pts[: args.naive]
    naive_us = time_each(naive, naive_pts)
    naive_s = summary(naive_us)
    found = [naive(lon, lat) for lon, lat in naive_pts[:20]]
    mismatches = sum(
        (engine.unit_codes[i] if i >= 0 else None) != engine.unit_at(lon, lat)
        for i, (lon, lat) in zip(found, naive_pts, strict=False)
    )
    rows = [
        ("engine.unit_at", unit),
        ("engine.locate_point", locate),
        ("STRtree + contains_xy (before the grid)", strtree),
        (f"naive loop over {len(outlines):,} outlines", naive_s),
    ]
    for name, s in rows:
        say(f"  {name:<44} p50 {fmt(s['p50_us']):>10} µs   p95 {fmt(s['p95_us']):>10} µs")
    speedup = naive_s["p50_us"] / unit["p50_us"]
    say(
        f"  unit_at p50 vs naive loop p50: {ratio_text(speedup)}; vs STRtree: "
        f"{ratio_text(strtree['p50_us'] / unit['p50_us'])}  "
        f"(target p50 ≤ {TARGETS['single_p50_us']:g} µs: "
        f"{'met' if unit['p50_us'] <= TARGETS['single_p50_us'] else 'MISSED'})"
    )
    results["single"] = {
        "unit_at": unit,
        "locate_point": locate,
        "strtree": strtree,
        "naive": naive_s,
        "naive_vs_unit_at_p50": speedup,
        "naive_checked_mismatches": int(mismatches),
        "target_met": unit["p50_us"] <= TARGETS["single_p50_us"],
    }


# -- 2. bulk -----------------------------------------------------------------------------------


def bench_bulk(engine, args, rng, results) -> None:
    from nextwork.territories.grid import exact_indexes_at

    say(f"\n2. Bulk, engine.units_at on {args.points:,} points")
    naive_mean = results.get("single", {}).get("naive", {}).get("mean_us")
    out = {}
    for label, weights in (
        ("uniform communes", None),
        ("population-weighted communes", population_weights(engine)),
    ):
        x, y = sample_points(engine, args.points, rng, weights)
        got = engine.units_at(x, y)
        grid_s = best_of(lambda x=x, y=y: engine.units_at(x, y), 3)
        t0 = time.perf_counter()
        expected = exact_indexes_at(engine.unit_geoms, engine.tree, x, y)
        strtree_s = time.perf_counter() - t0
        identical = bool(np.array_equal(got, expected))
        rate, strtree_rate = args.points / grid_s, args.points / strtree_s
        row = {
            "points": args.points,
            "seconds": grid_s,
            "points_per_s": rate,
            "strtree_seconds": strtree_s,
            "strtree_points_per_s": strtree_rate,
            "vs_strtree": rate / strtree_rate,
            "identical_to_strtree": identical,
            "outside_every_commune": int((got < 0).sum()),
        }
        say(f"  {label}:")
        say(
            f"    grid      {fmt(rate / 1e6, 2):>6} M points/s ({grid_s:.3f} s, best of 3)"
            f"   answers identical to the exact path: {'yes' if identical else 'NO'}"
        )
        say(
            f"    STRtree   {fmt(strtree_rate / 1e6, 2):>6} M points/s ({strtree_s:.3f} s)"
            f"   → grid {ratio_text(rate / strtree_rate)}"
        )
        if naive_mean:
            naive_rate = 1e6 / naive_mean
            row["naive_points_per_s"] = naive_rate
            row["vs_naive"] = rate / naive_rate
            say(
                f"    naive     {fmt(naive_rate, 0):>6} points/s (extrapolated from the "
                f"single-point mean) → grid {ratio_text(rate / naive_rate)}"
            )
        out[label] = row
    main = out["uniform communes"]
    met = min(r["points_per_s"] for r in out.values()) >= TARGETS["bulk_points_per_s"]
    say(f"  target ≥ 1 M points/s: {'met' if met else 'MISSED'}")
    grid = engine.grid
    say(
        f"  grid: {grid.stats['grids']} grids, {grid.stats['cells']:,} cells, "
        f"{grid.stats['boundary_cells']:,} boundary cells, {grid.nbytes / 1e6:.1f} MB, "
        f"built in {grid.build_seconds:.2f} s"
    )
    results["bulk"] = {**out, "target_met": met, "main": main}


# -- 3. codes ----------------------------------------------------------------------------------


def bench_codes(engine, args, rng, results) -> None:
    from nextwork.territories.models import Area, AreaKind, CommuneConstituency, Postcode

    say("\n3. Postcode and commune lookups, in process")
    postcodes = sorted(engine.postcodes)
    communes = sorted(engine.units) + sorted(engine.plm)
    pc_calls = [(postcodes[i],) for i in rng.integers(0, len(postcodes), args.codes)]
    cc_calls = [(communes[i],) for i in rng.integers(0, len(communes), args.codes)]
    time_each(engine.locate_postcode, pc_calls[:500])
    time_each(engine.locate_commune, cc_calls[:500])
    postcode = summary(time_each(engine.locate_postcode, pc_calls))
    commune = summary(time_each(engine.locate_commune, cc_calls))
    # The baseline: the same rows read from the database, two indexed queries per call.
    bs = engine.boundary_set_id
    through = Postcode.communes.through.objects.filter(postcode__boundary_set_id=bs)
    units = Area.objects.filter(
        boundary_set_id=bs, kind__in=[AreaKind.COMMUNE, AreaKind.ARRONDISSEMENT]
    )
    links = CommuneConstituency.objects

    def orm_postcode(code):
        ids = list(through.filter(postcode__code=code).values_list("area_id", flat=True))
        return list(
            links.filter(commune_id__in=ids).values_list(
                "commune__code", "constituency__code", "share"
            )
        )

    def orm_commune(code):
        ids = list(units.filter(code=code).values_list("pk", flat=True))
        return list(links.filter(commune_id__in=ids).values_list("constituency__code", "share"))

    m = min(args.codes, 1000)
    orm_pc = summary(time_each(orm_postcode, pc_calls[:m]))
    orm_cc = summary(time_each(orm_commune, cc_calls[:m]))
    for name, s, base in (
        ("engine.locate_postcode", postcode, orm_pc),
        ("engine.locate_commune", commune, orm_cc),
    ):
        say(
            f"  {name:<24} p50 {fmt(s['p50_us']):>7} µs  p95 {fmt(s['p95_us']):>7} µs   "
            f"ORM, 2 queries (SQLite) p50 {fmt(base['p50_us']):>7} µs → "
            f"{ratio_text(base['p50_us'] / s['p50_us'])}"
        )
    results["codes"] = {
        "locate_postcode": postcode,
        "locate_commune": commune,
        "orm_postcode": orm_pc,
        "orm_commune": orm_cc,
    }


# -- 4. HTTP -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ready(proc, port: int, log: Path, timeout: float = 120.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the server stopped (status {proc.returncode}):\n{tail(log)}")
        try:
            if get(port, "/healthz", timeout=2)[0] == 200:
                return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {timeout:.0f} s:\n{tail(log)}")


def tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def stop_server(proc) -> None:
    """Stop the server and its workers: the process group we created for it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass


def server_pids(pid: int) -> list[int]:
    """The server (gunicorn master) and its workers (Linux /proc; [] elsewhere)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [pid, *(int(p) for p in children)]


def server_cpu(pids: list[int]) -> float | None:
    """CPU seconds (user + system) used so far by these processes."""
    ticks = 0
    try:
        for p in pids:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


def server_memory(pid: int) -> dict:
    """RSS and PSS (shared pages split between processes) of the server and its workers."""
    pids = server_pids(pid)
    if not pids:
        return {}
    rss = pss = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            return {}
    return {"processes": len(pids), "rss_mb": rss / 1024, "pss_mb": pss / 1024}


WRK_SCRIPT = """
local paths = {%(paths)s}
local requests = {}
local counter = 0
local offset = 0

function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end

function init(args)
  for k, path in ipairs(paths) do
    requests[k] = wrk.format("GET", path)
  end
  counter = offset
end

function request()
  counter = counter + 1
  return requests[counter %% #requests + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%d %%d %%d\\n",
    summary.duration, summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def load_wrk(port: int, paths: list[str], seconds: float, connections: int, workdir: Path) -> dict:
    """wrk, bounded in time only (it has no request count); requests/s from its own clock."""
    script = workdir / f"paths-{len(paths)}.lua"
    script.write_text(WRK_SCRIPT % {"paths": ",".join(json.dumps(p) for p in paths)})
    threads = min(2, connections)
    seconds = max(1, round(seconds))
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=False)
    match = re.search(r"^RESULT (.+)$", done.stdout, re.M)
    if done.returncode or not match:
        raise RuntimeError(f"wrk failed: {done.stdout[-1500:]} {done.stderr[-1500:]}")
    duration, requests, *errors, p50, p99 = (int(v) for v in match.group(1).split())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    return {
        "client": "wrk",
        "requests": requests,
        "seconds": duration / 1e6,
        "rps": requests / (duration / 1e6),
        "errors": sum(errors) + (int(non2xx.group(1)) if non2xx else 0),
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
    }


def _client(port, paths, count, seconds, offset, go, queue) -> None:
    """One keep-alive connection sending requests one after the other (separate process)."""
    go.wait()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies, errors = [], 0
    start = time.monotonic()
    deadline = start + seconds
    k = offset
    while len(latencies) < count and time.monotonic() < deadline:
        t0 = time.perf_counter()
        try:
            conn.request("GET", paths[k % len(paths)])
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors += 1
            if response.will_close:
                conn.close()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
        latencies.append(time.perf_counter() - t0)
        k += 1
    end = time.monotonic()
    conn.close()
    queue.put((start, end, errors, latencies))


def load_python(port: int, paths: list[str], requests: int, seconds: float, connections: int):
    """Python client processes, bounded by a request count and by time."""
    context = multiprocessing.get_context("spawn")
    go, queue = context.Event(), context.Queue()
    share = -(-requests // connections)
    procs = [
        context.Process(
            target=_client,
            args=(port, paths, share, seconds, k * 7919, go, queue),
            daemon=True,
        )
        for k in range(connections)
    ]
    for p in procs:
        p.start()
    time.sleep(0.5)  # let them import before the clock starts
    go.set()
    parts = [queue.get(timeout=seconds + 60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    start = min(p[0] for p in parts)
    end = max(p[1] for p in parts)
    latencies = np.concatenate([np.array(p[3]) for p in parts])
    return {
        "client": "python",
        "requests": len(latencies),
        "seconds": end - start,
        "rps": len(latencies) / (end - start),
        "errors": sum(p[2] for p in parts),
        "p50_ms": float(np.percentile(latencies, 50) * 1000),
        "p99_ms": float(np.percentile(latencies, 99) * 1000),
    }


def bench_http(engine, args, rng, results, home: Path) -> None:
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    if client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("--client wrk: wrk is not installed")
    say(
        f"\n4. HTTP: `nextwork serve --workers {args.workers}` on 127.0.0.1, loaded by "
        f"{'wrk' if client == 'wrk' else 'a Python client (http.client, one process each)'}, "
        f"{args.connections} connections"
    )
    x, y = sample_points(engine, 5000, rng)
    locate_paths = [
        f"/api/v1/locate?lat={lat:.6f}&lon={lon:.6f}"
        for lon, lat in zip(x.tolist(), y.tolist(), strict=True)
    ]
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="nextwork-bench-http-"))
    log = workdir / "serve.log"
    cmd = [
        *nextwork_command(),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, env=child_env(home), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        ready = wait_ready(proc, port, log)
        status, body = get(port, locate_paths[0])
        if status != 200:
            raise RuntimeError(f"locate answered {status}: {body[:300]!r}")
        for path in locate_paths[:200] + ["/healthz"] * 200:  # warm up both workers
            get(port, path)
        memory = server_memory(proc.pid)
        pids = server_pids(proc.pid)
        runs: dict[str, list[dict]] = {"/healthz": [], "/api/v1/locate": []}
        seconds = args.http_seconds / args.rounds
        requests = max(1, args.requests // args.rounds)
        for _round in range(args.rounds):  # alternated, against drifts of a shared machine
            for name, paths in (("/healthz", ["/healthz"]), ("/api/v1/locate", locate_paths)):
                cpu0 = server_cpu(pids)
                if client == "wrk":
                    run = load_wrk(port, paths, seconds, args.connections, workdir)
                else:
                    run = load_python(port, paths, requests, seconds, args.connections)
                cpu1 = server_cpu(pids)
                if cpu0 is not None and cpu1 is not None and run["requests"]:
                    run["server_cpu_ms_per_request"] = (cpu1 - cpu0) * 1000 / run["requests"]
                runs[name].append(run)
    finally:
        stop_server(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    best = {name: max(rs, key=lambda r: r["rps"]) for name, rs in runs.items()}
    cpu = {
        name: min((r.get("server_cpu_ms_per_request", np.inf) for r in rs), default=np.inf)
        for name, rs in runs.items()
    }
    healthz, locate = best["/healthz"], best["/api/v1/locate"]
    ratio = healthz["rps"] / locate["rps"]
    for name, r in best.items():
        total = sum(x["requests"] for x in runs[name])
        errors = sum(x["errors"] for x in runs[name])
        say(
            f"  {name:<16} {fmt(r['rps'], 0):>7} requests/s (best of {args.rounds}; p50 "
            f"{r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms)  server CPU "
            f"{cpu[name]:.3f} ms/request   [{total:,} requests, {errors} errors]"
        )
    met = ratio <= TARGETS["http_ratio"]
    cpu_ratio = cpu["/api/v1/locate"] / cpu["/healthz"]
    say(
        f"  healthz / locate throughput: {ratio:.2f}  "
        f"(target ≤ {TARGETS['http_ratio']:g}: {'met' if met else 'MISSED'}); "
        f"server CPU per request, locate / healthz: {cpu_ratio:.2f}"
    )
    if memory:
        say(
            f"  server memory after warm-up: {memory['processes']} processes, "
            f"RSS {memory['rss_mb']:.0f} MB, PSS {memory['pss_mb']:.0f} MB (shared pages split)"
        )
    say(f"  server ready {ready:.1f} s after start (engine and grid built before the fork)")
    results["http"] = {
        "client": client,
        "connections": args.connections,
        "workers": args.workers,
        "healthz": healthz,
        "locate": locate,
        "runs": runs,
        "healthz_over_locate": ratio,
        "cpu_locate_over_healthz": cpu_ratio,
        "target_met": met,
        "memory": memory,
        "ready_seconds": ready,
    }


# -- main --------------------------------------------------------------------------------------


def _interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupted)  # so that the server is stopped all the same
    started = time.perf_counter()
    command = "python bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    info = machine()
    say(f"nextwork benchmarks — {info['date']}, {info['cpus']} CPUs ({info['cpu']})")
    say(f"command: {command.strip()}")
    home, temporary = prepare_home(args)
    results: dict = {
        "machine": info,
        "command": command.strip(),
        "args": {
            k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "cluster"
        },
    }
    try:
        if args.cluster is not None:
            say(f"PostgreSQL: a throwaway cluster on 127.0.0.1:{args.cluster.port}")
            args.cluster.start()
        for key, value in child_env(home).items():
            if key in ("NEXTWORK_HOME", "DJANGO_SETTINGS_MODULE"):
                os.environ[key] = value
        os.environ.pop("DATABASE_URL", None)
        import django

        django.setup()
        from nextwork.territories.lookup import get_engine

        t0 = time.perf_counter()
        engine = get_engine()
        build = time.perf_counter() - t0
        say(
            f"Engine: {len(engine.unit_codes):,} outlines, built in {build:.2f} s "
            f"(grid {engine.grid.build_seconds:.2f} s, {engine.grid.nbytes / 1e6:.1f} MB)"
        )
        results["engine"] = {
            "outlines": len(engine.unit_codes),
            "build_seconds": build,
            "grid_build_seconds": engine.grid.build_seconds,
            "grid_megabytes": engine.grid.nbytes / 1e6,
            "grid_stats": engine.grid.stats,
        }
        rng = np.random.default_rng(args.seed)
        only = (
            args.members_only
            or args.campaigns_only
            or args.messaging_only
            or args.participation_only
            or args.fundraising_only
            or args.mobilisation_only
            or args.monitoring_only
            or args.load_only
        )
        if not only:
            bench_single(engine, args, rng, results)
            bench_bulk(engine, args, rng, results)
            bench_codes(engine, args, rng, results)
        if not args.no_http and not only:
            from django.db import connections

            connections.close_all()
            bench_http(engine, args, rng, results, home)
        if args.members_bench:
            import members

            members.bench_members(engine, args, rng, results, home)
        if args.campaigns_bench:
            import campaigns

            campaigns.bench_campaigns(engine, args, rng, results, home)
        if args.messaging_bench:
            import messaging

            messaging.bench_messaging(engine, args, rng, results, home)
        if args.participation_bench:
            import participation

            participation.bench_participation(engine, args, rng, results, home)
        if args.fundraising_bench:
            import fundraising

            fundraising.bench_fundraising(engine, args, rng, results, home)
        if args.mobilisation_bench:
            import mobilisation

            mobilisation.bench_mobilisation(engine, args, rng, results, home)
        if args.monitoring_bench:
            import monitoring

            monitoring.bench_monitoring(args, results)
        if args.load_bench:
            import load

            load.bench_load(args, results)
    finally:
        if args.cluster is not None:
            args.cluster.stop()
        if temporary:
            shutil.rmtree(home, ignore_errors=True)
    elapsed = time.perf_counter() - started
    results["seconds"] = elapsed
    say(f"\nDone in {elapsed:.0f} s.")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float))
    missed = [
        name
        for name in (
            "single",
            "bulk",
            "http",
            "members_import",
            "members_coverage",
            "messaging_segments",
            "messaging_send",
            "participation",
            "fundraising",
            "load",
        )
        if name in results and not results[name].get("target_met", True)
    ]
    if missed:
        say(f"Targets missed: {', '.join(missed)}")
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
