"""Spikes POSTed to a rule's webhook, against a local server: signed with the secret shown
once, the same delivery id on every retry, retried on 5xx and sent once, a 4xx final, a
private address refused unless allowed, and the secret never in an answer or a log."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import io
import logging

import orjson
import pytest
from django.core.management import call_command
from django_tasks_db.management.commands import db_worker

from nextwork.monitoring import alerts, presence, services, webhooks
from nextwork.monitoring.models import WebhookDelivery
from tests.monitoring.bursts import NOW, burst
from tests.recorded_server import Answer, RecordedServer


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(presence, "ALLOW_PRIVATE_ADDRESSES", True)  # the local server
    with RecordedServer() as running:
        yield running


@pytest.fixture
def worker(monkeypatch):
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)
    return lambda: call_command("worker", "--batch", stdout=io.StringIO())


def spike_now(rule, django_capture_on_commit_callbacks):
    minute = NOW.replace(second=0) - datetime.timedelta(minutes=1)
    services.store_posts(source=None, posts=burst(40, minute))
    with django_capture_on_commit_callbacks(execute=True):
        assert alerts.check(NOW)["opened"] == 1


def test_a_spike_is_posted_signed_once(
    busy_rule, people, server, client, worker, caplog, django_capture_on_commit_callbacks
):
    url = server.route("/hook", Answer(status=204))
    client.force_login(people["staff"])
    set_ = client.put(f"/api/v1/watch-rules/{busy_rule.pk}/webhook", {"url": url},
                      content_type="application/json").json()  # fmt: skip
    secret = set_["secret"]
    assert set_["webhook_url"] == url and len(secret) >= 40
    listed = client.get("/api/v1/watch-rules").content
    assert secret.encode() not in listed and url.encode() in listed
    caplog.set_level(logging.DEBUG)
    spike_now(busy_rule, django_capture_on_commit_callbacks)
    worker()
    (seen,) = server.seen("/hook")
    stamp, mac = seen.headers["x-nextwork-signature"].split(",")
    moment = stamp.removeprefix("t=")
    expected = hmac.new(secret.encode(), f"{moment}.".encode() + seen.body, hashlib.sha256)
    assert mac == f"v1={expected.hexdigest()}"
    body = orjson.loads(seen.body)
    assert body["event"] == "spike" and body["rule"]["name"] == "Retraites"
    assert body["spike"]["count"] >= 40 and len(body["top_posts"]) == 3
    delivery = WebhookDelivery.objects.get()
    assert seen.headers["x-nextwork-delivery"] == str(delivery.pk)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("sent", 1, 204)
    worker()  # nothing left to send
    assert len(server.seen("/hook")) == 1
    assert secret not in caplog.text


def test_a_5xx_is_tried_again_with_the_same_delivery_id(
    busy_rule, people, server, django_capture_on_commit_callbacks
):
    url = server.route("/hook", Answer(status=503), Answer(status=500), Answer(status=200))
    webhooks.rule_webhook_set(by=people["staff"], rule_id=busy_rule.pk, url=url)
    spike_now(busy_rule, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    outcomes = [webhooks.deliver(delivery.pk) for _ in range(4)]
    assert "again in" in outcomes[0] and "again in" in outcomes[1]
    assert outcomes[2].endswith("sent (200)") and outcomes[3].endswith("nothing to do")
    ids = {r.headers["x-nextwork-delivery"] for r in server.seen("/hook")}
    assert ids == {str(delivery.pk)} and len(server.seen("/hook")) == 3


def test_a_4xx_is_final_and_a_dead_receiver_gives_up_after_five(
    busy_rule, people, server, django_capture_on_commit_callbacks
):
    url = server.route("/gone", Answer(status=410))
    webhooks.rule_webhook_set(by=people["staff"], rule_id=busy_rule.pk, url=url)
    spike_now(busy_rule, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert "failed (HTTP 410: refused)" in webhooks.deliver(delivery.pk)
    delivery.status, delivery.attempts = "pending", 0
    delivery.url = server.route("/down", Answer(status=502))
    delivery.save()
    results = [webhooks.deliver(delivery.pk) for _ in range(6)]
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 5
    assert "5 attempts" in delivery.last_error and results[-1].endswith("nothing to do")


def test_private_addresses_are_refused_and_urls_checked(
    busy_rule, people, django_capture_on_commit_callbacks
):
    from nextwork.common.errors import InvalidInput

    with pytest.raises(InvalidInput, match="webhook_url"):
        webhooks.rule_webhook_set(by=people["staff"], rule_id=busy_rule.pk, url="ftp://x")
    webhooks.rule_webhook_set(by=people["staff"], rule_id=busy_rule.pk,
                              url="http://127.0.0.1:9/hook")  # fmt: skip
    spike_now(busy_rule, django_capture_on_commit_callbacks)
    outcome = webhooks.deliver(WebhookDelivery.objects.get().pk)
    assert "adresse privée" in outcome
    assert WebhookDelivery.objects.get().status == "failed"
    assert webhooks.rule_webhook_set(by=people["staff"], rule_id=busy_rule.pk, url="") == ""
