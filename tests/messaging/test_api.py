"""The messaging API: segments, messages, alerts; who may write to whom; schemathesis."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import HealthCheck, given, settings

from nextwork.messaging import communities, digest, services
from nextwork.messaging.delivery import materialise, send_message
from nextwork.messaging.models import (
    Community,
    CommunityMembership,
    Delivery,
    DeliveryStatus,
    Message,
    MessageStatus,
    Preferences,
)
from tests.territories.test_api import CHECKS, same_connection


@pytest.fixture
def town(make_member, place, consenting):
    """Members in Paris (75-02, 75-03) and Marseille (13-01), all consenting to email."""
    members = {}
    for name, seat in [("Ana", "75-02"), ("Bo", "75-03"), ("Cy", "13-01"), ("Dee", "13-01")]:
        member = consenting(make_member(name), types=("newsletter", "alert", "community"))
        place(member, seat)
        members[name] = member
    return members


@pytest.fixture
def youth(people, town):
    """The "jeunes" community: Bo (Paris) and Cy (Marseille); Lou coordinates it."""
    community = Community.objects.create(slug="jeunes", name="Jeunes")
    for name in ("Bo", "Cy"):
        CommunityMembership.objects.create(community=community, member=town[name])
    communities.coordinator_grant(
        actor=people["staff"], community=community, member=people["member"]
    )
    return community


def _api(client, member, method, path, body=None):
    client.force_login(member)
    call = getattr(client, method)
    return call(path, body, content_type="application/json") if body is not None else call(path)


def test_staff_saves_a_segment_and_counts_it_live(client, people, town):
    body = {"name": "Paris", "definition": {"area": ["75"]}}
    created = _api(client, people["staff"], "post", "/api/v1/segments", body)
    assert created.status_code == 201
    segment = created.json()["id"]
    count = client.get(f"/api/v1/segments/{segment}/count?message_type=newsletter").json()
    assert count["scope"] == "national"
    assert count["members"] == 2  # Ana and Bo live in Paris
    assert count["reachable_email"] == 2  # only Ana and Bo agreed to the newsletter


def test_a_bad_definition_names_the_place_of_the_mistake(client, people):
    body = {"name": "x", "definition": {"and": [{"area": ["75"]}, {"area": ["99-99"]}]}}
    answer = _api(client, people["staff"], "post", "/api/v1/segments", body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_segment" and error["message"].startswith(
        "definition.and[1].area"
    )
    donors = {"name": "x", "definition": {"donor": True}}
    answer = _api(client, people["staff"], "post", "/api/v1/segments", donors)
    assert "fundraising" in answer.json()["error"]["message"]


def test_members_without_a_sending_role_cannot_write(client, people, town):
    body = {"name": "Paris", "definition": {"area": ["75"]}}
    for who in ("member", "camille"):
        assert _api(client, people[who], "post", "/api/v1/segments", body).status_code == 403
    message = {
        "channel": "email",
        "message_type": "newsletter",
        "subject": "Hi",
        "body_text": "Hi",
        "definition": {"area": ["75"]},
    }
    assert _api(client, people["camille"], "post", "/api/v1/messages", message).status_code == 403


def test_a_department_coordinator_cannot_reach_outside_the_department(client, people, town):
    coordinator = people["coord75"]
    outside = {
        "channel": "email",
        "message_type": "newsletter",
        "subject": "Bonjour",
        "body_text": "Bonjour {{ first_name }}",
        "definition": {"area": ["13"]},
        "scope_area": "13",
    }
    refused = _api(client, coordinator, "post", "/api/v1/messages", outside)
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "scope_area"
    # Without naming a scope, the coordinator writes under their department: a definition
    # pointing at Marseille (or at everyone) reaches nobody outside Paris.
    for definition in ({"area": ["13"]}, {"confirmed": True}):
        body = {**outside, "definition": definition}
        body.pop("scope_area")
        created = _api(client, coordinator, "post", "/api/v1/messages", body)
        assert created.status_code == 201 and created.json()["scope"] == "75"
        message = Message.objects.get(pk=created.json()["id"])
        reached = set(services.message_audience(message).values_list("pk", flat=True))
        assert reached <= {town["Ana"].pk, town["Bo"].pk}
        assert reached == ({town["Ana"].pk, town["Bo"].pk} if "confirmed" in definition else set())
    counted = client.get("/api/v1/segments").json()
    assert counted == []  # no saved segment of theirs yet, and nobody else's


def test_a_community_coordinator_writes_to_the_community_only(client, people, town, youth):
    lou = people["member"]
    body = {
        "channel": "email",
        "message_type": "community",
        "subject": "Nouvelles",
        "body_text": "Bonjour {{ first_name }}",
        "definition": {"area": ["75", "13"]},
    }
    created = _api(client, lou, "post", "/api/v1/messages", body)
    assert created.status_code == 201 and created.json()["scope"] == "community:jeunes"
    message = Message.objects.get(pk=created.json()["id"])
    reached = set(services.message_audience(message).values_list("pk", flat=True))
    assert reached == {town["Bo"].pk, town["Cy"].pk}
    # Newsletters are the organisation's: a community's coordinator sends community news.
    wrong_type = _api(
        client, lou, "post", "/api/v1/messages", {**body, "message_type": "newsletter"}
    )
    assert wrong_type.status_code == 400 and wrong_type.json()["error"]["field"] == "message_type"
    other = Community.objects.create(slug="seniors", name="Seniors")
    elsewhere = {**body, "scope_community": other.slug}
    assert _api(client, lou, "post", "/api/v1/messages", elsewhere).status_code == 403
    assert (
        _api(client, lou, "post", "/api/v1/messages", {**body, "scope_area": "75"}).status_code
        == 403
    )


def test_send_queues_once_and_stats_follow(client, people, town, inbox):
    body = {
        "channel": "email",
        "message_type": "newsletter",
        "subject": "Bonjour",
        "body_html": "<p>Bonjour {{ first_name }}</p>",
        "definition": {"area": ["75", "13"]},
    }
    created = _api(client, people["staff"], "post", "/api/v1/messages", body).json()
    sent = client.post(f"/api/v1/messages/{created['id']}/send")
    assert sent.status_code == 202 and sent.json()["status"] == "queued"
    assert client.post(f"/api/v1/messages/{created['id']}/send").status_code == 409
    send_message(created["id"])
    stats = client.get(f"/api/v1/messages/{created['id']}/stats").json()
    assert (stats["recipients"], stats["sent"], stats["queued"], stats["failed"]) == (4, 4, 0, 0)
    assert stats["opened"] == 0  # nobody allowed tracking
    # Another coordinator cannot read or send someone else's message.
    client.force_login(people["coord13"])
    assert client.get(f"/api/v1/messages/{created['id']}/stats").status_code == 404


def test_an_alert_is_counted_then_confirmed_and_jumps_the_queue(client, people, town):
    body = {
        "channels": ["email", "sms"],
        "subject": "Urgent",
        "body": "Rassemblement demain 18 h devant la préfecture.",
        "definition": {"area": ["13"]},
    }
    dry = _api(client, people["staff"], "post", "/api/v1/alerts", body)
    assert dry.status_code == 200
    assert dry.json() == {"confirmed": False, "reachable": {"email": 2, "sms": 0}, "messages": []}
    assert not Message.objects.exists()
    sent = _api(client, people["staff"], "post", "/api/v1/alerts", {**body, "confirm": True})
    assert sent.status_code == 202
    messages = Message.objects.filter(pk__in=sent.json()["messages"])
    assert {(m.channel, m.is_alert, m.status) for m in messages} == {
        ("email", True, MessageStatus.QUEUED),
        ("sms", True, MessageStatus.QUEUED),
    }
    assert {m.priority for m in messages} == {services.ALERT_PRIORITY}
    bad = _api(client, people["staff"], "post", "/api/v1/alerts", {**body, "channels": ["fax"]})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "channels"


def test_internal_notifications_are_deduplicated_within_the_cool_down(people, town):
    first = services.notify(
        key="spike:rule-7", members=[town["Ana"].pk], subject="Pic", body="Un pic de mentions."
    )
    assert first is not None and first.status == MessageStatus.QUEUED
    again = services.notify(
        key="spike:rule-7", members=[town["Ana"].pk], subject="Pic", body="Encore."
    )
    assert again is None
    Message.objects.filter(pk=first.pk).update(
        created_at=first.created_at - datetime.timedelta(hours=2)
    )
    later = services.notify(
        key="spike:rule-7", members=[town["Ana"].pk], subject="Pic", body="Plus tard."
    )
    assert later is not None
    assert set(services.message_audience(later).values_list("pk", flat=True)) == {town["Ana"].pk}
    assert services.coordinators_of(town["Ana"].locations.get().constituency) == [
        people["coord75"].pk
    ]


def test_weekly_digest_gathers_messages_and_sends_one_email(
    people, town, inbox, django_capture_on_commit_callbacks
):
    Preferences.objects.create(member=town["Ana"], weekly_digest=True)
    ids = []
    for subject in ("Première", "Seconde"):
        message = services.message_create(
            data=services.MessageIn(
                channel="email",
                message_type="newsletter",
                subject=subject,
                body_text=f"{subject} nouvelle pour {{{{ first_name }}}}.",
                definition={"area": ["75"]},
            ),
            by=people["staff"],
        )
        services.message_send(message=message, by=people["staff"])
        send_message(message.pk)
        ids.append(message.pk)
    held = Delivery.objects.get(message_id=ids[0], member=town["Ana"])
    assert held.status == DeliveryStatus.DIGEST
    assert town["Ana"].email not in {r for rcpts, _m in inbox.messages for r in rcpts}
    with django_capture_on_commit_callbacks(execute=True):  # the email leaves after commit
        assert digest.send_digests() == 1
    (email,) = [m for rcpts, m in inbox.messages if town["Ana"].email in rcpts]
    body = email.get_body().get_content()
    assert "Première nouvelle pour Ana" in body and "Seconde nouvelle pour Ana" in body
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert digest.send_digests() == 0  # nothing left: never twice
    # Alerts do not wait for the digest.
    alert = services.notify(key="k", members=[town["Ana"].pk], subject="Alerte", body="Vite")
    materialise(alert)
    assert Delivery.objects.get(message=alert).status == DeliveryStatus.QUEUED


# -- schemathesis ------------------------------------------------------------------------------


OPERATIONS = [
    ("/api/v1/segments", "GET", 20, True),
    ("/api/v1/segments", "POST", 40, True),
    ("/api/v1/segments/{segment_id}/count", "GET", 20, True),
    ("/api/v1/messages", "GET", 20, True),
    ("/api/v1/messages", "POST", 40, True),
    ("/api/v1/messages/{message_id}/send", "POST", 20, True),
    ("/api/v1/messages/{message_id}/stats", "GET", 20, True),
    ("/api/v1/alerts", "POST", 30, True),
    ("/api/v1/unsubscribe/{token}", "POST", 30, False),
    ("/api/v1/messages", "POST", 10, False),
]


@pytest.mark.parametrize(
    ("path", "method", "examples", "logged_in"),
    OPERATIONS,
    ids=[f"{m}{p}-{'staff' if a else 'anon'}" for p, m, _n, a in OPERATIONS],
)
def test_schemathesis(api_schema, staff_session, town, path, method, examples, logged_in):
    operation = api_schema[path][method]
    session = staff_session if logged_in else {}
    statuses: list[int] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case):
        response = case.call(**session)
        statuses.append(response.status_code)
        assert response.status_code < 500, response.content[:300]
        case.validate_response(response, checks=CHECKS)

    with same_connection():
        run()
    if logged_in:
        assert 401 not in statuses, statuses
    elif path.startswith("/api/v1/unsubscribe"):
        assert set(statuses) <= {400, 403, 404, 409}, statuses  # only its signed token works


def test_a_region_coordinator_writes_and_sends_under_the_region(client, people, town, area):
    from nextwork.network.models import Grant, Role
    from nextwork.territories.models import AreaKind

    paca = area("93", AreaKind.REGION)  # Provence-Alpes-Côte d'Azur: Marseille, not Paris
    coordinator = people["member"]
    Grant.objects.create(member=coordinator, role=Role.COORDINATOR, area=paca)
    body = {
        "channel": "email",
        "message_type": "newsletter",
        "subject": "Bonjour",
        "body_text": "Bonjour {{ first_name }}",
        "definition": {"confirmed": True},
    }
    created = _api(client, coordinator, "post", "/api/v1/messages", body)
    assert created.status_code == 201 and created.json()["scope"] == "R93"
    message = Message.objects.get(pk=created.json()["id"])
    reached = set(services.message_audience(message).values_list("pk", flat=True))
    assert reached == {town["Cy"].pk, town["Dee"].pk}
    # Sending checks the scope again, by the region's own code (not department 93's).
    sent = client.post(f"/api/v1/messages/{message.pk}/send")
    assert sent.status_code == 202, sent.json()
    counted = services.segment_count(definition={"area": ["R93"]}, by=coordinator)
    assert counted == {"scope": "R93", "members": 2}


def test_the_digest_checks_what_any_email_needs_and_unsubscribes_from_all(
    client, people, town, inbox, django_capture_on_commit_callbacks
):
    from nextwork.messaging import consent
    from nextwork.messaging.models import ConsentHow

    ana, bo = town["Ana"], town["Bo"]
    for member in (ana, bo):
        Preferences.objects.create(member=member, weekly_digest=True)
    for message_type in ("newsletter", "community"):
        message = services.message_create(
            data=services.MessageIn(
                channel="email",
                message_type=message_type,
                subject=message_type,
                body_text="Texte",
                definition={"area": ["75"]},
            ),
            by=people["staff"],
        )
        services.message_send(message=message, by=people["staff"])
        send_message(message.pk)
    # Bo's address bounced since; Ana withdrew community news.
    consent.suppress(channel="email", address=bo.email, reason="bounce")
    consent.consent_set(
        member=ana, channel="email", message_type="community", given=False, how=ConsentHow.SITE
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert digest.send_digests() == 1
    ((rcpts, email),) = inbox.messages
    assert rcpts == [ana.email]
    body = email.get_body().get_content()
    assert "newsletter" in body and "community" not in body.split("-- ")[0]
    # Its one-click link stops every email type, not only the first item's.
    path = email["List-Unsubscribe"].strip("<>").split("testserver", 1)[1]
    assert client.post(path).status_code == 200
    assert not any(
        given
        for (channel, _t), given in consent.current_consents(ana).items()
        if channel == "email"
    )


def test_hidden_communities_cannot_be_named_by_other_senders(client, people, town, youth):
    hidden = Community.objects.create(slug="sante", name="Santé", public=False)
    CommunityMembership.objects.create(community=hidden, member=town["Ana"])
    definition = {"and": [{"community": ["sante"]}, {"area": ["75-02"]}]}
    for who in ("coord75", "member"):  # a department's and another community's coordinator
        answer = _api(
            client, people[who], "post", "/api/v1/segments", {"name": "x", "definition": definition}
        )
        assert answer.status_code == 400
        assert answer.json()["error"]["message"] == (
            "definition.and[0].community: no community 'sante'."
        )  # the same answer as for a slug that does not exist
    counted = services.segment_count(definition=definition, by=people["staff"])
    assert counted["members"] == 1  # staff may


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "definition": {"area": ["75\x00"]}},
        {"name": "x\x00", "definition": {"area": ["75"]}},
        {"name": "deep", "definition": "nest"},
    ],
    ids=["nul-in-definition", "nul-in-name", "deeply-nested"],
)
def test_hostile_definitions_get_a_clear_400(client, people, body):
    if body["definition"] == "nest":
        node: dict = {"area": ["75"]}
        for _ in range(400):
            node = {"not": node}
        body = {**body, "definition": node}
    answer = _api(client, people["staff"], "post", "/api/v1/segments", body)
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] in ("definition", "name")


def test_a_variable_cannot_start_a_link(client, people):
    body = {
        "channel": "email",
        "message_type": "newsletter",
        "subject": "Bonjour",
        "body_html": '<a href="{{ first_name }}">clic</a>',
        "definition": {"area": ["75"]},
    }
    answer = _api(client, people["staff"], "post", "/api/v1/messages", body)
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "body_html"
    allowed = {**body, "body_html": '<a href="{{ preferences_url }}">préférences</a>'}
    assert _api(client, people["staff"], "post", "/api/v1/messages", allowed).status_code == 201


def test_test_sends_are_limited_and_never_reach_a_suppressed_address(client, people, inbox):
    from nextwork.messaging import consent

    body = {
        "channel": "email",
        "message_type": "newsletter",
        "subject": "Bonjour",
        "body_text": "Bonjour",
        "definition": {"area": ["75"]},
    }
    message = _api(client, people["staff"], "post", "/api/v1/messages", body).json()["id"]
    url = f"/api/v1/messages/{message}/test"
    statuses = [client.post(url).status_code for _ in range(services.TEST_SENDS_PER_HOUR + 1)]
    assert statuses == [200] * services.TEST_SENDS_PER_HOUR + [429]
    from django.core.cache import cache

    cache.clear()
    consent.suppress(channel="email", address=people["staff"].email, reason="complaint")
    refused = client.post(url)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "suppressed"
    assert len(inbox.messages) == services.TEST_SENDS_PER_HOUR
