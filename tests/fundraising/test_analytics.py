"""Analytics of donations checked against an independent computation (numpy on the generated
rows, not on the database), the charts as SVG, and the API's permissions."""

from __future__ import annotations

import csv
import datetime
import io
import xml.etree.ElementTree as ET
from collections import defaultdict
from zoneinfo import ZoneInfo

import numpy as np
import pytest

PARIS = ZoneInfo("Europe/Paris")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def dataset(db):
    """3,000 donations over 800 persons (a few with two donor rows, same key), a long tail of
    amounts, monthly donors, and refunded, failed and pending rows that must not count."""
    from nextwork.fundraising import rollups
    from nextwork.fundraising.models import Beneficiary, Donation, Donor, DonorPerson, Recurring

    rng = np.random.default_rng(7)
    beneficiary = Beneficiary.objects.create(
        kind="association", name="Association C", legal_name="Association C",
        address="1 rue de la République, 75011 Paris",
    )  # fmt: skip
    other = Beneficiary.objects.create(
        kind="association", name="Association D", legal_name="Association D", address="Lyon"
    )
    persons = DonorPerson.objects.bulk_create([DonorPerson(key=f"{i:064x}") for i in range(800)])
    donors = [
        Donor(
            key=f"{i:064x}",
            person=persons[i],
            first_name="Camille",
            last_name=f"D{i}",
            email=f"d{i}@example.org",
            address="3 place du Marché",
            postcode="48000",
            city="Mende",
        )
        for i in range(800)
    ]
    # 20 persons have a second donor row (a new address): the same key, the same person.
    donors += [
        Donor(key=f"{i:064x}", person=persons[i], first_name="Camille", last_name=f"D{i}",
              email=f"d{i}@example.org", address="5 rue Neuve", postcode="75011", city="Paris")
        for i in range(20)
    ]  # fmt: skip
    donors = Donor.objects.bulk_create(donors)
    recurring = Recurring.objects.bulk_create(
        [
            Recurring(donor=donors[i], beneficiary=beneficiary, amount_cents=1000, provider="test",
                      status="active")
            for i in range(60)
        ]
    )  # fmt: skip
    start = datetime.datetime(2025, 1, 1, tzinfo=PARIS)
    rows = []
    # Monthly donors pay on the 1st at 00:30 Paris time (still the previous month in UTC);
    # half of them stop after a few months.
    for j, r in enumerate(recurring):
        months = 12 if j % 2 else 3 + j % 5
        for m in range(months):
            when = datetime.datetime(2025, 1 + m, 1, 0, 30, tzinfo=PARIS)
            rows.append((r.donor, r, 1000, "succeeded", when))
    while len(rows) < 3000:
        who = donors[min(int(rng.pareto(1.2) * 40), len(donors) - 1)]
        cents = int(min(max(rng.lognormal(mean=8.0, sigma=1.1), 100), 750_000))
        if rng.random() < 0.3:
            cents = int(rng.choice([1000, 2000, 5000, 10000]))
        when = start + datetime.timedelta(seconds=int(rng.integers(0, 365 * 86400)))
        rows.append((who, None, cents, "succeeded", when))
    ignored = []
    for k, status in enumerate(["refunded"] * 15 + ["failed"] * 10 + ["pending"] * 10):
        ignored.append((donors[k], None, 99_900 + k, status, start + datetime.timedelta(days=k)))
    # Another beneficiary's gift: the analytics cover every beneficiary together.
    rows.append((donors[5], None, 4200, "succeeded", start, other))
    deps = ["75", "13", "48", "2A", ""]
    sources = ["newsletter", "twitter", ""]
    objs = []
    for n, (who, rec, cents, status, when, *to) in enumerate(rows + ignored):
        objs.append(
            Donation(
                donor=who, person_id=who.person_id, beneficiary=to[0] if to else beneficiary,
                amount_cents=cents, method="card", provider="test", status=status,
                recurring=rec, succeeded_at=when if status in ("succeeded", "refunded") else None,
                department=deps[n % 5], source=sources[n % 3],
            )
        )  # fmt: skip
    Donation.objects.bulk_create(objs, batch_size=500)
    # Loaded behind the services' back, as an import would: the roll-ups are rebuilt.
    rollups.rebuild()
    truth = [
        {"key": who.key, "cents": cents, "when": when, "recurring": rec is not None,
         "dep": deps[n % 5], "source": sources[n % 3]}
        for n, (who, rec, cents, status, when, *_) in enumerate(rows)
    ]  # fmt: skip
    return {"beneficiary": beneficiary, "other": other, "rows": truth}


def _gini(totals: np.ndarray) -> float:
    # Independent form: mean absolute difference over twice the mean.
    x = totals.astype(np.float64)
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean()))


def test_figures_match_an_independent_computation(dataset):
    from nextwork.fundraising import analytics

    rows = dataset["rows"]
    data = analytics.summary(start=None, end=None)
    cents = np.array([r["cents"] for r in rows], dtype=np.int64)
    per_key = defaultdict(list)
    for r in rows:
        per_key[r["key"]].append(r["cents"])
    totals = np.array([sum(v) for v in per_key.values()], dtype=np.int64)

    assert data["count"] == len(rows) == 3001
    assert data["total"] == sum(r["cents"] for r in rows)  # exact integers
    assert data["donors"] == len(per_key)
    assert data["median"] == float(np.median(cents))
    assert data["mean"] == pytest.approx(cents.mean(), rel=1e-12)
    assert data["median_donor_total"] == float(np.median(totals))
    assert data["gini"] == pytest.approx(_gini(totals), abs=1e-9)
    for entry in data["thresholds"]:
        t = entry["threshold_cents"]
        assert entry["amount_small"] == int(cents[cents <= t].sum())
        assert entry["share_amount"] == pytest.approx(
            cents[cents <= t].sum() / cents.sum(), abs=1e-12
        )
        small = [k for k, v in per_key.items() if max(v) <= t]
        assert entry["donors_small"] == len(small)
        assert entry["amount_of_small_donors"] == sum(sum(per_key[k]) for k in small)
    assert data["share_amount_small"] == data["thresholds"][0]["share_amount"]

    # Lorenz: 101 points from (0, 0) to (1, 1), each the share of the poorest donors.
    order = np.sort(totals)
    cum = np.concatenate(([0], np.cumsum(order)))
    assert len(data["lorenz"]) == 101
    for point in data["lorenz"]:
        k = round(point["donors"] * len(order))
        assert point["amount"] == pytest.approx(cum[k] / cum[-1], abs=1e-12)
    assert data["lorenz"][0]["amount"] == 0 and data["lorenz"][-1]["amount"] == 1

    # Histogram: edges 1, 2, 5, 10, 20, 50 € …, counts as numpy's own binning gives them.
    edges = [b["from_cents"] for b in data["histogram"]] + [data["histogram"][-1]["to_cents"]]
    assert edges[:7] == [100, 200, 500, 1000, 2000, 5000, 10000]
    expected, _ = np.histogram(cents, bins=np.array(edges) - 0.5)
    assert [b["count"] for b in data["histogram"]] == expected.tolist()
    assert sum(b["amount"] for b in data["histogram"]) == data["total"]

    # Months in Paris time: donors, new (first gift ever) and returning.
    by_month = defaultdict(set)
    first = {}
    for r in sorted(rows, key=lambda r: r["when"]):
        month = r["when"].astimezone(PARIS).strftime("%Y-%m")
        by_month[month].add(r["key"])
        first.setdefault(r["key"], month)
    months = {m["month"]: m for m in data["months"]}
    assert sorted(months) == sorted(by_month)
    for month, keys in by_month.items():
        new = sum(1 for k in keys if first[k] == month)
        assert (months[month]["donors"], months[month]["new"]) == (len(keys), new)
        assert months[month]["returning"] == len(keys) - new

    # Monthly recurring revenue and retention (persons paying again the next month).
    paying = defaultdict(set)
    revenue = defaultdict(int)
    for r in rows:
        if r["recurring"]:
            month = r["when"].astimezone(PARIS).strftime("%Y-%m")
            paying[month].add(r["key"])
            revenue[month] += r["cents"]
    mrr = {m["month"]: m for m in data["mrr"]}
    assert mrr["2025-01"]["mrr"] == revenue["2025-01"] == 60 * 1000
    assert mrr["2025-01"]["retention"] is None
    for month in sorted(paying)[1:]:
        previous = f"2025-{int(month[5:]) - 1:02d}"
        assert mrr[month]["mrr"] == revenue[month]
        assert mrr[month]["retention"] == pytest.approx(
            len(paying[month] & paying[previous]) / len(paying[previous])
        )
    assert mrr["2025-04"]["retention"] < 1  # some stop after three months

    deps = defaultdict(int)
    sources = defaultdict(int)
    for r in rows:
        deps[r["dep"]] += r["cents"]
        sources[r["source"]] += r["cents"]
    assert {d["department"]: d["total"] for d in data["departments"]} == deps
    assert {s["source"]: s["total"] for s in data["sources"]} == sources


def test_a_whole_month(dataset):
    from nextwork.fundraising import analytics

    rows = dataset["rows"]
    first, last = datetime.date(2025, 3, 1), datetime.date(2025, 3, 31)
    march = [r for r in rows if first <= r["when"].astimezone(PARIS).date() <= last]
    data = analytics.summary(start=datetime.date(2025, 3, 1), end=datetime.date(2025, 3, 31))
    assert data["total"] == sum(r["cents"] for r in march)
    assert data["count"] == len(march)
    assert [m["month"] for m in data["months"]] == ["2025-03"]
    # New in March: a first gift ever in March, gifts before the period included.
    first = {}
    for r in sorted(rows, key=lambda r: r["when"]):
        first.setdefault(r["key"], r["when"].astimezone(PARIS).strftime("%Y-%m"))
    keys = {r["key"] for r in march}
    assert data["donors"] == len(keys)
    assert data["months"][0]["new"] == sum(1 for k in keys if first[k] == "2025-03")
    assert data["months"][0]["returning"] > 0
    everything = analytics.summary()
    assert everything["total"] == sum(r["cents"] for r in rows)


def test_empty_period_gives_zeros(dataset):
    from nextwork.fundraising import analytics, charts

    data = analytics.summary(start=datetime.date(2030, 1, 1), end=datetime.date(2030, 12, 31))
    assert (data["total"], data["count"], data["donors"], data["median"], data["gini"]) == (
        0, 0, 0, 0.0, 0.0,
    )  # fmt: skip
    assert data["share_amount_small"] == data["share_donors_small"] == 0.0
    assert data["months"] == data["mrr"] == []
    for draw in (charts.lorenz_svg, charts.histogram_svg, charts.months_svg, charts.mrr_svg):
        ET.fromstring(draw(data))


def test_refunded_donation_leaves_the_figures(dataset):
    from nextwork.fundraising import analytics, services
    from nextwork.fundraising.models import Donation

    before = analytics.summary()
    gift = Donation.objects.filter(status="succeeded").order_by("-amount_cents").first()
    services.donation_refunded(donation_id=gift.pk)
    after = analytics.summary()
    assert after["total"] == before["total"] - gift.amount_cents
    assert after["count"] == before["count"] - 1


def test_charts_are_well_formed_and_labelled(dataset):
    from nextwork.fundraising import analytics, charts

    data = analytics.summary()
    for draw, words in (
        (charts.lorenz_svg, ["Lorenz", "Gini", "Égalité"]),
        (charts.histogram_svg, ["1.00 €–2.00 €", "Nombre de dons"]),
        (charts.months_svg, ["2025-01", "nouveaux", "anciens"]),
        (charts.mrr_svg, ["2025-12", "Rétention"]),
    ):
        svg = draw(data)
        root = ET.fromstring(svg)
        assert root.tag == f"{SVG}svg" and root.get("role") == "img"
        assert root.find(f"{SVG}title").text and root.find(f"{SVG}desc").text
        text = " ".join(root.itertext())
        for word in words:
            assert word in text, (draw.__name__, word)
    lorenz = ET.fromstring(charts.lorenz_svg(data))
    assert len(lorenz.findall(f"{SVG}polyline")) == 2  # the curve and the equality line


URL = "/api/v1/donations/analytics"


def test_api_for_staff_only_and_audited(dataset, people, client):
    from nextwork.privacy.models import AuditEvent

    assert client.get(URL).status_code == 401
    client.force_login(people["member"])
    assert client.get(URL).status_code == 403
    client.force_login(people["staff"])
    response = client.get(URL, {"from": "2025-01-01", "to": "2025-12-31", "threshold": 50})
    assert response.status_code == 200, response.content
    body = response.json()
    for key in ("total", "count", "donors", "median", "share_amount_small",
                "share_donors_small", "gini", "lorenz", "histogram"):  # fmt: skip
        assert key in body
    rows = dataset["rows"]
    cents = np.array([r["cents"] for r in rows])
    assert body["total"] == int(cents.sum())
    assert body["threshold_cents"] == 5000
    assert AuditEvent.objects.filter(action="fundraising.analytics").count() == 1

    response = client.get(f"{URL}/histogram.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(response.content.decode())))
    assert table[0] == ["from_cents", "to_cents", "count", "amount_cents"]
    assert sum(int(r[2]) for r in table[1:]) == body["count"]
    for chart in ("lorenz", "months", "mrr", "thresholds", "departments", "sources"):
        assert client.get(f"{URL}/{chart}.csv").status_code == 200
    assert client.get(f"{URL}/nope.csv").status_code == 404
    assert AuditEvent.objects.filter(action="fundraising.analytics").count() == 8


@pytest.mark.parametrize(
    "params, field",
    [({"from": "2025-13-01"}, "from"), ({"to": "yesterday"}, "to"),
     ({"from": "2025-05-01", "to": "2025-04-01"}, "to"), ({"threshold": 0}, "threshold"),
     ({"threshold": "x"}, "threshold")],
)  # fmt: skip
def test_api_bad_input_is_400_with_its_field(db, people, client, params, field):
    client.force_login(people["staff"])
    response = client.get(URL, params)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
