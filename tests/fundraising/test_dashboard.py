"""The staff dashboard of donation analytics: figures checked against values computed here from
the gifts made, the map, the CSV links, the errors in French, permissions and the audit log."""

from __future__ import annotations

import csv
import datetime
import io
import re
import statistics
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

URL = "/espace/dons/analyse/"

# (email, postcode, cents): four persons in three departments (75, 48, 13).
GIFTS = [
    ("ana@example.org", "75011", 1000),
    ("ben@example.org", "48000", 2500),
    ("ana@example.org", "75011", 5000),
    ("chloe@example.org", "13001", 20000),
    ("dan@example.org", "48000", 15000),
]


@pytest.fixture
def gifts(give):
    for email, postcode, cents in GIFTS:
        give(kind="association", cents=cents, email=email, postcode=postcode)
    # Neither a failed gift nor another period's counts.
    give(kind="association", cents=99_900, email="eve@example.org", succeed=False)
    return GIFTS


def _figures(html: str) -> dict[str, str]:
    """The key figures, label → value as shown."""
    found = re.findall(r"<li><strong>([^<]*)</strong>\s*([^<]+)</li>", html)
    return {unescape(label).strip(): unescape(value) for value, label in found}


def _number(shown: str) -> float:
    return float(re.sub(r"[^\d,]", "", shown).replace(",", "."))


def _gini(totals: list[int]) -> float:
    # Mean absolute difference over twice the mean (not the formula the code uses).
    n, mean = len(totals), sum(totals) / len(totals)
    return sum(abs(a - b) for a in totals for b in totals) / (2 * n * n * mean)


def test_staff_sees_the_figures_of_the_gifts(gifts, people, client):
    client.force_login(people["staff"])
    response = client.get(URL, {"threshold": "50"})
    assert response.status_code == 200
    shown = _figures(response.content.decode())

    cents = [c for _e, _p, c in gifts]
    per_person: dict[str, list[int]] = {}
    for email, _p, c in gifts:
        per_person.setdefault(email, []).append(c)
    totals = [sum(v) for v in per_person.values()]
    assert _number(shown["montant total"]) == sum(cents) / 100 == 435.0
    assert _number(shown["dons"]) == len(cents) == 5
    assert _number(shown["donateurs"]) == len(per_person) == 4
    assert _number(shown["don médian"]) == statistics.median(cents) / 100
    assert _number(shown["don moyen"]) == statistics.mean(cents) / 100
    assert _number(shown["coefficient de Gini"]) == pytest.approx(_gini(totals), abs=5e-4)
    small_amount = sum(c for c in cents if c <= 5000) / sum(cents)
    small_donors = sum(max(v) <= 5000 for v in per_person.values()) / len(per_person)
    assert _number(shown["du montant en dons de 50 € ou moins"]) == round(100 * small_amount)
    assert _number(shown["des donateurs n'ont jamais donné plus de 50 €"]) == round(
        100 * small_donors
    )


def _seat_classes(html: str) -> dict[str, str]:
    pattern = r'<path class="seat ([^"]*)" d="[^"]*" data-code="([^"]+)"'
    return {code: css for css, code in re.findall(pattern, html)}


def test_the_map_colours_the_departments_that_gave(gifts, people, client):
    client.force_login(people["staff"])
    html = client.get(URL).content.decode()
    seats = _seat_classes(html)
    assert len(seats) >= 570
    # Totals: 75 → 60 €, 48 → 175 €, 13 → 200 €: three classes, lightest to darkest.
    assert seats["75-01"] == seats["75-18"] == "gift-q1"
    assert seats["48-01"] == "gift-q2"
    assert {seats[c] for c in seats if c.startswith("13-")} == {"gift-q3"}
    assert seats["69-01"] == seats["2A-01"] == ""
    assert "gift-q4" not in seats.values()
    assert "Montant des dons par département" in html
    assert re.search(r"<title>[^<]*\(48\) : 175 €, 2 dons</title>", html)


def test_csv_links_carry_the_period_and_threshold(gifts, people, client):
    from nextwork.fundraising import analytics

    client.force_login(people["staff"])
    html = client.get(URL, {"from": "2020-01-01", "to": "2030-12-31", "threshold": "20"}).content
    links = re.findall(r'<a href="([^"]+)" download>Données \(CSV\)</a>', html.decode())
    assert len(links) == len(analytics.CHARTS)
    charts = set()
    for link in links:
        parts = urlsplit(unescape(link))
        name = re.fullmatch(r"/api/v1/donations/analytics/(\w+)\.csv", parts.path)[1]
        charts.add(name)
        assert parse_qs(parts.query) == {
            "from": ["2020-01-01"], "to": ["2030-12-31"], "threshold": ["20"]
        }  # fmt: skip
    assert charts == set(analytics.CHARTS)

    thresholds = next(unescape(link) for link in links if "/thresholds.csv" in link)
    response = client.get(thresholds)
    assert response.status_code == 200
    table = list(csv.reader(io.StringIO(response.content.decode())))
    first = dict(zip(table[0], table[1], strict=True))
    cents = [c for _e, _p, c in gifts]
    assert int(first["threshold_cents"]) == 2000
    assert int(first["amount_small_cents"]) == sum(c for c in cents if c <= 2000) == 1000
    assert float(first["share_amount"]) == pytest.approx(1000 / sum(cents))


def test_only_staff_and_every_view_audited(gifts, people, client):
    from nextwork.privacy.models import AuditEvent

    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/connexion")
    client.force_login(people["member"])
    assert client.get(URL).status_code == 403
    client.force_login(people["coord75"])
    assert client.get(URL).status_code == 403
    assert not AuditEvent.objects.filter(action="fundraising.analytics").exists()

    client.force_login(people["staff"])
    assert client.get(URL, {"from": "2025-01-01", "to": "2025-12-31"}).status_code == 200
    event = AuditEvent.objects.get(action="fundraising.analytics")
    assert event.actor == people["staff"]
    assert event.details == {
        "what": "dashboard", "from": "2025-01-01", "to": "2025-12-31", "threshold": 100
    }  # fmt: skip


def test_default_period_is_the_last_twelve_months(people, client, db):
    from nextwork.fundraising.dashboard import default_period

    assert default_period(datetime.date(2026, 11, 27)) == (
        datetime.date(2025, 12, 1), datetime.date(2026, 11, 27)
    )  # fmt: skip
    assert default_period(datetime.date(2026, 12, 31))[0] == datetime.date(2026, 1, 1)
    client.force_login(people["staff"])
    html = client.get(URL).content.decode()
    assert 'name="to" value="' + datetime.date.today().isoformat()[:7] in html
    assert "Aucune donnée" in html  # no gift: every chart says so, none fails


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"from": "2025-13-01"}, "from", "Indiquez la date de début au format AAAA-MM-JJ."),
        ({"to": "hier"}, "to", "Indiquez la date de fin au format AAAA-MM-JJ."),
        ({"from": "2025-06-01", "to": "2025-05-31"}, "to",
         "La date de fin est avant la date de début."),
        ({"to": "9999-12-31"}, "to", "Indiquez une date de fin entre 1900 et 2999."),
        ({"from": "0001-01-01"}, "from", "Indiquez une date de début entre 1900 et 2999."),
        ({"threshold": "douze"}, "threshold", "Indiquez le seuil en euros entiers"),
        ({"threshold": "0"}, "threshold", "Indiquez le seuil en euros entiers"),
        ({"threshold": "20.5"}, "threshold", "Indiquez le seuil en euros entiers"),
    ],
)  # fmt: skip
def test_bad_input_is_shown_next_to_its_field(people, client, db, query, field, message):
    from nextwork.privacy.models import AuditEvent

    client.force_login(people["staff"])
    response = client.get(URL, query)
    assert response.status_code == 400
    html = response.content.decode()
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert error and unescape(error[1]).startswith(message)
    assert f'id="{field}" name="{field}"' in html and f'aria-describedby="{field}-error"' in html
    assert html.count('class="field-error"') == 1
    assert "Données (CSV)" not in html
    assert not AuditEvent.objects.filter(action="fundraising.analytics").exists()


def test_api_refuses_dates_out_of_range(people, client, db):
    # The shared check: a date whose local midnight cannot be converted is a 400, not a 500.
    client.force_login(people["staff"])
    response = client.get("/api/v1/donations/analytics", {"to": "9999-12-31"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "to"


def test_staff_find_the_dashboard_in_their_space(people, client):
    client.force_login(people["staff"])
    assert URL in client.get("/espace/").content.decode()
    client.force_login(people["coord75"])
    assert URL not in client.get("/espace/").content.decode()
