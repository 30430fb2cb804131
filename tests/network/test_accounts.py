"""Logging in (password, one-time link, reset) and the member's space: apply, decide, step down."""

import re

import pytest
from django.core import mail

from nextwork.network.models import ApplicationStatus, Grant, MemberLocation, RelayApplication, Role

PASSWORD = "correct horse battery staple"


@pytest.fixture
def located(make_member, area):
    def make(first_name: str, seat: str):
        member = make_member(first_name)
        MemberLocation.objects.create(member=member, constituency=area(seat), precision="postcode")
        return member

    return make


def test_password_login_ignores_the_case_of_the_email(client, make_member):
    member = make_member("Ana")
    response = client.post("/connexion/", {"username": member.email.upper(), "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/espace/"


def test_unconfirmed_members_cannot_log_in(client, make_member):
    member = make_member("Ana", confirmed=False)
    response = client.post("/connexion/", {"username": member.email, "password": PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_one_time_link_logs_in_once(client, make_member, settings):
    settings.NEXTWORK_SITE_URL = "http://testserver"
    member = make_member("Ana")
    client.post("/connexion/lien/", {"email": member.email})
    link = re.search(r"http://testserver(/connexion/lien/\S+/)", mail.outbox[0].body).group(1)
    assert client.get(link).status_code == 200  # a button: mail scanners do not log in
    assert "_auth_user_id" not in client.session
    assert client.post(link).status_code == 302
    assert client.session["_auth_user_id"] == str(member.pk)
    client.logout()
    assert client.post(link).status_code == 400  # used once


def test_the_link_request_says_the_same_for_unknown_addresses(client, db):
    response = client.post("/connexion/lien/", {"email": "nobody@example.org"})
    assert response.status_code == 200 and not mail.outbox
    assert "Si cette adresse est inscrite" in response.content.decode()


def test_password_reset(client, make_member):
    member = make_member("Ana")
    client.post("/connexion/mot-de-passe/", {"email": member.email})
    link = re.search(r"https?://[^/]+(/connexion/mot-de-passe/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    new = "another long pass phrase 42"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    member.refresh_from_db()
    assert member.check_password(new)


def test_the_space_needs_a_login(client, db):
    response = client.get("/espace/")
    assert response.status_code == 302 and response["Location"].startswith("/connexion/")


def test_apply_then_the_coordinator_approves(
    client, people, located, django_capture_on_commit_callbacks
):
    noa = located("Noa", "75-05")
    client.force_login(noa)
    page = client.get("/espace/").content.decode()
    assert "75-05" in page and "Devenir relais" in page
    client.post("/espace/candidature/", {"role": "relay", "motivation": "J'habite ici."})
    application = RelayApplication.objects.get(member=noa)
    assert application.status == ApplicationStatus.PENDING

    client.force_login(people["coord13"])  # not their department: invisible, not decidable
    assert "habite ici" not in client.get("/espace/").content.decode()
    response = client.post(
        f"/espace/candidatures/{application.pk}/decision/", {"decision": "approve"}
    )
    assert response.status_code == 404

    client.force_login(people["coord75"])
    assert "habite ici" in client.get("/espace/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/espace/candidatures/{application.pk}/decision/",
            {"decision": "approve", "message": "Bienvenue !"},
        )
    assert Grant.objects.filter(member=noa, role=Role.RELAY, valid_to__isnull=True).exists()
    assert mail.outbox[-1].to == [noa.email] and "Bienvenue" in mail.outbox[-1].body


def test_a_relay_sees_the_count_of_members_in_their_seat_and_can_step_down(
    client, people, located, area
):
    camille = people["camille"]
    MemberLocation.objects.create(member=camille, constituency=area("75-02"), precision="postcode")
    located("Lou", "75-02")
    client.force_login(camille)
    page = client.get("/espace/").content.decode()
    assert "membres confirmés" in page
    grant = Grant.objects.get(member=camille, role=Role.RELAY)
    client.post(f"/espace/roles/{grant.pk}/fin/")
    grant.refresh_from_db()
    assert grant.valid_to is not None


def test_nobody_ends_someone_else_s_role_from_their_space(client, people):
    grant = Grant.objects.get(member=people["camille"], role=Role.RELAY)
    client.force_login(people["member"])
    assert client.post(f"/espace/roles/{grant.pk}/fin/").status_code == 404
    grant.refresh_from_db()
    assert grant.valid_to is None


def test_profile_edit_and_moving_home_keeps_history(client, located):
    ana = located("Ana", "48-01")
    client.force_login(ana)
    assert client.get("/espace/profil/").status_code == 200
    response = client.post(
        "/espace/profil/",
        {
            "first_name": "Ana",
            "last_name": "Nouveau",
            "phone": "+33 6 12 34 56 78",
            "public_relay": "on",
            "postcode": "23000",
        },
    )
    assert response.status_code == 302
    ana.refresh_from_db()
    assert (ana.last_name, ana.phone, ana.public_relay) == ("Nouveau", "+33612345678", True)
    history = MemberLocation.objects.filter(member=ana).order_by("valid_from")
    assert [(h.constituency.code, h.valid_to is None) for h in history] == [
        ("48-01", False),
        ("23-01", True),
    ]


def test_profile_errors_change_nothing(client, located):
    ana = located("Ana", "48-01")
    client.force_login(ana)
    response = client.post(
        "/espace/profil/",
        {"first_name": "Ana", "last_name": "X", "phone": "12", "postcode": "23000"},
    )
    assert response.status_code == 400
    ana.refresh_from_db()
    assert ana.last_name != "X" and ana.phone == ""
    assert MemberLocation.objects.filter(member=ana).count() == 1
    ambiguous = client.post(
        "/espace/profil/", {"first_name": "Ana", "last_name": "Y", "postcode": "31000"}
    )
    assert ambiguous.status_code == 400 and "31-0" in ambiguous.content.decode()
    ana.refresh_from_db()
    assert ana.last_name != "Y"  # the whole form is one transaction
