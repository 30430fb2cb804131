"""Members whose postcode spans several seats: known by their department, asked for their seat."""

from __future__ import annotations

import pytest

from nextwork.network.imports import import_members
from nextwork.network.models import Grant, Member, MemberLocation, Role
from nextwork.network.reassign import reassign_to_active_set
from nextwork.territories.models import Area, AreaKind, BoundarySet

CSV = "email,prénom,nom,code postal\r\nnoe@example.org,Noé,Martin,31000\r\n".encode()


@pytest.fixture
def noe(registry):
    import_members(CSV)
    member = Member.objects.get(email="noe@example.org")
    member.is_active = True
    member.confirmed_at = member.created_at
    member.save()
    return member


def test_the_space_asks_for_the_seat_and_the_profile_offers_the_candidates(client, noe):
    client.force_login(noe)
    space = client.get("/espace/").content.decode()
    assert "Haute-Garonne" in space and "/espace/profil/" in space
    assert "Devenir relais" not in space  # one applies for a seat, which is not known yet
    profile = client.get("/espace/profil/").content.decode()
    assert 'value="31000"' in profile
    assert 'value="31-01"' in profile and 'value="31-02"' in profile
    # Applying anyway is refused clearly.
    client.post("/espace/candidature/", {"role": "relay"})
    assert "choisissez la vôtre dans votre profil" in client.get("/espace/").content.decode()

    response = client.post(
        "/espace/profil/",
        {"first_name": "Noé", "last_name": "Martin", "postcode": "31000", "constituency": "31-02"},
    )

    assert response.status_code == 302
    current = MemberLocation.objects.get(member=noe, valid_to__isnull=True)
    assert (current.constituency.code, current.department.code) == ("31-02", "31")


def test_their_department_s_coordinator_sees_them_without_an_invitation_form(
    client, noe, make_member, area
):
    coordinator = make_member("Coord31")
    Grant.objects.create(
        member=coordinator, role=Role.COORDINATOR, area=area("31", AreaKind.DEPARTMENT)
    )
    client.force_login(coordinator)
    page = client.get("/espace/membres/").content.decode()
    assert "noe@example.org" in page and "circonscription à préciser" in page
    assert "Inviter comme relais" not in page
    assert (
        client.get("/espace/membres/", {"zone": "31-01"}).content.decode().count("noe@example.org")
        == 0
    )


def test_a_new_boundary_set_carries_their_department(noe, registry):
    new = BoundarySet.objects.create(name="t", source="t", source_version="2", licence="t")
    old = Area.objects.get(boundary_set=registry, kind=AreaKind.DEPARTMENT, code="31")
    Area.objects.create(boundary_set=new, kind=old.kind, code=old.code, name=old.name)
    BoundarySet.objects.filter(active=True).update(active=False)
    BoundarySet.objects.filter(pk=new.pk).update(active=True)

    reassign_to_active_set()

    location = MemberLocation.objects.get(member=noe, valid_to__isnull=True)
    assert location.constituency is None
    assert (location.department.boundary_set_id, location.department.code) == (new.pk, "31")
