"""Co-optation: a coordinator invites a member of their territory, the member is emailed and
answers from their space; and applying as senate relay from the site."""

import html

import pytest
from django.core import mail

from nextwork.common.errors import Conflict, Forbidden
from nextwork.network import services
from nextwork.network.models import ApplicationStatus, Grant, MemberLocation, RelayApplication, Role
from nextwork.network.selectors import applications_to_decide
from nextwork.territories.models import AreaKind


@pytest.fixture
def noa(make_member, area):
    """A confirmed member living in 75-05, a seat without a relay."""
    member = make_member("Noa")
    MemberLocation.objects.create(member=member, constituency=area("75-05"), precision="postcode")
    return member


def shown(response) -> str:
    return html.unescape(response.content.decode())


def invite_url(member) -> str:
    return f"/espace/membres/{member.public_id}/inviter/"


def test_a_coordinator_invites_from_the_members_page_and_the_member_is_emailed(
    client, people, noa, settings, django_capture_on_commit_callbacks
):
    settings.NEXTWORK_SITE_URL = "http://testserver"
    client.force_login(people["coord75"])
    page = shown(client.get("/espace/membres/", {"zone": "75-05"}))
    assert f'action="{invite_url(noa)}"' in page and "Inviter comme relais" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            invite_url(noa), {"role": "relay", "zone": "75-05", "confirmed": "", "page": "1"}
        )
    assert response.status_code == 302
    assert response["Location"] == "/espace/membres/?zone=75-05&page=1"
    invitation = RelayApplication.objects.get(member=noa)
    assert invitation.invited_by == people["coord75"]
    assert invitation.area.code == "75-05" and invitation.status == ApplicationStatus.PENDING
    assert [m.to for m in mail.outbox] == [[noa.email]]
    message = mail.outbox[0]
    assert "Invitation à devenir relais titulaire" in message.subject
    assert people["coord75"].full_name in message.body
    assert "http://testserver/espace/" in message.body
    # The page now says the invitation waits, and offers no second one.
    page = shown(client.get("/espace/membres/", {"zone": "75-05"}))
    assert "Invité·e : relais titulaire" in page
    assert f'action="{invite_url(noa)}"' not in page


def test_a_senate_relay_invitation_is_on_the_department(client, people, noa):
    client.force_login(people["coord75"])
    client.post(invite_url(noa), {"role": "senate_relay"})
    invitation = RelayApplication.objects.get(member=noa)
    assert (invitation.area.kind, invitation.area.code) == (AreaKind.DEPARTMENT, "75")
    assert invitation.role == Role.SENATE_RELAY


@pytest.mark.parametrize(("who", "status"), [("member", 403), ("camille", 403), ("coord13", 404)])
def test_only_the_coordinators_of_the_member_s_territory_invite(client, people, noa, who, status):
    client.force_login(people[who])
    assert client.post(invite_url(noa), {"role": "relay"}).status_code == status
    assert not RelayApplication.objects.exists()


def test_a_visitor_inviting_is_sent_to_the_login(client, noa):
    response = client.post(invite_url(noa), {"role": "relay"})
    assert response.status_code == 302 and response["Location"].startswith("/connexion/")


def test_who_gets_an_invitation_form(client, people, area, make_member):
    relay_home = MemberLocation.objects.create(
        member=people["camille"], constituency=area("75-02"), precision="postcode"
    )
    unconfirmed = make_member("Eli", confirmed=False)
    MemberLocation.objects.create(
        member=unconfirmed, constituency=area("75-02"), precision="postcode"
    )
    neighbour = make_member("Ana")
    MemberLocation.objects.create(member=neighbour, constituency=area("75-02"), precision="post")
    client.force_login(people["coord75"])
    response = client.get("/espace/membres/", {"zone": "75-02"})
    rows = {row["member"]: row for row in response.context["rows"]}
    assert rows[relay_home.member]["invite_options"] == []  # already the relay
    assert rows[unconfirmed]["invite_options"] == []
    # 75-02 has its titular relay: a substitute or the senate relay of Paris, not a titular.
    assert [(role, a.code) for role, a in rows[neighbour]["invite_options"]] == [
        ("substitute", "75-02"),
        ("senate_relay", "75"),
    ]
    page = shown(response)
    assert "À confirmer d'abord" in page


def test_refusals_are_clear(client, people, area, make_member, noa):
    client.force_login(people["coord75"])
    MemberLocation.objects.create(
        member=people["camille"], constituency=area("75-02"), precision="postcode"
    )
    neighbour = make_member("Ana")
    MemberLocation.objects.create(member=neighbour, constituency=area("75-02"), precision="post")
    response = client.post(invite_url(neighbour), {"role": "relay"}, follow=True)
    assert "déjà un relais titulaire" in shown(response)
    unconfirmed = make_member("Eli", confirmed=False)
    MemberLocation.objects.create(member=unconfirmed, constituency=area("75-05"), precision="post")
    response = client.post(invite_url(unconfirmed), {"role": "substitute"}, follow=True)
    assert "pas encore confirmé son adresse" in shown(response)
    client.post(invite_url(noa), {"role": "substitute"})
    response = client.post(invite_url(noa), {"role": "substitute"}, follow=True)
    assert "déjà une candidature ou une invitation en attente" in shown(response)
    response = client.post(invite_url(noa), {"role": "coordinator"}, follow=True)
    assert "One invites a relay, a substitute or a senate relay" in shown(response)
    assert RelayApplication.objects.count() == 1


def test_invitations_are_not_for_coordinators_to_decide(client, people, noa):
    invitation = services.relay_invite(
        member=noa,
        area=noa.locations.get().constituency,
        role=Role.RELAY,
        invited_by=people["coord75"],
    )
    assert not applications_to_decide(people["coord75"]).exists()
    assert not applications_to_decide(people["staff"]).exists()
    with pytest.raises(Conflict, match="the invited member answers it"):
        services.application_decide(
            application=invitation, decided_by=people["staff"], approve=True
        )
    client.force_login(people["coord75"])
    assert client.post(f"/espace/candidatures/{invitation.pk}/decision/").status_code == 404
    assert "Candidatures à examiner" not in shown(client.get("/espace/"))


@pytest.fixture
def invitation(people, noa, area):
    return services.relay_invite(
        member=noa, area=area("75-05"), role=Role.RELAY, invited_by=people["coord75"]
    )


def test_the_invited_member_accepts_from_their_space(
    client, people, noa, invitation, django_capture_on_commit_callbacks
):
    client.force_login(noa)
    space = shown(client.get("/espace/"))
    assert "Vous êtes invité·e à devenir relais" in space
    assert people["coord75"].full_name in space
    assert f'action="/espace/invitations/{invitation.pk}/"' in space
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/espace/invitations/{invitation.pk}/", {"answer": "accept"})
    assert response.status_code == 302 and response["Location"] == "/espace/"
    grant = Grant.objects.get(member=noa, valid_to__isnull=True)
    assert (grant.role, grant.area.code, grant.granted_by) == ("relay", "75-05", people["coord75"])
    invitation.refresh_from_db()
    assert invitation.status == ApplicationStatus.APPROVED and invitation.decided_by == noa
    assert mail.outbox[-1].to == [people["coord75"].email]
    assert "acceptée" in mail.outbox[-1].subject
    space = shown(client.get("/espace/"))
    assert "Bienvenue dans le réseau des relais" in space
    assert "Vous êtes invité·e" not in space


def test_the_invited_member_declines(client, people, noa, invitation):
    client.force_login(noa)
    client.post(f"/espace/invitations/{invitation.pk}/", {"answer": "decline"})
    invitation.refresh_from_db()
    assert invitation.status == ApplicationStatus.DECLINED
    assert not Grant.objects.filter(member=noa).exists()
    assert "Invitation (relais titulaire)" in shown(client.get("/espace/"))


@pytest.mark.parametrize("who", ["coord75", "staff", "member", "camille"])
def test_nobody_else_answers_an_invitation(client, people, invitation, who):
    client.force_login(people[who])
    response = client.post(f"/espace/invitations/{invitation.pk}/", {"answer": "accept"})
    assert response.status_code == 404
    with pytest.raises(Forbidden):
        services.invitation_answer(application=invitation, member=people[who], accept=True)
    invitation.refresh_from_db()
    assert invitation.status == ApplicationStatus.PENDING


def test_an_answer_must_be_accept_or_decline(client, noa, invitation):
    client.force_login(noa)
    response = client.post(
        f"/espace/invitations/{invitation.pk}/", {"answer": "maybe"}, follow=True
    )
    assert "Choisissez d'accepter ou de décliner" in shown(response)
    invitation.refresh_from_db()
    assert invitation.status == ApplicationStatus.PENDING


def test_a_seat_that_found_its_relay_meanwhile_is_a_clear_conflict(
    client, people, area, make_member, noa, invitation
):
    services.grant_role(
        member=make_member("Tom"), role=Role.RELAY, area=area("75-05"), granted_by=people["staff"]
    )
    client.force_login(noa)
    response = client.post(
        f"/espace/invitations/{invitation.pk}/", {"answer": "accept"}, follow=True
    )
    assert "Ce siège a trouvé un relais titulaire depuis votre invitation" in shown(response)
    invitation.refresh_from_db()
    assert invitation.status == ApplicationStatus.PENDING
    assert not Grant.objects.filter(member=noa).exists()
    with pytest.raises(Conflict) as raised:
        services.invitation_answer(application=invitation, member=noa, accept=True)
    assert raised.value.code == "seat_taken"


def test_an_inviter_who_no_longer_coordinates_cannot_grant(client, people, noa, invitation):
    coordination = Grant.objects.get(member=people["coord75"], role=Role.COORDINATOR)
    services.grant_end(grant=coordination, ended_by=people["staff"])
    client.force_login(noa)
    response = client.post(
        f"/espace/invitations/{invitation.pk}/", {"answer": "accept"}, follow=True
    )
    assert "ne coordonne plus ce territoire" in shown(response)
    assert not Grant.objects.filter(member=noa).exists()
    client.post(f"/espace/invitations/{invitation.pk}/", {"answer": "decline"})
    invitation.refresh_from_db()
    assert invitation.status == ApplicationStatus.DECLINED


def test_an_answered_invitation_cannot_be_answered_again(noa, invitation):
    services.invitation_answer(application=invitation, member=noa, accept=False)
    with pytest.raises(Conflict, match="already declined"):
        services.invitation_answer(application=invitation, member=noa, accept=True)


# -- senate relay applications from the site -------------------------------------------------


def test_the_space_offers_the_senate_relay_of_the_department(client, noa):
    client.force_login(noa)
    space = shown(client.get("/espace/"))
    assert '<option value="senate_relay">Relais sénatorial de mon département (Paris)' in space


def test_a_senate_relay_application_from_the_site_is_on_department_75(
    client, people, noa, django_capture_on_commit_callbacks
):
    client.force_login(noa)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/espace/candidature/", {"role": "senate_relay", "motivation": "Je connais le Sénat."}
        )
    assert response.status_code == 302
    application = RelayApplication.objects.get(member=noa)
    assert (application.area.kind, application.area.code) == (AreaKind.DEPARTMENT, "75")
    assert application.role == Role.SENATE_RELAY
    assert mail.outbox[-1].to == [people["coord75"].email]  # the department's coordinator
    assert [a.pk for a in applications_to_decide(people["coord75"])] == [application.pk]
    assert not applications_to_decide(people["coord13"]).exists()


def test_a_resident_abroad_applies_for_the_senators_of_the_french_abroad(client, make_member, area):
    expat = make_member("Lina")
    MemberLocation.objects.create(member=expat, constituency=area("99-07"), precision="country")
    client.force_login(expat)
    client.post("/espace/candidature/", {"role": "senate_relay"})
    application = RelayApplication.objects.get(member=expat)
    assert (application.area.kind, application.area.code) == (AreaKind.ABROAD, "99")
