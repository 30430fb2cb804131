"""The monthly roll-ups: kept by the services exactly as a rebuild computes them, and periods
that cut months read the same figures as an independent computation over every donation."""

from __future__ import annotations

import datetime
import io
import itertools
from collections import defaultdict
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from tests.fundraising.test_analytics import _gini, dataset  # noqa: F401 (a fixture)

PARIS = ZoneInfo("Europe/Paris")


def test_services_keep_the_rollups_as_a_rebuild_computes_them(beneficiaries, donor):
    from nextwork.fundraising import rollups, services

    def gift(email, cents, when, kind="association", source="", succeed=True):
        donation = services.donation_create(
            beneficiary_id=beneficiaries[kind].pk, donor=donor(email=email), amount_cents=cents,
            method="card", provider="test", source=source,
        )  # fmt: skip
        if succeed:
            services.donation_succeeded(donation_id=donation.pk, at=when)
        return donation

    jan = datetime.datetime(2025, 1, 10, 12, tzinfo=PARIS)
    # The last hour of January in Paris is already February in UTC… and the reverse.
    edge = datetime.datetime(2025, 1, 31, 23, 30, tzinfo=PARIS)
    feb = datetime.datetime(2025, 2, 3, 9, tzinfo=PARIS)
    a = [gift("a@example.org", c, jan, source="lettre") for c in (1000, 5000, 2000)]
    gift("a@example.org", 3000, edge)
    gift("A@example.org", 700, feb)  # the same person, another donor row
    b = gift("b@example.org", 5000, jan, kind="party")
    gift("b@example.org", 5000, feb, kind="campaign")
    pending = gift("c@example.org", 9000, jan, succeed=False)
    # Refunds: a person's largest gift of the month, the only gift of a person, and one
    # that never succeeded (counted nowhere before, nowhere after).
    services.donation_refunded(donation_id=a[1].pk)
    services.donation_refunded(donation_id=b.pk)
    services.donation_refunded(donation_id=pending.pk)

    kept = rollups.snapshot()
    persons = {row[:2]: row[2:] for row in kept["persons"]}
    january = rollups.month_of(jan)
    assert rollups.month_of(edge) == january and rollups.month_of(feb) == january + 1
    person_a = a[0].person_id
    # a in January: 1000 + 2000 + 3000 after the refund of 5000; the largest is 3000 again.
    assert persons[(january, person_a)] == (6000, 3000, 3, 0, 0)
    assert persons[(january + 1, person_a)] == (700, 700, 1, 0, 0)
    assert (january, b.person_id) not in persons
    assert kept["amounts"].count((january, 5000, 1)) == 0  # both 5000s of January refunded

    assert rollups.rebuild() == {
        "amounts": len(kept["amounts"]), "persons": len(kept["persons"]),
        "places": len(kept["places"]),
    }  # fmt: skip
    assert rollups.snapshot() == kept


def test_monthly_renewals_stay_on_one_donor_row_and_count_as_monthly(beneficiaries, donor):
    from nextwork.fundraising import recurring, rollups, services
    from nextwork.fundraising.models import Donation, Donor, MonthPerson

    first = services.donation_create(
        beneficiary_id=beneficiaries["association"].pk, donor=donor(), amount_cents=1500,
        method="card", provider="test",
    )  # fmt: skip
    plan = recurring.recurring_open(donation=first)
    recurring.recurring_started(donation=first, provider_ref="sub_1")
    for month in range(3):
        recurring.recurring_renewal(
            provider="test", recurring_ref="sub_1", ref=f"in_{month}", amount_cents=None
        )
    assert Donor.objects.count() == 1
    assert Donation.objects.filter(recurring=plan, status="succeeded").count() == 4
    first.refresh_from_db()
    row = MonthPerson.objects.get(month=rollups.month_of(first.succeeded_at))
    assert (row.total_cents, row.gifts) == (6000, 4)
    assert (row.monthly_cents, row.monthly_gifts) == (6000, 4)


def _independent(rows, first: datetime.date, last: datetime.date) -> dict:
    inside = [r for r in rows if first <= r["when"].astimezone(PARIS).date() <= last]
    cents = np.array([r["cents"] for r in inside], dtype=np.int64)
    per_key = defaultdict(int)
    by_month = defaultdict(set)
    paying = defaultdict(set)
    mrr = defaultdict(int)
    for r in inside:
        per_key[r["key"]] += r["cents"]
        month = r["when"].astimezone(PARIS).strftime("%Y-%m")
        by_month[month].add(r["key"])
        if r["recurring"]:
            paying[month].add(r["key"])
            mrr[month] += r["cents"]
    first_ever = {}  # month of each person's first gift ever, whatever the period
    for r in sorted(rows, key=lambda r: r["when"]):
        first_ever.setdefault(r["key"], r["when"].astimezone(PARIS).strftime("%Y-%m"))
    new = defaultdict(int)
    for key in per_key:
        new[first_ever[key]] += 1
    deps = defaultdict(int)
    for r in inside:
        deps[r["dep"]] += r["cents"]
    return {
        "cents": cents, "totals": np.array(list(per_key.values()), dtype=np.int64),
        "by_month": by_month, "new": new, "paying": paying, "mrr": mrr, "deps": deps,
    }  # fmt: skip


@pytest.mark.parametrize(
    "first, last",
    [
        (datetime.date(2025, 3, 15), datetime.date(2025, 6, 10)),  # two partial ends
        (datetime.date(2025, 5, 3), datetime.date(2025, 5, 20)),  # inside one month
        (datetime.date(2025, 4, 1), datetime.date(2025, 7, 9)),  # whole start, partial end
        (datetime.date(2025, 2, 1), datetime.date(2025, 2, 1)),  # the 1st, monthly day
        (datetime.date(2025, 3, 20), datetime.date(2025, 4, 12)),  # two partial months only
    ],
)
def test_periods_cutting_months_match_an_independent_computation(dataset, first, last):  # noqa: F811
    from nextwork.fundraising import analytics

    truth = _independent(dataset["rows"], first, last)
    data = analytics.summary(start=first, end=last)
    cents = truth["cents"]
    assert data["count"] == len(cents) > 0
    assert data["total"] == int(cents.sum())
    assert data["median"] == float(np.median(cents))
    assert data["donors"] == len(truth["totals"])
    assert data["gini"] == pytest.approx(_gini(truth["totals"]), abs=1e-9)
    months = {m["month"]: m for m in data["months"]}
    assert sorted(months) == sorted(truth["by_month"])
    for month, keys in truth["by_month"].items():
        assert months[month]["donors"] == len(keys)
        assert months[month]["new"] == truth["new"][month]
    assert sum(m["new"] for m in data["months"]) == sum(
        n for month, n in truth["new"].items() if month >= first.strftime("%Y-%m")
    )
    mrr = {m["month"]: m for m in data["mrr"]}
    for month in sorted(truth["paying"]):
        assert mrr[month]["mrr"] == truth["mrr"][month]
        assert mrr[month]["payers"] == len(truth["paying"][month])
    ordered = sorted(truth["paying"])
    for previous, month in itertools.pairwise(ordered):
        assert mrr[month]["kept"] == len(truth["paying"][month] & truth["paying"][previous])
    assert {d["department"]: d["total"] for d in data["departments"]} == truth["deps"]


def test_the_command_checks_and_rebuilds(dataset):  # noqa: F811
    from django.core.management import call_command

    from nextwork.fundraising.models import MonthPerson

    out = io.StringIO()
    call_command("fundraising_rollups", "--check", stdout=out)
    assert "match" in out.getvalue()
    row = MonthPerson.objects.order_by("pk").first()
    MonthPerson.objects.filter(pk=row.pk).update(total_cents=row.total_cents + 1)
    with pytest.raises(SystemExit):
        call_command("fundraising_rollups", "--check", stdout=io.StringIO(), stderr=io.StringIO())
    assert MonthPerson.objects.get(pk=row.pk).total_cents == row.total_cents + 1  # unchanged
    call_command("fundraising_rollups", stdout=out)
    assert "Rebuilt" in out.getvalue()
    call_command("fundraising_rollups", "--check", stdout=out)
