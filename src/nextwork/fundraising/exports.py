"""Exports for the treasurer: the accounting journal of gifts and the list of donors that a
party's financing association or a candidate's mandataire must hand over.

- ``accounting_rows``: one row per gift received (and per refund) in a period, with its
  receipt numbers, method and the provider's reference to reconcile with bank statements; no
  name (the donor's number only).
- ``donor_list_rows``: per beneficiary, each donor's identity, address and gifts: what the
  CNCCFP asks of a party's financing association every year (loi n° 88-227, art. 11-4) and
  what a campaign account lists (code électoral, art. L52-12). Personal data: staff only,
  each export in the audit log.

Cells that a spreadsheet would read as a formula are quoted.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

from django.db.models import Sum
from django.utils import timezone

from nextwork.common.errors import Forbidden, InvalidInput
from nextwork.fundraising.models import Beneficiary, Donation, DonationStatus, Donor
from nextwork.network.permissions import is_staff
from nextwork.privacy.services import audit_record

ACCOUNTING_COLUMNS = [
    "date", "donation", "beneficiary", "status", "amount_eur", "method", "provider",
    "provider_ref", "receipts", "donor", "source", "page", "recurring",
]  # fmt: skip
DONOR_COLUMNS = [
    "donor", "last_name", "first_name", "address", "postcode", "city", "country",
    "gifts", "total_eur", "first_gift", "last_gift",
]  # fmt: skip


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _euros(cents: int) -> str:
    return f"{cents / 100:.2f}"


def _period(start: datetime.date, end: datetime.date):
    if end < start:
        raise InvalidInput("The end of the period comes before its start.", field="to")
    zone = timezone.get_current_timezone()
    return (
        datetime.datetime.combine(start, datetime.time.min, tzinfo=zone),
        datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone),
    )


def _require_staff(by, action: str) -> None:
    if not is_staff(by):
        raise Forbidden(f"Only staff {action}.")


def accounting_rows(*, by, start: datetime.date, end: datetime.date) -> Iterator[list[str]]:
    """Gifts received in the period, then refunds made in it (negative amounts)."""
    _require_staff(by, "export the accounts")
    low, high = _period(start, end)
    audit_record(
        actor=by,
        action="fundraising.export_accounting",
        details={"from": start.isoformat(), "to": end.isoformat()},
    )
    yield ACCOUNTING_COLUMNS
    received = (
        Donation.objects.filter(
            succeeded_at__gte=low,
            succeeded_at__lt=high,
            status__in=[DonationStatus.SUCCEEDED, DonationStatus.REFUNDED],
        )
        .select_related("beneficiary", "page")
        .prefetch_related("receipts")
        .order_by("succeeded_at", "id")
    )
    for d in received:
        yield _accounting_row(d, d.succeeded_at, d.amount_cents, "received")
    refunded = (
        Donation.objects.filter(refunded_at__gte=low, refunded_at__lt=high)
        .select_related("beneficiary", "page")
        .prefetch_related("receipts")
        .order_by("refunded_at", "id")
    )
    for d in refunded:
        yield _accounting_row(d, d.refunded_at, -d.amount_cents, "refunded")


def _accounting_row(d: Donation, when, cents: int, status: str) -> list[str]:
    receipts = " ".join(f"{r.year}-{r.number:06d}" for r in d.receipts.all())
    return [
        timezone.localtime(when).date().isoformat(),
        str(d.pk),
        _cell(d.beneficiary.name),
        status,
        _euros(cents),
        d.method,
        d.provider,
        _cell(d.provider_ref),
        receipts,
        str(d.donor_id),
        _cell(d.source),
        d.page.slug if d.page_id else "",
        str(d.recurring_id or ""),
    ]


def donor_list_rows(*, by, beneficiary_id: int, year: int | None = None) -> Iterator[list[str]]:
    """Each donor of a beneficiary with their gifts (a party: in ``year``; a campaign: all)."""
    _require_staff(by, "export the list of donors")
    beneficiary = Beneficiary.objects.filter(pk=beneficiary_id).first()
    if beneficiary is None:
        raise InvalidInput(f"No beneficiary {beneficiary_id}.", field="beneficiary")
    gifts = Donation.objects.filter(beneficiary=beneficiary, status=DonationStatus.SUCCEEDED)
    if year is not None:
        if not 2000 <= year <= 2200:
            raise InvalidInput("Give a year between 2000 and 2200.", field="year")
        gifts = gifts.filter(succeeded_at__year=year)
    audit_record(
        actor=by,
        action="fundraising.export_donors",
        details={"beneficiary": beneficiary.pk, "year": year},
    )
    yield DONOR_COLUMNS
    # One person may have several donor records (one per gift): group by the person's key.
    totals: dict[str, dict] = {}
    for donor_id, key, cents, when in gifts.values_list(
        "donor_id", "donor__key", "amount_cents", "succeeded_at"
    ).order_by("succeeded_at"):
        entry = totals.setdefault(key, {"donor": donor_id, "gifts": 0, "cents": 0})
        entry["gifts"] += 1
        entry["cents"] += cents
        entry.setdefault("first", when)
        entry["last"], entry["donor"] = when, donor_id  # the latest identity given
    people = Donor.objects.in_bulk([e["donor"] for e in totals.values()])
    for entry in sorted(totals.values(), key=lambda e: (people[e["donor"]].last_name.lower(),)):
        person = people[entry["donor"]]
        yield [
            str(person.pk),
            _cell(person.last_name),
            _cell(person.first_name),
            _cell(person.address),
            _cell(person.postcode),
            _cell(person.city),
            person.country,
            str(entry["gifts"]),
            _euros(entry["cents"]),
            timezone.localtime(entry["first"]).date().isoformat(),
            timezone.localtime(entry["last"]).date().isoformat(),
        ]


def received_total(beneficiary: Beneficiary) -> int:
    return (
        Donation.objects.filter(beneficiary=beneficiary, status=DonationStatus.SUCCEEDED).aggregate(
            total=Sum("amount_cents")
        )["total"]
        or 0
    )
