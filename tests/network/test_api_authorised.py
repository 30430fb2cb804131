"""Applications, decisions and member reads through the API: each endpoint's authorisation."""

import pytest

from nextwork.network.models import ApplicationStatus, Grant, MemberLocation, RelayApplication
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
