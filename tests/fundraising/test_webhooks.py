"""Providers' webhooks: signed or refused, once per event id, right whatever the order."""

from __future__ import annotations

import json
import time

import pytest

from nextwork.fundraising.models import CapLedger, Donation, DonationStatus, ProviderEvent
from nextwork.fundraising.providers.stripe import sign
from tests.fundraising.stripe_helpers import (  # noqa: F401
    WEBHOOK_SECRET,
    deliver,
    intent,
    load,
    stripe_api,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(client, beneficiaries, stripe_api):  # noqa: F811
    response = intent(client, beneficiaries["party"], amount_cents=5000)
    assert response.status_code == 201, response.content
    return Donation.objects.get(pk=response.json()["donation"])


def test_a_completed_checkout_settles_the_donation(client, pending):
    response = deliver(client, load("event_checkout_session_completed", donation=pending.pk))
    assert response.status_code == 200, response.content
    assert response.json()["outcomes"][0]["outcome"] == f"donation {pending.pk} succeeded"
    pending.refresh_from_db()
    assert pending.status == DonationStatus.SUCCEEDED and pending.succeeded_at is not None
    event = ProviderEvent.objects.get()
    assert (event.provider, event.event_id) == ("stripe", "evt_1SessionCompleted0001")
    assert event.kind == "checkout.session.completed" and event.processed_at is not None


def test_a_forged_signature_is_refused_and_nothing_is_stored(client, pending):
    payload = load("event_checkout_session_completed", donation=pending.pk)
    forged = deliver(client, payload, secret="whsec_someone_else")
    assert forged.status_code == 400
    assert forged.json()["error"]["code"] == "bad_signature"
    # The right signature of another body does not sign this one.
    body = json.dumps(payload).encode()
    other = sign(body.replace(b"5000", b"9999"), WEBHOOK_SECRET, int(time.time()))
    assert deliver(client, body, header=other).status_code == 400
    for header in ("", "t=abc,v1=00", f"t={int(time.time())}", "v1=deadbeef"):
        assert deliver(client, body, header=header).status_code == 400
    assert ProviderEvent.objects.count() == 0
    pending.refresh_from_db()
    assert pending.status == DonationStatus.PENDING


def test_a_stale_timestamp_is_refused(client, pending, settings):
    payload = load("event_checkout_session_completed", donation=pending.pk)
    # 10 s beyond the 300 s tolerance: the signed timestamp is whole seconds, and a slow
    # machine takes a while between signing and checking.
    stale = deliver(client, payload, at=time.time() - 310)
    assert stale.status_code == 400 and "tolerance" in stale.json()["error"]["message"]
    future = deliver(client, payload, at=time.time() + 310)
    assert future.status_code == 400
    assert ProviderEvent.objects.count() == 0
    settings.NEXTWORK_STRIPE_WEBHOOK_TOLERANCE = 600
    assert deliver(client, payload, at=time.time() - 310).status_code == 200


def test_no_signing_secret_refuses_every_webhook(client, pending, settings):
    settings.NEXTWORK_STRIPE_WEBHOOK_SECRET = None
    payload = load("event_checkout_session_completed", donation=pending.pk)
    assert deliver(client, payload).status_code == 400
    assert ProviderEvent.objects.count() == 0


def test_unknown_provider_is_404(client, db):
    response = client.post(
        "/api/v1/payments/paypal/webhook", data=b"{}", content_type="application/json"
    )
    assert response.status_code == 404
    manual = client.post(
        "/api/v1/payments/manual/webhook", data=b"{}", content_type="application/json"
    )
    assert manual.status_code == 404
    assert ProviderEvent.objects.count() == 0


def test_the_same_event_a_thousand_times_is_one_donation(client, beneficiaries, stripe_api):  # noqa: F811
    # A monthly donation's renewal creates a donation: delivered 1,000 times, it is one.
    from tests.fundraising.test_recurring import started

    recurring = started(client, beneficiaries["association"])
    payload = load(
        "event_invoice_paid_cycle",
        invoice="in_1Renewal0002",
        subscription=recurring.provider_ref,
        donation=0,
        recurring=recurring.pk,
    )
    body = json.dumps(payload).encode()
    header = sign(body, WEBHOOK_SECRET, int(time.time()))
    outcomes = set()
    for _ in range(1000):
        response = deliver(client, body, header=header)
        assert response.status_code == 200
        outcomes.add(response.json()["outcomes"][0]["outcome"])
    assert Donation.objects.filter(provider_ref="in_1Renewal0002").count() == 1
    assert recurring.payments.count() == 2  # the first month and this renewal
    assert ProviderEvent.objects.filter(event_id=payload["id"]).count() == 1
    assert "already received" in outcomes and len(outcomes) == 2


def test_a_success_delivered_again_changes_nothing(client, pending):
    payload = load("event_checkout_session_completed", donation=pending.pk)
    deliver(client, payload)
    pending.refresh_from_db()
    first = pending.succeeded_at
    again = deliver(client, payload)
    assert again.status_code == 200
    assert again.json()["outcomes"][0]["outcome"] == "already received"
    pending.refresh_from_db()
    assert pending.succeeded_at == first


def test_refund_before_success_ends_refunded_with_the_cap_released(client, pending):
    ledger = CapLedger.objects.get()
    assert ledger.committed_cents == 5000
    refund = deliver(client, load("event_charge_refunded", donation=pending.pk))
    assert refund.status_code == 200
    success = deliver(client, load("event_checkout_session_completed", donation=pending.pk))
    assert success.status_code == 200
    assert "not applied" in success.json()["outcomes"][0]["outcome"]
    pending.refresh_from_db()
    assert pending.status == DonationStatus.REFUNDED and pending.succeeded_at is None
    ledger.refresh_from_db()
    assert ledger.committed_cents == 0
    # Both events are stored: neither is applied again if Stripe retries.
    assert ProviderEvent.objects.count() == 2
    assert deliver(client, load("event_charge_refunded", donation=pending.pk)).status_code == 200
    ledger.refresh_from_db()
    assert ledger.committed_cents == 0


def test_refund_after_success_releases_the_cap(client, pending):
    deliver(client, load("event_checkout_session_completed", donation=pending.pk))
    deliver(client, load("event_charge_refunded", donation=pending.pk))
    pending.refresh_from_db()
    assert pending.status == DonationStatus.REFUNDED
    assert CapLedger.objects.get().committed_cents == 0


@pytest.mark.parametrize(
    "name", ["event_checkout_session_expired", "event_payment_intent_payment_failed"]
)
def test_expired_or_failed_payment_fails_the_donation(client, pending, name):
    response = deliver(client, load(name, donation=pending.pk))
    assert response.status_code == 200
    pending.refresh_from_db()
    assert pending.status == DonationStatus.FAILED
    assert CapLedger.objects.get().committed_cents == 0
    # A success arriving after the failure is not applied.
    deliver(client, load("event_checkout_session_completed", donation=pending.pk))
    pending.refresh_from_db()
    assert pending.status == DonationStatus.FAILED


def test_events_we_do_not_follow_are_acknowledged(client, pending):
    payload = {"id": "evt_other", "object": "event", "type": "customer.created", "data": {}}
    response = deliver(client, payload)
    assert response.status_code == 200
    assert response.json()["outcomes"][0]["outcome"].startswith("ignored")


def test_the_test_provider_checkout_pays_through_the_webhook_path(client, beneficiaries, settings):
    response = intent(client, beneficiaries["party"], provider="test", return_path="/merci/")
    assert response.status_code == 201, response.content
    url = response.json()["next"]["url"]
    assert "/dons/paiement-test/" in url
    path = url.removeprefix(settings.NEXTWORK_SITE_URL)
    page = client.get(path)
    assert page.status_code == 200 and b"Payer" in page.content and b"Refuser" in page.content
    paid = client.post(path, {"action": "pay"})
    assert paid.status_code == 302 and paid["Location"].startswith("/merci/?don=")
    donation = Donation.objects.get(pk=response.json()["donation"])
    assert donation.status == DonationStatus.SUCCEEDED
    assert ProviderEvent.objects.filter(provider="test").count() == 1
    # A forged token opens nothing.
    forged = path.rsplit("/", 2)[0] + "/forged/"
    assert client.get(forged).status_code == 404


def test_the_test_provider_is_off_without_its_switch(client, beneficiaries, settings):
    settings.NEXTWORK_TEST_PAYMENTS = False
    response = intent(client, beneficiaries["party"], provider="test")
    assert response.status_code == 400 and response.json()["error"]["field"] == "provider"


def test_webhooks_need_no_csrf_token(beneficiaries, stripe_api):  # noqa: F811
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = intent(strict, beneficiaries["party"])
    assert response.status_code == 201
    donation = response.json()["donation"]
    paid = deliver(strict, load("event_checkout_session_completed", donation=donation))
    assert paid.status_code == 200
    assert Donation.objects.get(pk=donation).status == DonationStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount_cents": "cinquante"}, "amount_cents"),
        ({"amount_cents": 50}, "amount"),
        ({"amount_cents": 10**15}, "amount"),
        ({"frequency": "weekly"}, "frequency"),
        ({"email": "pas-une-adresse"}, "email"),
        ({"first_name": "Ca\x00mille"}, "first_name"),
        ({"country": "France"}, "country"),
        ({"beneficiary": 999999}, "beneficiary"),
        ({"page": "nulle-part"}, "page"),
    ],
)
def test_bad_intents_are_refused_by_field_and_store_nothing(
    client,
    beneficiaries,
    stripe_api,  # noqa: F811
    changes,
    field,
):
    response = intent(client, beneficiaries["party"], **changes)
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["error"]["field"] == field
    assert Donation.objects.count() == 0 and stripe_api.requests == []
