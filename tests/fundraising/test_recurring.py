"""Monthly donations through Stripe: started, renewed under the rules, failing, stopped."""

from __future__ import annotations

import pytest

from nextwork.fundraising.models import CapLedger, Donation, DonationStatus, Recurring
from tests.fundraising.stripe_helpers import deliver, intent, load, stripe_api  # noqa: F401

pytestmark = pytest.mark.django_db

SUBSCRIPTION = "sub_1Monthly0001"


def started(client, beneficiary, *, cents=1000, email="camille.donne@example.org"):
    """A monthly donation whose first payment went through (the stripe_api fixture on)."""
    response = intent(client, beneficiary, amount_cents=cents, frequency="monthly", email=email)
    assert response.status_code == 201, response.content
    body = response.json()
    event = load(
        "event_checkout_session_completed_subscription",
        donation=body["donation"],
        subscription=SUBSCRIPTION,
    )
    event["id"] += str(body["donation"])
    assert deliver(client, event).status_code == 200
    return Recurring.objects.get(pk=body["recurring"])


def renewal(client, recurring, invoice, *, kind="event_invoice_paid_cycle"):
    payload = load(
        kind, invoice=invoice, subscription=recurring.provider_ref, donation=0,
        recurring=recurring.pk,
    )  # fmt: skip
    response = deliver(client, payload)
    assert response.status_code == 200, response.content
    return response.json()["outcomes"][0]["outcome"]


def test_a_monthly_donation_starts_with_its_first_payment(client, beneficiaries, stripe_api):  # noqa: F811
    recurring = started(client, beneficiaries["party"])
    assert recurring.status == Recurring.Status.ACTIVE
    assert recurring.provider_ref == SUBSCRIPTION
    [first] = recurring.payments.all()
    assert first.status == DonationStatus.SUCCEEDED
    assert first.provider_ref == "cs_test_b1SubscriptionSession01"
    # The first invoice is the checkout's payment: not a second donation.
    outcome = renewal(client, recurring, "in_1FirstInvoice0001", kind="event_invoice_paid_create")
    assert outcome.startswith("ignored")
    assert recurring.payments.count() == 1


def test_each_renewal_is_a_new_donation_checked_again(client, beneficiaries, stripe_api):  # noqa: F811
    recurring = started(client, beneficiaries["party"])
    outcome = renewal(client, recurring, "in_1Renewal0002")
    assert outcome.startswith("renewal: donation")
    payments = list(recurring.payments.order_by("pk"))
    assert [p.status for p in payments] == [DonationStatus.SUCCEEDED] * 2
    assert payments[1].provider_ref == "in_1Renewal0002"
    assert payments[1].amount_cents == 1000 and payments[1].method == "card"
    assert CapLedger.objects.get().committed_cents == 2000


def test_a_renewal_that_breaks_the_cap_fails_refunds_and_cancels(
    client,
    beneficiaries,
    give,
    stripe_api,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    recurring = started(client, beneficiaries["party"])
    # Meanwhile the donor gave to another party up to the cap, less than a month.
    give("party2", cents=750_000 - 1000 - 500)
    stripe_api.values = {"subscription": SUBSCRIPTION}
    with django_capture_on_commit_callbacks(execute=True):
        outcome = renewal(client, recurring, "in_1Renewal0003")
    assert outcome.startswith("renewal refused")
    assert "refunded and subscription cancelled" in outcome
    assert "above the legal cap" in outcome
    refused = Donation.objects.get(provider_ref="in_1Renewal0003")
    assert refused.status == DonationStatus.FAILED and refused.cap_scopes == []
    assert CapLedger.objects.get(scope__startswith="parties:").committed_cents == 750_000 - 500
    recurring.refresh_from_db()
    assert recurring.status == Recurring.Status.CANCELLED and recurring.cancelled_at
    [refund] = stripe_api.sent("POST", "/v1/refunds")
    assert refund["form"]["payment_intent"] == "pi_3RenewalIntent0002"
    [cancel] = stripe_api.sent("DELETE", "/v1/subscriptions/")
    assert cancel["path"] == f"/v1/subscriptions/{SUBSCRIPTION}"


def test_three_failures_cancel_the_subscription(
    client,
    beneficiaries,
    stripe_api,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    recurring = started(client, beneficiaries["association"])
    assert renewal(client, recurring, "in_f1", kind="event_invoice_payment_failed").endswith(
        "failure 1 of 3"
    )
    renewal(client, recurring, "in_f2", kind="event_invoice_payment_failed")
    recurring.refresh_from_db()
    assert recurring.failures == 2 and recurring.status == Recurring.Status.ACTIVE
    assert stripe_api.sent("DELETE", "/v1/subscriptions/") == []
    with django_capture_on_commit_callbacks(execute=True):
        outcome = renewal(client, recurring, "in_f3", kind="event_invoice_payment_failed")
    assert outcome.endswith("3 failures, cancelled")
    recurring.refresh_from_db()
    assert recurring.status == Recurring.Status.FAILED
    assert len(stripe_api.sent("DELETE", f"/v1/subscriptions/{SUBSCRIPTION}")) == 1
    # Failed months are not donations.
    assert recurring.payments.count() == 1


def test_a_paid_renewal_resets_the_failures(client, beneficiaries, stripe_api):  # noqa: F811
    recurring = started(client, beneficiaries["association"])
    renewal(client, recurring, "in_f1", kind="event_invoice_payment_failed")
    renewal(client, recurring, "in_ok", kind="event_invoice_paid_cycle")
    recurring.refresh_from_db()
    assert recurring.failures == 0


def test_the_provider_deleting_the_subscription_stops_it(client, beneficiaries, stripe_api):  # noqa: F811
    recurring = started(client, beneficiaries["association"])
    payload = load(
        "event_customer_subscription_deleted",
        subscription=SUBSCRIPTION,
        donation=0,
        recurring=recurring.pk,
    )
    assert deliver(client, payload).status_code == 200
    recurring.refresh_from_db()
    assert recurring.status == Recurring.Status.CANCELLED


def _member(make_member, *, staff=False):
    from nextwork.network.models import Grant, Role

    member = make_member("Camille")
    if staff:
        Grant.objects.create(member=member, role=Role.STAFF)
    return member


def test_the_donor_cancels_from_their_profile(client, beneficiaries, stripe_api, make_member):  # noqa: F811
    owner = _member(make_member)
    client.force_login(owner)
    recurring = started(client, beneficiaries["association"])
    assert recurring.donor.member_id == owner.pk
    response = client.post(f"/api/v1/recurring/{recurring.pk}/cancel")
    assert response.status_code == 200, response.content
    assert response.json() == {"recurring": recurring.pk, "status": "cancelled"}
    [cancel] = stripe_api.sent("DELETE", "/v1/subscriptions/")
    assert cancel["path"] == f"/v1/subscriptions/{SUBSCRIPTION}"
    recurring.refresh_from_db()
    assert recurring.status == Recurring.Status.CANCELLED and recurring.cancelled_at
    # Stripe's confirmation afterwards changes nothing.
    payload = load(
        "event_customer_subscription_deleted",
        subscription=SUBSCRIPTION,
        donation=0,
        recurring=recurring.pk,
    )
    assert deliver(client, payload).status_code == 200
    recurring.refresh_from_db()
    assert recurring.status == Recurring.Status.CANCELLED


def test_another_member_may_not_cancel_but_staff_may(
    client,
    beneficiaries,
    stripe_api,  # noqa: F811
    make_member,
):
    from django.test import Client

    owner = _member(make_member)
    client.force_login(owner)
    recurring = started(client, beneficiaries["association"])
    other = Client()
    assert other.post(f"/api/v1/recurring/{recurring.pk}/cancel").status_code == 401
    other.force_login(_member(make_member))
    refused = other.post(f"/api/v1/recurring/{recurring.pk}/cancel")
    unknown = other.post("/api/v1/recurring/999999/cancel")
    # Someone else's monthly donation and an unknown one get the same answer: no way to tell
    # which ids exist.
    assert refused.status_code == unknown.status_code == 404
    assert refused.json()["error"]["message"].replace(str(recurring.pk), "N") == unknown.json()[
        "error"
    ]["message"].replace("999999", "N")
    recurring.refresh_from_db()
    assert recurring.status == Recurring.Status.ACTIVE
    assert stripe_api.sent("DELETE", "/v1/subscriptions/") == []
    staff = Client()
    staff.force_login(_member(make_member, staff=True))
    assert staff.post(f"/api/v1/recurring/{recurring.pk}/cancel").status_code == 200
    recurring.refresh_from_db()
    assert recurring.status == Recurring.Status.CANCELLED


def test_stripe_unreachable_leaves_the_monthly_donation_running(
    client,
    beneficiaries,
    stripe_api,  # noqa: F811
    make_member,
):
    owner = _member(make_member)
    client.force_login(owner)
    recurring = started(client, beneficiaries["association"])
    stripe_api.fail_with = (500, {"error": {"message": "An error occurred"}})
    response = client.post(f"/api/v1/recurring/{recurring.pk}/cancel")
    assert response.status_code == 503
    recurring.refresh_from_db()
    assert recurring.status == Recurring.Status.ACTIVE
