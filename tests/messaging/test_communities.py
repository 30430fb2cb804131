"""Communities: who may create and coordinate, joining (idempotent) and leaving (history kept),
the community-news consent given by a join, the pages, the API and its OpenAPI contract."""

from __future__ import annotations

import pytest
import schemathesis
from django.middleware.csrf import _get_new_csrf_string
from hypothesis import HealthCheck, given, settings

from nextwork.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from nextwork.messaging import communities, consent
from nextwork.messaging.models import (
    Community,
    CommunityCoordinator,
    CommunityMembership,
    ConsentEvent,
    ConsentHow,
)
from nextwork.privacy.models import AuditEvent
from tests.territories.test_api import CHECKS, same_connection

API = "/api/v1/communities"


def post(client, url, body=None):
    if body is None:  # no body at all, as curl -X POST sends
        return client.generic("POST", url)
    return client.post(url, body, content_type="application/json")


def error_of(response, status, field):
    assert response.status_code == status, response.content[:400]
    error = response.json()["error"]
    assert error["field"] == field, error
    assert error["message"]
    return error


@pytest.fixture
def jeunes(people):
    return communities.community_create(
        actor=people["staff"],
        name="Jeunes",
        description="Les moins de 30 ans du réseau.",
    )


@pytest.fixture
def hidden(people):
    return communities.community_create(
        actor=people["staff"], name="Groupe de travail fermé", public=False
    )


# -- services ------------------------------------------------------------------------------------


def test_only_staff_create_and_the_slug_comes_from_the_name(people):
    with pytest.raises(Forbidden):
        communities.community_create(actor=people["member"], name="Numérique et handicap")
    with pytest.raises(Forbidden):  # a department coordinator is not national staff
        communities.community_create(actor=people["coord75"], name="Numérique et handicap")
    made = communities.community_create(actor=people["staff"], name="Numérique et handicap")
    assert made.slug == "numerique-et-handicap" and made.public
    assert made.created_by == people["staff"]
    abroad = communities.community_create(
        actor=people["staff"], name="Français de l'étranger", slug="etranger"
    )
    assert abroad.slug == "etranger"


def test_bad_input_names_its_field(people, jeunes):
    staff = people["staff"]
    with pytest.raises(InvalidInput) as exc:
        communities.community_create(actor=staff, name="   ")
    assert exc.value.field == "name"
    with pytest.raises(InvalidInput) as exc:
        communities.community_create(actor=staff, name="x" * 121)
    assert exc.value.field == "name"
    with pytest.raises(InvalidInput) as exc:
        communities.community_create(actor=staff, name="Jeunes", slug="Les Jeunes !")
    assert exc.value.field == "slug" and "les-jeunes" in exc.value.message
    with pytest.raises(InvalidInput) as exc:
        communities.community_create(actor=staff, name="???")
    assert exc.value.field == "slug"
    with pytest.raises(Conflict) as exc:
        communities.community_create(actor=staff, name="Jeunes")
    assert exc.value.field == "slug" and "jeunes" in exc.value.message
    assert Community.objects.count() == 1


def test_joining_twice_is_idempotent_and_gives_the_community_news_consent(people, jeunes):
    lou = people["member"]
    first = communities.community_join(member=lou, community=jeunes, community_news=True)
    assert first.created and first.consent_given
    again = communities.community_join(member=lou, community=jeunes, community_news=True)
    assert not again.created and not again.consent_given
    assert again.membership.pk == first.membership.pk
    assert CommunityMembership.objects.filter(member=lou).count() == 1
    [event] = ConsentEvent.objects.filter(member=lou)
    assert (event.channel, event.message_type, event.given, event.how) == (
        "email",
        "community",
        True,
        ConsentHow.COMMUNITY,
    )
    assert event.text.kind == "community_news" and event.text.version == 1
    assert consent.may_receive(lou.pk, "email", "community")


def test_joining_alone_gives_no_consent_the_box_is_an_explicit_opt_in(people, jeunes):
    # A pre-ticked box is not consent (CJEU Planet49, CNIL): without an explicit yes, a member
    # who never answered joins and has still not answered.
    lou = people["member"]
    result = communities.community_join(member=lou, community=jeunes)
    assert result.created and not result.consent_given
    assert not ConsentEvent.objects.filter(member=lou).exists()
    assert not communities.has_community_answer(lou)  # the box is offered again, unticked
    assert not consent.may_receive(lou.pk, "email", "community")


def test_a_join_never_overrides_an_earlier_answer_and_the_box_can_be_unticked(people, jeunes):
    lou, camille = people["member"], people["camille"]
    consent.consent_set(
        member=lou, channel="email", message_type="community", given=False, how="site"
    )
    assert not communities.community_join(member=lou, community=jeunes).consent_given
    assert not consent.may_receive(lou.pk, "email", "community")
    assert ConsentEvent.objects.filter(member=lou).count() == 1  # only the withdrawal

    result = communities.community_join(member=camille, community=jeunes, community_news=False)
    assert result.created and not result.consent_given
    assert not ConsentEvent.objects.filter(member=camille).exists()


def test_leaving_keeps_the_history_and_joining_again_is_a_new_row(people, jeunes):
    lou = people["member"]
    first = communities.community_join(member=lou, community=jeunes, community_news=True).membership
    left = communities.community_leave(member=lou, community=jeunes)
    assert left.pk == first.pk and left.left_at is not None
    assert communities.community_leave(member=lou, community=jeunes) is None  # nothing to leave
    assert communities.member_count(jeunes) == 0
    second = communities.community_join(member=lou, community=jeunes)
    assert second.created and second.membership.pk != first.pk
    rows = CommunityMembership.objects.filter(member=lou).order_by("joined_at", "pk")
    assert [r.left_at is None for r in rows] == [False, True]
    assert communities.member_count(jeunes) == 1
    # Leaving does not touch the consent: it covers every community the member is in.
    assert consent.may_receive(lou.pk, "email", "community")


def test_inactive_members_cannot_join(make_member, jeunes):
    pending = make_member("Pending", confirmed=False)
    with pytest.raises(Forbidden):
        communities.community_join(member=pending, community=jeunes)


def test_a_hidden_community_is_not_listed_nor_open(people, jeunes, hidden):
    lou = people["member"]
    assert list(communities.public_communities()) == [jeunes]
    with pytest.raises(NotFound):
        communities.community_for(lou, slug=hidden.slug)
    with pytest.raises(Forbidden):
        communities.community_join(member=lou, community=hidden)
    assert communities.community_for(people["staff"], slug=hidden.slug) == hidden


def test_coordinators_are_named_by_staff_audited_and_see_their_count(people, jeunes, hidden):
    staff, lou, camille = people["staff"], people["member"], people["camille"]
    with pytest.raises(Forbidden):
        communities.coordinator_grant(actor=camille, community=jeunes, member=lou)
    communities.coordinator_grant(actor=staff, community=jeunes, member=lou)
    communities.coordinator_grant(actor=staff, community=hidden, member=lou)
    with pytest.raises(Conflict):
        communities.coordinator_grant(actor=staff, community=jeunes, member=lou)
    grants = AuditEvent.objects.filter(action="community.coordinator_grant")
    assert grants.count() == 2
    assert grants.first().actor == staff
    assert grants.first().details["member"] == str(lou.public_id)

    communities.community_join(member=camille, community=jeunes)
    counts = {c.slug: c.member_count for c in communities.coordinated(lou)}
    assert counts == {"jeunes": 1, hidden.slug: 0}
    assert communities.coordinated(camille).count() == 0
    # The coordinator sees the hidden community they coordinate, and may edit it.
    assert communities.community_for(lou, slug=hidden.slug) == hidden
    communities.community_update(actor=lou, community=jeunes, description="Moins de 30 ans.")
    with pytest.raises(Forbidden):  # making it hidden is for staff
        communities.community_update(actor=lou, community=jeunes, public=False)
    with pytest.raises(Forbidden):
        communities.community_update(actor=camille, community=jeunes, name="Autre")

    with pytest.raises(Forbidden):
        communities.coordinator_end(actor=lou, community=jeunes, member=lou)
    ended = communities.coordinator_end(actor=staff, community=jeunes, member=lou)
    assert ended.valid_to is not None
    assert AuditEvent.objects.filter(action="community.coordinator_end").count() == 1
    with pytest.raises(NotFound):
        communities.coordinator_end(actor=staff, community=jeunes, member=lou)
    assert CommunityCoordinator.objects.filter(member=lou).count() == 2  # history kept
    assert list(communities.coordinated(lou)) == [hidden]


# -- pages ---------------------------------------------------------------------------------------


def test_the_list_page_shows_counts_and_never_names(client, people, jeunes, hidden):
    communities.community_join(member=people["camille"], community=jeunes)
    page = client.get("/communautes/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Jeunes" in html and "1 membre" in html
    assert hidden.name not in html
    assert people["camille"].last_name not in html
    assert 'href="/communautes/"' in client.get("/").content.decode()  # in the navigation


def test_detail_page_asks_to_log_in_then_joins_and_leaves(client, people, jeunes):
    lou = people["member"]
    anonymous = client.get("/communautes/jeunes/").content.decode()
    assert "/connexion/?next=/communautes/jeunes/" in anonymous
    assert 'name="community_news"' not in anonymous
    assert client.post("/communautes/jeunes/rejoindre/").status_code == 302
    assert not CommunityMembership.objects.exists()  # sent to the login page, nothing joined

    client.force_login(lou)
    html = client.get("/communautes/jeunes/").content.decode()
    # An explicit opt-in: the box is offered, never pre-ticked (a pre-ticked box is no consent).
    assert 'name="community_news">' in html and 'name="community_news" checked' not in html
    response = client.post("/communautes/jeunes/rejoindre/", {"community_news": "on"}, follow=True)
    html = response.content.decode()
    assert "Bienvenue" in html and "Quitter la communauté" in html
    assert consent.may_receive(lou.pk, "email", "community")
    assert 'name="community_news"' not in html  # answered: the box is not offered again

    response = client.post("/communautes/jeunes/quitter/", follow=True)
    assert "Vous avez quitté cette communauté." in response.content.decode()
    assert CommunityMembership.objects.get(member=lou).left_at is not None


def test_unticking_the_box_joins_without_the_consent(client, people, jeunes):
    client.force_login(people["member"])
    client.post("/communautes/jeunes/rejoindre/")  # the box left unticked
    assert communities.current_membership(people["member"], jeunes) is not None
    assert not ConsentEvent.objects.exists()


def test_hidden_and_missing_communities_are_404_pages(client, people, hidden):
    client.force_login(people["member"])
    assert client.get(f"/communautes/{hidden.slug}/").status_code == 404
    assert client.get("/communautes/nowhere/").status_code == 404
    assert client.post(f"/communautes/{hidden.slug}/rejoindre/").status_code == 404


# -- API -----------------------------------------------------------------------------------------


def test_api_list_is_public_and_paginated(client, people, jeunes, hidden):
    for name in ("Français de l'étranger", "Numérique et handicap"):
        communities.community_create(actor=people["staff"], name=name)
    communities.community_join(member=people["member"], community=jeunes)
    body = client.get(API).json()
    assert [c["slug"] for c in body] == ["francais-de-letranger", "jeunes", "numerique-et-handicap"]
    assert body[1]["members"] == 1 and body[1]["url"] == "/communautes/jeunes/"
    assert [c["slug"] for c in client.get(f"{API}?limit=1&offset=1").json()] == ["jeunes"]
    error_of(client.get(f"{API}?limit=101"), 400, "limit")
    error_of(client.get(f"{API}?offset=-1"), 400, "offset")


def test_api_create_is_for_staff(client, people):
    body = {"name": "Jeunes", "description": "Moins de 30 ans."}
    assert post(client, API, body).status_code in (401, 403)  # no session
    client.force_login(people["member"])
    error_of(post(client, API, body), 403, None)
    client.force_login(people["staff"])
    made = post(client, API, body)
    assert made.status_code == 201, made.content
    assert made.json()["slug"] == "jeunes" and made.json()["members"] == 0
    error_of(post(client, API, body), 409, "slug")
    error_of(post(client, API, {"name": "A", "slug": "Pas Bon"}), 400, "slug")
    error_of(post(client, API, {"name": ""}), 400, "name")
    error_of(post(client, API, {"description": "sans nom"}), 400, "name")


def test_api_join_and_leave(client, people, jeunes, hidden):
    url = f"{API}/{jeunes.pk}"
    assert post(client, f"{url}/join").status_code in (401, 403)
    client.force_login(people["member"])
    joined = post(client, f"{url}/join")  # no body: the defaults
    assert joined.status_code == 201, joined.content
    # Joining alone gives no consent to community news: that is an explicit opt-in.
    assert joined.json()["member"] and not joined.json()["community_news"]
    assert joined.json()["members"] == 1
    assert post(client, f"{url}/join", {"community_news": False}).status_code == 200
    assert CommunityMembership.objects.filter(community=jeunes).count() == 1
    left = post(client, f"{url}/leave")
    assert left.status_code == 200
    assert not left.json()["member"] and left.json()["left_at"] and left.json()["members"] == 0
    assert post(client, f"{url}/leave").json()["left_at"] is None  # was not a member
    error_of(post(client, f"{API}/{hidden.pk}/join"), 404, "community_id")
    error_of(post(client, f"{API}/999999/join"), 404, "community_id")
    error_of(post(client, f"{url}/join", {"community_news": "peut-être"}), 400, "community_news")


def test_openapi_documents_the_errors(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"200", "400"} <= set(paths[API]["get"]["responses"])
    assert {"201", "400", "401", "403", "409"} <= set(paths[API]["post"]["responses"])
    join = paths[f"{API}/{{community_id}}/join"]["post"]["responses"]
    assert {"200", "201", "400", "401", "403", "404"} <= set(join)


def session_of(client, member):
    """A session and its CSRF token, as a browser sends them: cookies and header."""
    client.force_login(member)
    token = _get_new_csrf_string()
    return {
        "cookies": {"sessionid": client.cookies["sessionid"].value, "csrftoken": token},
        "headers": {"X-CSRFToken": token},
    }


OPERATIONS = [
    (API, "GET", schemathesis.GenerationMode.POSITIVE, 30, None),
    (API, "GET", schemathesis.GenerationMode.NEGATIVE, 20, None),
    (API, "POST", schemathesis.GenerationMode.POSITIVE, 30, "staff"),
    (API, "POST", schemathesis.GenerationMode.NEGATIVE, 20, "staff"),
    (API, "POST", schemathesis.GenerationMode.POSITIVE, 10, "member"),
    (f"{API}/{{community_id}}/join", "POST", schemathesis.GenerationMode.POSITIVE, 30, "member"),
    (f"{API}/{{community_id}}/join", "POST", schemathesis.GenerationMode.NEGATIVE, 20, "member"),
    (f"{API}/{{community_id}}/leave", "POST", schemathesis.GenerationMode.POSITIVE, 20, "member"),
    (f"{API}/{{community_id}}/join", "POST", schemathesis.GenerationMode.POSITIVE, 5, None),
]


@pytest.mark.parametrize(
    ("path", "method", "mode", "examples", "who"),
    OPERATIONS,
    ids=[f"{m}{p}-{g.value}-{w or 'anon'}" for p, m, g, _n, w in OPERATIONS],
)
def test_schemathesis(api_schema, client, people, path, method, mode, examples, who):
    made = [
        communities.community_create(actor=people["staff"], name=name)
        for name in ("Jeunes", "Français de l'étranger", "Numérique et handicap")
    ]
    operation = api_schema[path][method]
    session = session_of(client, people[who]) if who else {}
    statuses: list[int] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        if case.path_parameters and mode.is_positive:
            # Mostly real communities, so that the 2xx answers are checked as well.
            case.path_parameters["community_id"] = made[abs(hash(str(case.body))) % 3].pk
        response = case.call(**session)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    with same_connection():
        run()
    assert 500 not in statuses
    if who == "staff" or (who == "member" and "community_id" in path):
        assert not {401, 403} & set(statuses), statuses
    if who == "member" and path == API:
        assert set(statuses) <= {400, 403}, statuses  # never created by a member
    if who is None and method == "POST":
        assert set(statuses) == {403}, statuses  # no CSRF token without a session either


def test_a_nul_character_is_a_400_on_every_database(client, people):
    client.force_login(people["staff"])
    answer = client.post(
        "/api/v1/communities",
        {"name": "Jeunes\x00", "description": "x"},
        content_type="application/json",
    )
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["field"] == "name"
    from nextwork.messaging.models import Community

    assert not Community.objects.filter(name__startswith="Jeunes").exists()
