"""Coverage: the organisation's first question every morning."""

import datetime
import re

from nextwork.network import services
from nextwork.network.models import CoverageSnapshot, Grant, Role
from nextwork.network.selectors import coverage, seat_statuses
from nextwork.territories.models import AreaKind


def test_statuses_follow_grants_and_applications(people, area, make_member):
    Grant.objects.create(member=make_member(), role=Role.SUBSTITUTE, area=area("48-01"))
    services.relay_apply(member=make_member(), area=area("23-01"))
    statuses = seat_statuses()
    assert statuses["75-02"] == "covered"
    assert statuses["48-01"] == "substitute_only"
    assert statuses["23-01"] == "pending"
    assert statuses["13-04"] == "uncovered"
    assert len(statuses) == 577


def test_national_and_department_figures(people, area, make_member):
    Grant.objects.create(member=make_member(), role=Role.RELAY, area=area("99-07"))
    Grant.objects.create(
        member=make_member(), role=Role.SENATE_RELAY, area=area("75", AreaKind.DEPARTMENT)
    )
    figures = coverage()
    assert figures["total"] == 577
    assert figures["covered"] == 2
    assert (
        figures["covered"] + figures["substitute_only"] + figures["pending"] + figures["uncovered"]
        == 577
    )
    assert figures["ratio"] == round(2 / 577, 4)
    paris = next(d for d in figures["by_department"] if d["code"] == "75")
    assert paris["total"] == 18 and paris["covered"] == 1
    abroad = next(d for d in figures["by_department"] if d["code"] == "99")
    assert abroad["total"] == 11 and abroad["covered"] == 1
    assert figures["senate"]["departments_total"] == 101
    assert figures["senate"]["departments_covered"] == 1
    assert figures["senate"]["abroad_covered"] is False


def test_ended_grants_do_not_count(people):
    grant = Grant.objects.get(member=people["camille"])
    services.grant_end(grant=grant, ended_by=people["camille"])
    assert seat_statuses()["75-02"] == "uncovered"


def test_snapshot_is_one_row_per_day(people):
    day = datetime.date(2026, 12, 1)
    services.coverage_snapshot_take(day=day)
    services.coverage_snapshot_take(day=day)
    snapshot = CoverageSnapshot.objects.get(day=day)
    assert snapshot.covered == 1 and snapshot.total == 577


def test_coverage_api_is_public_and_aggregated(client, people):
    response = client.get("/api/v1/coverage")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 577 and body["covered"] == 1
    assert people["camille"].email not in response.content.decode()
    seat = client.get("/api/v1/constituencies/75-02").json()
    assert seat["coverage"] == "covered"


def test_public_map_colours_seats_by_status(client, people, area, make_member):
    services.relay_apply(member=make_member(), area=area("48-01"))
    html = client.get("/carte/").content.decode()
    statuses = {
        code: status
        for status, code in re.findall(r'class="seat (\w+)" d="[^"]*" data-code="([^"]+)"', html)
    }
    assert len(statuses) == 577
    assert statuses["75-02"] == "covered"
    assert statuses["48-01"] == "pending"
    assert statuses["13-04"] == "uncovered"
    assert "1 circonscription sur 577 a son relais" in html


def test_seat_page_shows_its_status_and_no_personal_data(client, people):
    html = client.get("/circonscriptions/75-02/").content.decode()
    assert "status-badge covered" in html
    assert people["camille"].last_name not in html  # Camille did not choose to be public


def test_a_relay_is_named_publicly_only_if_they_chose_to(client, people):
    camille = people["camille"]
    assert client.get("/api/v1/constituencies/75-02").json()["relay"] is None
    camille.public_relay = True
    camille.save(update_fields=["public_relay"])
    assert client.get("/api/v1/constituencies/75-02").json()["relay"] == {"name": camille.full_name}
    assert camille.full_name in client.get("/circonscriptions/75-02/").content.decode()


def test_coverage_command(people, capsys):
    from django.core.management import call_command

    call_command("coverage")
    assert "1/577 seats with a titular relay" in capsys.readouterr().out
    call_command("coverage", "snapshot")
    call_command("coverage", "snapshot")
    assert CoverageSnapshot.objects.count() == 1
