"""Stripe through its REST API, served locally from recorded answers: what we send (amount in
cents, EUR, our donation id in the metadata, the secret key in the Authorization header only)
and what we do with the answers."""

from __future__ import annotations

import pytest

from nextwork.fundraising.models import CapLedger, Donation, DonationStatus, Recurring
from nextwork.fundraising.providers import get
from tests.fundraising.stripe_helpers import SECRET_KEY, intent, stripe_api  # noqa: F401

pytestmark = pytest.mark.django_db


def test_a_one_off_gift_opens_a_checkout_session(client, beneficiaries, stripe_api):  # noqa: F811
    response = intent(client, beneficiaries["party"], amount_cents=5000)
    assert response.status_code == 201, response.content
    body = response.json()
    donation = Donation.objects.get(pk=body["donation"])
    assert body["status"] == "pending" and body["recurring"] is None
    assert body["next"] == {
        "kind": "redirect",
        "url": "https://checkout.stripe.com/c/pay/cs_test_a1PaymentSession0001",
        "text": None,
    }
    assert donation.provider == "stripe"
    assert donation.provider_ref == "cs_test_a1PaymentSession0001"
    assert donation.source == "utm_source=mastodon"
    [sent] = stripe_api.sent("POST", "/v1/checkout/sessions")
    assert sent["headers"]["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent["headers"]["Idempotency-Key"] == f"donation-{donation.pk}"
    form = sent["form"]
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][unit_amount]"] == "5000"
    assert form["line_items[0][price_data][currency]"] == "eur"
    assert form["line_items[0][quantity]"] == "1"
    assert form["metadata[donation]"] == str(donation.pk)
    assert form["payment_intent_data[metadata][donation]"] == str(donation.pk)
    assert form["client_reference_id"] == str(donation.pk)
    assert form["customer_email"] == "camille.donne@example.org"
    assert form["payment_method_types[0]"] == "card"
    assert form["success_url"] == f"http://testserver/?don={donation.pk}&paiement=ok"
    # The reservation holds the place in the cap while the donor pays.
    assert CapLedger.objects.get().committed_cents == 5000


def test_a_monthly_gift_opens_a_subscription_session(client, beneficiaries, stripe_api):  # noqa: F811
    response = intent(
        client, beneficiaries["party"], amount_cents=1000, frequency="monthly", method="sepa"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    recurring = Recurring.objects.get(pk=body["recurring"])
    assert recurring.status == Recurring.Status.PENDING and recurring.amount_cents == 1000
    assert Donation.objects.get(pk=body["donation"]).recurring_id == recurring.pk
    [sent] = stripe_api.sent("POST", "/v1/checkout/sessions")
    form = sent["form"]
    assert form["mode"] == "subscription"
    assert form["line_items[0][price_data][recurring][interval]"] == "month"
    assert form["line_items[0][price_data][unit_amount]"] == "1000"
    assert form["payment_method_types[0]"] == "sepa_debit"
    assert form["subscription_data[metadata][donation]"] == str(body["donation"])
    assert form["subscription_data[metadata][recurring]"] == str(recurring.pk)


def test_refund_and_cancel_call_stripe(client, beneficiaries, give, stripe_api):  # noqa: F811
    donation = give("party", cents=5000)
    Donation.objects.filter(pk=donation.pk).update(
        provider="stripe", provider_ref="cs_test_a1PaymentSession0001"
    )
    donation.refresh_from_db()
    get("stripe").refund(donation)
    [_lookup] = stripe_api.sent("GET", "/v1/checkout/sessions/cs_test_a1PaymentSession0001")
    [refund] = stripe_api.sent("POST", "/v1/refunds")
    assert refund["form"] == {
        "payment_intent": "pi_3PaymentIntent0001",
        "metadata[donation]": str(donation.pk),
    }
    assert refund["headers"]["Authorization"] == f"Bearer {SECRET_KEY}"
    # The refund itself is applied when Stripe's charge.refunded webhook says so.
    donation.refresh_from_db()
    assert donation.status == DonationStatus.SUCCEEDED

    recurring = Recurring(provider="stripe", provider_ref="sub_1Monthly0001")
    get("stripe").cancel_recurring(recurring)
    [cancel] = stripe_api.sent("DELETE", "/v1/subscriptions/")
    assert cancel["path"] == "/v1/subscriptions/sub_1Monthly0001"


def test_stripe_refusing_cancels_the_donation_and_gives_the_cap_back(
    client,
    beneficiaries,
    stripe_api,  # noqa: F811
):
    stripe_api.fail_with = (400, {"error": {"message": "Invalid integer: abc"}})
    response = intent(client, beneficiaries["party"], amount_cents=750_000)
    assert response.status_code == 503
    assert "Invalid integer" in response.json()["error"]["message"]
    assert Donation.objects.get().status == DonationStatus.CANCELLED
    assert CapLedger.objects.get().committed_cents == 0


def test_no_secret_key_no_payment_and_the_key_never_leaks(
    client,
    beneficiaries,
    stripe_api,  # noqa: F811
    settings,
    caplog,
):
    settings.NEXTWORK_STRIPE_SECRET_KEY = None
    response = intent(client, beneficiaries["party"])
    assert response.status_code == 503
    assert "not configured" in response.json()["error"]["message"]
    assert stripe_api.requests == []
    settings.NEXTWORK_STRIPE_SECRET_KEY = SECRET_KEY
    stripe_api.fail_with = (500, {"error": {"message": "boom"}})
    with caplog.at_level("DEBUG"):
        assert intent(client, beneficiaries["party"]).status_code == 503
    assert SECRET_KEY not in caplog.text


def test_intent_refusals_name_their_field(client, beneficiaries, stripe_api):  # noqa: F811
    company = intent(client, beneficiaries["party"], natural_person=False)
    assert company.status_code == 422
    assert company.json()["error"]["field"] == "natural_person"
    unknown = intent(client, beneficiaries["party"], provider="paypal")
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "provider"
    cheque_online = intent(client, beneficiaries["party"], method="cheque")
    assert cheque_online.status_code == 400 and cheque_online.json()["error"]["field"] == "method"
    monthly_by_hand = intent(
        client, beneficiaries["party"], provider="manual", method="cheque", frequency="monthly"
    )
    assert monthly_by_hand.json()["error"]["field"] == "frequency"
    elsewhere = intent(client, beneficiaries["party"], return_path="//evil.example/")
    assert elsewhere.json()["error"]["field"] == "return_path"
    assert Donation.objects.count() == 0 and stripe_api.requests == []


def test_manual_gives_instructions(client, beneficiaries):
    response = intent(client, beneficiaries["association"], provider="manual", method="cheque")
    assert response.status_code == 201, response.content
    step = response.json()["next"]
    assert step["kind"] == "instructions"
    assert "Association C (association de financement)" in step["text"]
    assert f"DON-{response.json()['donation']}" in step["text"]


def test_intents_are_rate_limited_by_address(client, beneficiaries, settings):
    settings.NEXTWORK_DONATIONS_PER_HOUR = 2
    from django.core.cache import cache

    cache.clear()
    for _ in range(2):
        ok = intent(client, beneficiaries["association"], provider="manual", method="transfer")
        assert ok.status_code == 201
    refused = intent(client, beneficiaries["association"], provider="manual", method="transfer")
    assert refused.status_code == 429
    cache.clear()
