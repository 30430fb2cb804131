"""The territory endpoints of /api/v1/, and a schemathesis run against their OpenAPI schema."""

from __future__ import annotations

import contextlib
import json

import pytest
import schemathesis
import shapely
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

API = "/api/v1"

pytestmark = pytest.mark.usefixtures("registry")


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["message"]
    assert body["error"]["code"] == {400: "invalid", 404: "not_found"}[status]
    return body["error"]


# --------------------------------------------------------------------------------------------
# /locate
# --------------------------------------------------------------------------------------------


def test_locate_a_point(client):
    response = client.get(f"{API}/locate", {"lat": "44.518", "lon": "3.501"})
    assert response.status_code == 200
    body = response.json()
    assert body["precision"] == "point"
    assert body["ambiguous"] is False
    assert [c["code"] for c in body["candidates"]] == ["48-01"]
    seat = body["candidates"][0]
    assert seat["name"] == "Lozère (1re circonscription)"
    assert seat["department"]["code"] == "48"
    assert seat["deputy"]["name"]
    assert seat["vacant"] is False
    assert len(seat["senators"]) == 1
    assert body["commune"]["code"] == "48095"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"postcode": "31000"}, {"31-01", "31-02", "31-03", "31-04", "31-09"}),
        ({"commune": "2A004"}, None),
        ({"country": "Allemagne"}, {"99-07"}),
        ({"q": "48000"}, {"48-01"}),
    ],
)
def test_locate_other_queries(client, params, expected):
    response = client.get(f"{API}/locate", params)
    assert response.status_code == 200
    found = {c["code"] for c in response.json()["candidates"]}
    assert found
    if expected is not None:
        assert found == expected


BAD_LOCATE = [
    # (query string, status, field)
    ({"lat": "91", "lon": "2"}, 400, "lat"),
    ({"lat": "-91", "lon": "2"}, 400, "lat"),
    ({"lat": "45", "lon": "181"}, 400, "lon"),
    ({"lat": "abc", "lon": "2"}, 400, "lat"),
    ({"lat": "45", "lon": "east"}, 400, "lon"),
    ({"lat": "nan", "lon": "2"}, 400, "lat"),
    ({"lat": "45", "lon": "inf"}, 400, "lon"),
    ({"lat": "44.5"}, 400, "lon"),
    ({"lon": "3.5"}, 400, "lat"),
    ({"postcode": "4800"}, 400, "postcode"),
    ({"postcode": "ABCDE"}, 400, "postcode"),
    ({"postcode": "00000"}, 404, "postcode"),
    ({"commune": "99999"}, 404, "commune"),
    ({"commune": "ABC"}, 400, "commune"),
    ({"country": "ZZ"}, 404, "country"),
    ({"country": "Atlantide"}, 404, "country"),
    ({"country": "FR"}, 400, "country"),
    ({"country": "France"}, 400, "country"),
    ({}, 400, "q"),
    ({"q": ""}, 400, "q"),
    ({"q": "a" * 501}, 400, "q"),
]


@pytest.mark.parametrize(
    ("params", "status", "field"),
    BAD_LOCATE,
    ids=[",".join(f"{k}={v[:10]}" for k, v in p.items()) or "nothing" for p, _s, _f in BAD_LOCATE],
)
def test_locate_bad_input(client, params, status, field):
    response = client.get(f"{API}/locate", params)
    assert error_of(response, status)["field"] == field


# --------------------------------------------------------------------------------------------
# /constituencies
# --------------------------------------------------------------------------------------------


def test_constituencies_pages(client):
    seen = []
    offset = 0
    while True:
        response = client.get(f"{API}/constituencies", {"limit": 100, "offset": offset})
        assert response.status_code == 200
        page = response.json()
        assert page["count"] == 577
        assert page["limit"] == 100
        assert page["offset"] == offset
        assert len(page["results"]) <= 100
        if not page["results"]:
            break
        seen += [seat["code"] for seat in page["results"]]
        offset += 100
    assert len(seen) == 577
    assert len(set(seen)) == 577
    assert seen[0] == "01-01"
    assert seen[-11:] == [f"99-{n:02d}" for n in range(1, 12)]
    assert seen.index("2A-01") < seen.index("21-01")


def test_constituencies_default_page(client):
    page = client.get(f"{API}/constituencies").json()
    assert page["count"] == 577
    assert page["limit"] == 100
    assert len(page["results"]) == 100


def test_constituencies_last_partial_page(client):
    page = client.get(f"{API}/constituencies", {"limit": 10, "offset": 570}).json()
    assert len(page["results"]) == 7


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "1000"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
    ],
)
def test_constituencies_bad_pagination(client, params, field):
    response = client.get(f"{API}/constituencies", params)
    assert error_of(response, 400)["field"] == field


def test_constituency_detail(client):
    response = client.get(f"{API}/constituencies/48-01")
    assert response.status_code == 200
    seat = response.json()
    assert seat["code"] == "48-01"
    assert seat["vacant"] is False
    assert seat["deputy"]["title"] in ("Député", "Députée")
    assert seat["deputy"]["id"].startswith("PA")
    assert [s["title"] in ("Sénateur", "Sénatrice") for s in seat["senators"]] == [True]
    assert seat["last_mandate"] is None
    neighbours = {n["code"] for n in seat["neighbours"]}
    assert "48-01" not in neighbours
    assert {"12-01", "15-02", "43-02"} <= neighbours  # Aveyron, Cantal, Haute-Loire


def test_vacant_constituency(client):
    vacant = [
        seat
        for offset in range(0, 600, 100)
        for seat in client.get(f"{API}/constituencies", {"offset": offset}).json()["results"]
        if seat["vacant"]
    ]
    assert len(vacant) == 13
    for listed in vacant:
        assert listed["deputy"] is None
        detail = client.get(f"{API}/constituencies/{listed['code']}").json()
        assert detail["vacant"] is True
        assert detail["deputy"] is None
        ended = detail["last_mandate"]
        assert ended is not None
        assert ended["ended"]
        # The ended mandate is never shown as the current deputy.
        assert ended["id"] != (detail["deputy"] or {}).get("id")


def test_constituency_abroad_lists_its_countries(client):
    seat = client.get(f"{API}/constituencies/99-07").json()
    assert {"code": "DE", "name": "Allemagne", "kind": None} in seat["countries"]
    assert len(seat["senators"]) == 12


@pytest.mark.parametrize("code", ["99-99", "48-02", "nonsense", "75"])
def test_unknown_constituency(client, code):
    assert error_of(client.get(f"{API}/constituencies/{code}"), 404)["field"] == "code"


# --------------------------------------------------------------------------------------------
# /representatives and /departments
# --------------------------------------------------------------------------------------------


def test_senators_of_paris(client):
    response = client.get(f"{API}/representatives", {"chamber": "senate", "department": "75"})
    assert response.status_code == 200
    people = response.json()
    assert len(people) == 12
    assert {p["chamber"] for p in people} == {"senate"}
    assert {p["area"]["code"] for p in people} == {"75"}
    assert len({p["id"] for p in people}) == 12


def test_deputy_of_lozere(client):
    response = client.get(f"{API}/representatives", {"chamber": "assembly", "department": "48"})
    people = response.json()
    assert len(people) == 1
    assert people[0]["chamber"] == "assembly"
    assert people[0]["area"]["code"] == "48-01"


def test_representatives_of_a_department_both_chambers(client):
    people = client.get(f"{API}/representatives", {"department": "2A"}).json()
    assert sorted(p["chamber"] for p in people) == ["assembly", "assembly", "senate"]


def test_representatives_bad_chamber(client):
    response = client.get(f"{API}/representatives", {"chamber": "lords"})
    assert error_of(response, 400)["field"] == "chamber"


def test_representatives_unknown_department(client):
    response = client.get(f"{API}/representatives", {"department": "00"})
    assert error_of(response, 404)["field"] == "department"


def test_department_2a(client):
    response = client.get(f"{API}/departments/2A")
    assert response.status_code == 200
    department = response.json()
    assert department["code"] == "2A"
    assert department["name"] == "Corse-du-Sud"
    assert department["kind"] == "department"
    assert department["region"]["code"] == "94"
    assert [c["code"] for c in department["constituencies"]] == ["2A-01", "2A-02"]
    assert len(department["senators"]) == 1


def test_department_lower_case(client):
    assert client.get(f"{API}/departments/2a").json()["code"] == "2A"


def test_collectivity_without_department(client):
    polynesia = client.get(f"{API}/departments/987").json()
    assert polynesia["kind"] == "collectivity"
    assert [c["code"] for c in polynesia["constituencies"]] == ["987-01", "987-02", "987-03"]
    assert len(polynesia["senators"]) == 2


def test_unknown_department(client):
    assert error_of(client.get(f"{API}/departments/00"), 404)["field"] == "code"


# --------------------------------------------------------------------------------------------
# OpenAPI and schemathesis
# --------------------------------------------------------------------------------------------

PATHS = [
    "/api/v1/locate",
    "/api/v1/constituencies",
    "/api/v1/constituencies/{code}",
    "/api/v1/representatives",
    "/api/v1/departments/{code}",
]


def test_openapi_document(client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    assert set(PATHS) <= set(document["paths"])
    for path in PATHS:
        responses = document["paths"][path]["get"]["responses"]
        assert {"200", "400", "404"} <= set(responses), path


@contextlib.contextmanager
def same_connection():
    """Serve WSGI requests inside the test transaction, as Django's test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
OPERATIONS = [
    ("/api/v1/locate", schemathesis.GenerationMode.POSITIVE, 60),
    ("/api/v1/locate", schemathesis.GenerationMode.NEGATIVE, 40),
    ("/api/v1/constituencies", schemathesis.GenerationMode.POSITIVE, 25),
    ("/api/v1/constituencies/{code}", schemathesis.GenerationMode.POSITIVE, 25),
    ("/api/v1/representatives", schemathesis.GenerationMode.POSITIVE, 25),
    ("/api/v1/departments/{code}", schemathesis.GenerationMode.POSITIVE, 25),
]


@pytest.fixture
def api_schema(registry):
    with same_connection():
        return schemathesis.openapi.from_wsgi(f"{API}/openapi.json", get_wsgi_application())


@pytest.mark.parametrize(
    ("path", "mode", "examples"), OPERATIONS, ids=[f"{p}-{m.value}" for p, m, _n in OPERATIONS]
)
def test_schemathesis(api_schema, engine, path, mode, examples):
    operation = api_schema[path]["GET"]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        response = case.call()
        case.validate_response(response, checks=CHECKS)

    with same_connection():
        run()


# Realistic queries, one kind at a time: most succeed, so the 200 bodies are checked as well.
COUNTRIES = ["DE", "us", "Allemagne", "Royaume-Uni", "Suisse", "FR", "ZZ", "Atlantide", ""]


def realistic_queries(engine):
    inside = shapely.point_on_surface(engine.unit_geoms[:: max(1, len(engine.unit_geoms) // 300)])
    points = [(float(p.y), float(p.x)) for p in inside]
    return st.one_of(
        st.sampled_from(points).map(lambda p: {"lat": p[0], "lon": p[1]}),
        st.fixed_dictionaries({"lat": st.floats(), "lon": st.floats()}),
        st.sampled_from(sorted(engine.postcodes)).map(lambda c: {"postcode": c}),
        st.fixed_dictionaries({"postcode": st.text(max_size=8)}),
        st.sampled_from(sorted(engine.units)).map(lambda c: {"commune": c}),
        st.fixed_dictionaries({"commune": st.text(max_size=8)}),
        st.fixed_dictionaries({"country": st.sampled_from(COUNTRIES) | st.text(max_size=30)}),
        st.fixed_dictionaries({"q": st.text(max_size=40)}),
    )


def test_schemathesis_realistic_locate(api_schema, engine):
    operation = api_schema["/api/v1/locate"]["GET"]
    statuses = []

    @settings(
        max_examples=100,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(query=realistic_queries(engine))
    def run(query):
        query = {k: str(v) if isinstance(v, float) else v for k, v in query.items()}
        case = operation.Case(query=query)
        response = case.call()
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    with same_connection():
        run()
    assert statuses.count(200) >= 20, statuses
