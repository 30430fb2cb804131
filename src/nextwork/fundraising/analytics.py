"""Long-tail analytics of donations (reads only; see docs/fundraising-analytics.md).

Promises:
- only ``succeeded`` donations count (a refunded one has left that status, so it never counts);
- the period is given in dates of the site's time zone, both ends included; months are
  calendar months of that time zone;
- totals are exact integers of cents; the database does the grouping, numpy works on the
  per-person totals, fetched as integer columns;
- a donor is a person: donations are counted by ``DonorPerson`` (one per email key), not by
  ``Donor`` row;
- the whole months of a period are read from the monthly roll-ups (``fundraising.rollups``),
  its partial months (a period from the 15th) from the donations: the same figures as reading
  every donation, which the tests check against an independent computation.
"""

from __future__ import annotations

# ruff: noqa: S608 -- the SQL here is built from model table names and fixed fragments only;
# every value goes as a parameter.
import contextlib
import datetime
import uuid
from bisect import bisect_right

import numpy as np
from django.db import connection
from django.utils import timezone

from nextwork.fundraising import rollups
from nextwork.fundraising.models import Donation, DonationStatus

DEFAULT_THRESHOLDS = (2000, 5000, 10000)  # €20, €50, €100
LORENZ_POINTS = 101


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, tzinfo=timezone.get_current_timezone())


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def histogram_edges(max_cents: int) -> list[int]:
    """Logarithmic bin edges in cents: €1, 2, 5, 10, 20, 50, … up to above ``max_cents``."""
    edges = [100]
    step = 0
    while edges[-1] <= max_cents:
        edges.append(edges[-1] * (5 if step % 3 == 1 else 2) // (2 if step % 3 == 1 else 1))
        step += 1
    return edges


def _lorenz(totals_sorted: np.ndarray, grand: int) -> list[dict]:
    n = len(totals_sorted)
    cum = np.concatenate(([0], np.cumsum(totals_sorted, dtype=np.int64)))
    points = []
    for i in range(LORENZ_POINTS):
        p = i / (LORENZ_POINTS - 1)
        k = round(p * n)
        points.append({"donors": p, "amount": int(cum[k]) / grand if grand else 0.0})
    return points


def gini(totals: np.ndarray) -> float:
    """Gini coefficient of donors' totals: G = 2·Σ i·x₍ᵢ₎ / (n·Σx) − (n+1)/n, x sorted
    ascending, i from 1 (the sample formula, no small-sample correction). 0 for no donor."""
    n = len(totals)
    if n == 0:
        return 0.0
    x = np.sort(totals).astype(np.float64)
    s = x.sum()
    if s == 0:
        return 0.0
    i = np.arange(1, n + 1, dtype=np.float64)
    return float(2.0 * np.dot(i, x) / (n * s) - (n + 1) / n)


def _median(amounts: list[int], counts: list[int], n: int) -> float:
    """The median of ``n`` values given as sorted distinct ``amounts`` and their ``counts``."""
    if n == 0:
        return 0.0
    cum = np.cumsum(counts)

    def at(position: int) -> int:  # 0-based position in the sorted gifts
        return amounts[int(np.searchsorted(cum, position, side="right"))]

    if n % 2:
        return float(at(n // 2))
    return (at(n // 2 - 1) + at(n // 2)) / 2


class _Period:
    """The period as SQL: whole months read from the roll-ups, the partial months at either
    end (a period from the 15th, or to the 10th) from the donations themselves."""

    def __init__(self, start: datetime.date | None, end: datetime.date | None):
        self.lo = _local_midnight(start) if start else None
        self.hi = _local_midnight(end + datetime.timedelta(days=1)) if end else None
        self.first_month = rollups.month_of(self.lo) if self.lo else None
        # Whole months inside [lo, hi): first_full … last_full (None: no bound).
        first_full = last_full = None
        if self.lo is not None:
            first_full = self.first_month
            if rollups.month_start(first_full) != self.lo:
                first_full += 1
        if self.hi is not None:
            last_full = rollups.month_of(self.hi) - 1
        self.table: str | None = None  # the partial months' donations (``materialised``)
        self.ranges: list[tuple] = []  # [from, to) of donations read directly, each in a month
        if first_full is not None and last_full is not None and first_full > last_full:
            self.full = None  # no whole month: every day comes from the donations,
            cut = rollups.month_start(self.first_month + 1)  # in at most two months
            self.ranges = [(self.lo, min(cut, self.hi))] + (
                [(cut, self.hi)] if cut < self.hi else []
            )
        else:
            self.full = (first_full, last_full)
            if self.lo is not None and rollups.month_start(first_full) != self.lo:
                self.ranges.append((self.lo, rollups.month_start(first_full)))
            if self.hi is not None and rollups.month_start(last_full + 1) != self.hi:
                self.ranges.append((rollups.month_start(last_full + 1), self.hi))

    def rolled(self, table: str) -> tuple[str, list]:
        """The condition on a roll-up table's rows, or None when no month is whole."""
        if self.full is None:
            return "", []
        first, last = self.full
        parts, params = ["1 = 1"], []
        if first is not None:
            parts.append(f"{table}.month >= %s")
            params.append(first)
        if last is not None:
            parts.append(f"{table}.month <= %s")
            params.append(last)
        return " AND ".join(parts), params

    @contextlib.contextmanager
    def materialised(self):
        """The donations of the partial months, copied once into a temporary table (month,
        person, amount, monthly?, department, source) that every query of the call reads:
        each range is read through the ``(status, succeeded_at)`` index once, not five
        times. The table is private to the connection and dropped at the end."""
        if not self.ranges:
            yield
            return
        self.table = f"nw_partial_{uuid.uuid4().hex[:12]}"
        branches, params = [], []
        for lo, hi in self.ranges:
            month = int(rollups.month_of(lo))  # lo and hi - 1 µs are in the same month
            branches.append(
                f"SELECT {month} AS m, d.person_id, d.amount_cents, d.recurring_id, "
                f"d.department, d.source FROM {Donation._meta.db_table} d "
                f"WHERE d.status = %s AND d.succeeded_at >= %s AND d.succeeded_at < %s"
            )
            params += [DonationStatus.SUCCEEDED.value, rollups.db_datetime(lo),
                       rollups.db_datetime(hi)]  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self.table} AS {' UNION ALL '.join(branches)}", params
            )
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {self.table}")
            self.table = None

    def union(self, rolled_sql: str, rolled_table: str, direct_sql: str) -> tuple[str, list]:
        """``rolled_sql`` over the whole months UNION ALL ``direct_sql`` over the partial
        ones (read from the table of ``materialised``); each has a ``{where}`` placeholder,
        ``direct_sql`` a ``{scan}`` one and may use ``{month}``."""
        pieces, params = [], []
        where, where_params = self.rolled(rolled_table)
        if where:
            pieces.append(rolled_sql.format(where=where))
            params += where_params
        if self.ranges:
            pieces.append(direct_sql.format(where="1 = 1", month="d.m", scan=f"{self.table} d"))
        return " UNION ALL ".join(pieces), params


def summary(
    *,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    thresholds=DEFAULT_THRESHOLDS,
) -> dict:
    """Every figure of the analytics over the succeeded donations from ``start`` to ``end``
    (dates, both included; None: no bound), all beneficiaries together.

    Reads the monthly roll-ups (``fundraising.rollups``) for the whole months of the period
    and the donations for its partial months (docs/fundraising-analytics.md says what each
    figure means)."""
    thresholds = [int(t) for t in thresholds] or list(DEFAULT_THRESHOLDS)
    period = _Period(start, end)
    with period.materialised():
        return _summary(period, start, end, thresholds)


def _summary(period: _Period, start, end, thresholds: list[int]) -> dict:
    amount_t, person_t, place_t = rollups.AMOUNT, rollups.PERSON, rollups.PLACE

    # 1. The distribution of amounts: exact total, count, median, mean, histogram, shares.
    sql, params = period.union(
        f"SELECT amount_cents AS a, gifts AS n FROM {amount_t} WHERE {{where}}",
        amount_t,
        "SELECT d.amount_cents AS a, COUNT(*) AS n FROM {scan} WHERE {where} "
        "GROUP BY d.amount_cents",
    )
    rows = _fetch(f"SELECT a, SUM(n) FROM ({sql}) x GROUP BY a ORDER BY a", params)
    amounts = [int(a) for a, _ in rows]
    counts = [int(c) for _, c in rows]
    count = sum(counts)
    total = sum(a * c for a, c in zip(amounts, counts, strict=True))
    result: dict = {
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "total": total,
        "count": count,
        "mean": total / count if count else 0.0,
        "median": _median(amounts, counts, count),
    }
    edges = histogram_edges(amounts[-1] if amounts else 0)
    hist_count = [0] * (len(edges) - 1)
    hist_amount = [0] * (len(edges) - 1)
    for a, c in zip(amounts, counts, strict=True):
        i = max(bisect_right(edges, a) - 1, 0)
        hist_count[i] += c
        hist_amount[i] += a * c
    result["histogram"] = [
        {"from_cents": edges[i], "to_cents": edges[i + 1], "count": hist_count[i],
         "amount": hist_amount[i]}
        for i in range(len(edges) - 1)
    ]  # fmt: skip

    # The period's rows per (month, person): whole months from the roll-up, partial ones
    # grouped from the donations. Month numbers are those of ``rollups.month_of``.
    per_month_person, pmp_params = period.union(
        f"SELECT month AS m, person_id AS p, total_cents AS s, largest_cents AS mx, "
        f"gifts AS n, monthly_cents AS rs, monthly_gifts AS rn FROM {person_t} WHERE {{where}}",
        person_t,
        "SELECT {month} AS m, d.person_id AS p, SUM(d.amount_cents) AS s, "
        "MAX(d.amount_cents) AS mx, COUNT(*) AS n, "
        "SUM(CASE WHEN d.recurring_id IS NULL THEN 0 ELSE d.amount_cents END) AS rs, "
        "COUNT(d.recurring_id) AS rn FROM {scan} WHERE {where} GROUP BY 1, 2",
    )

    # 2. Per person: total given and largest gift in the period, and the month of their
    # first gift ever (months before the period included, from the roll-up: when the period
    # starts inside a month, that whole month counts, gifts before the start included).
    per_donor = np.zeros((0, 3), dtype=np.int64)
    if count:
        before, before_params = "", []
        if period.first_month is not None:
            before = (
                f" UNION ALL SELECT person_id AS p, 0 AS s, 0 AS mx, NULL AS m, month AS f "
                f"FROM {person_t} WHERE month < %s"
            )
            aligned = rollups.month_start(period.first_month) == period.lo
            before_params = [period.first_month + (0 if aligned else 1)]
        rows = _fetch(
            f"SELECT SUM(s), MAX(mx), MIN(f) FROM ("
            f"SELECT p, s, mx, m, m AS f FROM ({per_month_person}) pm{before}"
            f") x GROUP BY p HAVING COUNT(m) > 0",
            pmp_params + before_params,
        )
        per_donor = np.array(rows, dtype=np.int64).reshape(-1, 3)
    totals, largest, first_ever = per_donor[:, 0], per_donor[:, 1], per_donor[:, 2]
    donors = len(totals)
    result["donors"] = donors
    result["median_donor_total"] = float(np.median(totals)) if donors else 0.0
    order = np.sort(totals)
    result["gini"] = gini(order)
    result["lorenz"] = _lorenz(order, total)

    shares = []
    for t in thresholds:
        small_amount = sum(a * c for a, c in zip(amounts, counts, strict=True) if a <= t)
        small = largest <= t
        shares.append(
            {
                "threshold_cents": t,
                "amount_small": small_amount,
                "share_amount": small_amount / total if total else 0.0,
                "donors_small": int(small.sum()),
                "share_donors": float(small.sum()) / donors if donors else 0.0,
                "amount_of_small_donors": int(totals[small].sum()),
            }
        )
    result["thresholds"] = shares
    result["threshold_cents"] = thresholds[0]
    result["share_amount_small"] = shares[0]["share_amount"]
    result["share_donors_small"] = shares[0]["share_donors"]

    # 3. Months: donors, new donors, monthly recurring revenue and its retention.
    result["months"], result["mrr"] = [], []
    if count:
        result["months"], result["mrr"] = _monthly(per_month_person, pmp_params, first_ever)

    # 4. By department and by source.
    sql, params = period.union(
        f"SELECT department AS dep, source AS src, total_cents AS s, gifts AS n "
        f"FROM {place_t} WHERE {{where}}",
        place_t,
        "SELECT d.department AS dep, d.source AS src, SUM(d.amount_cents) AS s, "
        "COUNT(*) AS n FROM {scan} WHERE {where} GROUP BY d.department, d.source",
    )
    rows = _fetch(
        f"SELECT dep, src, SUM(s), SUM(n) FROM ({sql}) x GROUP BY dep, src",
        params,
    )
    for key, column, index in (("departments", "department", 0), ("sources", "source", 1)):
        sums: dict = {}
        for row in rows:
            value = row[index] or ""
            s, c = sums.get(value, (0, 0))
            sums[value] = (s + int(row[2]), c + int(row[3]))
        result[key] = [
            {column: v, "total": s, "count": c}
            for v, (s, c) in sorted(sums.items(), key=lambda item: (-item[1][0], item[0]))
        ]
    return result


def _monthly(per_month_person: str, params: list, first_ever: np.ndarray):
    """The months chart and the monthly recurring revenue, from the period's rows per
    (month, person) and the month of each donor's first gift ever."""
    rows = _fetch(
        f"SELECT m, COUNT(*), SUM(s), SUM(n), SUM(rs), "
        f"SUM(CASE WHEN rn > 0 THEN 1 ELSE 0 END) FROM ({per_month_person}) pm GROUP BY m",
        params,
    )
    first, last = min(int(r[0]) for r in rows), max(int(r[0]) for r in rows)
    n = last - first + 1
    active, totals, counts, mrr, payers = ([0] * n for _ in range(5))
    for m, k, s, c, rs, rk in rows:
        i = int(m) - first
        active[i], totals[i], counts[i], mrr[i], payers[i] = (
            int(k),
            int(s),
            int(c),
            int(rs),
            int(rk),
        )
    new_at = first_ever[first_ever >= first] - first
    new = np.bincount(new_at, minlength=n).tolist() if len(new_at) else [0] * n
    labels = [rollups.month_label(first + i) for i in range(n)]
    months = [
        {"month": labels[i], "donors": active[i], "new": new[i], "returning": active[i] - new[i],
         "total": totals[i], "count": counts[i]}
        for i in range(n)
    ]  # fmt: skip

    # Retention: the share of last month's paying monthly donors (persons) who pay again.
    rows = _fetch(
        f"WITH r AS (SELECT m, p FROM ({per_month_person}) pm WHERE rn > 0) "
        f"SELECT a.m, COUNT(*) FROM r a JOIN r b ON b.p = a.p AND b.m = a.m + 1 GROUP BY a.m",
        params,
    )
    kept = [0] * n
    for m, c in rows:
        kept[int(m) - first + 1] = int(c)
    mrr_rows = [
        {"month": labels[i], "mrr": mrr[i], "payers": payers[i], "kept": kept[i],
         "retention": (kept[i] / payers[i - 1]) if i and payers[i - 1] else None}
        for i in range(n)
    ]  # fmt: skip
    return months, mrr_rows


# -- the numbers behind each chart, as rows for CSV ----------------------------------------------

CHARTS = ("lorenz", "histogram", "months", "mrr", "thresholds", "departments", "sources")


def chart_rows(data: dict, chart: str) -> tuple[list[str], list[list]]:
    """The header and rows of one chart's numbers (``CHARTS``)."""
    if chart == "lorenz":
        return ["share_of_donors", "share_of_amount"], [
            [p["donors"], p["amount"]] for p in data["lorenz"]
        ]
    if chart == "histogram":
        return ["from_cents", "to_cents", "count", "amount_cents"], [
            [b["from_cents"], b["to_cents"], b["count"], b["amount"]] for b in data["histogram"]
        ]
    if chart == "months":
        return ["month", "donors", "new", "returning", "count", "total_cents"], [
            [m["month"], m["donors"], m["new"], m["returning"], m["count"], m["total"]]
            for m in data["months"]
        ]
    if chart == "mrr":
        return ["month", "mrr_cents", "payers", "kept", "retention"], [
            [m["month"], m["mrr"], m["payers"], m["kept"], "" if m["retention"] is None
             else m["retention"]]
            for m in data["mrr"]
        ]  # fmt: skip
    if chart == "thresholds":
        return ["threshold_cents", "share_amount", "share_donors", "amount_small_cents",
                "donors_small"], [
            [t["threshold_cents"], t["share_amount"], t["share_donors"], t["amount_small"],
             t["donors_small"]]
            for t in data["thresholds"]
        ]  # fmt: skip
    if chart in ("departments", "sources"):
        column = "department" if chart == "departments" else "source"
        return [column, "total_cents", "count"], [
            [r[column], r["total"], r["count"]] for r in data[chart]
        ]
    raise KeyError(chart)
