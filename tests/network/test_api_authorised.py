"""Applications, decisions and member reads through the API: each endpoint's authorisation."""

import pytest

from nextwork.network.models import (
    ApplicationStatus,
    Grant,
    MemberLocation,
    RelayApplication,
    Role,
)
from nextwork.privacy.models import AuditEvent


@pytest.fixture
def noa(make_member, area):
    member = make_member("Noa")
    MemberLocation.objects.create(member=member, constituency=area("75-05"), precision="postcode")
    return member


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def test_every_endpoint_needs_a_login(client, people):
    for method, url in [
        ("post", "/api/v1/applications"),
        ("get", "/api/v1/applications"),
        ("post", "/api/v1/applications/1/decision"),
        ("get", "/api/v1/members?area=75"),
        ("post", "/api/v1/invitations"),
        ("get", "/api/v1/invitations"),
        ("post", "/api/v1/invitations/1/answer"),
        ("get", "/api/v1/grants?area=75"),
        ("post", "/api/v1/grants/1/promote"),
        ("post", "/api/v1/grants/1/end"),
    ]:
        response = getattr(client, method)(
            url,
            {} if method == "get" else "{}",
            **({} if method == "get" else {"content_type": "application/json"}),
        )
        assert response.status_code == 401, url
        assert response.json()["error"]["code"] == "unauthenticated"


def test_apply_list_and_decide(client, people, noa):
    client.force_login(noa)
    created = post(client, "/api/v1/applications", {"role": "relay", "motivation": "Ici."})
    assert created.status_code == 201 and created.json()["area"] == "75-05"
    application_id = created.json()["id"]
    assert post(client, "/api/v1/applications", {"role": "relay"}).status_code == 409
    # The applicant cannot decide; a coordinator of another department does not even see it.
    assert client.get("/api/v1/applications").json() == []
    assert (
        post(
            client, f"/api/v1/applications/{application_id}/decision", {"approve": True}
        ).status_code
        == 404
    )
    client.force_login(people["coord13"])
    assert client.get("/api/v1/applications").json() == []
    assert (
        post(
            client, f"/api/v1/applications/{application_id}/decision", {"approve": True}
        ).status_code
        == 404
    )
    client.force_login(people["coord75"])
    listed = client.get("/api/v1/applications").json()
    assert [a["id"] for a in listed] == [application_id] and listed[0]["member"]
    decided = post(
        client,
        f"/api/v1/applications/{application_id}/decision",
        {"approve": True, "message": "Bienvenue"},
    )
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    assert Grant.objects.filter(member=noa, valid_to__isnull=True).exists()
    assert RelayApplication.objects.get().status == ApplicationStatus.APPROVED


def test_applying_without_a_known_home_is_a_clear_error(client, make_member):
    client.force_login(make_member("Sans"))
    response = post(client, "/api/v1/applications", {"role": "relay"})
    assert response.status_code == 404 and response.json()["error"]["field"] == "area"


@pytest.mark.parametrize(
    ("who", "code", "status", "count"),
    [
        ("member", "75", 403, None),
        ("camille", "75", 403, None),
        ("coord13", "75", 200, 0),
        ("coord75", "75", 200, 1),
        ("coord75", "75-05", 200, 1),
        ("staff", "75", 200, 1),
        ("staff", "ZZ", 404, None),
    ],
)
def test_member_reads_stay_within_grants_and_are_audited(
    client, people, noa, who, code, status, count
):
    client.force_login(people[who])
    response = client.get("/api/v1/members", {"area": code})
    assert response.status_code == status
    if status == 200:
        assert len(response.json()) == count
        event = AuditEvent.objects.get(action="members.read")
        assert event.actor == people[who] and event.details["count"] == count


def test_a_senate_relay_applies_for_their_department(client, people, noa):
    client.force_login(noa)
    created = post(client, "/api/v1/applications", {"role": "senate_relay"})
    assert created.status_code == 201 and created.json()["area"] == "75"


@pytest.mark.parametrize(
    ("who", "status"), [("member", 403), ("camille", 403), ("coord13", 404), ("coord75", 201)]
)
def test_invitations_are_issued_within_grants(client, people, noa, who, status):
    client.force_login(people[who])
    response = post(
        client, "/api/v1/invitations", {"member": str(noa.public_id), "role": "substitute"}
    )
    assert response.status_code == status
    if status == 201:
        assert response.json()["area"] == "75-05" and response.json()["invited_by"]
    else:
        assert not RelayApplication.objects.exists()


def test_the_invited_member_answers_through_the_api(client, people, noa, make_member):
    client.force_login(people["coord75"])
    invitation_id = post(
        client, "/api/v1/invitations", {"member": str(noa.public_id), "role": "relay"}
    ).json()["id"]
    # Not an application for coordinators to decide, by the API either.
    assert client.get("/api/v1/applications").json() == []
    decision = post(client, f"/api/v1/applications/{invitation_id}/decision", {"approve": True})
    assert decision.status_code == 404
    assert (
        post(client, "/api/v1/invitations", {"member": str(noa.public_id), "role": "relay"}).json()[
            "error"
        ]["code"]
        == "already_pending"
    )
    client.force_login(make_member("Autre"))
    assert client.get("/api/v1/invitations").json() == []
    answer = post(client, f"/api/v1/invitations/{invitation_id}/answer", {"accept": True})
    assert answer.status_code == 404
    client.force_login(noa)
    mine = client.get("/api/v1/invitations").json()
    assert [i["id"] for i in mine] == [invitation_id] and mine[0]["role"] == "relay"
    answer = post(client, f"/api/v1/invitations/{invitation_id}/answer", {"accept": True})
    assert answer.status_code == 200 and answer.json()["status"] == "approved"
    assert Grant.objects.get(member=noa, valid_to__isnull=True).granted_by == people["coord75"]
    assert client.get("/api/v1/invitations").json() == []


def test_accepting_for_a_seat_taken_meanwhile_is_a_409(client, people, noa, make_member, area):
    from nextwork.network import services
    from nextwork.network.models import Role

    invitation = services.relay_invite(
        member=noa, area=area("75-05"), role=Role.RELAY, invited_by=people["coord75"]
    )
    services.grant_role(
        member=make_member("Tom"), role=Role.RELAY, area=area("75-05"), granted_by=None
    )
    client.force_login(noa)
    answer = post(client, f"/api/v1/invitations/{invitation.pk}/answer", {"accept": True})
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "seat_taken"


@pytest.fixture
def substitute(people, make_member, area):
    """A substitute of 75-05, a seat with no titular relay."""
    member = make_member("Sam")
    MemberLocation.objects.create(member=member, constituency=area("75-05"), precision="postcode")
    return Grant.objects.create(member=member, role=Role.SUBSTITUTE, area=area("75-05"))


@pytest.mark.parametrize(
    ("who", "status"),
    [("member", 403), ("camille", 403), ("coord13", 404), ("coord75", 200), ("staff", 200)],
)
def test_role_lists_stay_within_grants_and_are_audited(client, people, substitute, who, status):
    client.force_login(people[who])
    response = client.get("/api/v1/grants", {"area": "75"})
    assert response.status_code == status
    if status == 200:
        roles = {(g["role"], g["area"]) for g in response.json()}
        assert roles == {("relay", "75-02"), ("substitute", "75-05"), ("coordinator", "75")}
        event = AuditEvent.objects.get(action="grants.read")
        assert event.details == {"count": 3, "current": True} and event.area_code == "75"


@pytest.mark.parametrize(("who", "status"), [("coord13", 404), ("camille", 404), ("member", 404)])
def test_only_the_area_s_coordinators_promote(client, people, substitute, who, status):
    client.force_login(people[who])
    assert post(client, f"/api/v1/grants/{substitute.pk}/promote", {}).status_code == status
    substitute.refresh_from_db()
    assert substitute.valid_to is None


def test_a_substitute_is_promoted_then_steps_down(client, people, substitute, area):
    client.force_login(people["coord75"])
    response = post(client, f"/api/v1/grants/{substitute.pk}/promote", {})
    assert response.status_code == 200
    relay = response.json()
    assert (relay["role"], relay["area"], relay["valid_to"]) == ("relay", "75-05", None)
    substitute.refresh_from_db()
    assert substitute.valid_to is not None  # the substitute grant is history now
    # The new relay steps down by themselves.
    client.force_login(substitute.member)
    ended = post(client, f"/api/v1/grants/{relay['id']}/end", {})
    assert ended.status_code == 200 and ended.json()["valid_to"] is not None
    assert post(client, f"/api/v1/grants/{relay['id']}/end", {}).status_code == 409


def test_promoting_where_a_titular_relay_exists_is_a_409(client, people, make_member, area):
    second = Grant.objects.create(member=make_member(), role=Role.SUBSTITUTE, area=area("75-02"))
    client.force_login(people["staff"])
    response = post(client, f"/api/v1/grants/{second.pk}/promote", {})
    assert response.status_code == 409
    assert "75-02 already has a titular relay" in response.json()["error"]["message"]
    second.refresh_from_db()
    assert second.valid_to is None  # nothing half done


def test_the_members_page_promotes_a_substitute(client, people, substitute):
    client.force_login(people["coord75"])
    page = client.get("/espace/membres/", {"zone": "75"}).content.decode()
    assert f"/espace/roles/{substitute.pk}/titulaire/" in page
    response = client.post(f"/espace/roles/{substitute.pk}/titulaire/", {"zone": "75"})
    assert response.status_code == 302 and response["Location"].endswith("?zone=75")
    assert Grant.objects.filter(
        member=substitute.member, role=Role.RELAY, valid_to__isnull=True
    ).exists()
    client.force_login(people["coord13"])
    other = Grant.objects.create(
        member=people["member"], role=Role.SUBSTITUTE, area=substitute.area
    )
    assert client.post(f"/espace/roles/{other.pk}/titulaire/").status_code == 404
