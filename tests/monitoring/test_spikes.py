"""Spike detection (nextwork.monitoring.spikes): behaviour on small generated series.

Local times are computed here with zoneinfo hour by hour, independently of the module's clock,
so a DST mistake in the module cannot hide behind the same mistake in the fixture.
"""

from __future__ import annotations

import dataclasses
import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nextwork.monitoring.spikes import (
    DAY,
    Params,
    _clock,
    detect,
    detect_many,
    hourly,
    latest,
)

PARIS = ZoneInfo("Europe/Paris")
UTC = datetime.UTC
MONDAY = datetime.datetime(2026, 1, 5, tzinfo=PARIS)  # a Monday, far from DST changes


def local_hours(start: datetime.datetime, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Fractional local hour and weekday (Monday 0) of each minute; ``start`` on the hour."""
    utc = start.astimezone(UTC)
    hours = np.empty(n)
    weekday = np.empty(n, dtype=np.int64)
    for m in range(0, n, 60):
        local = (utc + datetime.timedelta(minutes=m)).astimezone(PARIS)
        span = min(60, n - m)
        hours[m : m + span] = local.hour + np.arange(span) / 60
        weekday[m : m + span] = local.weekday()
    return hours, weekday


def minute_of(start: datetime.datetime, local: datetime.datetime) -> int:
    return int((local - start).total_seconds() // 60)


def rhythm(hours: np.ndarray) -> np.ndarray:
    """Smooth daily profile, low in the morning, highest at 20:00, 10× apart, mean about 1."""
    a = np.log(10) / 2
    p = np.exp(a * np.cos(2 * np.pi * (hours - 20) / 24))
    return p / 1.35


def series(
    start: datetime.datetime, days: int, per_day: float, seed: int, weekend: float = 1.0
) -> np.ndarray:
    n = days * DAY
    hours, weekday = local_hours(start, n)
    rate = per_day / DAY * rhythm(hours) * np.where(weekday >= 5, weekend, 1.0)
    return np.random.default_rng(seed).poisson(rate).astype(np.int64)


def decaying(peak: float, minutes: int, factor: float = 0.8) -> np.ndarray:
    return np.round(peak * factor ** np.arange(minutes)).astype(np.int64)


# -- quiet series ---------------------------------------------------------------------------------


def test_flat_series_has_no_spike():
    counts = np.random.default_rng(1).poisson(3.0, 21 * DAY)
    assert detect(counts, MONDAY) == []


@pytest.mark.parametrize("per_day", [200, 5_000, 50_000])
def test_daily_and_weekly_rhythm_is_not_a_spike(per_day):
    counts = series(MONDAY, 28, per_day, seed=per_day, weekend=0.6)
    assert detect(counts, MONDAY) == []


def test_the_rhythm_fixture_would_fool_a_flat_baseline():
    """The previous test means something: at 50,000 posts a day, evenings are far enough above
    the day's mean that a flat baseline (previous week's mean window), scored the same way,
    flags them."""
    p = Params()
    counts = series(MONDAY, 28, 50_000, seed=50_000, weekend=0.6)
    windows = np.convolve(counts, np.ones(p.window, dtype=np.int64))[: len(counts)]
    day = 21
    flat = windows[(day - 7) * DAY : day * DAY].mean()
    today = windows[day * DAY : (day + 1) * DAY]
    score = 2 * (np.sqrt(today) - np.sqrt(flat)) / np.sqrt(1 + p.dispersion**2 * flat)
    hours, _ = local_hours(MONDAY, len(counts))
    flagged = hours[day * DAY : (day + 1) * DAY][(score >= p.margin) & (today >= p.min_count)]
    assert len(flagged) > 60
    assert ((flagged >= 17) & (flagged < 24)).all()


# -- bursts ---------------------------------------------------------------------------------------


def test_injected_burst_found_with_its_start_and_peak():
    counts = series(MONDAY, 21, 2_000, seed=3)
    s = minute_of(MONDAY, datetime.datetime(2026, 1, 23, 15, 0, tzinfo=PARIS))
    counts[s : s + 60] += decaying(80, 60)
    found = detect(counts, MONDAY)
    assert len(found) == 1
    spike = found[0]
    assert spike.start == s  # the first window holding the jump already fires
    assert spike.peak == s + 4  # the 5-minute window holding the 5 strongest minutes
    assert spike.count == counts[s : s + 5].sum()
    assert s + 5 < spike.end < s + 60
    assert 0 < spike.expected < 20
    assert spike.score >= Params().margin


def test_short_small_burst_on_a_busy_rule_is_found_and_a_smaller_one_is_not():
    """The margin scales with volume: on 20,000 posts a day at 15:00 (≈ 75 posts per window),
    +300 posts over 5 minutes is a spike, +25 is noise."""
    base = series(MONDAY, 21, 20_000, seed=4)
    s = minute_of(MONDAY, datetime.datetime(2026, 1, 23, 15, 0, tzinfo=PARIS))
    big, small = base.copy(), base.copy()
    big[s : s + 5] += 60
    small[s : s + 5] += 5
    found = detect(big, MONDAY)
    assert len(found) == 1
    assert s < found[0].start < s + 5  # +60 in one minute is not enough, +120 in two is
    assert found[0].peak == s + 4
    assert detect(small, MONDAY) == []


def test_a_burst_yesterday_does_not_hide_one_today():
    counts = series(MONDAY, 21, 2_000, seed=5)
    for day in (20, 21):  # two huge bursts at 15:00 on Tuesday and Wednesday
        y = minute_of(MONDAY, datetime.datetime(2026, 1, day, 15, 0, tzinfo=PARIS))
        counts[y : y + 60] += 2_000
    t = minute_of(MONDAY, datetime.datetime(2026, 1, 22, 15, 10, tzinfo=PARIS))
    counts[t : t + 30] += 40
    starts = [s.start for s in detect(counts, MONDAY)]
    assert t in starts
    # the plain mean (trim 0) lets the past bursts raise the bar: the point of trimming
    mean_based = detect(counts, MONDAY, dataclasses.replace(Params(), trim=0.0))
    assert t not in [s.start for s in mean_based]


def test_quiet_rule_stays_quiet():
    counts = np.random.default_rng(6).poisson(2 / DAY, 21 * DAY)
    s = 18 * DAY + 600
    three, eight, twelve = counts.copy(), counts.copy(), counts.copy()
    three[s] += 3
    eight[s] += 8
    twelve[s] += 12
    assert detect(three, MONDAY) == []
    assert detect(eight, MONDAY) == []  # far above its baseline, but under min_count
    assert [sp.start for sp in detect(eight, MONDAY, Params(min_count=5))] == [s]
    assert [sp.start for sp in detect(twelve, MONDAY)] == [s]


def test_spiking_windows_close_together_merge():
    counts = series(MONDAY, 21, 2_000, seed=7)
    s = 18 * DAY + 900
    counts[s : s + 3] += 40
    counts[s + 12 : s + 15] += 40  # the first burst's windows end at s + 6; 6 quiet minutes
    assert len(detect(counts, MONDAY, Params(merge_gap=10))) == 1
    assert len(detect(counts, MONDAY, Params(merge_gap=0))) == 2


def test_first_history_days_only_feed_the_baseline():
    counts = series(MONDAY, 21, 2_000, seed=8)
    counts[3 * DAY + 900 : 3 * DAY + 960] += 500
    assert detect(counts, MONDAY) == []
    assert detect(counts, MONDAY, Params(history_days=2)) != []


# -- the three entry points agree ---------------------------------------------------------------


def _bursty(seed: int, days: int, per_day: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(per_day / DAY * (1 + 0.8 * np.sin(np.arange(days * DAY) / 229)))
    for _ in range(3):
        a = int(rng.integers(DAY, days * DAY - 30))
        counts[a : a + int(rng.integers(1, 30))] += int(rng.integers(1, 40))
    return counts


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    per_day=st.sampled_from([5, 500, 5_000]),
    window=st.integers(1, 10),
    margin=st.floats(1.0, 8.0),
    min_count=st.integers(1, 20),
    weekly=st.booleans(),
)
def test_detect_many_equals_detect_row_by_row(seed, per_day, window, margin, min_count, weekly):
    params = Params(
        window=window, history_days=2, margin=margin, min_count=min_count, weekly=weekly
    )
    counts = np.stack([_bursty(seed + i, 4, per_day) for i in range(3)]).astype(np.uint16)
    assert detect_many(counts, MONDAY, params) == [detect(row, MONDAY, params) for row in counts]


def test_detect_many_finds_what_detect_finds_on_busy_and_quiet_rules():
    """Not vacuous: spikes exist, and rows of different volumes share a chunk."""
    counts = np.stack([_bursty(i, 20, per_day) for i, per_day in enumerate((5, 2_000, 30_000))])
    many = detect_many(counts, MONDAY, Params(margin=3.0, min_count=3))
    assert all(many)
    assert many == [detect(row, MONDAY, Params(margin=3.0, min_count=3)) for row in counts]


def test_latest_agrees_with_detect_on_the_last_window():
    counts = series(MONDAY, 20, 2_000, seed=9)
    s = 17 * DAY + 1000
    counts[s : s + 40] += decaying(60, 40, 0.93)
    params = Params(merge_gap=0)
    full = detect(counts, MONDAY, params)
    assert full
    spiking = {t for sp in full for t in range(sp.start, sp.end)}
    ends = sorted({s - 2, s, s + 3, s + 20, s + 39, s + 80, *(sp.start for sp in full)})
    for t in ends:
        got = latest(counts[: t + 1], MONDAY, params)
        assert (got is not None) == (t in spiking), t
        short = detect(counts[: t + 1], MONDAY, params)
        assert (got is not None) == bool(short and short[-1].end == t + 1), t
        if got is not None:
            assert (got.start, got.end, got.peak) == (t, t + 1, t)
            assert got.count == counts[t - params.window + 1 : t + 1].sum()
        if got is not None and short[-1].start == t:  # a one-window spike: same figures
            assert got.expected == pytest.approx(short[-1].expected, rel=1e-12)
            assert got.score == pytest.approx(short[-1].score, rel=1e-12)


def test_latest_needs_its_history():
    counts = np.full(14 * DAY + 5, 5)
    counts[-5:] = 500
    assert latest(counts[: 14 * DAY - 1], MONDAY) is None  # not enough history: never judged
    found = latest(counts, MONDAY)
    assert found is not None
    assert (found.start, found.count) == (14 * DAY + 4, 2_500)
    assert found.expected == pytest.approx(25.0)


# -- DST ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "lengths", "hour_two"),
    [
        (datetime.date(2026, 3, 29), [1440, 1380, 1440], 0),  # 02:00-02:59 does not exist
        (datetime.date(2026, 10, 25), [1440, 1500, 1440], 120),  # 02:00-02:59 twice
    ],
)
def test_clock_follows_local_days_across_dst(day, lengths, hour_two):
    start = datetime.datetime.combine(day - datetime.timedelta(days=1), datetime.time(), PARIS)
    n = sum(lengths)
    clock = _clock(start, n, "Europe/Paris", 60)
    assert np.bincount(clock.cell // 24).tolist() == lengths
    assert clock.minutes[24 + 2] == hour_two
    hours, _ = local_hours(start, n)
    assert ((clock.cell % 24) == np.floor(hours)).all()


def steep_evening(start: datetime.datetime, days: int, per_day: float, seed: int) -> np.ndarray:
    """Activity rising 10× within about an hour at 19:00 local and falling at 23:00: an
    hour's misalignment doubles or halves the expectation."""
    n = days * DAY
    hours, _ = local_hours(start, n)
    sig = 1 / (1 + np.exp(-(hours - 19) / 0.4)) - 1 / (1 + np.exp(-(hours - 23) / 0.4))
    rate = per_day / DAY / 2.5 * (1 + 9 * sig)
    return np.random.default_rng(seed).poisson(rate)


@pytest.mark.parametrize(
    ("first", "change"),
    [
        (datetime.date(2026, 3, 9), datetime.date(2026, 3, 29)),
        (
            datetime.date(2026, 10, 5),
            datetime.date(2026, 10, 25),
        ),
    ],
)
def test_rhythm_in_local_time_survives_dst(first, change):
    start = datetime.datetime.combine(first, datetime.time(), PARIS)
    counts = steep_evening(start, 24, 50_000, seed=first.month)
    assert detect(counts, start) == []
    # Judged on UTC days the evening moves by an hour at the change, and alarms follow
    in_utc = detect(counts, start, tz="UTC")
    change_at = minute_of(start, datetime.datetime.combine(change, datetime.time(), PARIS))
    assert in_utc
    assert all(sp.start >= change_at for sp in in_utc)


@pytest.mark.parametrize("day", [datetime.date(2026, 3, 29), datetime.date(2026, 10, 25)])
def test_burst_on_a_dst_day_is_found_at_its_minute(day):
    start = datetime.datetime.combine(day - datetime.timedelta(days=16), datetime.time(), PARIS)
    counts = steep_evening(start, 18, 5_000, seed=day.month)
    s = minute_of(start, datetime.datetime.combine(day, datetime.time(16, 30), PARIS))
    counts[s : s + 30] += decaying(60, 30)
    found = detect(counts, start)
    assert [(sp.start, sp.peak) for sp in found] == [(s, s + 4)]


# -- hourly and parameters ------------------------------------------------------------------------


def test_hourly_sums_minutes_per_hour():
    counts = np.arange(150)
    assert hourly(counts).tolist() == [sum(range(60)), sum(range(60, 120)), sum(range(120, 150))]
    two = np.stack([np.ones(120, dtype=np.uint16), np.full(120, 2, dtype=np.uint16)])
    assert hourly(two).tolist() == [[60, 60], [120, 120]]
    assert hourly(np.zeros(0, dtype=np.int64)).shape == (0,)


def test_hourly_does_not_overflow_small_integers():
    assert hourly(np.full(60, 60_000, dtype=np.uint16)).tolist() == [3_600_000]


@pytest.mark.parametrize(
    "change", [{"slot": 7}, {"trim": 0.5}, {"window": 0}, {"dispersion": -1.0}]
)
def test_bad_parameters_are_refused(change):
    with pytest.raises(ValueError):
        Params(**change)
