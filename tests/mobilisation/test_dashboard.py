"""The mobilisation dashboard: numbers by constituency checked against hand-counted values, a
coordinator sees their territory only, others are refused, every view and export is audited,
and the figures come from a fixed number of queries whatever the number of members."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from nextwork.mobilisation import dashboard, services
from nextwork.mobilisation.models import RegistrationAnswer, Turnout
from nextwork.network.models import MemberLocation, Precision
from nextwork.privacy.models import AuditEvent


@pytest.fixture
def placed(area):
    def put(member, seat: str):
        MemberLocation.objects.create(
            member=member, constituency=area(seat), department=area(seat[:2], "department"),
            precision=Precision.POSTCODE,
        )  # fmt: skip
        return member

    return put


@pytest.fixture
def scene(election, first_round, voter, make_member, placed, people):
    """In 75-02: Rania (registered; reminded, said done; asked a proxy, accepted; reminded on
    polling day and voted), Hugo (registered; her holder; reminded on polling day), Lina
    (said nothing; reminded; asked a proxy, no holder yet). In 13-01: Marc (registered;
    reminded on polling day). Nobody else is placed (the cast of the permission tests has no
    location). A moved-away location of Marc's in 75-02 does not count."""
    now = timezone.now()
    rania = placed(voter("Rania", "75056"), "75-02")
    hugo = placed(voter("Hugo", "75056"), "75-02")
    lina = placed(make_member("Lina"), "75-02")
    services.situation_set(member=lina, consent=True, registered="no", commune_code="75056")
    marc = placed(voter("Marc", "13055"), "13-01")
    MemberLocation.objects.create(
        member=marc, constituency=rania.locations.get().constituency, precision="postcode",
        valid_to=now,
    )  # fmt: skip
    RegistrationAnswer.objects.create(election=election, member=rania, reminded_at=now,
                                      done_at=now)  # fmt: skip
    RegistrationAnswer.objects.create(election=election, member=lina, reminded_at=now)
    request = services.request_create(member=rania, round_id=first_round.pk)
    offer = services.offer_create(member=hugo, round_id=first_round.pk, commune_codes=["75056"])
    match = services.match_propose(request_id=request.pk, offer_id=offer.pk, by=people["coord75"])
    services.match_accept(match_id=match.pk, member=rania)
    services.match_accept(match_id=match.pk, member=hugo)
    services.request_create(member=lina, round_id=first_round.pk)
    Turnout.objects.create(round=first_round, member=rania, reminded_at=now, voted_at=now,
                           channel="email")  # fmt: skip
    Turnout.objects.create(round=first_round, member=hugo, reminded_at=now, channel="sms")
    Turnout.objects.create(round=first_round, member=marc, reminded_at=now, channel="email")
    return {"rania": rania, "hugo": hugo, "lina": lina, "marc": marc}


PARIS = {
    "code": "75-02", "members": 3, "registered": 2, "reg_reminded": 2, "reg_done": 1,
    "requests": 2, "matched": 1, "accepted": 1, "poll_reminded": 2, "voted": 1,
}  # fmt: skip
MARSEILLE = {
    "code": "13-01", "members": 1, "registered": 1, "reg_reminded": 0, "reg_done": 0,
    "requests": 0, "matched": 0, "accepted": 0, "poll_reminded": 1, "voted": 0,
}  # fmt: skip


def _figures(table):
    return [{k: row[k] for k in PARIS} for row in table.rows]


def test_the_numbers_are_the_hand_counted_ones_within_each_territory(scene, first_round, people):
    staff = dashboard.round_table(caller=people["staff"], round_=first_round)
    assert _figures(staff) == [MARSEILLE, PARIS]
    assert staff.totals["members"] == 4 and staff.totals["poll_reminded"] == 3
    # The coordinator of 75 sees Paris only; the coordinator of 13, Marseille only.
    assert _figures(dashboard.round_table(caller=people["coord75"], round_=first_round)) == [PARIS]
    ours = dashboard.round_table(caller=people["coord13"], round_=first_round)
    assert _figures(ours) == [MARSEILLE]
    assert ours.totals == {k: v for k, v in MARSEILLE.items() if k != "code"}
    # The second round: nothing asked or reminded yet, the registration columns are the same.
    second = first_round.election.rounds.get(number=2)
    paris = dashboard.round_table(caller=people["coord75"], round_=second).rows[0]
    assert (paris["registered"], paris["reg_done"], paris["requests"], paris["voted"]) == (
        2, 1, 0, 0,
    )  # fmt: skip


def test_a_by_election_counts_only_the_members_it_concerns(scene, people):
    partial = services.election_create(
        by=people["staff"], kind="legislative_partielle", name="Partielle 13-01",
        slug="partielle-13-01", registration_deadline=timezone.localdate(),
        rounds=[services.RoundIn(1, timezone.localdate() + datetime.timedelta(days=30))],
        area_codes=["13-01"], published=True,
    )  # fmt: skip
    table = dashboard.round_table(caller=people["staff"], round_=partial.rounds.get())
    assert [(r["code"], r["members"]) for r in table.rows] == [("13-01", 1)]


def test_the_figures_take_the_same_queries_for_few_or_many_members(
    scene, first_round, people, make_member, placed
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            dashboard.round_table(caller=people["coord75"], round_=first_round)
        return len(captured)

    few = queries()
    for i in range(15):
        placed(make_member(f"Extra{i}"), "75-02" if i % 2 else "75-03")
    assert queries() == few


def test_the_page_and_its_csv_for_coordinators_only_scoped_and_audited(
    scene, first_round, people, client
):
    url = "/espace/mobilisation/"
    assert client.get(url).status_code == 302  # logged out: to the login page
    for who in ("member", "camille"):  # a member, a relay: refused
        client.force_login(people[who])
        assert client.get(url).status_code == 403
        assert client.get(f"/espace/mobilisation/tour-{first_round.pk}.csv").status_code == 403

    client.force_login(people["coord13"])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "13-01" in html and "75-02" not in html
    assert first_round.election.name in html
    export = client.get(f"/espace/mobilisation/tour-{first_round.pk}.csv")
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0][0] == "Circonscription" and len(rows[0]) == 2 + len(dashboard.COLUMNS)
    assert [r[0] for r in rows[1:]] == ["13-01", "Total"]
    assert rows[1][2:] == ["1", "1", "0", "0", "0", "0", "0", "1", "0"]
    assert not any("75-02" in cell for row in rows for cell in row)
    actions = sorted(
        AuditEvent.objects.filter(actor=people["coord13"]).values_list("action", flat=True)
    )
    assert actions == ["mobilisation.dashboard_export", "mobilisation.dashboard_view"]
    # No name, email or phone on the page or in the export.
    for member in scene.values():
        assert member.email not in html and member.last_name not in html
        assert member.last_name not in export.content.decode()

    client.force_login(people["staff"])
    html = client.get(url).content.decode()
    assert "13-01" in html and "75-02" in html
    assert client.get("/espace/mobilisation/tour-999999.csv").status_code == 404


def test_a_large_territory_is_shown_by_department_first(
    scene, first_round, people, client, monkeypatch
):
    monkeypatch.setattr(dashboard, "SEATS_SHOWN", 1)  # two seats are "many" here
    summed = dashboard.by_department(dashboard.round_table(caller=people["staff"],
                                                           round_=first_round))  # fmt: skip
    assert [(r["code"], r["members"], r["requests"]) for r in summed.rows] == [
        ("13", 1, 0), ("75", 3, 2),
    ]  # fmt: skip
    client.force_login(people["staff"])
    html = client.get("/espace/mobilisation/").content.decode()
    assert 'href="?departement=75"' in html and "75-02" not in html
    seats = client.get("/espace/mobilisation/?departement=75").content.decode()
    assert "75-02" in seats and "13-01" not in seats
    # Within the caller's territory only: the coordinator of 13 opening 75 sees nothing of it.
    client.force_login(people["coord13"])
    assert "75-02" not in client.get("/espace/mobilisation/?departement=75").content.decode()
    refused = client.get("/espace/mobilisation/?departement=<b>")
    assert refused.status_code == 400 and "pas un code de département" in refused.content.decode()
    # Corsica sits between 19 and 21, overseas after 95.
    codes = ["971", "2B", "21", "19", "2A", "95"]
    assert sorted(codes, key=dashboard._department_order) == ["19", "2A", "2B", "21", "95", "971"]
