"""Erasing a donor: what goes at once, and what accounting and tax law keep.

Field by field, with the legal reason, in docs/fundraising-privacy.md. In short: the email
and the link to the member go at once; the identity (names and address) stays while a
received gift of the person is within ``RETENTION_YEARS`` (receipts name the donor; party and
campaign donors are listed for the CNCCFP), and is emptied at once for a donor with no
received gift; amounts, dates, receipts and the cap key (a SHA-256 of the email) stay, as
accounting documents.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from nextwork.common.errors import Forbidden, NotFound
from nextwork.fundraising.models import Donation, DonationStatus, Donor
from nextwork.network.permissions import is_staff
from nextwork.privacy.services import audit_record

RETENTION_YEARS = 10
IDENTITY = ("first_name", "last_name", "address", "postcode", "city")


def must_keep_identity(key: str, *, now: datetime.datetime | None = None) -> bool:
    now = now or timezone.now()
    limit = now - datetime.timedelta(days=365 * RETENTION_YEARS + RETENTION_YEARS // 4)
    return Donation.objects.filter(
        donor__key=key,
        status__in=[DonationStatus.SUCCEEDED, DonationStatus.REFUNDED],
        succeeded_at__gte=limit,
    ).exists()


@transaction.atomic
def donor_erase(*, key: str, by) -> int:
    """Erase the person behind the cap key ``key`` (every donor record of theirs); returns
    how many records were changed. Staff only (a member's own erasure reaches here through
    the privacy service)."""
    if by is not None and not is_staff(by):
        raise Forbidden("Only staff erase donors.")
    records = list(Donor.objects.select_for_update().filter(key=key, erased_at__isnull=True))
    if not records:
        raise NotFound("No donor to erase with this key.", field="key")
    keep = must_keep_identity(key)
    now = timezone.now()
    for record in records:
        record.email = f"erased-{record.pk}@erased.invalid"
        record.member = None
        record.erased_at = now
        fields = ["email", "member", "erased_at"]
        if not keep:
            for name in IDENTITY:
                setattr(record, name, "")
            fields += list(IDENTITY)
        record.save(update_fields=fields)
    audit_record(
        actor=by,
        action="fundraising.erase_donor",
        details={"records": len(records), "identity_kept": keep},
    )
    return len(records)
