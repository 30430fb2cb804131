"""Staff refunds: by hand for cheques and transfers, through the provider for online gifts,
from the service and from the admin's action."""

from __future__ import annotations

import pytest

from nextwork.common.errors import Conflict, Forbidden, Unavailable
from nextwork.fundraising import refunds, services
from nextwork.fundraising.models import CapLedger, Donation, DonationStatus, Receipt
from nextwork.privacy.models import AuditEvent
from tests.fundraising.stripe_helpers import deliver, load, stripe_api  # noqa: F401

pytestmark = pytest.mark.django_db

SESSION = "cs_test_a1PaymentSession0001"


@pytest.fixture
def staff(people):
    return people["staff"]


def manual_gift(beneficiaries, donor, staff, cents=3000):
    import datetime

    return services.manual_record(
        by=staff, beneficiary_id=beneficiaries["party"].pk, donor=donor(), amount_cents=cents,
        method="cheque", reference="CHQ-0042", received_on=datetime.date.today(),
    )  # fmt: skip


def test_a_cheque_is_marked_refunded_its_cap_released_and_receipt_cancelled(
    beneficiaries, donor, staff, monkeypatch
):
    from nextwork.fundraising import providers

    def no_provider(name):
        raise AssertionError(f"provider {name} asked for a manual gift")

    monkeypatch.setattr(providers, "get", no_provider)
    gift = manual_gift(beneficiaries, donor, staff)
    receipt = services.receipt_issue(donation_id=gift.pk)
    assert CapLedger.objects.get().committed_cents == 3000

    refunded = refunds.refund_request(donation_id=gift.pk, by=staff)
    assert refunded.status == DonationStatus.REFUNDED and refunded.refunded_at
    assert CapLedger.objects.get().committed_cents == 0
    receipt.refresh_from_db()
    assert receipt.cancelled_at and receipt.cancel_reason == "don remboursé"
    request = AuditEvent.objects.get(action="donation.refund_request")
    assert request.actor == staff
    assert request.details == {"donation": gift.pk, "provider": "manual", "amount_cents": 3000}
    assert AuditEvent.objects.get(action="donation.refund").actor == staff


def test_an_online_gift_is_refunded_at_its_provider_first(give, staff, monkeypatch):
    from nextwork.fundraising.providers.test import TestProvider

    asked = []
    monkeypatch.setattr(TestProvider, "refund", lambda self, donation: asked.append(donation.pk))
    gift = give("association", cents=2000)
    refunds.refund_request(donation_id=gift.pk, by=staff)
    assert asked == [gift.pk]
    gift.refresh_from_db()
    assert gift.status == DonationStatus.REFUNDED


def test_stripe_is_asked_and_its_webhook_afterwards_changes_nothing(
    client,
    give,
    staff,
    stripe_api,  # noqa: F811
):
    gift = give("party", cents=5000)
    Donation.objects.filter(pk=gift.pk).update(provider="stripe", provider_ref=SESSION)
    refunds.refund_request(donation_id=gift.pk, by=staff)
    [refund] = stripe_api.sent("POST", "/v1/refunds")
    assert refund["form"] == {
        "payment_intent": "pi_3PaymentIntent0001",
        "metadata[donation]": str(gift.pk),
    }
    assert refund["headers"]["Idempotency-Key"] == f"refund-{gift.pk}"
    gift.refresh_from_db()
    assert gift.status == DonationStatus.REFUNDED
    refunded_at = gift.refunded_at
    assert CapLedger.objects.get().committed_cents == 0

    # Stripe's charge.refunded arrives later: acknowledged, no error, nothing given back twice.
    response = deliver(client, load("event_charge_refunded", donation=gift.pk))
    assert response.status_code == 200
    assert response.json()["outcomes"][0]["outcome"] == f"donation {gift.pk} refunded"
    gift.refresh_from_db()
    assert gift.status == DonationStatus.REFUNDED and gift.refunded_at == refunded_at
    assert CapLedger.objects.get().committed_cents == 0
    assert AuditEvent.objects.filter(action="donation.refund").count() == 1


def test_a_provider_error_changes_nothing(
    give,
    staff,
    stripe_api,  # noqa: F811
):
    gift = give("party", cents=5000)
    Donation.objects.filter(pk=gift.pk).update(provider="stripe", provider_ref=SESSION)
    receipt = services.receipt_issue(donation_id=gift.pk)
    stripe_api.fail_with = (500, {"error": {"message": "An error occurred"}})
    with pytest.raises(Unavailable):
        refunds.refund_request(donation_id=gift.pk, by=staff)
    gift.refresh_from_db()
    assert gift.status == DonationStatus.SUCCEEDED and gift.refunded_at is None
    assert CapLedger.objects.get().committed_cents == 5000
    assert Receipt.objects.get(pk=receipt.pk).cancelled_at is None
    assert not AuditEvent.objects.filter(action__startswith="donation.refund").exists()


def test_only_staff_and_only_a_received_gift(give, staff, make_member):
    gift = give("association", cents=2000)
    with pytest.raises(Forbidden):
        refunds.refund_request(donation_id=gift.pk, by=make_member("Lou"))
    pending = give("association", cents=2000, succeed=False)
    with pytest.raises(Conflict, match="is pending: only a received gift"):
        refunds.refund_request(donation_id=pending.pk, by=staff)
    refunds.refund_request(donation_id=gift.pk, by=staff)
    with pytest.raises(Conflict, match="was refunded already"):
        refunds.refund_request(donation_id=gift.pk, by=staff)
    assert Donation.objects.get(pk=pending.pk).status == DonationStatus.PENDING


def _admin(member):
    member.is_staff = member.is_superuser = True
    member.save(update_fields=["is_staff", "is_superuser"])
    return member


CHANGELIST = "/admin/fundraising/donation/"


def test_the_admin_action_confirms_then_refunds(client, give, staff):
    gift = give("association", cents=2500)
    pending = give("association", cents=1200, succeed=False)
    client.force_login(_admin(staff))
    selection = {"action": "refund", "_selected_action": [gift.pk, pending.pk]}
    page = client.post(CHANGELIST, selection)
    assert page.status_code == 200
    html = page.content.decode()
    assert f"n° {gift.pk}" in html and "25 €" in html and "seul un don reçu" in html
    assert "Oui, rembourser ce don" in html
    gift.refresh_from_db()
    assert gift.status == DonationStatus.SUCCEEDED  # nothing before the confirmation

    done = client.post(CHANGELIST, {**selection, "confirm": "yes"}, follow=True)
    text = done.content.decode()
    assert f"Don n° {gift.pk} remboursé (25 €)" in text
    assert f"Don n° {pending.pk} non remboursé : il est « en attente »" in text
    gift.refresh_from_db()
    assert gift.status == DonationStatus.REFUNDED
    assert AuditEvent.objects.get(action="donation.refund_request").details["donation"] == gift.pk


def test_the_admin_action_shows_a_provider_error(
    client,
    give,
    staff,
    stripe_api,  # noqa: F811
):
    gift = give("party", cents=5000)
    Donation.objects.filter(pk=gift.pk).update(provider="stripe", provider_ref=SESSION)
    stripe_api.fail_with = (400, {"error": {"message": "Charge already refunded"}})
    client.force_login(_admin(staff))
    done = client.post(
        CHANGELIST,
        {"action": "refund", "_selected_action": [gift.pk], "confirm": "yes"},
        follow=True,
    )
    assert "le prestataire de paiement n&#x27;a pas remboursé" in done.content.decode()
    assert "Charge already refunded" in done.content.decode()
    gift.refresh_from_db()
    assert gift.status == DonationStatus.SUCCEEDED


def test_the_action_is_offered_to_staff_grants_only(client, give, make_member, staff):
    gift = give("association", cents=2500)
    client.force_login(_admin(staff))
    assert 'value="refund"' in client.get(CHANGELIST).content.decode()
    client.force_login(_admin(make_member("Admin")))  # a Django superuser, no staff grant
    assert 'value="refund"' not in client.get(CHANGELIST).content.decode()
    refused = client.post(CHANGELIST, {"action": "refund", "_selected_action": [gift.pk],
                                       "confirm": "yes"})  # fmt: skip
    assert refused.status_code in (200, 302)
    gift.refresh_from_db()
    assert gift.status == DonationStatus.SUCCEEDED
