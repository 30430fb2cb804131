"""Gifts of one person at the same instant cannot pass a cap together, receipt numbers taken
at once have no gap and no duplicate, and the analytics' roll-ups count simultaneous gifts and
refunds of one person exactly. These tests commit for real (one connection per
thread) and remove what they made."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from nextwork.fundraising import rollups, services
from nextwork.fundraising.models import (
    Beneficiary,
    CapLedger,
    Donation,
    Donor,
    DonorPerson,
    MonthPerson,
    Receipt,
    ReceiptSequence,
)
from nextwork.fundraising.rules import RuleBroken


@pytest.fixture
def party(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        beneficiary = Beneficiary.objects.create(
            name="Parti concurrent", kind="party", legal_name="AF Parti concurrent",
            address="Paris",
        )  # fmt: skip
        yield beneficiary
        from django_tasks_db.models import DBTaskResult

        # Received gifts queued their receipts for the worker: not for the next tests.
        DBTaskResult.objects.filter(task_path__endswith="issue_receipt_task").delete()
        Receipt.objects.filter(beneficiary=beneficiary).delete()
        ReceiptSequence.objects.filter(beneficiary=beneficiary).delete()
        Donation.objects.filter(beneficiary=beneficiary).delete()
        Donor.objects.filter(email="vite@example.org").delete()
        CapLedger.objects.filter(scope__startswith="parties:").delete()
        rollups.rebuild()  # from what is left committed: nothing
        DonorPerson.objects.filter(records=None).delete()


def _race(calls):
    barrier = threading.Barrier(len(calls))
    outcomes, errors = [], []

    def run(call):
        try:
            barrier.wait(timeout=10)
            outcomes.append(call())
        except RuleBroken:
            outcomes.append("refused")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return outcomes


def _donor():
    return services.DonorIn(
        first_name="Vite", last_name="Donne", email="vite@example.org", address="1 rue",
        postcode="75011", city="Paris", natural_person=True, french_or_resident=True,
    )  # fmt: skip


def test_simultaneous_gifts_never_pass_the_cap(party, django_db_blocker):
    with django_db_blocker.unblock():
        # Four gifts of 3 000 € at once against the 7 500 € cap: two pass, two are refused.
        calls = [
            (lambda: services.donation_create(
                beneficiary_id=party.pk, donor=_donor(), amount_cents=300_000, method="card",
                provider="test"))
            for _ in range(4)
        ]  # fmt: skip
        outcomes = _race(calls)
        assert outcomes.count("refused") == 2
        stored = Donation.objects.filter(beneficiary=party)
        assert stored.count() == 2
        (ledger,) = CapLedger.objects.filter(scope__startswith="parties:")
        assert ledger.committed_cents == 600_000 <= ledger.cap_cents


def test_simultaneous_receipts_take_consecutive_numbers(party, django_db_blocker):
    with django_db_blocker.unblock():
        gifts = []
        for _ in range(5):
            gift = services.donation_create(
                beneficiary_id=party.pk, donor=_donor(), amount_cents=1000, method="card",
                provider="test",
            )  # fmt: skip
            services.donation_succeeded(donation_id=gift.pk)
            gifts.append(gift)
        _race([(lambda g=g: services.receipt_issue(donation_id=g.pk)) for g in gifts])
        numbers = sorted(Receipt.objects.filter(beneficiary=party).values_list("number", flat=True))
        assert numbers == [1, 2, 3, 4, 5]


def test_simultaneous_gifts_and_refunds_of_one_person_keep_the_rollups_exact(
    party, django_db_blocker
):
    with django_db_blocker.unblock():
        amounts = [1000, 2500, 4000, 700, 3100, 1800, 900, 5000]
        gifts = [
            services.donation_create(
                beneficiary_id=party.pk, donor=_donor(), amount_cents=cents, method="card",
                provider="test",
            )
            for cents in amounts
        ]  # fmt: skip
        refunded = gifts[:3]
        for gift in refunded:
            services.donation_succeeded(donation_id=gift.pk)
        # Five gifts of the same person succeed while three of theirs are refunded: the
        # roll-up rows are shared, so the locks must be taken in one order (no deadlock).
        calls = [(lambda g=g: services.donation_succeeded(donation_id=g.pk)) for g in gifts[3:]]
        calls += [(lambda g=g: services.donation_refunded(donation_id=g.pk)) for g in refunded]
        _race(calls)
        (row,) = MonthPerson.objects.filter(person_id=gifts[0].person_id)
        kept = amounts[3:]
        assert (row.total_cents, row.gifts, row.largest_cents) == (sum(kept), 5, max(kept))
        before = rollups.snapshot()
        rollups.rebuild()
        assert rollups.snapshot() == before
