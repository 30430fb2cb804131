"""Monthly roll-ups of succeeded donations, so the analytics read tens of thousands of rows
instead of scanning millions of donations (docs/fundraising-analytics.md, "How it is fast").

Three tables (``models.MonthAmount``, ``MonthPerson``, ``MonthPlace``), keyed by a calendar
month of the site's time zone written as one integer (``month_of``). Promises:

- a donation counts in them exactly while its status is ``succeeded``: ``add`` runs in the
  transaction that makes it succeed, ``remove`` in the one that refunds it (callers hold the
  donation's row lock, so each happens once);
- the writes are upserts of increments (``INSERT … ON CONFLICT … DO UPDATE``), safe under
  concurrency on PostgreSQL and SQLite, always in the same order of tables (amount, person,
  place) so that two transactions never wait for each other in a cycle; a refund recomputes
  the person's largest gift of the month from the donations, in a statement of its own,
  after its update has locked the row;
- ``rebuild`` recomputes the three tables from the donations and gives the same rows as the
  increments (a test checks it); ``nextwork manage fundraising_rollups`` runs it.
"""

from __future__ import annotations

# ruff: noqa: S608 -- the SQL here is built from model table names and fixed fragments only;
# every value goes as a parameter.
import datetime

from django.db import connection, transaction
from django.utils import timezone

from nextwork.fundraising.models import (
    Donation,
    DonationStatus,
    MonthAmount,
    MonthPerson,
    MonthPlace,
)

AMOUNT = MonthAmount._meta.db_table
PERSON = MonthPerson._meta.db_table
PLACE = MonthPlace._meta.db_table
DONATION = Donation._meta.db_table


def month_of(when: datetime.datetime) -> int:
    """The month of ``when`` in the site's time zone: year × 12 + month − 1."""
    local = timezone.localtime(when)
    return local.year * 12 + local.month - 1


def month_start(month: int) -> datetime.datetime:
    """The aware datetime at which ``month`` starts, in the site's time zone."""
    year, index = divmod(month, 12)
    return datetime.datetime(year, index + 1, 1, tzinfo=timezone.get_current_timezone())


def month_label(month: int) -> str:
    year, index = divmod(month, 12)
    return f"{year:04d}-{index + 1:02d}"


def db_datetime(value: datetime.datetime):
    return connection.ops.adapt_datetimefield_value(value)


def month_sql(column: str, first: int, last: int) -> tuple[str, list]:
    """A SQL expression giving the month number of ``column`` (a datetime between the starts
    of months ``first`` and ``last + 1``): a balanced tree of CASE on the month boundaries,
    about log2(months) comparisons a row, the same on PostgreSQL and SQLite."""
    params: list = []

    def build(lo: int, hi: int) -> str:  # months lo … hi - 1
        if hi - lo == 1:
            return str(lo)
        mid = (lo + hi) // 2
        params.append(db_datetime(month_start(mid)))
        left, right = build(lo, mid), build(mid, hi)
        return f"(CASE WHEN {column} < %s THEN {left} ELSE {right} END)"

    return build(first, last + 1), params


def _execute(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _recurring_part(donation: Donation) -> tuple[int, int]:
    return (donation.amount_cents, 1) if donation.recurring_id else (0, 0)


def add(donation: Donation) -> None:
    """Count a donation that has just succeeded."""
    month = month_of(donation.succeeded_at)
    cents = donation.amount_cents
    monthly_cents, monthly_gifts = _recurring_part(donation)
    _execute(
        f"INSERT INTO {AMOUNT} (month, amount_cents, gifts) VALUES (%s, %s, 1) "
        f"ON CONFLICT (month, amount_cents) DO UPDATE SET gifts = {AMOUNT}.gifts + 1",
        [month, cents],
    )
    _execute(
        f"INSERT INTO {PERSON} (month, person_id, total_cents, largest_cents, gifts, "
        f"monthly_cents, monthly_gifts) VALUES (%s, %s, %s, %s, 1, %s, %s) "
        f"ON CONFLICT (month, person_id) DO UPDATE SET "
        f"total_cents = {PERSON}.total_cents + excluded.total_cents, "
        f"largest_cents = CASE WHEN excluded.largest_cents > {PERSON}.largest_cents "
        f"THEN excluded.largest_cents ELSE {PERSON}.largest_cents END, "
        f"gifts = {PERSON}.gifts + 1, "
        f"monthly_cents = {PERSON}.monthly_cents + excluded.monthly_cents, "
        f"monthly_gifts = {PERSON}.monthly_gifts + excluded.monthly_gifts",
        [month, donation.person_id, cents, cents, monthly_cents, monthly_gifts],
    )
    _execute(
        f"INSERT INTO {PLACE} (month, department, source, total_cents, gifts) "
        f"VALUES (%s, %s, %s, %s, 1) ON CONFLICT (month, department, source) DO UPDATE SET "
        f"total_cents = {PLACE}.total_cents + excluded.total_cents, gifts = {PLACE}.gifts + 1",
        [month, donation.department, donation.source, cents],
    )


def remove(donation: Donation) -> None:
    """Stop counting a donation that had succeeded (a refund). The rows are locked in the
    order ``add`` locks them (amount, person, place), or a refund and a gift of the same
    person at the same moment deadlock on PostgreSQL."""
    month = month_of(donation.succeeded_at)
    cents = donation.amount_cents
    monthly_cents, monthly_gifts = _recurring_part(donation)
    MonthAmount.objects.filter(month=month, amount_cents=cents).update(gifts=_minus("gifts", 1))
    MonthAmount.objects.filter(month=month, amount_cents=cents, gifts__lte=0).delete()
    person = MonthPerson.objects.filter(month=month, person_id=donation.person_id)
    person.update(  # takes the row's lock: a concurrent gift of the person waits for us
        total_cents=_minus("total_cents", cents),
        gifts=_minus("gifts", 1),
        monthly_cents=_minus("monthly_cents", monthly_cents),
        monthly_gifts=_minus("monthly_gifts", monthly_gifts),
    )
    # A new statement, so it sees every gift committed before the lock was ours.
    largest = (
        Donation.objects.filter(
            person_id=donation.person_id,
            status=DonationStatus.SUCCEEDED,
            succeeded_at__gte=month_start(month),
            succeeded_at__lt=month_start(month + 1),
        )
        .exclude(pk=donation.pk)
        .order_by("-amount_cents")
        .values_list("amount_cents", flat=True)
        .first()
    )
    person.update(largest_cents=largest or 0)
    person.filter(gifts__lte=0).delete()
    MonthPlace.objects.filter(
        month=month, department=donation.department, source=donation.source
    ).update(total_cents=_minus("total_cents", cents), gifts=_minus("gifts", 1))
    MonthPlace.objects.filter(
        month=month, department=donation.department, source=donation.source, gifts__lte=0
    ).delete()


def _minus(field: str, value: int):
    from django.db.models import F

    return F(field) - value


@transaction.atomic
def rebuild() -> dict:
    """Recompute the three roll-ups from the donations; returns the rows written per table."""
    for model in (MonthAmount, MonthPerson, MonthPlace):
        model.objects.all().delete()
    bounds = Donation.objects.filter(status=DonationStatus.SUCCEEDED).exclude(succeeded_at=None)
    first_last = bounds.order_by("succeeded_at").values_list("succeeded_at", flat=True)
    first = first_last.first()
    if first is None:
        return {"amounts": 0, "persons": 0, "places": 0}
    last = first_last.last()
    month, params = month_sql("d.succeeded_at", month_of(first), month_of(last))
    where = "d.status = %s AND d.succeeded_at IS NOT NULL"
    status = [DonationStatus.SUCCEEDED.value]
    _execute(
        f"INSERT INTO {AMOUNT} (month, amount_cents, gifts) "
        f"SELECT {month}, d.amount_cents, COUNT(*) FROM {DONATION} d WHERE {where} "
        f"GROUP BY 1, 2",
        params + status,
    )
    _execute(
        f"INSERT INTO {PERSON} (month, person_id, total_cents, largest_cents, gifts, "
        f"monthly_cents, monthly_gifts) "
        f"SELECT {month}, d.person_id, SUM(d.amount_cents), MAX(d.amount_cents), COUNT(*), "
        f"SUM(CASE WHEN d.recurring_id IS NULL THEN 0 ELSE d.amount_cents END), "
        f"COUNT(d.recurring_id) FROM {DONATION} d WHERE {where} GROUP BY 1, 2",
        params + status,
    )
    _execute(
        f"INSERT INTO {PLACE} (month, department, source, total_cents, gifts) "
        f"SELECT {month}, d.department, d.source, SUM(d.amount_cents), COUNT(*) "
        f"FROM {DONATION} d WHERE {where} GROUP BY 1, 2, 3",
        params + status,
    )
    return {
        "amounts": MonthAmount.objects.count(),
        "persons": MonthPerson.objects.count(),
        "places": MonthPlace.objects.count(),
    }


def snapshot() -> dict[str, list[tuple]]:
    """Every roll-up row, sorted: what ``rebuild`` must reproduce."""
    return {
        "amounts": sorted(MonthAmount.objects.values_list("month", "amount_cents", "gifts")),
        "persons": sorted(
            MonthPerson.objects.values_list(
                "month",
                "person_id",
                "total_cents",
                "largest_cents",
                "gifts",
                "monthly_cents",
                "monthly_gifts",
            )
        ),
        "places": sorted(
            MonthPlace.objects.values_list("month", "department", "source", "total_cents", "gifts")
        ),
    }
