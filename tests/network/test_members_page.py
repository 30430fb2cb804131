"""The coordinators' members page and its CSV export: who sees it, what is in it, what is
written to the audit log."""

import html
import json

import pytest

from nextwork.network.models import Grant, MemberLocation, Role
from nextwork.privacy.models import AuditEvent

PAGE = "/espace/membres/"
EXPORT = "/espace/membres/export.csv"


@pytest.fixture
def residents(people, make_member, area):
    """Camille at home in 75-02; two confirmed members in 75-05, an unconfirmed one in 75-06,
    two confirmed in 13-04."""
    MemberLocation.objects.create(
        member=people["camille"], constituency=area("75-02"), precision="postcode"
    )
    placed = {"75-02": [people["camille"]]}
    for seat, confirmed in (
        ("75-05", True),
        ("75-05", True),
        ("75-06", False),
        ("13-04", True),
        ("13-04", True),
    ):
        person = make_member("Res", confirmed=confirmed)
        MemberLocation.objects.create(member=person, constituency=area(seat), precision="postcode")
        placed.setdefault(seat, []).append(person)
    return placed


def emails(residents, *seats):
    return {m.email for seat in seats for m in residents[seat]}


def shown(response) -> str:
    """The page's HTML with its entities read (&#x27; is an apostrophe)."""
    return html.unescape(response.content.decode())


def csv_lines(response) -> list[str]:
    return b"".join(response.streaming_content).decode().strip().splitlines()


def test_a_visitor_is_sent_to_the_login(client, people):
    for url in (PAGE, EXPORT):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/connexion/")


@pytest.mark.parametrize("who", ["member", "camille"])
def test_members_and_relays_are_refused(client, people, residents, who):
    client.force_login(people[who])
    assert client.get(PAGE).status_code == 403
    assert client.get(EXPORT).status_code == 403
    assert client.get(PAGE, {"zone": "75-02"}).status_code == 403
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("who", "inside", "outside"),
    [
        ("coord75", ("75-02", "75-05", "75-06"), ("13-04",)),
        ("coord13", ("13-04",), ("75-02", "75-05", "75-06")),
        ("staff", ("75-02", "75-05", "75-06", "13-04"), ()),
    ],
)
def test_each_coordinator_sees_their_territory_only(
    client, people, residents, who, inside, outside
):
    client.force_login(people[who])
    page = shown(client.get(PAGE))
    assert all(email in page for email in emails(residents, *inside))
    assert not any(email in page for email in emails(residents, *outside))


@pytest.mark.parametrize(
    ("who", "zone"),
    [("coord75", "13"), ("coord75", "13-04"), ("coord75", "R11"), ("coord13", "75")],
)
def test_a_zone_outside_the_grants_is_not_found_and_shows_nobody(
    client, people, residents, who, zone
):
    client.force_login(people[who])
    for url in (PAGE, EXPORT):
        response = client.get(url, {"zone": zone})
        assert response.status_code == 404
        body = shown(response)
        assert f"{zone} n'est pas dans le territoire que vous coordonnez" in body
        assert not any(email in body for email in emails(residents, "75-05", "13-04"))
    assert not AuditEvent.objects.exists()  # nothing was read


def test_an_unknown_zone_says_what_a_zone_looks_like(client, people):
    client.force_login(people["coord75"])
    response = client.get(PAGE, {"zone": "75-99"})
    assert response.status_code == 404
    assert "n'est ni une circonscription (75-02)" in shown(response)


def test_zone_and_confirmation_filters(client, people, residents, area):
    client.force_login(people["staff"])
    seat = shown(client.get(PAGE, {"zone": "75-05"}))
    assert all(e in seat for e in emails(residents, "75-05"))
    assert not any(e in seat for e in emails(residents, "75-06", "13-04"))
    department = shown(client.get(PAGE, {"zone": "75", "confirmed": "no"}))
    assert all(e in department for e in emails(residents, "75-06"))
    assert not any(e in department for e in emails(residents, "75-05"))
    region = shown(client.get(PAGE, {"zone": "r93", "confirmed": "yes"}))  # Provence-Alpes…
    assert all(e in region for e in emails(residents, "13-04"))
    assert not any(e in region for e in emails(residents, "75-05", "75-06"))


def test_a_region_coordinator_filters_its_departments(client, people, residents, make_member, area):
    from nextwork.territories.models import AreaKind

    coord = make_member("Yann")
    Grant.objects.create(member=coord, role=Role.COORDINATOR, area=area("11", AreaKind.REGION))
    client.force_login(coord)
    assert client.get(PAGE, {"zone": "R11"}).status_code == 200
    paris = shown(client.get(PAGE, {"zone": "75"}))
    assert all(e in paris for e in emails(residents, "75-05", "75-06"))
    assert client.get(PAGE, {"zone": "13"}).status_code == 404


def test_fifty_a_page(client, people, make_member, area):
    for _ in range(51):
        MemberLocation.objects.create(
            member=make_member("Page"), constituency=area("75-08"), precision="postcode"
        )
    client.force_login(people["coord75"])
    first = client.get(PAGE, {"zone": "75-08"})
    assert len(first.context["rows"]) == 50
    assert 'href="?zone=75-08&page=2"' in shown(first)
    second = client.get(PAGE, {"zone": "75-08", "page": "2"})
    assert len(second.context["rows"]) == 1
    assert client.get(PAGE, {"zone": "75-08", "page": "x"}).status_code == 200  # first page
    counts = [e.details["count"] for e in AuditEvent.objects.order_by("pk")]
    assert counts == [50, 1, 50]


def test_every_read_is_audited_with_counts_only(client, people, residents):
    client.force_login(people["coord75"])
    client.get(PAGE, {"zone": "75", "confirmed": "yes"})
    client.get(PAGE)
    first, second = AuditEvent.objects.filter(action="members.read").order_by("pk")
    assert first.actor == people["coord75"] and first.area_code == "75"
    assert first.details == {"count": 3, "total": 3, "page": 1, "confirmed": "yes"}
    assert second.area_code == "" and second.details["count"] == 4
    for event in (first, second):
        text = json.dumps(event.details)
        assert "@" not in text and "Res" not in text


def test_the_export_is_the_filtered_list_and_is_audited(client, people, residents):
    client.force_login(people["coord75"])
    page = shown(client.get(PAGE, {"zone": "75", "confirmed": "yes"}))
    assert f'href="{EXPORT}?zone=75&confirmed=yes"' in page
    response = client.get(EXPORT, {"zone": "75", "confirmed": "yes"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = csv_lines(response)
    assert lines[0] == "email,first_name,last_name,constituency,confirmed,roles"
    assert {line.split(",")[0] for line in lines[1:]} == emails(residents, "75-02", "75-05")
    assert all(line.split(",")[4] == "yes" for line in lines[1:])
    event = AuditEvent.objects.get(action="members.export")
    assert event.area_code == "75" and event.details["count"] == 3
    # Everyone of the territory, with their roles: Camille relays 75-02.
    lines = csv_lines(client.get(EXPORT))
    assert len(lines) == 1 + 4
    camille = next(line for line in lines if line.startswith(people["camille"].email))
    assert camille.endswith(",yes,relay:75-02")
    assert not any(line.startswith(tuple(emails(residents, "13-04"))) for line in lines)


def test_the_export_defuses_spreadsheet_formulas(client, people, area, make_member):
    member = make_member("Res")
    member.first_name = "=HYPERLINK(1)"
    member.save(update_fields=["first_name"])
    MemberLocation.objects.create(member=member, constituency=area("75-05"), precision="postcode")
    client.force_login(people["coord75"])
    line = next(line for line in csv_lines(client.get(EXPORT)) if line.startswith(member.email))
    assert ",'=HYPERLINK(1)," in line


def test_the_page_is_linked_for_coordinators_only(client, people):
    client.force_login(people["coord75"])
    assert f'href="{PAGE}"' in shown(client.get("/espace/"))
    assert f'href="{PAGE}"' in shown(client.get("/espace/tableau/"))
    client.force_login(people["member"])
    assert f'href="{PAGE}"' not in shown(client.get("/espace/"))


def test_columns_name_email_seat_confirmation_and_roles(client, people, residents):
    client.force_login(people["coord75"])
    page = shown(client.get(PAGE, {"zone": "75-02"}))
    camille = people["camille"]
    assert camille.full_name in page and camille.email in page
    assert '<span class="code">75-02</span>' in page
    assert "Relais titulaire" in page
    unconfirmed = shown(client.get(PAGE, {"zone": "75-06"}))
    assert '<span class="status-badge pending">non</span>' in unconfirmed
