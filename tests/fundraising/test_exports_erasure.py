"""The treasurer's exports and a donor's erasure."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from nextwork.common.errors import Forbidden, InvalidInput
from nextwork.fundraising import erasure, exports, services
from nextwork.fundraising.models import Donation, Donor
from nextwork.fundraising.rules import donor_key
from nextwork.privacy.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_accounting_journal_lists_gifts_and_refunds_without_names(give, people):
    kept = give("association", cents=2500)
    refunded = give("association", cents=4000, email="autre@example.org", last_name="=SOMME")
    give("association", cents=900, succeed=False)  # pending: not in the accounts
    services.receipt_issue(donation_id=kept.pk)
    services.donation_refunded(donation_id=refunded.pk)
    today = timezone.localdate()
    rows = list(exports.accounting_rows(by=people["staff"], start=today, end=today))
    assert rows[0] == exports.ACCOUNTING_COLUMNS
    amounts = sorted(row[4] for row in rows[1:])
    assert amounts == ["-40.00", "25.00", "40.00"]
    receipt_cells = [row[8] for row in rows[1:] if row[1] == str(kept.pk)]
    assert receipt_cells == [f"{today.year}-000001"]
    flat = repr(rows)
    assert "Donne" not in flat and "camille" not in flat
    assert AuditEvent.objects.filter(action="fundraising.export_accounting").count() == 1
    with pytest.raises(InvalidInput, match="before its start"):
        next(exports.accounting_rows(by=people["staff"], start=today,
                                     end=today - datetime.timedelta(days=1)))  # fmt: skip


def test_donor_list_groups_a_person_and_is_staff_only(give, people, beneficiaries):
    give("party", cents=1000)
    give("party", cents=2000, address="Nouvelle adresse")
    give("party", cents=3000, email="b@example.org", last_name="=1+1")
    give("party", cents=4000, succeed=False, email="c@example.org")
    for outsider in (people["member"], people["coord75"]):
        with pytest.raises(Forbidden):
            next(exports.donor_list_rows(by=outsider, beneficiary_id=beneficiaries["party"].pk))
    rows = list(exports.donor_list_rows(by=people["staff"],
                                        beneficiary_id=beneficiaries["party"].pk))  # fmt: skip
    body = rows[1:]
    assert len(body) == 2
    camille = next(r for r in body if r[2] == "Camille" and r[1] == "Donne")
    assert camille[7:9] == ["2", "30.00"] and camille[3] == "Nouvelle adresse"
    assert any(r[1] == "'=1+1" for r in body)


def test_erasure_keeps_what_accounting_needs(give, people):
    received = give("association", cents=2500)
    key = donor_key("camille.donne@example.org")
    Donor.objects.filter(pk=received.donor_id).update(member=people["member"])
    assert erasure.donor_erase(key=key, by=people["staff"]) == 1
    person = Donor.objects.get(pk=received.donor_id)
    assert person.email.endswith("@erased.invalid") and person.member is None
    assert person.last_name == "Donne"  # named on a receipt within the retention period
    assert Donation.objects.get(pk=received.pk).amount_cents == 2500


def test_erasure_empties_a_donor_with_no_received_gift(give, people):
    failed = give("association", cents=2500, succeed=False, email="rate@example.org")
    services.donation_failed(donation_id=failed.pk)
    erasure.donor_erase(key=donor_key("rate@example.org"), by=people["staff"])
    person = Donor.objects.get(pk=failed.donor_id)
    assert (person.first_name, person.last_name, person.address) == ("", "", "")
    with pytest.raises(Forbidden):
        erasure.donor_erase(key=donor_key("x@example.org"), by=people["member"])
