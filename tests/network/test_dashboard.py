"""Recruitment gaps, the dashboard and the gap export: coordinators and staff, within grants."""

import pytest

from nextwork.network.models import MemberLocation
from nextwork.network.selectors import recruitment_gaps
from nextwork.privacy.models import AuditEvent


@pytest.fixture
def residents(make_member, area):
    """Confirmed members: three in 75-05, one in 75-06, two in 13-04 (none of them relays)."""
    for seat, n in (("75-05", 3), ("75-06", 1), ("13-04", 2)):
        for _ in range(n):
            MemberLocation.objects.create(
                member=make_member(), constituency=area(seat), precision="postcode"
            )


def test_gaps_rank_uncovered_seats_by_members_within_the_territory(people, residents):
    gaps = recruitment_gaps(caller=people["coord75"])
    assert [g["code"] for g in gaps[:2]] == ["75-05", "75-06"]
    assert all(g["code"].startswith("75-") for g in gaps)
    assert "75-02" not in {g["code"] for g in gaps}  # Camille covers it
    assert {g["code"] for g in recruitment_gaps(caller=people["staff"], limit=3)} >= {"75-05"}
    assert recruitment_gaps(caller=people["camille"]) == []


@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 401), ("member", 403), ("camille", 403), ("coord75", 200), ("staff", 200)],
)
def test_gaps_api_is_for_coordinators_and_staff(client, people, residents, who, status):
    if who:
        client.force_login(people[who])
    response = client.get("/api/v1/coverage/gaps")
    assert response.status_code == status
    if status == 200:
        assert response.json()[0]["code"] in ("75-05", "13-04")


@pytest.mark.parametrize(
    ("who", "status"), [("member", 403), ("camille", 403), ("coord13", 200), ("staff", 200)]
)
def test_dashboard_access(client, people, residents, who, status):
    client.force_login(people[who])
    assert client.get("/espace/tableau/").status_code == status


def csv_lines(response) -> list[str]:
    """The lines of a streamed CSV answer."""
    return b"".join(response.streaming_content).decode().strip().splitlines()


def test_gap_export_is_scoped_and_audited(client, people, residents):
    client.force_login(people["coord75"])
    response = client.get("/espace/tableau/lacunes/75-05.csv")
    assert response.status_code == 200
    assert len(csv_lines(response)) == 1 + 3
    event = AuditEvent.objects.get(action="members.export")
    assert event.actor == people["coord75"] and event.details["count"] == 3
    outside = client.get("/espace/tableau/lacunes/13-04.csv")
    assert outside.status_code == 200
    assert len(csv_lines(outside)) == 1  # nobody outside 75
