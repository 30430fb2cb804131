"""French rules of giving: who may give, how much, how; caps never passed, even at once."""

from __future__ import annotations

import pytest

from nextwork.common.errors import Conflict, InvalidInput
from nextwork.fundraising import services
from nextwork.fundraising.models import CapLedger, Donation, DonationStatus, Receipt
from nextwork.fundraising.rules import RuleBroken

pytestmark = pytest.mark.django_db


def test_a_company_may_not_give_to_a_party_or_a_campaign(give):
    for kind in ("party", "campaign"):
        with pytest.raises(RuleBroken, match="natural persons only") as caught:
            give(kind, natural_person=False)
        assert caught.value.field == "natural_person"
    give("association", natural_person=False)  # an association may receive from a company
    assert Donation.objects.count() == 1


def test_a_party_needs_a_french_or_resident_donor(give):
    with pytest.raises(RuleBroken, match="French nationality or living in France"):
        give("party", french_or_resident=False)
    give("campaign", french_or_resident=False)


def test_cash_over_150_euros_is_refused(give):
    with pytest.raises(RuleBroken, match="In cash, a gift may not exceed 150 €"):
        give("party", cents=15001, method="cash")
    give("party", cents=15000, method="cash")
    give("association", cents=50000, method="cash")


def test_party_cap_counts_all_parties_of_the_year(give):
    give("party", cents=500_000)
    with pytest.raises(RuleBroken, match="above the legal cap of 7 500 €") as caught:
        give("party2", cents=300_000)
    assert "You may still give 2 500 €." in caught.value.message
    give("party2", cents=250_000)
    with pytest.raises(RuleBroken, match="reached the cap"):
        give("party", cents=100)
    # Another person, and associations, are not affected.
    give("party", cents=750_000, email="autre@example.org")
    give("association", cents=1_000_000)
    full = CapLedger.objects.filter(scope__startswith="parties:", committed_cents=750_000)
    assert full.count() == 2  # Camille (5 000 € + 2 500 €) and the other person


def test_campaign_cap_is_per_election_and_emails_are_one_person(give):
    give("campaign", cents=460_000, email="Camille.Donne@Example.org")
    with pytest.raises(RuleBroken, match="legislatives-2027"):
        give("campaign", cents=100, email="camille.donne@example.org ")


def test_failure_and_refund_give_the_cap_back(give):
    pending = give("party", cents=750_000, succeed=False)
    with pytest.raises(RuleBroken):
        give("party", cents=100)
    services.donation_failed(donation_id=pending.pk)
    done = give("party", cents=750_000)
    services.donation_refunded(donation_id=done.pk)
    assert Donation.objects.get(pk=done.pk).status == DonationStatus.REFUNDED
    give("party", cents=750_000)
    assert services.donation_refunded(donation_id=done.pk).status == "refunded"  # idempotent


def test_bad_amounts_and_donors(give):
    for cents, message in [(0, "at least 1 €"), (99, "at least"), (10**9, "at most")]:
        with pytest.raises(InvalidInput, match=message):
            give("association", cents=cents)
    with pytest.raises(InvalidInput, match="not an email"):
        give("association", email="pas-une-adresse")
    with pytest.raises(InvalidInput, match="first name is required"):
        give("association", first_name=" ")
    assert not Donation.objects.exists()


def test_receipts_are_numbered_without_gaps_and_reissued_with_a_trace(give, people, donor):
    gifts = [give("association", cents=2000 + i) for i in range(3)]
    numbers = [services.receipt_issue(donation_id=g.pk).number for g in gifts]
    assert numbers == [1, 2, 3]
    first = Receipt.objects.get(number=1)
    new = services.receipt_reissue(
        receipt_id=first.pk, reason="Adresse corrigée", donor=donor(address="5 rue Neuve"),
        by=people["staff"],
    )  # fmt: skip
    first.refresh_from_db()
    assert new.number == 4 and new.replaces_id == first.pk
    assert first.cancelled_at is not None and first.cancel_reason == "Adresse corrigée"
    assert new.snapshot["donor"]["address"] == "5 rue Neuve"
    assert Receipt.objects.count() == 4  # nothing deleted
    services.donation_refunded(donation_id=gifts[1].pk)
    assert Receipt.objects.get(number=2).cancelled_at is not None


def test_an_association_receipt_carries_its_purpose(give, beneficiaries):
    association = beneficiaries["association"]
    association.purpose = "Défendre l'accès de tous à l'école publique"
    association.save(update_fields=["purpose"])
    gift = give("association", cents=3000)
    receipt = services.receipt_issue(donation_id=gift.pk)
    assert receipt.snapshot["beneficiary"]["object"] == association.purpose
    association.purpose = "Autre objet"
    association.save(update_fields=["purpose"])
    receipt.refresh_from_db()
    assert receipt.snapshot["beneficiary"]["object"].startswith("Défendre")  # frozen


def test_monthly_donors_get_one_annual_receipt(give, beneficiaries):
    from nextwork.fundraising.rules import donor_key

    gifts = [give("association", cents=1000) for _ in range(3)]
    services.receipt_issue(donation_id=gifts[0].pk)  # one already has its own receipt
    association = beneficiaries["association"]
    year = gifts[0].succeeded_at.year
    key = donor_key("camille.donne@example.org")
    annual = services.receipt_issue_annual(key=key, beneficiary_id=association.pk, year=year)
    assert annual.consolidated and annual.amount_cents == 2000 and annual.number == 2
    assert sorted(d.pk for d in annual.donations.all()) == sorted(g.pk for g in gifts[1:])
    assert len(annual.snapshot["gifts"]) == 2
    with pytest.raises(Conflict, match="waiting for a receipt"):
        services.receipt_issue_annual(key=key, beneficiary_id=association.pk, year=year)


def test_a_one_off_gift_gets_its_receipt_from_the_worker(
    beneficiaries, donor, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    from nextwork.fundraising.tasks import issue_receipt_task

    gift = services.donation_create(
        beneficiary_id=beneficiaries["association"].pk, donor=donor(), amount_cents=4200,
        method="card", provider="test",
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        services.donation_succeeded(donation_id=gift.pk)
    (queued,) = DBTaskResult.objects.filter(task_path__endswith="issue_receipt_task")
    assert queued.args_kwargs["args"] == [gift.pk]
    issue_receipt_task.call(gift.pk)
    issue_receipt_task.call(gift.pk)  # run twice (a retry): still one receipt
    (receipt,) = Receipt.objects.filter(donations=gift)
    assert receipt.amount_cents == 4200 and receipt.number == 1
