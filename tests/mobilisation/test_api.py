"""/api/v1/elections and /api/v1/proxies: the public calendar, who may ask, offer, match and
see what, the law's refusals in the project's error format, and a schemathesis run over the
mobilisation part of the OpenAPI schema."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextwork.mobilisation import services
from tests.territories.test_api import CHECKS, same_connection

API = "/api/v1"


def post(client, path, body=None):
    return client.post(f"{API}{path}", body or {}, content_type="application/json")


def error_of(response, status, field=None):
    assert response.status_code == status, response.content[:400]
    error = response.json()["error"]
    assert error["message"]
    if field is not None:
        assert error["field"] == field, error
    return error


@pytest.fixture
def pair(voter, first_round, people):
    """Rania asks for a proxy in Paris, Hugo offers Paris; Marius asks in Marseille."""
    rania, hugo, marius = voter("Rania"), voter("Hugo"), voter("Marius", "13055")
    request = services.request_create(member=rania, round_id=first_round.pk)
    offer = services.offer_create(member=hugo, round_id=first_round.pk, commune_codes=["75056"])
    marseille = services.request_create(member=marius, round_id=first_round.pk)
    return {"rania": rania, "hugo": hugo, "marius": marius, "request": request, "offer": offer,
            "marseille": marseille}  # fmt: skip


def test_elections_are_public_and_drafts_are_not_found(client, election, people):
    draft = services.election_create(
        by=people["staff"], kind="municipales", name="Brouillon", slug="brouillon",
        registration_deadline=datetime.date(2030, 1, 1),
        rounds=[services.RoundIn(1, datetime.date(2030, 3, 1))],
    )  # fmt: skip
    listed = client.get(f"{API}/elections").json()
    assert listed["total"] == 1 and listed["limit"] == 20
    (item,) = listed["items"]
    assert item["slug"] == election.slug and item["kind"] == "legislatives"
    assert [r["number"] for r in item["rounds"]] == [1, 2]
    assert item["rounds"][0]["opens_at"] == "08:00" and item["areas"] == []
    assert client.get(f"{API}/elections/{election.pk}").json()["name"] == election.name
    error_of(client.get(f"{API}/elections/{draft.pk}"), 404)
    error_of(client.get(f"{API}/elections?limit=1000"), 400, "limit")


def test_asking_and_offering_need_a_login_and_the_consent(client, first_round, make_member):
    error_of(post(client, "/proxies/requests", {"round": first_round.pk}), 401)
    client.force_login(make_member("Zoe"))
    error_of(post(client, "/proxies/requests", {"round": first_round.pk, "commune": "75056"}),
             403, "consent")  # fmt: skip


def test_a_member_asks_and_offers_then_cancels(client, voter, first_round):
    client.force_login(voter("Rania"))
    created = post(client, "/proxies/requests", {"round": first_round.pk})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["commune"] == {"code": "75056", "name": "Paris"} and body["status"] == "requested"
    # One request per round; and no offer on a round one asks for.
    error_of(post(client, "/proxies/requests", {"round": first_round.pk}), 409, "round")
    offer = {"round": first_round.pk, "communes": ["75056"]}
    error_of(post(client, "/proxies/offers", offer), 409, "round")
    cancelled = post(client, f"/proxies/requests/{body['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    created = post(client, "/proxies/offers", offer)
    assert created.status_code == 201, created.content
    assert created.json()["communes"] == [{"code": "75056", "name": "Paris"}]
    error_of(post(client, "/proxies/offers", {"round": first_round.pk, "communes": ["99999"]}),
             400, "communes")  # fmt: skip
    withdrawn = post(client, f"/proxies/offers/{created.json()['id']}/withdraw")
    assert withdrawn.json()["active"] is False


def test_a_past_round_is_a_conflict(client, voter, election):
    from django.utils import timezone

    past = election.rounds.get(number=1)
    past.date = timezone.localdate() - datetime.timedelta(days=1)
    past.save()
    client.force_login(voter())
    error_of(post(client, "/proxies/requests", {"round": past.pk}), 409, "round")
    error_of(post(client, "/proxies/requests", {"round": 10**6}), 404, "round")


def test_coordinators_match_only_their_territory(client, pair, people):
    propose = {"request": pair["request"].pk, "offer": pair["offer"].pk}
    client.force_login(people["member"])
    error_of(post(client, "/proxies/matches", propose), 403)
    client.force_login(people["camille"])  # a relay is no coordinator
    error_of(post(client, "/proxies/matches", propose), 403)
    client.force_login(people["coord13"])
    error_of(post(client, "/proxies/matches", propose), 404, "request")
    client.force_login(people["coord75"])
    made = post(client, "/proxies/matches", propose)
    assert made.status_code == 201, made.content
    match = made.json()
    assert match["side"] == "coordinator" and match["status"] == "proposed"
    assert match["requester"] == {"first_name": "Rania"} and match["other"] is None
    # Marius's request in Marseille is not the 75 coordinator's to match.
    error_of(post(client, "/proxies/matches", {"request": pair["marseille"].pk,
                                               "offer": pair["offer"].pk}), 404)  # fmt: skip

    # Who sees the match.
    client.force_login(people["coord13"])
    assert client.get(f"{API}/proxies/matches").json()["total"] == 0
    client.force_login(people["member"])
    assert client.get(f"{API}/proxies/matches").json()["items"] == []
    error_of(post(client, f"/proxies/matches/{match['id']}/accept"), 404)
    error_of(post(client, f"/proxies/matches/{match['id']}/decline"), 404)
    client.force_login(people["staff"])
    assert client.get(f"{API}/proxies/matches").json()["total"] == 1
    client.logout()
    error_of(client.get(f"{API}/proxies/matches"), 401)


def test_contact_details_only_once_both_accepted(client, pair, people):
    rania, hugo = pair["rania"], pair["hugo"]
    client.force_login(people["coord75"])
    propose = {"request": pair["request"].pk, "offer": pair["offer"].pk}
    match_id = post(client, "/proxies/matches", propose).json()["id"]
    client.force_login(rania)
    (seen,) = client.get(f"{API}/proxies/matches").json()["items"]
    assert seen["side"] == "requester" and seen["other"]["first_name"] == "Hugo"
    assert seen["other"]["email"] is None and hugo.email not in str(seen)
    accepted = post(client, f"/proxies/matches/{match_id}/accept").json()
    assert accepted["requester_accepted"] and accepted["status"] == "proposed"
    assert accepted["other"]["email"] is None
    error_of(post(client, f"/proxies/matches/{match_id}/steps", {"step": "declared"}), 409)
    client.force_login(hugo)
    both = post(client, f"/proxies/matches/{match_id}/accept").json()
    assert both["status"] == "accepted" and both["other"]["email"] == rania.email
    assert both["other"]["last_name"] == rania.last_name
    error_of(post(client, f"/proxies/matches/{match_id}/steps", {"step": "declared"}), 403)
    client.force_login(rania)
    (seen,) = client.get(f"{API}/proxies/matches?status=accepted").json()["items"]
    assert seen["other"]["email"] == hugo.email
    declared = post(client, f"/proxies/matches/{match_id}/steps", {"step": "declared"})
    assert declared.json()["status"] == "declared"
    # The coordinator still sees first names only.
    client.force_login(people["coord75"])
    (seen,) = client.get(f"{API}/proxies/matches").json()["items"]
    assert rania.email not in str(seen) and hugo.email not in str(seen)


def test_the_legal_limits_are_422(client, pair, voter, first_round, people):
    client.force_login(people["coord75"])
    offer = pair["offer"].pk
    assert post(client, "/proxies/matches", {"request": pair["request"].pk,
                                             "offer": offer}).status_code == 201  # fmt: skip
    second = services.request_create(member=voter("Sam"), round_id=first_round.pk)
    error = error_of(post(client, "/proxies/matches", {"request": second.pk, "offer": offer}),
                     422, "offer")  # fmt: skip
    assert error["code"] == "rule_broken" and "L73" in error["message"]


def test_a_decline_frees_the_request(client, pair, people):
    client.force_login(people["coord75"])
    propose = {"request": pair["request"].pk, "offer": pair["offer"].pk}
    match_id = post(client, "/proxies/matches", propose).json()["id"]
    client.force_login(pair["hugo"])
    declined = post(client, f"/proxies/matches/{match_id}/decline").json()
    assert declined["status"] == "cancelled"
    pair["request"].refresh_from_db()
    assert pair["request"].status == "requested"


def test_automatic_matching_for_coordinators(
    client, pair, first_round, people, monkeypatch, django_capture_on_commit_callbacks
):
    """Queued by the API, run by the worker, followed by its id; only by who queued it."""
    import io

    from django.core.management import call_command
    from django_tasks_db.management.commands import db_worker

    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)
    run = {"round": first_round.pk, "radius_km": 20}
    client.force_login(people["member"])
    error_of(post(client, "/proxies/match-run", run), 403)

    def queue_and_work(who):
        client.force_login(people[who])
        with django_capture_on_commit_callbacks(execute=True):
            queued = post(client, "/proxies/match-run", run)
        assert queued.status_code == 202, queued.content
        assert queued.json()["status"] == "queued" and queued.json()["result"] is None
        call_command("worker", "--batch", stdout=io.StringIO())
        done = client.get(f"{API}/proxies/match-runs/{queued.json()['id']}")
        assert done.status_code == 200 and done.json()["status"] == "done", done.content
        return queued.json()["id"], done.json()["result"]

    run13, outcome = queue_and_work("coord13")
    assert outcome["waiting"] == 1 and outcome["proposed"] == 0  # Marseille: nobody offers
    _, outcome = queue_and_work("coord75")
    assert (outcome["waiting"], outcome["proposed"], outcome["same_commune"]) == (1, 1, 1)
    error_of(client.get(f"{API}/proxies/match-runs/{run13}"), 404, "run_id")  # not theirs
    error_of(post(client, "/proxies/match-run", {"round": first_round.pk, "radius_km": 500}),
             400, "radius_km")  # fmt: skip


def test_the_openapi_document_lists_the_endpoints_and_their_errors(client):
    paths = client.get(f"{API}/openapi.json").json()["paths"]
    for path in ("/elections", "/elections/{election_id}", "/proxies/requests", "/proxies/offers",
                 "/proxies/matches", "/proxies/matches/{match_id}/accept",
                 "/proxies/matches/{match_id}/decline", "/proxies/match-run",
                 "/proxies/match-runs/{run_id}"):  # fmt: skip
        assert f"{API}{path}" in paths, path
    assert "422" in paths["/api/v1/proxies/matches"]["post"]["responses"]


# -- schemathesis ---------------------------------------------------------------------------------


def session_of(member):
    from django.middleware.csrf import _get_new_csrf_string
    from django.test import Client

    browser = Client()
    browser.force_login(member)
    token = _get_new_csrf_string()
    return {
        "cookies": {"sessionid": browser.cookies["sessionid"].value, "csrftoken": token},
        "headers": {"X-CSRFToken": token},
    }


@pytest.mark.parametrize("who", ["member", "coord13"])
def test_schemathesis(api_schema, pair, people, first_round, who):
    """Every mobilisation operation, as a member and as the other department's coordinator:
    the answers match the schema, no 5xx, and nobody's contact details leak."""
    import schemathesis

    session = session_of(pair["marius"] if who == "member" else people["coord13"])
    secrets = [m.email.encode() for m in (pair["rania"], pair["hugo"])]
    services.match_propose(request_id=pair["request"].pk, offer_id=pair["offer"].pk,
                           by=people["coord75"])  # fmt: skip
    ids = [first_round.pk, pair["request"].pk, pair["offer"].pk, pair["marseille"].pk]
    statuses: dict[str, list[int]] = {}
    operations = [
        (path, method.upper())
        for path, item in api_schema.raw_schema["paths"].items()
        if path.startswith(("/api/v1/elections", "/api/v1/proxies"))
        for method in item
    ]
    assert len(operations) == 13

    def check(operation, mode, seen):
        @settings(max_examples=6, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy(generation_mode=mode),
               pick=st.integers(min_value=0, max_value=100))  # fmt: skip
        def run(case, pick):
            if mode.is_positive:
                # Mostly real rows, the other people's included, so 2xx answers are checked.
                for key in case.path_parameters or {}:
                    case.path_parameters[key] = ids[pick % len(ids)]
            response = case.call(**session)
            seen.append(response.status_code)
            case.validate_response(response, checks=CHECKS)
            assert not [s for s in secrets if s in response.content.lower()]

        with same_connection():
            run()

    for path, method in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            check(api_schema[path][method], mode, statuses.setdefault(f"{method} {path}", []))
    every = [s for codes in statuses.values() for s in codes]
    assert 401 not in every, statuses
    assert not [s for s in every if s >= 500], statuses
