"""Who may do what: visitor, member, relay of 75-02, coordinators of 75 and 13, staff, against
every read and write of the relay network. Deny by default; a grant covers only its area."""

import pytest

from nextwork.common.errors import Forbidden
from nextwork.network import services
from nextwork.network.models import Grant, MemberLocation, Role
from nextwork.network.selectors import applications_to_decide, members_for_export, recruitment_gaps
from nextwork.territories.models import AreaKind

ACTORS = ["visitor", "member", "camille", "coord75", "coord13", "staff"]


@pytest.fixture
def world(people, area, make_member):
    """A resident member in 75-05 and one in 13-04, each with a pending application."""
    residents = {}
    for seat in ("75-05", "13-04"):
        person = make_member("Res")
        MemberLocation.objects.create(member=person, constituency=area(seat), precision="postcode")
        residents[seat] = (
            person,
            services.relay_apply(member=person, area=area(seat), role=Role.SUBSTITUTE),
        )
    return {**people, "visitor": None, "residents": residents}


def visible_emails(world, who):
    return (
        {loc.member.email for loc in members_for_export(caller=world[who])} if world[who] else set()
    )


EXPECTED_READS = {
    # actor: (sees the 75-05 resident, sees the 13-04 resident, applications visible)
    "visitor": (False, False, set()),
    "member": (False, False, set()),
    "camille": (False, False, set()),
    "coord75": (True, False, {"75-05"}),
    "coord13": (False, True, {"13-04"}),
    "staff": (True, True, {"75-05", "13-04"}),
}


@pytest.mark.parametrize("who", ACTORS)
def test_reads(world, who):
    sees_75, sees_13, applications = EXPECTED_READS[who]
    emails = visible_emails(world, who)
    assert (world["residents"]["75-05"][0].email in emails) is sees_75
    assert (world["residents"]["13-04"][0].email in emails) is sees_13
    decidable = {a.area.code for a in applications_to_decide(world[who])} if world[who] else set()
    assert decidable == applications
    gaps = {g["code"] for g in recruitment_gaps(caller=world[who])} if world[who] else set()
    assert ("75-05" in gaps) is sees_75 and ("13-04" in gaps) is sees_13


DECIDES = {"75-05": {"coord75", "staff"}, "13-04": {"coord13", "staff"}}


@pytest.mark.parametrize("who", ACTORS[1:])
@pytest.mark.parametrize("seat", ["75-05", "13-04"])
def test_deciding_applications(world, who, seat):
    application = world["residents"][seat][1]
    if who in DECIDES[seat]:
        services.application_decide(application=application, decided_by=world[who], approve=True)
        assert Grant.objects.filter(member=application.member, valid_to__isnull=True).exists()
    else:
        with pytest.raises(Forbidden):
            services.application_decide(
                application=application, decided_by=world[who], approve=True
            )


@pytest.mark.parametrize("who", ACTORS[1:])
def test_granting_roles(world, area, make_member, who):
    newcomer = make_member("New")
    substitute_allowed = who in {"coord75", "staff"}
    try:
        services.grant_role(
            member=newcomer, role=Role.SUBSTITUTE, area=area("75-08"), granted_by=world[who]
        )
        assert substitute_allowed
    except Forbidden:
        assert not substitute_allowed
    try:
        services.grant_role(
            member=newcomer,
            role=Role.COORDINATOR,
            area=area("75", AreaKind.DEPARTMENT),
            granted_by=world[who],
        )
        assert who == "staff"
    except Forbidden:
        assert who != "staff"


@pytest.mark.parametrize("who", ACTORS[1:])
def test_ending_camille_s_relay_grant(world, who):
    grant = Grant.objects.get(member=world["camille"], role=Role.RELAY)
    allowed = who in {"camille", "coord75", "staff"}  # herself, her coordinator, staff
    try:
        services.grant_end(grant=grant, ended_by=world[who])
        assert allowed
    except Forbidden:
        assert not allowed
        grant.refresh_from_db()
        assert grant.valid_to is None


@pytest.mark.parametrize(
    ("who", "pages"),
    [
        (
            "visitor",
            {
                "/espace/": 302,
                "/espace/tableau/": 302,
                "/espace/membres/": 302,
                "/api/v1/coverage/gaps": 401,
                "/api/v1/coverage": 200,
            },
        ),
        (
            "member",
            {
                "/espace/": 200,
                "/espace/tableau/": 403,
                "/espace/membres/": 403,
                "/api/v1/coverage/gaps": 403,
            },
        ),
        (
            "camille",
            {
                "/espace/": 200,
                "/espace/tableau/": 403,
                "/espace/membres/?zone=75-02": 403,
                "/api/v1/coverage/gaps": 403,
            },
        ),
        (
            "coord75",
            {
                "/espace/tableau/": 200,
                "/api/v1/coverage/gaps": 200,
                "/espace/tableau/lacunes/75-05.csv": 200,
                "/espace/membres/?zone=75": 200,
                "/espace/membres/?zone=13": 404,
                "/espace/membres/export.csv?zone=13-04": 404,
            },
        ),
        (
            "coord13",
            {
                "/espace/tableau/": 200,
                "/api/v1/coverage/gaps": 200,
                "/espace/membres/?zone=13": 200,
                "/espace/membres/?zone=75-02": 404,
            },
        ),
        (
            "staff",
            {
                "/espace/tableau/": 200,
                "/api/v1/coverage/gaps": 200,
                "/espace/membres/?zone=13": 200,
                "/espace/membres/?zone=75": 200,
            },
        ),
    ],
)
def test_pages_and_endpoints(client, world, who, pages):
    if world[who]:
        client.force_login(world[who])
    for url, status in pages.items():
        assert client.get(url).status_code == status, url
