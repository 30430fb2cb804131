"""Every write route counts against the writes-per-minute ceiling (common/security.py): a
member is counted as themselves, a visitor by address, a provider's webhook by address at its
own higher ceiling; the answer is a 429 with Retry-After, JSON under /api/, a page elsewhere."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from nextwork.common.security import is_webhook
from tests.test_csrf_coverage import routes

WEBHOOKS = {
    "messaging:sms-twilio-inbound",
    "messaging:sms-twilio-status",
    "POST /api/v1/payments/{provider}/webhook",
    "POST /api/v1/ingest",
}


def post(client: Client, route, **extra):
    if route.operation is not None:
        send = getattr(client, route.method.lower())
        return send(route.sample_path(), "{}", content_type="application/json", **extra)
    return client.post(route.sample_path(), {"x": "1"}, **extra)


def write_routes():
    return [r for r in routes() if not r.template.startswith("admin/")] + [
        r for r in routes() if r.template.startswith("admin/")
    ][:5]


@pytest.fixture(autouse=True)
def _mid_minute(monkeypatch):
    """The ceiling counts per calendar minute: the clock is held at 20 s into a minute, so no
    test sees its counts reset by a minute ending between two requests."""
    import time

    from nextwork.common import security

    start = (time.time() // 60) * 60 + 20
    monkeypatch.setattr(security, "clock", lambda: start)


@pytest.fixture
def one_write_a_minute(settings):
    settings.NEXTWORK_WRITES_PER_MINUTE = (1, 1)
    settings.NEXTWORK_WEBHOOK_WRITES_PER_MINUTE = 1


def test_the_webhooks_are_the_ones_named(registry):
    hooks = {r.name for r in routes() if is_webhook(r.sample_path())}
    anymail = {h for h in hooks if h.startswith("anymail:")}
    assert anymail, "the email providers' webhooks"
    assert hooks - anymail == WEBHOOKS


def test_every_write_route_is_limited(registry, one_write_a_minute):
    client = Client(raise_request_exception=False)
    checked = 0
    for route in write_routes():
        cache.clear()
        post(client, route)
        second = post(client, route)
        assert second.status_code == 429, (route.name, route.sample_path(), second.status_code)
        assert second["Retry-After"] == "40"
        if route.sample_path().startswith("/api/"):
            assert second.json()["error"]["code"] == "rate_limited", route.name
        else:
            assert b"Trop de modifications" in second.content, route.name
        checked += 1
    assert checked >= 150, checked


def test_reads_are_not_counted(client, registry, one_write_a_minute):
    for _ in range(5):
        assert client.get("/healthz").status_code == 200


def test_a_member_is_counted_apart_from_visitors_at_the_same_address(
    registry, make_member, settings
):
    settings.NEXTWORK_WRITES_PER_MINUTE = (3, 2)
    member = Client()
    member.force_login(make_member("Yann"))
    visitor = Client()
    url = "/api/v1/members"
    codes = [visitor.post(url, "{}", content_type="application/json").status_code for _ in range(3)]
    assert codes == [400, 400, 429]
    codes = [member.post(url, "{}", content_type="application/json").status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]
    # Another address is another visitor.
    other = Client(REMOTE_ADDR="192.0.2.7")
    assert other.post(url, "{}", content_type="application/json").status_code == 400


def test_token_calls_get_the_members_ceiling_and_made_up_tokens_do_not_escape(registry, settings):
    settings.NEXTWORK_WRITES_PER_MINUTE = (3, 1)
    url = "/api/v1/members"
    codes = [
        Client(headers={"Authorization": f"Bearer nw_made_up_token_{n:04d}"})
        .post(url, "{}", content_type="application/json")
        .status_code
        for n in range(4)
    ]
    assert codes[-1] == 429 and 429 not in codes[:3]
    # Visitors without a token at that address still have their own bucket.
    assert Client().post(url, "{}", content_type="application/json").status_code == 400


def test_webhooks_have_their_own_higher_ceiling(registry, settings):
    settings.NEXTWORK_WRITES_PER_MINUTE = (1, 1)
    settings.NEXTWORK_WEBHOOK_WRITES_PER_MINUTE = 3
    client = Client(raise_request_exception=False)
    url = "/api/v1/payments/stripe/webhook"
    codes = [client.post(url, "{}", content_type="application/json").status_code for _ in range(4)]
    assert 429 not in codes[:3] and codes[3] == 429
    # The visitors' bucket of the same address is untouched.
    assert client.post("/api/v1/members", "{}", content_type="application/json").status_code == 400


def test_the_limit_page_is_french_and_keeps_nothing(client, registry, settings):
    settings.NEXTWORK_WRITES_PER_MINUTE = (1, 1)
    from nextwork.network.models import Member

    before = Member.objects.count()
    client.post("/inscription/", {"email": "x"})
    response = client.post(
        "/inscription/", {"email": "nouvelle@example.org", "postcode": "75002", "consent": "on"}
    )
    assert response.status_code == 429
    assert "Réessayez dans" in response.content.decode()
    assert Member.objects.count() == before


def test_bad_ceilings_are_refused_with_a_clear_error(monkeypatch):
    from nextwork.settings import env

    monkeypatch.setenv("NEXTWORK_WRITES_PER_MINUTE", "120")
    with pytest.raises(env.ConfigurationError, match="two whole numbers"):
        env.get_limits("NEXTWORK_WRITES_PER_MINUTE")
    monkeypatch.setenv("NEXTWORK_WRITES_PER_MINUTE", "60, 20")
    assert env.get_limits("NEXTWORK_WRITES_PER_MINUTE") == (60, 20)
