"""schemathesis over the monitoring part of the OpenAPI schema, as staff (positive and negative
cases: answers match the schema, never a 5xx) and as a relay (every staff operation refused),
and the ingestion endpoint with its token."""

from __future__ import annotations

import datetime

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextwork.monitoring import services
from tests.mobilisation.test_api import session_of
from tests.territories.test_api import CHECKS, same_connection

PREFIXES = (
    "/api/v1/watch-rules",
    "/api/v1/spikes",
    "/api/v1/ingest",
    "/api/v1/channels",
    "/api/v1/presence",
    "/api/v1/posts",
)

# JSON lines for /ingest: valid posts, broken JSON, wrong shapes, blank lines, mixed.
_line = st.one_of(
    st.builds(lambda i, t: orjson.dumps({"id": str(i), "text": t}), st.integers(0, 50),
              st.text(min_size=1, max_size=40)),
    st.builds(lambda t: orjson.dumps({"text": t, "published_at": "2026-11-27T10:00:00Z",
                                      "url": "https://example.org/p"}), st.text(max_size=20)),
    st.binary(max_size=30),
    st.just(b""),
    st.just(b"[1, 2]"),
)  # fmt: skip
NDJSON = st.lists(_line, max_size=12).map(b"\n".join)


@pytest.fixture(autouse=True, scope="module")
def _ndjson_bodies():
    import schemathesis

    schemathesis.openapi.media_type("application/x-ndjson", NDJSON)


@pytest.fixture
def scene(rule, ingest_source):
    watched = rule()
    services.store_posts(source=None, posts=[
        services.PostIn(network="t", external_id="1", text="retraites",
                        published_at=datetime.datetime(2026, 11, 27, 9, tzinfo=datetime.UTC))
    ])  # fmt: skip
    return watched, ingest_source


def _operations(api_schema):
    # The audit reads the channels over the network: tests/monitoring/test_presence.py covers
    # it against recorded answers.
    return [
        (path, method.upper())
        for path, item in api_schema.raw_schema["paths"].items()
        if path.startswith(PREFIXES) and path != "/api/v1/presence/audit"
        for method in item
    ]


@pytest.mark.parametrize("who", ["staff", "camille"])
def test_schemathesis(api_schema, people, scene, who):
    import schemathesis

    watched, (_source, token) = scene
    session = session_of(people[who])
    operations = _operations(api_schema)
    assert len(operations) == 15, operations
    statuses: dict[str, list[int]] = {}

    def check(operation, mode, seen, credentials):
        @settings(max_examples=8, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy(generation_mode=mode), pick=st.booleans())
        def run(case, pick):
            if mode.is_positive and case.path_parameters and pick:
                case.path_parameters = {k: watched.pk for k in case.path_parameters}
            response = case.call(**credentials)
            seen.append(response.status_code)
            case.validate_response(response, checks=CHECKS)

        with same_connection():
            run()

    for path, method in operations:
        credentials = session
        if path.endswith("/ingest"):
            credentials = {"headers": {"Authorization": f"Bearer {token}"}}
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            check(api_schema[path][method], mode, statuses.setdefault(f"{method} {path}", []),
                  credentials)  # fmt: skip
    every = [s for codes in statuses.values() for s in codes]
    assert not [s for s in every if s >= 500], statuses
    for name, codes in statuses.items():
        if who == "camille" and ("/watch-rules" in name or "/spikes" in name):
            assert set(codes) <= {400, 403, 404, 422}, (name, codes)  # never a 2xx
        elif name.startswith("GET") and "{" not in name:  # real answers checked, not refusals only
            assert [c for c in codes if 200 <= c < 300], (name, codes)
