"""Spike detection on per-minute post counts of a watch rule (issue 9, docs/monitoring-spikes.md).

The method, in short:

1. The observed quantity is the number of posts in a sliding ``window`` of minutes: a burst
   builds over minutes, and one minute is too noisy to judge.
2. The expectation comes from the same local clock time on the previous ``history_days`` days of
   the same kind (weekdays against weekdays, weekends against weekends): the count of every local
   clock ``slot`` (an hour by default) of every past day is turned into a rate, and the rates of
   the reference days are combined by a trimmed mean, so a burst on one past day is cut away
   instead of raising tomorrow's bar. Rates are interpolated between slot centres, so the evening
   rise is followed minute by minute rather than in hourly steps.
3. The score is variance-stabilised: under a Poisson law ``2·√X`` has unit variance; day-to-day
   overdispersion (a busy news day) adds a relative variance ``dispersion²·E``, hence
   ``score = 2(√W − √E) / √(1 + dispersion²·E)``. A window is spiking when its count reaches
   ``min_count`` and its score reaches ``margin``; spiking windows closer than ``merge_gap``
   minutes form one spike.

Local time (``tz``) decides the clock slot and the weekday of every minute, so the daily rhythm
stays aligned across the DST changes (days of 23 and 25 hours). Everything is numpy; rules are
processed together (``detect_many``), in chunks that bound the memory.
"""

from __future__ import annotations

import datetime
import functools
import itertools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

DAY = 1440  # minutes
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_CHUNK_CELLS = 2_000_000  # rule-minutes per chunk: measured fastest (cache-sized), see the docs


@dataclass(frozen=True)
class Params:
    """The knobs of the method; docs/monitoring-spikes.md gives the figures behind each default."""

    #: Minutes summed for the observed count. Five keeps a sudden burst visible within minutes
    #: while pooling enough posts for moderate rules; 15 finds slow ramps better, later.
    window: int = 5
    #: Days of history behind the baseline (two weeks: 10 weekdays and 4 weekend days, enough for
    #: a trimmed mean, short enough to follow a slow trend).
    history_days: int = 14
    #: The score a window must reach: about a one-sided normal quantile (5 ≈ 3·10⁻⁷ per window
    #: under the model). Chosen on the measured precision/recall, see the docs.
    margin: float = 5.0
    #: Below this many posts in the window, never a spike: a quiet rule stays quiet.
    min_count: int = 10
    #: Relative day-to-day variation of the rate, beyond Poisson noise (0.15 = 15 %); it is what
    #: makes a 20,000-posts-a-day rule need about twice its usual count, not +10 %.
    dispersion: float = 0.15
    #: Width in minutes of the local clock slots the baseline is estimated on (divides 60).
    slot: int = 60
    #: Compare weekdays with weekdays and Saturdays/Sundays with weekend days only.
    weekly: bool = True
    #: Share of reference days cut at each end before averaging (0.25: the middle half). Makes the
    #: baseline robust to past bursts; 0 is the plain mean, which a burst inflates.
    trim: float = 0.25
    #: Spiking windows separated by at most this many quiet minutes form one spike, so a burst
    #: whose score flickers around the margin gives one alert, not five.
    merge_gap: int = 10

    def __post_init__(self) -> None:
        if self.window < 1 or self.history_days < 1 or self.min_count < 1:
            raise ValueError("window, history_days and min_count must be positive")
        if self.slot < 1 or 60 % self.slot:
            raise ValueError("slot must divide 60 (DST changes move whole hours)")
        if not 0 <= self.trim < 0.5:
            raise ValueError("trim must be in [0, 0.5)")
        if self.dispersion < 0 or self.merge_gap < 0:
            raise ValueError("dispersion and merge_gap must not be negative")


@dataclass(frozen=True)
class Spike:
    """Spiking windows, merged. Indices are minutes of the series given; a window is named by
    its last minute (the minute at which a live check would fire)."""

    start: int  # last minute of the first spiking window: when the alert fires
    end: int  # one past the last minute of the last spiking window
    peak: int  # last minute of the window with the highest count
    count: int  # posts in that window
    expected: float  # the baseline's expectation for that window
    score: float  # 2(√count − √expected)/√(1 + dispersion²·expected), compared with margin


# -- local clock ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clock:
    """Where each minute of a series falls in local time, and the slot cells that index it."""

    cell: np.ndarray  # per minute: day index × slots per day + slot of the day
    frac: np.ndarray  # per minute: position in its cell, in (-0.5, 0.5) around the centre
    run_starts: np.ndarray  # first minute of each run of minutes in the same cell
    run_cells: np.ndarray  # the cell of each run (a cell has two runs in a 25-hour day)
    minutes: np.ndarray  # minutes per cell (0 for the hour a 23-hour day skips)
    weekend: np.ndarray  # per local day: Saturday or Sunday
    days: int
    per_day: int


def _offsets(start: datetime.datetime, n: int, zone: ZoneInfo) -> np.ndarray:
    """UTC offset in minutes of every minute, found by sampling every 30 minutes and bisecting
    each change (zones change their offset at most once in 30 minutes)."""
    utc = start.astimezone(datetime.UTC)

    def off(m: int) -> int:
        delta = (utc + datetime.timedelta(minutes=m)).astimezone(zone).utcoffset()
        return int(delta.total_seconds() // 60) if delta is not None else 0

    samples = [*range(0, n, 30), n - 1]
    values = [off(m) for m in samples]
    out = np.full(n, values[0], dtype=np.int64)
    for a, b, va, vb in zip(samples, samples[1:], values, values[1:], strict=False):
        if va == vb:
            continue
        lo, hi = a, b
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if off(mid) == va else (lo, mid)
        out[hi:] = vb
    return out


@functools.lru_cache(maxsize=16)
def _clock(start: datetime.datetime, n: int, tz: str, slot: int) -> _Clock:
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    utc_minute = int((start - _EPOCH).total_seconds() // 60)
    local = utc_minute + np.arange(n, dtype=np.int64) + _offsets(start, n, ZoneInfo(tz))
    date = local // DAY
    of_day = local % DAY
    first = int(date[0])
    per_day = DAY // slot
    days = int(date[-1]) - first + 1
    cell = (date - first) * per_day + of_day // slot
    frac = ((of_day % slot) + 0.5) / slot - 0.5
    run_starts = np.flatnonzero(np.diff(cell)) + 1
    run_starts = np.concatenate(([0], run_starts))
    weekday = (np.arange(first, first + days) + 3) % 7  # 1970-01-01 was a Thursday (3)
    clock = _Clock(
        cell=cell,
        frac=frac,
        run_starts=run_starts,
        run_cells=cell[run_starts],
        minutes=np.bincount(cell, minlength=days * per_day),
        weekend=weekday >= 5,
        days=days,
        per_day=per_day,
    )
    shared = (clock.cell, clock.frac, clock.run_starts, clock.run_cells, clock.minutes)
    for array in (*shared, clock.weekend):
        array.flags.writeable = False  # shared by every caller through the cache
    return clock


# -- baseline -------------------------------------------------------------------------------------


def _cell_rates(counts: np.ndarray, clock: _Clock) -> np.ndarray:
    """Posts per minute in each local slot cell: (rules, cells), NaN where a cell has no minute."""
    runs = np.add.reduceat(counts, clock.run_starts, axis=1, dtype=np.int64)
    totals = np.zeros((counts.shape[0], clock.days * clock.per_day), dtype=np.float64)
    first = np.zeros(len(clock.run_cells), dtype=bool)
    first[np.unique(clock.run_cells, return_index=True)[1]] = True
    totals[:, clock.run_cells[first]] = runs[:, first]
    for r in np.flatnonzero(~first):  # the repeated hour of a 25-hour day
        totals[:, clock.run_cells[r]] += runs[:, r]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(clock.minutes > 0, totals / clock.minutes, np.nan)


def _trimmed_mean(values: np.ndarray, trim: float) -> np.ndarray:
    """Trimmed mean over axis 2, ignoring NaN; NaN where a row has no value."""
    ordered = np.sort(values, axis=2)  # NaN sorts last
    valid = np.sum(~np.isnan(ordered), axis=2, keepdims=True)
    cut = np.floor(trim * valid).astype(np.int64)
    zero = np.zeros((*ordered.shape[:2], 1, ordered.shape[3]))
    sums = np.concatenate((zero, np.cumsum(np.nan_to_num(ordered), axis=2)), axis=2)
    total = np.take_along_axis(sums, valid - cut, axis=2) - np.take_along_axis(sums, cut, axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total / (valid - 2 * cut))[:, :, 0, :]


def _references(clock: _Clock, params: Params) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """For each number of reference days: the days having that many, and their references."""
    groups: dict[int, tuple[list[int], list[list[int]]]] = {}
    for d in range(clock.days):
        refs = [
            d - k
            for k in range(1, params.history_days + 1)
            if d - k >= 0 and (not params.weekly or clock.weekend[d - k] == clock.weekend[d])
        ]
        if refs:
            days, lists = groups.setdefault(len(refs), ([], []))
            days.append(d)
            lists.append(refs)
    return {k: (np.array(days), np.array(refs)) for k, (days, refs) in groups.items()}


def _baseline(
    rates: np.ndarray,
    clock: _Clock,
    references: dict[int, tuple[np.ndarray, np.ndarray]],
    params: Params,
) -> np.ndarray:
    """Expected posts per minute in each cell, from the same slot of the reference days."""
    by_day = rates.reshape(rates.shape[0], clock.days, clock.per_day)
    out = np.full_like(by_day, np.nan)
    for days, refs in references.values():
        out[:, days, :] = _trimmed_mean(by_day[:, refs, :], params.trim)
    return out.reshape(rates.shape)


# -- scoring --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """What depends on the clock and the parameters only, computed once per call and shared by
    every rule: the reference days and, for each judged minute, its cell, the neighbouring cell
    towards which it is interpolated, and the weight of that neighbour."""

    clock: _Clock
    references: dict[int, tuple[np.ndarray, np.ndarray]]
    first: int  # last minute of the first judged window
    cell: np.ndarray  # minutes first - window + 1 … n - 1
    near: np.ndarray
    weight: np.ndarray


def _plan(clock: _Clock, params: Params, first: int) -> _Plan:
    lo = first - params.window + 1
    cell = clock.cell[lo:]
    frac = clock.frac[lo:]
    last = clock.days * clock.per_day - 1
    return _Plan(
        clock=clock,
        references=_references(clock, params),
        first=first,
        cell=cell,
        near=np.clip(cell + np.sign(frac).astype(np.int64), 0, last),
        weight=np.abs(frac),
    )


def _rate(base: np.ndarray, rows: np.ndarray | None, cell, near, weight) -> np.ndarray:
    """Expected posts per minute, interpolated between the centres of two cells (the same
    element-wise arithmetic whether computed for whole rows, ``rows`` None, or a few minutes)."""
    if rows is None:
        here, there = np.take(base, cell, axis=1), np.take(base, near, axis=1)
    else:
        here, there = base[rows, cell], base[rows, near]
    return np.where(np.isnan(there), here, (1 - weight) * here + weight * there)


def _judge(
    counts: np.ndarray, plan: _Plan, params: Params
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per rule: the spiking windows (last minutes, relative to plan.first), their counts,
    expectations and scores. Windows under min_count are never scored, which spares most of the
    work for quiet rules."""
    w, first = params.window, plan.first
    lo = first - w + 1
    sums = np.cumsum(counts[:, lo - 1 if lo else 0 :], axis=1, dtype=np.int64)
    if lo:
        observed = sums[:, w:] - sums[:, :-w]
    else:
        observed = np.concatenate((sums[:, w - 1 : w], sums[:, w:] - sums[:, :-w]), axis=1)
    rows, cols = np.nonzero(observed >= params.min_count)
    base = _baseline(_cell_rates(counts, plan.clock), plan.clock, plan.references, params)
    if len(cols) > observed.size // 4:  # busy rules: whole rows are cheaper than gathers
        rate = _rate(base, None, plan.cell, plan.near, plan.weight)
        dense = rate[:, w - 1 :].copy()
        for j in range(1, w):  # summed in the same order as below (see latest)
            dense += rate[:, w - 1 - j : rate.shape[1] - j]
        expected = dense[rows, cols]
    else:
        at = cols + (w - 1)
        expected = _rate(base, rows, plan.cell[at], plan.near[at], plan.weight[at])
        for j in range(1, w):
            m = at - j
            expected += _rate(base, rows, plan.cell[m], plan.near[m], plan.weight[m])
    count = observed[rows, cols]
    score = _score_of(count, expected, params.dispersion)
    hit = score >= params.margin  # NaN (no baseline yet) compares False
    rows, cols, count, expected, score = rows[hit], cols[hit], count[hit], expected[hit], score[hit]
    bounds = np.searchsorted(rows, np.arange(len(counts) + 1))
    return [
        (cols[a:b], count[a:b], expected[a:b], score[a:b]) for a, b in itertools.pairwise(bounds)
    ]


def _score_of(observed: np.ndarray, expected: np.ndarray, dispersion: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (
            2
            * (np.sqrt(observed) - np.sqrt(expected))
            / np.sqrt(1 + dispersion * dispersion * expected)
        )


def _spikes(
    where: np.ndarray,
    count: np.ndarray,
    expected: np.ndarray,
    score: np.ndarray,
    first: int,
    params: Params,
) -> list[Spike]:
    """Merge spiking windows (``where``: sorted, relative to ``first``) into spikes; the peak is
    the spiking window with the highest count."""
    if not len(where):
        return []
    breaks = np.flatnonzero(np.diff(where) > params.merge_gap + 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks + 1, [len(where)]))
    out = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        p = a + int(np.argmax(count[a:b]))
        out.append(
            Spike(
                start=first + int(where[a]),
                end=first + int(where[b - 1]) + 1,
                peak=first + int(where[p]),
                count=int(count[p]),
                expected=float(expected[p]),
                score=float(score[p]),
            )
        )
    return out


# -- public interface -----------------------------------------------------------------------------


def detect_many(
    counts: np.ndarray,
    start: datetime.datetime,
    params: Params = Params(),  # frozen: one shared default is safe
    tz: str = "Europe/Paris",
) -> list[list[Spike]]:
    """Spikes of each rule. ``counts``: (rules, minutes) non-negative integers (uint16 is enough
    and halves the memory of int32), minute 0 at ``start`` (aware, minute-aligned). Only windows
    ending on or after minute ``history_days × 1440`` are judged; earlier minutes only feed the
    baseline. Rules are processed in chunks of about 2 million rule-minutes (four rules over a
    year): larger chunks were measured slower, the work being bound by memory traffic."""
    counts = np.asarray(counts)
    if counts.ndim != 2:
        raise ValueError("counts must be 2-D (rules × minutes)")
    rules, n = counts.shape
    first = max(params.history_days * DAY, params.window - 1)
    if n <= first:
        return [[] for _ in range(rules)]
    plan = _plan(_clock(start, n, tz, params.slot), params, first)
    chunk = max(1, _CHUNK_CELLS // n)
    out: list[list[Spike]] = []
    for r in range(0, rules, chunk):
        out += [
            _spikes(*hits, first, params) for hits in _judge(counts[r : r + chunk], plan, params)
        ]
    return out


def detect(
    counts: np.ndarray,
    start: datetime.datetime,
    params: Params = Params(),
    tz: str = "Europe/Paris",
) -> list[Spike]:
    """Spikes of one rule: ``counts`` is 1-D; otherwise as ``detect_many``."""
    counts = np.asarray(counts)
    if counts.ndim != 1:
        raise ValueError("counts must be 1-D")
    return detect_many(counts[None, :], start, params, tz)[0]


def latest(
    counts: np.ndarray,
    start: datetime.datetime,
    params: Params = Params(),
    tz: str = "Europe/Paris",
) -> Spike | None:
    """Whether the window ending at the last minute of ``counts`` is spiking, as ``detect`` would
    judge it: a one-window ``Spike`` (start = peak = the last minute) or None.

    Only the last ``history_days + 2`` days are read (the reference days, whole, around the same
    clock time), so a call costs the same whatever the length of the series given."""
    counts = np.asarray(counts)
    if counts.ndim != 1:
        raise ValueError("counts must be 1-D")
    n = len(counts)
    keep = min(n, (params.history_days + 2) * DAY + params.window)
    offset = n - keep
    if keep - 1 < max(params.history_days * DAY, params.window - 1):
        return None
    tail = counts[offset:][None, :]
    tail_start = start + datetime.timedelta(minutes=offset)
    plan = _plan(_clock(tail_start, keep, tz, params.slot), params, keep - 1)
    ((where, count, expected, score),) = _judge(tail, plan, params)
    if not len(where):
        return None
    return Spike(
        start=n - 1,
        end=n,
        peak=n - 1,
        count=int(count[0]),
        expected=float(expected[0]),
        score=float(score[0]),
    )


def hourly(counts: np.ndarray) -> np.ndarray:
    """Per-hour sums of a per-minute series (last axis), minute 0 starting an hour; a last
    partial hour is summed as it stands. Used by the series API's ``bucket=hour``."""
    counts = np.asarray(counts)
    n = counts.shape[-1]
    if n == 0:
        return np.zeros((*counts.shape[:-1], 0), dtype=np.int64)
    return np.add.reduceat(counts, np.arange(0, n, 60), axis=-1, dtype=np.int64)
