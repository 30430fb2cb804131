"""Personal API tokens: made once, kept hashed, scoped, revocable, expiring, acting with the
member's own grants, verified for two-factor only when made in a verified session."""

from __future__ import annotations

import datetime
import hashlib
import html
import re

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.utils import timezone

from nextwork.network.models import ApiToken, Grant, Role
from nextwork.network.security import tokens, two_factor


def session_client(member, *, verified: bool = True) -> Client:
    """A logged-in browser as the API sees it: session cookie, CSRF cookie and header."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    session = client.session
    session[two_factor.VERIFIED_KEY] = verified
    session.save()
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    client.defaults["HTTP_X_CSRFTOKEN"] = token
    return client


def bearer(text: str) -> Client:
    return Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {text}")


def make(member, scope="read", **kwargs) -> str:
    return tokens.token_create(member=member, name="script", scope=scope, **kwargs)[1]


def test_the_page_shows_the_token_once_and_keeps_only_its_hash(people):
    client = session_client(people["member"])
    response = client.post(
        "/espace/securite/jetons/", {"name": "Tableur", "scope": "read", "expires_at": ""}
    )
    assert response.status_code == 200
    text = re.search(r"nw_[0-9a-f]{8}_[A-Za-z0-9_-]{40,}", response.content.decode()).group(0)
    token = ApiToken.objects.get(member=people["member"])
    prefix, secret = text.split("_", 2)[1:]
    assert token.prefix == prefix and token.name == "Tableur" and token.scope == "read"
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    again = client.get("/espace/securite/").content.decode()
    assert f"nw_{prefix}_" in again and secret not in again


def test_the_page_refuses_a_token_without_a_name_or_with_a_past_expiry(people):
    client = session_client(people["member"])
    no_name = client.post("/espace/securite/jetons/", {"name": " ", "scope": "read"})
    assert no_name.status_code == 400
    assert "Donnez un nom au jeton" in html.unescape(no_name.content.decode())
    past = client.post(
        "/espace/securite/jetons/", {"name": "x", "scope": "read", "expires_at": "2020-01-01"}
    )
    assert past.status_code == 400 and "dans le futur" in past.content.decode()
    assert not ApiToken.objects.exists()


def test_a_token_calls_with_the_members_own_grants(people):
    coord = bearer(make(people["coord75"], two_factor=True))
    assert coord.get("/api/v1/members", {"area": "75"}).status_code == 200
    lou = bearer(make(people["member"]))
    response = lou.get("/api/v1/members", {"area": "75"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def test_a_grant_that_ends_stops_covering_the_token(people):
    coord = bearer(make(people["coord75"], two_factor=True))
    Grant.objects.filter(member=people["coord75"]).update(valid_to=timezone.now())
    assert coord.get("/api/v1/members", {"area": "75"}).status_code == 403


def test_a_read_token_only_reads_a_write_token_writes_without_csrf(people):
    read = bearer(make(people["member"], "read"))
    response = read.post("/api/v1/applications", {"role": "relay"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    write = bearer(make(people["member"], "write"))
    response = write.post(
        "/api/v1/applications", {"role": "relay"}, content_type="application/json"
    )
    # Past authentication and CSRF: the service answers (this member's home is not known).
    assert response.status_code == 404 and response.json()["error"]["field"] == "area"
    session = Client(enforce_csrf_checks=True)
    session.force_login(people["member"])
    refused = session.post(
        "/api/v1/applications", {"role": "relay"}, content_type="application/json"
    )
    assert refused.status_code == 403  # a session without its CSRF token is refused


@pytest.mark.parametrize(
    "change",
    [
        {"revoked_at": timezone.now()},
        {"expires_at": timezone.now() - datetime.timedelta(seconds=1)},
    ],
    ids=["revoked", "expired"],
)
def test_revoked_and_expired_tokens_get_401(people, change):
    text = make(people["member"])
    ApiToken.objects.update(**change)
    response = bearer(text).get("/api/v1/applications")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize(
    "text",
    ["nw_00000000_nothing", "nw_only", "not-a-token", ""],
    ids=["unknown", "short", "foreign", "empty"],
)
def test_unknown_tokens_get_401_with_our_error_body(people, text):
    make(people["member"])
    response = bearer(text).get("/api/v1/applications")
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "field"}


def test_a_right_prefix_with_a_wrong_secret_is_refused(people):
    text = make(people["member"])
    assert bearer(text[:-2] + "xx").get("/api/v1/applications").status_code == 401
    assert bearer(text).get("/api/v1/applications").status_code == 200


def test_a_token_made_before_two_factor_does_not_count_as_verified(people, make_member):
    noa = make_member("Noa")
    unverified = make(noa)  # made as a plain member, in a session without a code
    Grant.objects.create(member=noa, role=Role.STAFF)
    response = bearer(unverified).get("/api/v1/applications")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "two_factor_required"
    client = session_client(noa, verified=True)
    made = client.post(
        "/api/v1/me/tokens", {"name": "ci", "scope": "read"}, content_type="application/json"
    )
    assert made.status_code == 201 and made.json()["two_factor"] is True
    assert bearer(made.json()["token"]).get("/api/v1/applications").status_code == 200


def test_last_use_is_written_at_most_once_a_minute(people, monkeypatch):
    text = make(people["member"])
    client = bearer(text)
    client.get("/api/v1/applications")
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    client.get("/api/v1/applications")
    assert ApiToken.objects.get().last_used_at == first
    later = timezone.now() + datetime.timedelta(minutes=1, seconds=1)
    monkeypatch.setattr(tokens.timezone, "now", lambda: later)
    client.get("/api/v1/applications")
    assert ApiToken.objects.get().last_used_at == later


def test_the_api_lists_makes_and_revokes_tokens_with_a_session(people):
    ana, lou = people["camille"], people["member"]
    client = session_client(ana)
    made = client.post(
        "/api/v1/me/tokens",
        {"name": "carnet", "scope": "write", "expires_at": "2099-01-01T00:00:00Z"},
        content_type="application/json",
    )
    assert made.status_code == 201
    body = made.json()
    assert body["token"].startswith(f"nw_{body['prefix']}_") and body["scope"] == "write"
    listed = client.get("/api/v1/me/tokens").json()
    assert [t["id"] for t in listed] == [body["id"]] and "token" not in listed[0]
    others = tokens.token_create(member=lou, name="x", scope="read")[0]
    assert client.delete(f"/api/v1/me/tokens/{others.pk}").status_code == 404
    assert ApiToken.objects.get(pk=others.pk).revoked_at is None
    revoked = client.delete(f"/api/v1/me/tokens/{body['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert bearer(body["token"]).get("/api/v1/applications").status_code == 401


def test_the_api_refuses_bad_token_input(people):
    client = session_client(people["member"])
    for payload, field in (
        ({"name": "x", "scope": "admin"}, "scope"),
        ({"name": "", "scope": "read"}, "name"),
        ({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ):
        response = client.post("/api/v1/me/tokens", payload, content_type="application/json")
        assert response.status_code == 400 and response.json()["error"]["field"] == field
    assert not ApiToken.objects.exists()


def test_a_token_cannot_mint_or_revoke_tokens(people):
    text = make(people["member"], "write")
    client = bearer(text)
    minted = client.post("/api/v1/me/tokens", {"name": "x"}, content_type="application/json")
    assert minted.status_code == 401
    token_id = ApiToken.objects.get().pk
    assert client.delete(f"/api/v1/me/tokens/{token_id}").status_code == 401
    assert client.get("/api/v1/me/tokens").status_code == 401
    assert ApiToken.objects.count() == 1 and ApiToken.objects.get().revoked_at is None


def test_revoking_from_the_page(people):
    text = make(people["member"])
    client = session_client(people["member"])
    token = ApiToken.objects.get()
    response = client.post(f"/espace/securite/jetons/{token.pk}/revoquer/")
    assert response.status_code == 302
    assert bearer(text).get("/api/v1/applications").status_code == 401
    other = session_client(people["camille"])
    assert other.post(f"/espace/securite/jetons/{token.pk}/revoquer/").status_code == 404


def test_the_openapi_document_declares_the_bearer_scheme(client, db):
    schema = client.get("/api/v1/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["TokenAuth"] == {"type": "http", "scheme": "bearer"}
    members = schema["paths"]["/api/v1/members"]["get"]["security"]
    assert {"TokenAuth": []} in members and {"SessionAuth": []} in members
    mine = schema["paths"]["/api/v1/me/tokens"]["post"]["security"]
    assert mine == [{"SessionOnlyAuth": []}]


def test_a_foreign_bearer_header_leaves_a_logged_in_session_in_charge(people):
    client = session_client(people["member"])
    client.defaults["HTTP_AUTHORIZATION"] = "Bearer from-a-browser-extension"
    assert client.get("/api/v1/applications").status_code == 200


@pytest.mark.two_factor
def test_a_bearer_header_does_not_skip_the_two_factor_step_of_a_session(people):
    client = session_client(people["staff"], verified=False)
    for header in ("Bearer from-a-browser-extension", "Bearer nw_00000000_guess"):
        client.defaults["HTTP_AUTHORIZATION"] = header
        response = client.get("/api/v1/applications")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "two_factor_required"
