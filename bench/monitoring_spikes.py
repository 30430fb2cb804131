"""Benchmark and quality measurement of the spike detection (``nextwork.monitoring.spikes``).

``python bench/monitoring_spikes.py [--quick] [--rules N] [--seed S]`` measures speed:

- ``detect_many`` over a year of minute buckets (525,600 minutes from 2026-01-01 00:00
  Europe/Paris, DST changes included) for 1,000 rules (100 with ``--quick``). Counts are
  generated as uint16 (a rule above 65,535 posts in one minute is out of scope), so the input
  is 1.05 GB instead of 2.1 GB in int32; ``detect_many`` itself works on chunks of about
  8 million rule-minutes, so its own memory stays near 0.5 GB whatever the number of rules.
  Generation is not timed.
- Two baselines measured in the same run, both rule by rule: (1) the same method, ``detect`` in
  a Python loop (numpy inside a rule, nothing shared across rules), timed on 100 rules (all of
  them with ``--quick``); (2) the obvious implementation: each minute's window against the
  median of the same minute's window over the previous 14 UTC days (``sliding_window_view`` and
  ``np.median``), timed on 20 rules (10 with ``--quick``). Both are extrapolated linearly to
  all rules, and the output says so.
- ``latest`` per call, the live check (one rule, its last window, reading 16 days), over 200
  consecutive minutes: the first rule of each minute pays for the minute's local clock, the next
  9 rules find it cached, as when every rule is checked at the same minute. Median and 99th
  percentile.

``python bench/monitoring_spikes.py --quality [--quick]`` measures precision and recall on
generated series (seeded, reproducible): a year of minutes per rule at base levels of 20, 200,
2,000 and 20,000 posts a day; daily profile (low at 3 a.m., highest at 8 p.m., 10× apart),
weekends at 70-75 %, a slow trend (±30 % over the year plus a daily random walk), a random
level for each day (lognormal, σ 0.1), gamma-Poisson noise per minute; bursts injected about
every 2.5 days at random times (sudden jump decaying over 30-180 min, ramp up and down over
30-180 min, or a plateau of 5-10 min), whose peak adds ``m`` times the rule's average rate per
minute, ``m`` from 0.5 (barely visible) to 300 (huge). A detection is true when the minutes of
its windows overlap a burst's interval. Precision = true detections / detections; recall =
bursts overlapped by a detection / bursts. Measured for the default parameters, alternatives
(each one changed alone), and a naive method in the same run: a flat threshold at mean + 3σ of
the window counts of the previous 7 days, ignoring the daily rhythm (same window, min_count
and merging).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from nextwork.monitoring import spikes as sp

TZ = "Europe/Paris"
START = datetime.datetime(2026, 1, 1, tzinfo=ZoneInfo(TZ))
YEAR = 365 * sp.DAY
LEVELS = (20, 200, 2_000, 20_000)  # posts a day
MAGNITUDES = (0.5, 1, 2, 5, 10, 30, 100, 300)  # burst peak, in multiples of the average rate
# Local hour → relative activity: night low at 3 a.m., lunch bump, highest at 8 p.m. (10×).
PROFILE_HOURS = (0, 3, 6, 8, 12, 14, 18, 20, 22, 24)
PROFILE_LEVELS = (0.5, 0.12, 0.2, 0.6, 0.9, 0.8, 1.0, 1.2, 1.0, 0.5)
WEEKLY = (1, 1, 1, 1, 1, 0.75, 0.7)  # Monday … Sunday


def say(text: str = "") -> None:
    print(text, flush=True)


# -- data -----------------------------------------------------------------------------------------


def local_time(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Local hour (fractional) of each minute and local day index, from the module's clock."""
    clock = sp._clock(START, n, TZ, 60)
    hour = (clock.cell % 24) + clock.frac + 0.5
    return hour, clock.cell // 24


def rates(levels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Expected posts per minute, (rules, minutes) float32, bursts excluded."""
    hour, day = local_time(n)
    profile = np.interp(hour, PROFILE_HOURS, PROFILE_LEVELS)
    profile /= profile.mean()
    days = int(day[-1]) + 1  # local days, the first being START's
    week = np.asarray(WEEKLY)[(np.arange(days) + START.weekday()) % 7]
    out = np.empty((len(levels), n), dtype=np.float32)
    for i, level in enumerate(levels):
        drift = np.linspace(1 - 0.3 * rng.uniform(-1, 1), 1 + 0.3 * rng.uniform(-1, 1), days)
        walk = np.exp(np.cumsum(rng.normal(0, 0.03, days)))
        daily = np.exp(rng.normal(0, 0.1, days))
        per_day = level / sp.DAY * week * drift * walk / walk.mean() * daily
        out[i] = profile * per_day[day]
    return out


def bursts(levels: np.ndarray, n: int, rng: np.random.Generator) -> list[list[tuple]]:
    """Per rule, bursts as (start, end, shape, magnitude, extra rate per minute over the burst),
    about one every 2.5 days, at least 12 hours apart, in the judged part of the series."""
    out = []
    for level in levels:
        mean_rate = level / sp.DAY
        t = 14 * sp.DAY + int(rng.integers(0, sp.DAY))
        rule = []
        while True:
            t += int(rng.integers(sp.DAY // 2, 4 * sp.DAY + sp.DAY // 2))
            shape = ("jump", "ramp", "short")[int(rng.integers(0, 3))]
            length = int(rng.integers(5, 11)) if shape == "short" else int(rng.integers(30, 181))
            if t + length >= n:
                break
            m = MAGNITUDES[int(rng.integers(0, len(MAGNITUDES)))]
            x = np.arange(length, dtype=np.float64)
            if shape == "jump":
                form = np.exp(-x / (length / 3))
            elif shape == "ramp":
                top = 2 * length // 3
                form = np.where(x < top, (x + 1) / top, (length - x) / (length - top))
            else:
                form = np.ones(length)
            rule.append((t, t + length, shape, m, m * mean_rate * form))
        out.append(rule)
    return out


def generate(levels, n: int, seed: int, with_bursts: bool = True):
    """uint16 counts (rules, minutes) and the bursts injected into them."""
    rng = np.random.default_rng(seed)
    levels = np.asarray(levels)
    lam = rates(levels, n, rng)
    lam *= rng.gamma(20.0, 1 / 20.0, size=lam.shape).astype(np.float32)  # per-minute noise
    injected = bursts(levels, n, rng) if with_bursts else [[] for _ in levels]
    for i, rule in enumerate(injected):
        for a, b, _shape, _m, extra in rule:
            lam[i, a:b] += extra
    counts = np.minimum(rng.poisson(lam), np.iinfo(np.uint16).max).astype(np.uint16)
    return counts, injected


# -- naive method ---------------------------------------------------------------------------------


def naive(counts: np.ndarray, params: sp.Params, sigmas: float = 3.0) -> list[list[sp.Spike]]:
    """Flat threshold: mean + 3σ of the window counts of the previous 7 days (recomputed each
    day), same window, min_count and merging as the method; no daily rhythm."""
    w = params.window
    sums = np.cumsum(counts, axis=1, dtype=np.int64)
    windows = np.zeros(counts.shape, dtype=np.float64)
    windows[:, w - 1] = sums[:, w - 1]
    windows[:, w:] = sums[:, w:] - sums[:, :-w]
    days = counts.shape[1] // sp.DAY
    by_day = windows[:, : days * sp.DAY].reshape(len(counts), days, sp.DAY)
    s1, s2 = by_day.sum(axis=2), (by_day**2).sum(axis=2)
    first = params.history_days * sp.DAY
    out = []
    for i in range(len(counts)):
        k1 = np.convolve(s1[i], np.ones(7))[: days - 0]
        k2 = np.convolve(s2[i], np.ones(7))[: days - 0]
        mean = np.full(days, np.nan)
        sd = np.full(days, np.nan)
        mean[7:] = k1[6 : days - 1] / (7 * sp.DAY)
        sd[7:] = np.sqrt(np.maximum(k2[6 : days - 1] / (7 * sp.DAY) - mean[7:] ** 2, 1e-9))
        m = np.repeat(mean, sp.DAY)[first : days * sp.DAY]
        s = np.repeat(sd, sp.DAY)[first : days * sp.DAY]
        obs = windows[i, first : days * sp.DAY]
        score = (obs - m) / s
        where = np.flatnonzero((obs >= params.min_count) & (score >= sigmas))
        out.append(
            sp._spikes(where, obs[where].astype(np.int64), m[where], score[where], first, params)
        )
    return out


# -- scoring --------------------------------------------------------------------------------------


def match(found: list[sp.Spike], truth: list[tuple], window: int) -> tuple[np.ndarray, np.ndarray]:
    """Which detections overlap a burst, which bursts are overlapped by a detection. A detection
    covers the minutes of its windows: [start - window + 1, end)."""
    t_start = np.array([b[0] for b in truth], dtype=np.int64)
    t_end = np.array([b[1] for b in truth], dtype=np.int64)
    d_start = np.array([s.start - window + 1 for s in found], dtype=np.int64)
    d_end = np.array([s.end for s in found], dtype=np.int64)
    true_found = np.zeros(len(found), dtype=bool)
    if len(truth) and len(found):
        j = np.searchsorted(t_start, d_end) - 1  # last burst starting before the detection ends
        ok = j >= 0
        true_found[ok] = t_end[j[ok]] > d_start[ok]
    hit = np.zeros(len(truth), dtype=bool)
    delay = np.full(len(truth), np.nan)
    if len(truth) and len(found):
        j = np.searchsorted(d_start, t_end) - 1  # last detection starting before the burst ends
        ok = j >= 0
        hit[ok] = d_end[j[ok]] > t_start[ok]
        # the first detection overlapping the burst: it may have started before it
        k = np.searchsorted(d_end, t_start, side="right")
        k = np.minimum(k, len(found) - 1)
        alarm = np.array([s.start for s in found], dtype=np.int64)[k]
        delay[hit] = np.maximum(alarm[hit] - t_start[hit], 0)
    return true_found, hit, delay


def evaluate(found_all, truth_all, levels, window: int, n: int) -> dict:
    levels = np.asarray(levels)
    per_level = {}
    for level in LEVELS:
        rows = np.flatnonzero(levels == level)
        tp = det = 0
        by_m = {m: [0, 0] for m in MAGNITUDES}
        delays, reachable = [], [0, 0]
        for i in rows:
            true_found, hit, delay = match(found_all[i], truth_all[i], window)
            tp += int(true_found.sum())
            det += len(true_found)
            delays += delay[hit].tolist()
            for b, h in zip(truth_all[i], hit, strict=True):
                by_m[b[3]][0] += int(h)
                by_m[b[3]][1] += 1
                # bursts that bring at least min_count posts in some 5-minute window
                if np.convolve(b[4], np.ones(5)).max() >= sp.Params().min_count:
                    reachable[0] += int(h)
                    reachable[1] += 1
        weeks = len(rows) * (n - 14 * sp.DAY) / (7 * sp.DAY)
        per_level[level] = {
            "precision": tp / det if det else float("nan"),
            "false_per_week": (det - tp) / weeks,
            "recall": {m: h / t if t else float("nan") for m, (h, t) in by_m.items()},
            "recall_all": sum(h for h, _ in by_m.values()) / sum(t for _, t in by_m.values()),
            "recall_reachable": reachable[0] / reachable[1] if reachable[1] else float("nan"),
            "delay": float(np.median(delays)) if delays else float("nan"),
        }
    return per_level


def quality(args) -> None:
    per_level = 3 if args.quick else 10
    levels = np.repeat(LEVELS, per_level)
    n = YEAR
    t0 = time.perf_counter()
    counts, truth = generate(levels, n, args.seed)
    total_bursts = sum(len(b) for b in truth)
    say(
        f"quality: {len(levels)} rules ({per_level} per level) × {n:,} minutes, "
        f"{total_bursts:,} bursts injected, seed {args.seed} "
        f"(generated in {time.perf_counter() - t0:.1f} s)"
    )
    default = sp.Params()
    configs: list[tuple[str, object]] = [("default", default)]
    for name, change in (
        ("margin 4", {"margin": 4.0}),
        ("margin 6", {"margin": 6.0}),
        ("dispersion 0.1", {"dispersion": 0.1}),
        ("dispersion 0.25", {"dispersion": 0.25}),
        ("window 10", {"window": 10}),
        ("window 15", {"window": 15}),
        ("no weekly", {"weekly": False}),
        ("trim 0 (mean)", {"trim": 0.0}),
        ("slot 30", {"slot": 30}),
        ("min_count 5", {"min_count": 5}),
    ):
        configs.append((name, dataclasses.replace(default, **change)))
    configs.append(("naive 3σ week", "naive"))
    results = {}
    for name, params in configs:
        t = time.perf_counter()
        if params == "naive":
            found = naive(counts, default)
            window = default.window
        else:
            found = sp.detect_many(counts, START, params, TZ)
            window = params.window
        results[name] = evaluate(found, truth, levels, window, n)
        say(f"  {name}: {time.perf_counter() - t:.1f} s")
    say()
    say(
        "precision / recall (all bursts) / recall (bursts bringing ≥ 10 posts in 5 minutes) / "
        "false alarms per rule per week / median delay in minutes from burst start to alarm"
    )
    say()
    say("| method | " + " | ".join(f"{lv:,} posts a day" for lv in LEVELS) + " |")
    say("|---|" + "---|" * len(LEVELS))
    for name, res in results.items():
        cells = [
            f"{res[lv]['precision']:.2f} / {res[lv]['recall_all']:.2f} / "
            f"{res[lv]['recall_reachable']:.2f} / {res[lv]['false_per_week']:.2f} / "
            f"{res[lv]['delay']:.0f}"
            for lv in LEVELS
        ]
        say(f"| {name} | " + " | ".join(cells) + " |")
    for name in ("default", "naive 3σ week"):
        say()
        say(f"recall by magnitude (burst peak in multiples of the average rate), {name}:")
        say()
        say("| posts a day | " + " | ".join(f"×{m:g}" for m in MAGNITUDES) + " |")
        say("|---|" + "---|" * len(MAGNITUDES))
        for lv in LEVELS:
            rec = results[name][lv]["recall"]
            say(f"| {lv:,} | " + " | ".join(f"{rec[m]:.2f}" for m in MAGNITUDES) + " |")


# -- speed ----------------------------------------------------------------------------------------


def speed(args) -> None:
    rules = args.rules or (100 if args.quick else 1_000)
    n = YEAR
    rng = np.random.default_rng(args.seed)
    levels = rng.choice(LEVELS, rules)
    t0 = time.perf_counter()
    counts = np.empty((rules, n), dtype=np.uint16)
    step = 50
    for r in range(0, rules, step):
        counts[r : r + step], _ = generate(levels[r : r + step], n, args.seed + r)
    say(
        f"speed: {rules:,} rules × {n:,} minutes, uint16 ({counts.nbytes / 1e9:.2f} GB), "
        f"generated in {time.perf_counter() - t0:.0f} s (not timed)"
    )
    sp._clock.cache_clear()
    t = time.perf_counter()
    found = sp.detect_many(counts, START)
    many = time.perf_counter() - t
    cells = rules * n
    spikes = sum(len(f) for f in found)
    say(
        f"  detect_many: {many:.1f} s, {cells / many / 1e6:,.1f} M rule-minutes/s "
        f"({spikes:,} spikes)"
    )
    sample = rules if args.quick else min(rules, 100)
    t = time.perf_counter()
    one = [sp.detect(counts[i], START) for i in range(sample)]
    loop = (time.perf_counter() - t) * rules / sample
    assert one == found[:sample], "detect and detect_many disagree"
    how = "measured" if sample == rules else f"measured on {sample} rules, extrapolated"
    say(
        f"  baseline 1, detect rule by rule ({how}): {loop:.1f} s, "
        f"{cells / loop / 1e6:,.1f} M rule-minutes/s; detect_many ×{loop / many:,.2f} faster"
    )
    sample = min(rules, 10 if args.quick else 20)
    t = time.perf_counter()
    for i in range(sample):
        straightforward(counts[i], sp.Params())
    plain = (time.perf_counter() - t) * rules / sample
    say(
        f"  baseline 2, straightforward per-minute median rule by rule (measured on {sample} "
        f"rules, extrapolated): {plain:.1f} s, {cells / plain / 1e6:,.1f} M rule-minutes/s; "
        f"detect_many ×{plain / many:,.1f} faster"
    )
    minutes, others = 200, 9
    fresh, cached = np.empty(minutes), np.empty(minutes * others)
    end0 = n - minutes
    for k in range(minutes):
        end = end0 + k
        t = time.perf_counter()
        sp.latest(counts[0, :end], START)
        fresh[k] = time.perf_counter() - t
        for r in range(others):
            t = time.perf_counter()
            sp.latest(counts[1 + r % (rules - 1), :end], START)
            cached[k * others + r] = time.perf_counter() - t
    per_minute = np.median(fresh) + (rules - 1) * np.median(cached)
    say(
        f"  latest: {np.median(cached) * 1e3:.2f} ms per call (median, p99 "
        f"{np.percentile(cached, 99) * 1e3:.2f} ms) once the minute's local clock is cached, "
        f"{np.median(fresh) * 1e3:.2f} ms for the first rule of a minute; "
        f"{rules:,} rules every minute ≈ {per_minute:.2f} s of one core"
    )


def straightforward(row: np.ndarray, params: sp.Params) -> list[tuple[int, int]]:
    """The baseline written the obvious way: each minute's window against the median of the same
    minute's window on the previous ``history_days`` days (UTC days, no weekday, no trimming),
    one rule at a time; returns the spiking runs."""
    w, history = params.window, params.history_days
    sums = np.cumsum(row, dtype=np.int64)
    windows = sums.copy()
    windows[w:] -= sums[:-w]
    days = len(row) // sp.DAY
    by_day = windows[: days * sp.DAY].reshape(days, sp.DAY)
    refs = np.lib.stride_tricks.sliding_window_view(by_day, history, axis=0)[:-1]
    expected = np.median(refs, axis=2)
    observed = by_day[history:]
    score = sp._score_of(observed, expected, params.dispersion)
    hit = ((observed >= params.min_count) & (score >= params.margin)).ravel()
    edges = np.flatnonzero(np.diff(hit.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=False))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 rules (quality: 12 rules)")
    parser.add_argument("--quality", action="store_true", help="precision/recall, not speed")
    parser.add_argument("--rules", type=int, default=None, help="rules for speed: 1,000 [100]")
    parser.add_argument("--seed", type=int, default=9, help="random seed: 9")
    args = parser.parse_args(argv)
    if args.quality:
        quality(args)
    else:
        speed(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
