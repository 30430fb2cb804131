"""CSRF everywhere: every URL pattern and every API operation that accepts a write is protected,
except an explicit list, each entry with its reason.

The walk (``routes``) is shared with tests/test_write_limits.py."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

# Django views that take posts without a CSRF token, and why that is safe.
EXEMPT_VIEWS = {
    "messaging:unsubscribe": "One-click unsubscribe (RFC 8058): mail clients post without a "
    "session; the secret token in the URL is the credential.",
    "messaging:sms-twilio-inbound": "Twilio's webhook: every post is signed (X-Twilio-Signature).",
    "messaging:sms-twilio-status": "Twilio's webhook: every post is signed (X-Twilio-Signature).",
    "anymail:*": "Email providers' webhooks: basic auth or the provider's signature.",
}

# API operations open to visitors (no authentication). ApiSessionCsrfMiddleware still requires
# the CSRF token when a member's session cookie comes with the request.
ANONYMOUS_OPERATIONS = {
    "POST /api/v1/members": "Sign-up by a visitor; double opt-in by email.",
    "POST /api/v1/donations": "A donation intent by a visitor; paid at the provider.",
    "POST /api/v1/unsubscribe/{token}": "Unsubscribe by the secret token of a delivery.",
    "POST /api/v1/payments/{provider}/webhook": "Payment providers' webhooks, signed.",
}


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:url_name" or "METHOD /api/v1/path"
    template: str  # the route with its converters: "espace/messages/<int:pk>/"
    callback: object
    operation: object = None  # a Django Ninja operation
    method: str = "POST"

    def sample_path(self) -> str:
        """A concrete path matching the route (its parameters filled with plausible values)."""

        def fill(match: re.Match) -> str:
            converter = match.group(1) or "str"
            return {
                "int": "1",
                "uuid": "00000000-0000-0000-0000-000000000001",
                "path": "x/y",
            }.get(converter, "x1")

        return "/" + re.sub(r"<(?:(\w+):)?\w+>", fill, self.template)


def _walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            full = ":".join(p for p in (namespace, ns) if p) if ns else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), full)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry, namespace


def routes() -> list[Route]:
    """Every Django URL pattern, and every write operation of the API, once."""
    from nextwork.common.security import ninja_operation

    found = []
    for template, pattern, namespace in _walk(get_resolver().url_patterns):
        template = template.lstrip("^").rstrip("$").replace("\\Z", "")
        callback = pattern.callback
        operations = [
            (method, ninja_operation(callback, method))
            for method in ("GET", *WRITE_METHODS)
            if ninja_operation(callback, method) is not None
        ]
        if template.startswith("api/"):
            for method, operation in operations:
                if method in WRITE_METHODS:
                    api_path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", template)
                    found.append(
                        Route(f"{method} {api_path}", template, callback, operation, method)
                    )
            continue
        name = f"{namespace}:{pattern.name}" if namespace else (pattern.name or template)
        found.append(Route(name, template, callback))
    return found


def exemption(route: Route) -> str | None:
    namespace = route.name.split(":")[0]
    return EXEMPT_VIEWS.get(route.name) or EXEMPT_VIEWS.get(f"{namespace}:*")


def test_the_walk_finds_the_api_and_the_pages():
    found = routes()
    api = [r for r in found if r.operation is not None]
    pages = [r for r in found if r.operation is None]
    assert len(api) >= 50 and len(pages) >= 100, (len(api), len(pages))
    names = {r.name for r in found}
    assert "POST /api/v1/members" in names
    assert "network:signup" in names
    # Every pattern under api/ but Ninja's own pages (the schema, the docs, the index) is an
    # operation found through its view: a change in Ninja cannot hide one.
    from nextwork.common.security import ninja_operation

    own = {"api/v1/", "api/v1/openapi.json", "api/v1/docs"}
    for template, pattern, _ in _walk(get_resolver().url_patterns):
        if template.startswith("api/v1/") and template not in own:
            methods = ("GET", *WRITE_METHODS)
            assert any(ninja_operation(pattern.callback, m) for m in methods), template


def test_every_view_is_csrf_protected_or_listed_with_its_reason():
    unlisted = [
        r.name
        for r in routes()
        if r.operation is None and getattr(r.callback, "csrf_exempt", False) and not exemption(r)
    ]
    assert not unlisted, f"csrf_exempt views without a reason in EXEMPT_VIEWS: {unlisted}"
    # The list holds no stale entry.
    names = {r.name for r in routes()}
    for name in EXEMPT_VIEWS:
        assert name in names or any(n.startswith(name[:-1]) for n in names), name


def _protects(auth) -> bool:
    """A session-cookie authentication checks CSRF; a credential sent in a header (a token)
    is not sent by the browser on its own, so it needs no CSRF token."""
    from ninja.security import APIKeyCookie

    if isinstance(auth, APIKeyCookie):
        return bool(auth.csrf)
    return True


def test_every_api_write_checks_csrf_or_is_listed_with_its_reason():
    unprotected = []
    for route in routes():
        if route.operation is None:
            continue
        callbacks = route.operation.auth_callbacks
        if not callbacks:
            if route.name not in ANONYMOUS_OPERATIONS:
                unprotected.append(f"{route.name} (no authentication)")
        elif not all(_protects(auth) for auth in callbacks):
            unprotected.append(f"{route.name} (cookie authentication without CSRF)")
    assert not unprotected, unprotected
    names = {r.name for r in routes()}
    assert set(ANONYMOUS_OPERATIONS) <= names, set(ANONYMOUS_OPERATIONS) - names


# -- the same, by requests: a post without the token is refused everywhere it must be ----------


@pytest.fixture
def csrf_client(make_member, settings):
    from django.test import Client

    settings.NEXTWORK_WRITES_PER_MINUTE = (100_000, 100_000)
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_member("Noa"))
    return client


def test_every_protected_page_refuses_a_post_without_the_token(csrf_client, registry):
    checked = 0
    for route in routes():
        if route.operation is not None or exemption(route):
            continue
        response = csrf_client.post(route.sample_path(), {"x": "1"})
        assert response.status_code == 403, (route.name, route.sample_path(), response.status_code)
        assert b"CSRF" in response.content, route.name
        checked += 1
    assert checked >= 100


def test_every_api_write_refuses_a_session_post_without_the_token(csrf_client, registry):
    from ninja.security import APIKeyCookie

    checked = 0
    for route in routes():
        if route.operation is None or route.name.endswith("/webhook"):
            continue
        if route.operation.auth_callbacks and not any(
            isinstance(auth, APIKeyCookie) for auth in route.operation.auth_callbacks
        ):
            continue  # a credential in a header (the ingestion token): no session involved
        send = getattr(csrf_client, route.method.lower())
        response = send(route.sample_path(), "{}", content_type="application/json")
        assert response.status_code == 403, (route.name, response.status_code, response.content)
        assert response.json()["error"]["message"].startswith("CSRF check failed"), route.name
        checked += 1
    assert checked >= 50


def test_an_open_api_write_still_works_for_a_visitor_and_with_the_token(registry, make_member):
    from django.test import Client

    visitor = Client(enforce_csrf_checks=True)
    response = visitor.post("/api/v1/donations", "{}", content_type="application/json")
    assert response.status_code == 400  # validated, not refused
    member = Client(enforce_csrf_checks=True)
    member.force_login(make_member("Ilan"))
    member.get("/")  # sets the csrftoken cookie
    token = member.cookies["csrftoken"].value
    response = member.post(
        "/api/v1/donations", "{}", content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 400
