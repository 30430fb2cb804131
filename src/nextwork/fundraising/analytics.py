"""Long-tail analytics of donations (reads only; see docs/fundraising-analytics.md).

Promises:
- only ``succeeded`` donations count (a refunded one has left that status, so it never counts);
- the period is given in dates of the site's time zone, both ends included; months are
  calendar months of that time zone;
- totals are exact integers of cents; the database does what it does cheaply (aggregates,
  GROUP BY), numpy works on the per-donor totals, fetched as two integer columns;
- a donor is a person: donations are grouped by ``Donor.key`` (the SHA-256 of the email), not
  by ``Donor`` row.
"""

from __future__ import annotations

import datetime
from bisect import bisect_right

import numpy as np
from django.db import connection
from django.utils import timezone

from nextwork.fundraising.models import Donation, DonationStatus, Donor

DEFAULT_THRESHOLDS = (2000, 5000, 10000)  # €20, €50, €100
LORENZ_POINTS = 101


def _month_starts(first: datetime.datetime, last: datetime.datetime) -> list[datetime.datetime]:
    """Aware datetimes at the start of each local calendar month from ``first`` to ``last``."""
    tz = timezone.get_current_timezone()
    first, last = timezone.localtime(first, tz), timezone.localtime(last, tz)
    year, month = first.year, first.month
    starts = []
    while (year, month) <= (last.year, last.month):
        starts.append(datetime.datetime(year, month, 1, tzinfo=tz))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return starts


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, tzinfo=timezone.get_current_timezone())


def _db_datetime(value: datetime.datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _month_case(column: str, starts: list[datetime.datetime]) -> tuple[str, list]:
    """A SQL expression giving the month index (0 for ``starts[0]``) of ``column``: a balanced
    tree of CASE on the month boundaries, about log2(months) comparisons a row, the same on
    PostgreSQL and SQLite (whose datetimes are UTC text, compared as such)."""
    params: list = []

    def build(lo: int, hi: int) -> str:
        if hi - lo == 1:
            return str(lo)
        mid = (lo + hi) // 2
        params.append(_db_datetime(starts[mid]))
        left = build(lo, mid)
        right = build(mid, hi)
        return f"(CASE WHEN {column} < %s THEN {left} ELSE {right} END)"

    return build(0, len(starts)), params


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


def summary(
    *,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    thresholds=DEFAULT_THRESHOLDS,
    beneficiary=None,
) -> dict:
    """Every figure of the analytics over the succeeded donations from ``start`` to ``end``
    (dates, both included; None: no bound), optionally of one beneficiary (object or id).

    Five scans of the donations: amounts, persons, months, monthly donors, department and
    source (docs/fundraising-analytics.md says what each figure means)."""
    thresholds = [int(t) for t in thresholds] or list(DEFAULT_THRESHOLDS)
    d = Donation._meta.db_table
    donor = Donor._meta.db_table
    # SQLite would follow the (status, succeeded_at) index and fetch each row from it: four
    # times slower than reading the table when most donations succeeded.
    scan = f"{d} d NOT INDEXED" if connection.vendor == "sqlite" else f"{d} d"
    # The scope (status, beneficiary, end) and the period (the scope from its start).
    scope = ["d.status = %s", "d.succeeded_at IS NOT NULL"]
    scope_params: list = [DonationStatus.SUCCEEDED.value]
    if end is not None:
        scope.append("d.succeeded_at < %s")
        scope_params.append(_db_datetime(_local_midnight(end + datetime.timedelta(days=1))))
    if beneficiary is not None:
        scope.append("d.beneficiary_id = %s")
        scope_params.append(getattr(beneficiary, "pk", beneficiary))
    cond, params = " AND ".join(scope), list(scope_params)
    in_period, period_params = "1 = 1", []
    if start is not None:
        in_period, period_params = "d.succeeded_at >= %s", [_db_datetime(_local_midnight(start))]
        cond, params = f"{cond} AND {in_period}", params + period_params

    # 1. The distribution of amounts: exact total, count, median, mean, histogram, shares.
    rows = _fetch(
        f"SELECT d.amount_cents, COUNT(*) FROM {scan} WHERE {cond} "  # noqa: S608
        f"GROUP BY d.amount_cents ORDER BY d.amount_cents",
        params,
    )
    amounts = [int(a) for a, _ in rows]
    counts = [int(c) for _, c in rows]
    count = sum(counts)
    total = sum(a * c for a, c in rows)
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

    starts: list[datetime.datetime] = []
    if count:
        bounds = _fetch(
            f"SELECT MIN(d.succeeded_at), MAX(d.succeeded_at) FROM {d} d WHERE {cond}",  # noqa: S608
            params,
        )
        first, last = (_as_datetime(v) for v in bounds[0])
        starts = _month_starts(first, last)

    # 2. Per person: total given and largest gift in the period, and the month of the first
    # succeeded gift ever (-1: before the period), three integer columns into numpy.
    per_donor = np.zeros((0, 3), dtype=np.int64)
    if count:
        # Grouped by donor row first (integers), then by person: twice as fast as grouping
        # the donations by the 64-character key directly.
        tree, tree_params = _month_case("MIN(f)", starts)
        rows = _fetch(
            f"SELECT SUM(s), MAX(mx), CASE WHEN MIN(f) < %s THEN -1 ELSE {tree} END "  # noqa: S608
            f"FROM (SELECT d.donor_id AS donor_id, "
            f"SUM(CASE WHEN {in_period} THEN d.amount_cents END) AS s, "
            f"MAX(CASE WHEN {in_period} THEN d.amount_cents END) AS mx, "
            f"COUNT(CASE WHEN {in_period} THEN 1 END) AS n, MIN(d.succeeded_at) AS f "
            f"FROM {scan} WHERE {' AND '.join(scope)} GROUP BY d.donor_id) x "
            f"JOIN {donor} p ON p.id = x.donor_id GROUP BY p.key HAVING SUM(n) > 0",
            [_db_datetime(starts[0])] + tree_params + period_params * 3 + scope_params,
        )
        per_donor = np.array(rows, dtype=np.int64).reshape(-1, 3)
    totals, largest, first_month = per_donor[:, 0], per_donor[:, 1], per_donor[:, 2]
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
        new = np.bincount(first_month[first_month >= 0], minlength=len(starts)).tolist()
        result["months"], result["mrr"] = _monthly(starts, new, scan, cond, params)

    # 4. By department and by source, in one GROUP BY.
    rows = _fetch(
        f"SELECT d.department, d.source, SUM(d.amount_cents), COUNT(*) FROM {scan} "  # noqa: S608
        f"WHERE {cond} GROUP BY d.department, d.source",
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


def _as_datetime(value) -> datetime.datetime:
    if isinstance(value, str):  # SQLite through a raw cursor: UTC text
        value = datetime.datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=datetime.UTC)
    return value


def _monthly(starts, new: list[int], scan: str, cond: str, params: list):
    donor = Donor._meta.db_table
    month, month_params = _month_case("d.succeeded_at", starts)
    labels = [s.strftime("%Y-%m") for s in starts]
    n = len(starts)

    # Distinct persons, total and count per month; the monthly donations' part of them.
    rows = _fetch(
        f"SELECT m, COUNT(DISTINCT k), SUM(a), COUNT(*), "  # noqa: S608
        f"SUM(CASE WHEN r IS NOT NULL THEN a ELSE 0 END), "
        f"COUNT(DISTINCT CASE WHEN r IS NOT NULL THEN k END) "
        f"FROM (SELECT {month} AS m, p.key AS k, d.amount_cents AS a, d.recurring_id AS r "
        f"FROM {scan} JOIN {donor} p ON p.id = d.donor_id WHERE {cond}) t GROUP BY m",
        month_params + params,
    )
    active, totals, counts, mrr, payers = ([0] * n for _ in range(5))
    for m, k, s, c, rs, rk in rows:
        m = int(m)
        active[m], totals[m], counts[m], mrr[m], payers[m] = (
            int(k),
            int(s),
            int(c),
            int(rs),
            int(rk),
        )
    months = [
        {"month": labels[i], "donors": active[i], "new": new[i], "returning": active[i] - new[i],
         "total": totals[i], "count": counts[i]}
        for i in range(n)
    ]  # fmt: skip

    # Retention: the share of last month's paying monthly donors (persons) who pay again.
    rows = _fetch(
        f"WITH rm AS (SELECT DISTINCT {month} AS m, p.key AS k FROM {scan} "  # noqa: S608
        f"JOIN {donor} p ON p.id = d.donor_id WHERE {cond} AND d.recurring_id IS NOT NULL) "
        f"SELECT a.m, COUNT(*) FROM rm a JOIN rm b ON b.k = a.k AND b.m = a.m + 1 GROUP BY a.m",
        month_params + params,
    )
    kept = [0] * n
    for m, c in rows:
        kept[int(m) + 1] = int(c)
    mrr_rows = [
        {"month": labels[i], "mrr": mrr[i], "payers": payers[i], "kept": kept[i],
         "retention": (kept[i] / payers[i - 1]) if i and payers[i - 1] else None}
        for i in range(n)
    ]  # fmt: skip
    return months, mrr_rows


def _next_month(start: datetime.datetime) -> datetime.datetime:
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return datetime.datetime(year, month, 1, tzinfo=start.tzinfo)


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
