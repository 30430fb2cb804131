"""Two ordinary members, A and B, over the whole API (issue 10 §4): schemathesis drives every
operation of /api/v1 as A, then as B (with a session and its CSRF token), then as A with a
personal API token, with the other's real ids in the paths and bodies. No answer is a 5xx,
no answer to one (whatever its status) holds the other's email, phone, last name, public id
or private texts, and nothing the other owns has changed afterwards.

The members and their rows come from tests/two_members.py."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error

from tests import two_members
from tests.territories.test_api import same_connection

API = "/api/v1"

pytestmark = pytest.mark.django_db

# Per operation: a few generated cases (one operation at a time, derandomized), so that the
# whole file stays within a few minutes on PostgreSQL.
EXAMPLES = {"positive": 6, "negative": 3}


@pytest.fixture(autouse=True, scope="module")
def _ndjson_bodies():
    from tests.monitoring.test_schema import NDJSON

    schemathesis.openapi.media_type("application/x-ndjson", NDJSON)


@pytest.fixture
def cast(people, area, settings):
    settings.NEXTWORK_PROPOSALS_PER_HOUR = 1000
    settings.NEXTWORK_COMMENTS_PER_HOUR = 1000
    settings.NEXTWORK_WRITES_PER_MINUTE = (0, 0)  # every call reaches its operation
    stage = two_members.stage(staff=people["staff"], area=area)
    a = two_members.member("a", "Zarkovienne", "+33612345671")
    b = two_members.member("b", "Quilleboeuf", "+33698765432")
    return {"a": two_members.seed(a, stage), "b": two_members.seed(b, stage)}


def session_of(member) -> dict:
    """A member's session and CSRF token, sent as a browser sends them."""
    from django.middleware.csrf import _get_new_csrf_string

    browser = Client()
    browser.force_login(member)
    token = _get_new_csrf_string()
    return {
        "cookies": {"sessionid": browser.cookies["sessionid"].value, "csrftoken": token},
        "headers": {"X-CSRFToken": token},
    }


def operations(schema):
    for path, methods in sorted(schema.raw_schema["paths"].items()):
        for method in methods:
            yield schema[path][method.upper()]


def _sent(case) -> bytes:
    """Everything the caller put in the request: a secret they sent themselves may come back
    (an error naming the id asked for) without being a leak."""
    parts = [case.formatted_path, json.dumps(case.query or {}, default=str)]
    if case.body is not None and not isinstance(case.body, type(schemathesis.core.NOT_SET)):
        parts.append(json.dumps(case.body, default=str))
    return " ".join(parts).lower().encode()


class Run:
    """One member's pass: calls, the statuses seen, and every leak found."""

    def __init__(self, me, other, auth: dict, schemes: set[str]):
        self.me, self.other, self.auth, self.schemes = me, other, auth, schemes
        self.phase = "targeted"
        self.statuses: dict[str, list[int]] = {}
        self.valid: dict[str, list[int]] = {}  # the statuses of targeted and positive calls
        self.leaks: list[tuple] = []
        self.errors: list[tuple] = []

    def accepts(self, operation) -> bool:
        """Whether the operation takes these credentials (or none): /ingest wants a source's
        token, and a session-only operation refuses a personal token, with a 401."""
        security = operation.definition.raw.get("security")
        return not security or any(set(s) & self.schemes for s in security)

    def call(self, case) -> None:
        if self.phase != "negative" and case.headers:
            # The schema documents a bearer token: generated ones are not ours, and would
            # be refused before the operation runs.
            case.headers.pop("Authorization", None)
        if "Authorization" in self.auth.get("headers", {}):
            case.headers = {**(case.headers or {}), **self.auth["headers"]}
        response = case.call(**self.auth)
        key = f"{case.method} {case.path}"
        self.statuses.setdefault(key, []).append(response.status_code)
        if self.phase != "negative" and self.accepts(case.operation):
            self.valid.setdefault(key, []).append(response.status_code)
        if response.status_code >= 500:
            self.errors.append((case.method, case.formatted_path, response.status_code,
                                response.content[:300]))  # fmt: skip
        content, sent = response.content.lower(), _sent(case)
        leaked = [s.decode() for s in self.other.secrets if s in content and s not in sent]
        if leaked:
            self.leaks.append((case.method, case.formatted_path, response.status_code, leaked))
        case.validate_response(response, checks=[not_a_server_error])


def _body_ids(case, ids: dict, pick: int) -> None:
    """Put real ids into the body fields that name a row."""
    if not isinstance(case.body, dict):
        return
    kind = "comment_id" if case.body.get("kind") == "comment" else "proposal_id"
    fields = {"id": kind, "into": "proposal_id", "parent": "comment_id",
              "request": "request_id", "offer": "offer_id"}  # fmt: skip
    for key, name in fields.items():
        if key in case.body and ids.get(name):
            case.body[key] = ids[name][pick % len(ids[name])]
    if "member" in case.body and ids.get("public_id"):
        case.body["member"] = ids["public_id"][0]


def _ids_of(seeded) -> dict:
    return {**seeded.ids, "public_id": [str(seeded.member.public_id)]}


def generated(run: Run, schema, mode: str) -> None:
    """Every operation, ``EXAMPLES[mode]`` generated cases each; in positive mode two cases
    in three carry real ids (the other's, or one's own) instead of generated ones."""
    theirs, mine = _ids_of(run.other), _ids_of(run.me)
    generation = schemathesis.GenerationMode(mode)
    for operation in operations(schema):

        @settings(max_examples=EXAMPLES[mode], deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy(generation_mode=generation),
               pick=st.integers(min_value=0, max_value=1000))  # fmt: skip
        def one(case, pick):
            if generation.is_positive and pick % 3:
                ids = theirs if pick % 3 == 1 else mine
                for name in case.path_parameters or {}:
                    if ids.get(name):
                        case.path_parameters[name] = ids[name][pick % len(ids[name])]
                _body_ids(case, ids, pick)
            run.call(case)

        try:
            one()
        except Unsatisfiable:
            # No negative case exists for an operation whose every input accepts anything
            # (a GET without parameters); its positive cases ran.
            assert not generation.is_positive, operation.path


def _first_case(operation):
    """The first valid case the derandomized generation gives: a body the operation accepts."""
    drawn = []

    @settings(max_examples=1, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE))
    def first(case):
        drawn.append(case)

    first()
    return drawn[0]


def targeted(run: Run, schema) -> None:
    """Every operation with a path parameter, called once with each of the other member's ids
    for it, with the smallest valid body: the generated cases alone rarely hit a real row."""
    theirs = _ids_of(run.other)
    for operation in operations(schema):
        names = [p.name for p in operation.path_parameters]
        if not names or not all(theirs.get(n) for n in names):
            continue
        base = _first_case(operation)
        for n in range(max(len(theirs[name]) for name in names)):
            case = operation.Case(
                path_parameters={name: theirs[name][n % len(theirs[name])] for name in names},
                query=base.query,
                body=base.body,
                media_type=base.media_type,
            )
            _body_ids(case, theirs, n)
            run.call(case)


def _pass(schema, me, other, credentials: str) -> Run:
    make, schemes = CREDENTIALS[credentials]
    run = Run(me, other, make(me.member), schemes)
    with same_connection():
        targeted(run, schema)
        for mode in ("positive", "negative"):
            run.phase = mode
            generated(run, schema, mode)
    return run


def _check(run: Run, before: dict) -> None:
    assert run.errors == [], run.errors
    assert run.leaks == [], run.leaks
    # The session was accepted (a 401 would mean the calls bounced at the door; negative cases
    # may break the credentials themselves) and many calls went through to real rows.
    valid = [s for codes in run.valid.values() for s in codes]
    assert [k for k, codes in run.valid.items() if 401 in codes] == []
    assert sum(200 <= s < 300 for s in valid) >= 20, run.valid
    assert two_members.snapshot(run.other) == before


def token_of(member) -> dict:
    """A member's personal API token (write scope), sent as a script sends it."""
    from nextwork.network.security import tokens

    _token, text = tokens.token_create(member=member, name="isolation", scope="write")
    return {"headers": {"Authorization": f"Bearer {text}"}}


CREDENTIALS = {
    "session": (session_of, {"SessionAuth", "SessionOnlyAuth"}),
    "token": (token_of, {"TokenAuth"}),
}


@pytest.mark.parametrize(
    ("who", "credentials"), [("a", "session"), ("b", "session"), ("a", "token")]
)
def test_one_member_never_sees_the_others_data(api_schema, cast, who, credentials):
    me, other = (cast["a"], cast["b"]) if who == "a" else (cast["b"], cast["a"])
    before = two_members.snapshot(other)
    assert len(before) > 20 and sum(len(v) for v in before.values()) > 25  # rows everywhere
    run = _pass(api_schema, me, other, credentials)
    assert len(run.statuses) == len(list(operations(api_schema)))  # every operation was called
    _check(run, before)


def test_the_check_sees_a_leak(api_schema, cast, people):
    """The check is not blind: staff may list the members of 75-02, and B's email, last name
    and public id in that answer are reported as a leak would be."""
    run = Run(cast["a"], cast["b"], session_of(people["staff"]), CREDENTIALS["session"][1])
    operation = api_schema[f"{API}/members"]["GET"]
    with same_connection():
        run.call(operation.Case(query={"area": "75-02"}))
    assert run.statuses == {f"GET {API}/members": [200]}
    [(_method, _path, _status, leaked)] = run.leaks
    b = cast["b"].member
    assert {b.email.lower(), b.last_name.lower(), str(b.public_id)} <= set(leaked)
