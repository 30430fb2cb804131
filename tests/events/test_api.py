"""/api/v1/events: the public list, creation with its permissions and bad input, answers; and
a schemathesis run against the events part of the OpenAPI schema."""

from __future__ import annotations

import datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextwork.events.models import Event, Rsvp
from tests.territories.test_api import CHECKS, same_connection

from .conftest import MENDE, PARIS, POINTE_A_PITRE, in_days

API = "/api/v1/events"


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def payload(**changes):
    body = {
        "title": "Réunion publique sur l'hôpital",
        "kind": "public_meeting",
        "starts_at": in_days(8).isoformat(),
        "ends_at": in_days(8, hour=21).isoformat(),
        "address": MENDE,
        "capacity": 40,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def error_of(response, status, field):
    assert response.status_code == status, response.content[:400]
    error = response.json()["error"]
    assert error["field"] == field, error
    assert error["message"]
    return error


def test_the_list_is_public_upcoming_and_filtered(client, make_event, people):
    paris = make_event(title="À Paris", capacity=10)
    make_event(title="Entre membres", public=False)
    post(client, API, payload())  # not logged in: refused, nothing created
    client.force_login(people["staff"])
    assert post(client, API, payload()).status_code == 201
    client.logout()
    body = client.get(API).json()
    assert [e["title"] for e in body] == ["Réunion publique sur l'hôpital", "À Paris"]
    first = body[1]
    assert first["id"] == paris.pk and first["places_left"] == 10 and first["going"] == 0
    assert first["department"] == {"code": "75", "name": "Paris"}
    assert first["constituency"] == "75-06" and first["time_zone"] == "Europe/Paris"
    assert first["starts_at"].endswith(("+01:00", "+02:00"))
    assert "members" not in first and "attendees" not in first
    assert [e["title"] for e in client.get(API, {"department": "48"}).json()] == [
        "Réunion publique sur l'hôpital"
    ]
    error_of(client.get(API, {"department": "ZZ"}), 400, "department")
    # Members see the members-only events as well.
    client.force_login(people["member"])
    assert len(client.get(API).json()) == 3


def test_past_and_cancelled_events_are_not_listed(client, make_event, people):
    from django.utils import timezone

    gone = make_event(title="Passé")
    Event.objects.filter(pk=gone.pk).update(
        starts_at=timezone.now() - datetime.timedelta(days=2),
        ends_at=timezone.now() - datetime.timedelta(days=2, hours=-2),
    )
    cancelled = make_event(title="Annulé")
    Event.objects.filter(pk=cancelled.pk).update(status="cancelled")
    assert client.get(API).json() == []
    assert client.get(f"{API}/{cancelled.pk}").json()["status"] == "cancelled"


@pytest.mark.parametrize(
    ("who", "status"),
    [("member", 403), ("coord13", 403), ("camille", 403), ("coord75", 403), ("staff", 201)],
)
def test_create_in_lozere_needs_a_grant_there(client, people, who, status):
    client.force_login(people[who])
    response = post(client, API, payload())
    assert response.status_code == status, response.content
    if status == 201:
        body = response.json()
        assert body["department"]["code"] == "48" and body["constituency"] == "48-01"
        assert body["commune"] == {"code": "48095", "name": "Mende"}
        assert body["precision"] == "commune" and body["lat"] is None
        assert body["capacity"] == 40 and body["places_left"] == 40
        assert Event.objects.get().created_by == people["staff"]
    else:
        assert response.json()["error"]["code"] == "forbidden"
        assert not Event.objects.exists()


def test_create_needs_a_login(client, people):
    response = post(client, API, payload())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends_at": in_days(8, hour=17).isoformat()}, "ends_at"),
        ({"ends_at": in_days(8, hour=18).isoformat()}, "ends_at"),
        ({"ends_at": in_days(18).isoformat()}, "ends_at"),
        (
            {"starts_at": in_days(-2).isoformat(), "ends_at": in_days(-2, 20).isoformat()},
            "starts_at",
        ),
        ({"capacity": 0}, "capacity"),
        ({"capacity": -3}, "capacity"),
        ({"address": "quelque part"}, "address"),
        ({"address": "   "}, "address"),
        ({"address": "Salle, 00000 Nulle-part"}, "address"),
        ({"title": "  "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"kind": "party"}, "kind"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"starts_at": "demain"}, "starts_at"),
        ({"campaign": 999999}, "campaign"),
        ({"constituency": "13-01"}, "constituency"),
        ({"country": "Atlantide", "address": "Quelque part"}, "country"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(client, people, changes, field):
    client.force_login(people["staff"])
    error = error_of(post(client, API, payload(**changes)), 400, field)
    assert error["code"] in ("invalid", "ambiguous_location")
    assert not Event.objects.exists()


def test_an_ambiguous_place_returns_the_candidates_then_takes_the_choice(client, people):
    client.force_login(people["camille"])
    response = post(client, API, payload(address=PARIS))
    error = error_of(response, 400, "constituency")
    assert error["code"] == "ambiguous_location"
    assert {c["code"] for c in error["candidates"]} == {"75-06", "75-07"}
    assert not Event.objects.exists()
    created = post(client, API, payload(address=PARIS, constituency="75-07"))
    assert created.status_code == 201 and created.json()["constituency"] == "75-07"


def test_an_overseas_event_is_in_its_local_time(client, people):
    client.force_login(people["staff"])
    body = post(
        client,
        API,
        payload(
            address=POINTE_A_PITRE,
            starts_at="2030-03-01T18:00:00",
            ends_at="2030-03-01T20:00:00",
        ),
    ).json()
    assert body["time_zone"] == "America/Guadeloupe"
    assert body["starts_at"] == "2030-03-01T18:00:00-04:00"
    # An offset given with the time is kept as the instant it names.
    body = post(
        client,
        API,
        payload(
            address="98800 Nouméa",
            constituency="988-01",
            starts_at="2030-03-01T08:00:00+00:00",
            ends_at="2030-03-01T10:00:00+00:00",
        ),
    ).json()
    assert body["time_zone"] == "Pacific/Noumea" and body["department"]["code"] == "988"
    assert body["starts_at"] == "2030-03-01T19:00:00+11:00"


def test_an_event_abroad_is_placed_by_its_country(client, people):
    client.force_login(people["staff"])
    body = post(
        client,
        API,
        payload(address="Café Einstein, Berlin", country="DE", time_zone="Europe/Berlin"),
    ).json()
    assert body["constituency"] == "99-07" and body["department"]["code"] == "99"
    assert body["time_zone"] == "Europe/Berlin"


def test_rsvp(client, make_event, make_member):
    event = make_event(capacity=1)
    url = f"{API}/{event.pk}/rsvp"
    assert post(client, url, {"going": True}).status_code == 401
    ada, bo = make_member("Ada"), make_member("Bo")
    client.force_login(ada)
    response = post(client, url, {"going": True})
    assert response.status_code == 201
    assert response.json() == {
        "event": event.pk,
        "status": "going",
        "places_left": 0,
        "waiting_position": None,
    }
    assert post(client, url, {"going": True}).status_code == 200
    client.force_login(bo)
    response = post(client, url, {"going": True})
    assert response.status_code == 201
    assert response.json()["status"] == "waiting" and response.json()["waiting_position"] == 1
    client.force_login(ada)
    response = post(client, url, {"going": False})
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert Rsvp.objects.get(member=bo).status == "going"
    error_of(post(client, url, {"going": "peut-être"}), 400, "going")
    error_of(post(client, f"{API}/999999/rsvp", {"going": True}), 404, "id")


def test_rsvp_to_a_cancelled_event_is_a_conflict(client, make_event, people, make_member):
    from nextwork.events import services

    event = make_event()
    services.event_cancel(event=event, by=people["camille"])
    client.force_login(make_member("Ada"))
    response = post(client, f"{API}/{event.pk}/rsvp", {"going": True})
    assert response.status_code == 409 and response.json()["error"]["code"] == "event_cancelled"


def test_a_members_only_event_is_not_found_for_visitors(client, make_event, people):
    event = make_event(public=False)
    assert client.get(f"{API}/{event.pk}").status_code == 404
    client.force_login(people["member"])
    assert client.get(f"{API}/{event.pk}").json()["public"] is False


def test_the_openapi_document_lists_the_events_endpoints(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"201", "400", "401", "403"} <= set(paths[API]["post"]["responses"])
    assert {"200", "201", "401", "404", "409"} <= set(
        paths[f"{API}/{{event_id}}/rsvp"]["post"]["responses"]
    )


# -- schemathesis ----------------------------------------------------------------------------


OPERATIONS = [
    ("/api/v1/events", "GET", schemathesis.GenerationMode.POSITIVE, 30, False),
    ("/api/v1/events", "GET", schemathesis.GenerationMode.NEGATIVE, 20, False),
    ("/api/v1/events/{event_id}", "GET", schemathesis.GenerationMode.POSITIVE, 20, False),
    ("/api/v1/events", "POST", schemathesis.GenerationMode.POSITIVE, 40, True),
    ("/api/v1/events", "POST", schemathesis.GenerationMode.NEGATIVE, 30, True),
    ("/api/v1/events", "POST", schemathesis.GenerationMode.POSITIVE, 10, False),
    ("/api/v1/events/{event_id}/rsvp", "POST", schemathesis.GenerationMode.POSITIVE, 30, True),
    ("/api/v1/events/{event_id}/rsvp", "POST", schemathesis.GenerationMode.NEGATIVE, 20, True),
]


@pytest.mark.parametrize(
    ("path", "method", "mode", "examples", "logged_in"),
    OPERATIONS,
    ids=[f"{m}{p}-{g.value}-{'staff' if a else 'anon'}" for p, m, g, _n, a in OPERATIONS],
)
def test_schemathesis(
    api_schema, make_event, staff_session, path, method, mode, examples, logged_in
):
    events = [make_event(title=f"Événement {i}", capacity=2) for i in range(3)]
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
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        if case.path_parameters and "event_id" in case.path_parameters and mode.is_positive:
            # Mostly real events, so that the 2xx answers are checked as well.
            case.path_parameters["event_id"] = events[abs(hash(str(case.body))) % len(events)].pk
        response = case.call(**session)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    with same_connection():
        run()
    if logged_in:  # the session and its CSRF token were accepted
        assert not {401, 403} & set(statuses), statuses
    elif method == "POST":
        assert set(statuses) == {403}, statuses  # no CSRF token without a session either


def realistic_events():
    """Mostly sensible creations, so that the 201 bodies are checked too, with mistakes mixed
    in: places of every kind, local and offset times, odd capacities and zones."""
    start = st.integers(min_value=-3, max_value=400).map(lambda d: in_days(d))
    return st.fixed_dictionaries(
        {
            "title": st.sampled_from(["Réunion", "Apéro", "Débriefing"]) | st.text(max_size=30),
            "kind": st.sampled_from(["meetup", "debrief", "public_meeting"]),
            "start": start,
            "hours": st.integers(min_value=-2, max_value=200),
            "address": st.sampled_from(
                [MENDE, PARIS, POINTE_A_PITRE, "98800 Nouméa", "Bar, 13001 Marseille"]
            )
            | st.text(max_size=40),
            "constituency": st.none() | st.sampled_from(["75-06", "75-07", "988-01", "48-01"]),
            "capacity": st.none() | st.integers(min_value=-2, max_value=500),
            "time_zone": st.none()
            | st.sampled_from(["Europe/Paris", "Pacific/Noumea", "UTC", "Nowhere/Else"]),
            "offset": st.booleans(),
            "public": st.booleans(),
        }
    ).map(_event_body)


def _event_body(draw: dict) -> dict:
    start = draw["start"]
    end = start + datetime.timedelta(hours=draw["hours"])
    if draw["offset"]:
        start, end = (t.replace(tzinfo=datetime.UTC) for t in (start, end))
    body = {
        "title": draw["title"],
        "kind": draw["kind"],
        "starts_at": start.isoformat(),
        "ends_at": end.isoformat(),
        "address": draw["address"],
        "public": draw["public"],
    }
    for key in ("constituency", "capacity", "time_zone"):
        if draw[key] is not None:
            body[key] = draw[key]
    return body


def test_schemathesis_realistic_create(api_schema, staff_session):
    operation = api_schema["/api/v1/events"]["POST"]
    statuses = []

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=realistic_events())
    def run(body):
        case = operation.Case(body=body, media_type="application/json")
        response = case.call(**staff_session)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    with same_connection():
        run()
    assert statuses.count(201) >= 5, statuses
    assert Event.objects.count() == statuses.count(201)
