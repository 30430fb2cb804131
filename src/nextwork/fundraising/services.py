"""Writes of fundraising: taking a donation under the rules, following its payment, refunds,
monthly donations and receipts.

Promises:
- a donation the law does not allow is refused before anything is stored, with the rule and
  what is still possible (``rules.RuleBroken``);
- a donation reserves its amount against the donor's caps in the transaction that creates it
  (``CapLedger``, whose CHECK constraint the database enforces), and gives it back when it
  fails, is cancelled or refunded: concurrent gifts can never pass a cap together;
- a payment's status only moves forward (pending → succeeded → refunded; pending → failed or
  cancelled); the same news twice changes nothing;
- receipt numbers have no gaps per beneficiary and year; a receipt is never deleted, a
  correction cancels it and issues its replacement.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from nextwork.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from nextwork.common.text import clean_text
from nextwork.fundraising import rollups, rules
from nextwork.fundraising.models import (
    COUNTING,
    Beneficiary,
    CapLedger,
    Donation,
    DonationStatus,
    Donor,
    DonorPerson,
    FundraisingPage,
    Method,
    Receipt,
    ReceiptSequence,
    Recurring,
)
from nextwork.network.models import Member
from nextwork.network.permissions import is_staff
from nextwork.privacy.services import audit_record

MIN_CENTS = 100  # €1
MAX_CENTS = 100_000_000  # €1,000,000: above, a human should look first


@dataclass
class DonorIn:
    first_name: str
    last_name: str
    email: str
    address: str
    postcode: str
    city: str
    country: str = "FR"
    natural_person: bool = True
    french_or_resident: bool = False


def _clean_donor(data: DonorIn) -> dict:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    email = clean_text(data.email, field="email", limit=254).lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(f"{email!r} is not an email address.", field="email") from None
    country = clean_text(data.country or "FR", field="country", limit=2).upper()
    if len(country) != 2 or not country.isalpha():
        raise InvalidInput("Give the country as its two-letter code (FR).", field="country")
    return {
        "first_name": clean_text(data.first_name, field="first_name", limit=100),
        "last_name": clean_text(data.last_name, field="last_name", limit=100),
        "email": email,
        "address": clean_text(data.address, field="address", limit=300),
        "postcode": clean_text(data.postcode, field="postcode", limit=10),
        "city": clean_text(data.city, field="city", limit=100),
        "country": country,
        "natural_person": bool(data.natural_person),
        "french_or_resident": bool(data.french_or_resident),
    }


def _values_of(record: Donor) -> dict:
    return {name: getattr(record, name) for name in (
        "first_name", "last_name", "email", "address", "postcode", "city", "country",
        "natural_person", "french_or_resident",
    )}  # fmt: skip


def _department(postcode: str, country: str) -> str:
    if country != "FR" or len(postcode) != 5 or not postcode.isdigit():
        return ""
    if postcode.startswith("20"):
        return "2A" if postcode < "20200" else "2B"
    return postcode[:3] if postcode.startswith("97") else postcode[:2]


def _amount(amount_cents: int) -> int:
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool):
        raise InvalidInput("Give the amount in whole cents.", field="amount")
    if amount_cents < MIN_CENTS:
        raise InvalidInput(f"A gift is at least {rules.euros(MIN_CENTS)}.", field="amount")
    if amount_cents > MAX_CENTS:
        raise InvalidInput(
            f"A gift is at most {rules.euros(MAX_CENTS)} here: contact the team.", field="amount"
        )
    return amount_cents


# -- caps ---------------------------------------------------------------------------------------


def _reserve(donation: Donation, donor_key: str, year: int) -> None:
    """Commit the donation's amount to its cap scope, or refuse it: the CHECK constraint
    decides, after any concurrent gift of the same donor has committed."""
    beneficiary = donation.beneficiary
    scope = rules.cap_scope(beneficiary, year)
    if scope is None:
        return
    cap = rules.rule_for(beneficiary.kind).cap_cents
    CapLedger.objects.get_or_create(donor_key=donor_key, scope=scope, defaults={"cap_cents": cap})
    try:
        with transaction.atomic():
            CapLedger.objects.filter(donor_key=donor_key, scope=scope).update(
                committed_cents=F("committed_cents") + donation.amount_cents, cap_cents=cap
            )
    except IntegrityError:
        committed = (
            CapLedger.objects.filter(donor_key=donor_key, scope=scope)
            .values_list("committed_cents", flat=True)
            .first()
            or 0
        )
        raise rules.RuleBroken(
            rules.cap_message(
                beneficiary, scope=scope, cap=cap, committed=committed, amount=donation.amount_cents
            ),
            field="amount",
        ) from None
    donation.cap_scopes = [scope]


def _release(donation: Donation) -> None:
    for scope in donation.cap_scopes or []:
        CapLedger.objects.filter(donor_key=donation.donor.key, scope=scope).update(
            committed_cents=F("committed_cents") - donation.amount_cents
        )


# -- taking a donation --------------------------------------------------------------------------


@transaction.atomic
def _person(key: str) -> DonorPerson:
    """The person of a cap key, created at their first gift (a concurrent first gift of the
    same person finds the row the other created: the key is unique)."""
    person = DonorPerson.objects.filter(key=key).first()
    if person is None:
        try:
            with transaction.atomic():
                person = DonorPerson.objects.create(key=key)
        except IntegrityError:
            person = DonorPerson.objects.get(key=key)
    return person


def donation_create(
    *,
    beneficiary_id: int,
    donor: DonorIn | None,
    amount_cents: int,
    method: str,
    provider: str,
    provider_ref: str = "",
    source: str = "",
    page_slug: str = "",
    member: Member | None = None,
    recurring: Recurring | None = None,
    recorded_by: Member | None = None,
    record: Donor | None = None,
) -> Donation:
    """A pending donation, checked against the rules and reserved against the caps; the
    provider then takes the payment (``donation_succeeded`` / ``donation_failed``).

    ``record``: the donor row to reuse instead of ``donor`` (a monthly donation's renewals
    stay on the row of its first month, and keep its cap key even after an erasure)."""
    beneficiary = Beneficiary.objects.filter(pk=beneficiary_id, active=True).first()
    if beneficiary is None:
        raise NotFound(f"No beneficiary {beneficiary_id} takes gifts.", field="beneficiary")
    if method not in Method.values:
        raise InvalidInput(
            f"Unknown method {method!r}; one of {', '.join(Method.values)}.", field="method"
        )
    amount_cents = _amount(amount_cents)
    values = _clean_donor(donor) if record is None else _values_of(record)
    rules.check_donor(
        beneficiary,
        natural_person=values["natural_person"],
        french_or_resident=values["french_or_resident"],
        method=method,
        amount_cents=amount_cents,
    )
    page = None
    if page_slug:
        page = FundraisingPage.objects.filter(slug=page_slug, hidden_at__isnull=True).first()
        if page is None:
            raise NotFound(f"No fundraising page {page_slug!r}.", field="page")
        if page.beneficiary_id != beneficiary.pk:
            raise InvalidInput("This page collects for another beneficiary.", field="page")
    if record is None:
        key = rules.donor_key(values["email"])
        record = Donor.objects.create(
            member=member if member is not None and member.is_authenticated else None,
            key=key,
            person=_person(key),
            **values,
        )
    key = record.key
    donation = Donation(
        donor=record,
        person_id=record.person_id,
        beneficiary=beneficiary,
        amount_cents=amount_cents,
        method=method,
        provider=provider,
        provider_ref=provider_ref,
        source=clean_text(source, field="source", limit=200, required=False),
        page=page,
        department=_department(values["postcode"], values["country"]),
        recurring=recurring,
        recorded_by=recorded_by,
    )
    _reserve(donation, key, timezone.localdate().year)
    try:
        with transaction.atomic():
            donation.save()
    except IntegrityError:
        raise Conflict(
            f"A donation with the reference {provider_ref!r} exists already.", field="reference"
        ) from None
    return donation


def _locked(donation_id: int) -> Donation:
    donation = (
        Donation.objects.select_for_update(no_key=True, of=("self",))
        .select_related("donor", "beneficiary")
        .filter(pk=donation_id)
        .first()
    )
    if donation is None:
        raise NotFound(f"No donation {donation_id}.", field="donation")
    return donation


@transaction.atomic
def donation_succeeded(*, donation_id: int, at: datetime.datetime | None = None) -> Donation:
    """The payment went through. Idempotent; a late success after a failure is refused
    (the money would come back through a refund, never silently)."""
    donation = _locked(donation_id)
    if donation.status == DonationStatus.SUCCEEDED:
        return donation
    if donation.status != DonationStatus.PENDING:
        raise Conflict(f"Donation {donation.pk} is {donation.status}: it cannot succeed now.")
    donation.status, donation.succeeded_at = DonationStatus.SUCCEEDED, at or timezone.now()
    donation.save(update_fields=["status", "succeeded_at"])
    rollups.add(donation)
    if donation.recurring_id is None:
        # One-off gifts get their receipt from the worker; monthly donors an annual one.
        transaction.on_commit(lambda: _enqueue_receipt(donation.pk))
    return donation


def _mail_later(receipt_id: int) -> None:
    """The donor gets the receipt by email once the transaction commits (a task)."""
    from nextwork.fundraising.receipt_mail import mail_on_commit

    mail_on_commit(receipt_id)


def _enqueue_receipt(donation_id: int) -> None:
    from nextwork.fundraising.tasks import issue_receipt_task

    issue_receipt_task.enqueue(donation_id)


@transaction.atomic
def donation_failed(*, donation_id: int, cancelled: bool = False) -> Donation:
    """The payment failed (or the donor gave up): the cap reservation is given back."""
    donation = _locked(donation_id)
    if donation.status != DonationStatus.PENDING:
        return donation  # already settled one way or the other: news arriving late
    donation.status = DonationStatus.CANCELLED if cancelled else DonationStatus.FAILED
    donation.save(update_fields=["status"])
    _release(donation)
    return donation


@transaction.atomic
def donation_refunded(*, donation_id: int, by: Member | None = None) -> Donation:
    """Refunded (by the provider, or recorded by staff): it no longer counts toward caps or
    analytics; its receipts are cancelled."""
    donation = _locked(donation_id)
    if donation.status == DonationStatus.REFUNDED:
        return donation
    if donation.status not in COUNTING:
        raise Conflict(f"Donation {donation.pk} is {donation.status}: nothing to refund.")
    counted = donation.status == DonationStatus.SUCCEEDED
    donation.status, donation.refunded_at = DonationStatus.REFUNDED, timezone.now()
    donation.save(update_fields=["status", "refunded_at"])
    if counted:
        rollups.remove(donation)
    _release(donation)
    for receipt in donation.receipts.filter(cancelled_at__isnull=True):
        receipt.cancelled_at, receipt.cancel_reason = timezone.now(), "don remboursé"
        receipt.save(update_fields=["cancelled_at", "cancel_reason"])
    audit_record(actor=by, action="donation.refund", details={"donation": donation.pk})
    return donation


# -- staff: the manual provider -----------------------------------------------------------------


@transaction.atomic
def manual_record(
    *,
    by: Member,
    beneficiary_id: int,
    donor: DonorIn,
    amount_cents: int,
    method: str,
    reference: str,
    received_on: datetime.date,
) -> Donation:
    """A cheque, transfer or cash gift entered by staff: checked like any gift, recorded as
    received, written to the audit log."""
    if not is_staff(by):
        raise Forbidden("Only staff record gifts received by cheque, transfer or in cash.")
    if method not in (Method.CHEQUE, Method.TRANSFER, Method.CASH):
        raise InvalidInput(
            "By hand: a cheque, a transfer or cash (cards go through a provider).",
            field="method",
        )
    reference = clean_text(reference, field="reference", limit=200, required=method != Method.CASH)
    if received_on > timezone.localdate():
        raise InvalidInput("The date received cannot be in the future.", field="received_on")
    donation = donation_create(
        beneficiary_id=beneficiary_id,
        donor=donor,
        amount_cents=amount_cents,
        method=method,
        provider="manual",
        provider_ref=reference,
        recorded_by=by,
    )
    received = datetime.datetime.combine(received_on, datetime.time(12), tzinfo=datetime.UTC)
    donation_succeeded(donation_id=donation.pk, at=received)
    audit_record(
        actor=by,
        action="donation.record",
        details={"donation": donation.pk, "method": method, "amount_cents": amount_cents},
    )
    donation.refresh_from_db()
    return donation


# -- receipts -----------------------------------------------------------------------------------


def _next_number(beneficiary: Beneficiary, year: int) -> int:
    ReceiptSequence.objects.get_or_create(beneficiary=beneficiary, year=year)
    sequence = (
        ReceiptSequence.objects.select_for_update(no_key=True)
        .filter(beneficiary=beneficiary, year=year)
        .get()
    )
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return sequence.last_number


def _snapshot(donor: Donor, beneficiary: Beneficiary, donations: list[Donation]) -> dict:
    return {
        "beneficiary": {
            "name": beneficiary.name,
            "kind": beneficiary.kind,
            "legal_name": beneficiary.legal_name,
            "address": beneficiary.address,
            "object": beneficiary.purpose,
            "registration": beneficiary.registration,
            "election": beneficiary.election,
        },
        "donor": {
            "first_name": donor.first_name,
            "last_name": donor.last_name,
            "address": donor.address,
            "postcode": donor.postcode,
            "city": donor.city,
            "country": donor.country,
        },
        "gifts": [
            {
                "date": timezone.localtime(d.succeeded_at).date().isoformat(),
                "amount_cents": d.amount_cents,
                "method": d.method,
            }
            for d in donations
        ],
    }


@transaction.atomic
def receipt_issue(*, donation_id: int, replaces: Receipt | None = None) -> Receipt:
    """The receipt of one received gift, numbered next in its beneficiary's year."""
    donation = _locked(donation_id)
    if donation.status != DonationStatus.SUCCEEDED:
        raise Conflict(f"Donation {donation.pk} is not received: no receipt.")
    if donation.receipts.filter(cancelled_at__isnull=True).exists():
        raise Conflict(f"Donation {donation.pk} has its receipt already.")
    year = timezone.localtime(donation.succeeded_at).year
    receipt = Receipt.objects.create(
        beneficiary=donation.beneficiary,
        year=year,
        number=_next_number(donation.beneficiary, year),
        donor=donation.donor,
        amount_cents=donation.amount_cents,
        snapshot=_snapshot(donation.donor, donation.beneficiary, [donation]),
        replaces=replaces,
    )
    receipt.donations.add(donation)
    return receipt


@transaction.atomic
def receipt_reissue(*, receipt_id: int, reason: str, donor: DonorIn | None, by: Member) -> Receipt:
    """Correct a receipt: the old one is cancelled (kept, with the reason) and a new number
    is issued, pointing to it."""
    if not is_staff(by):
        raise Forbidden("Only staff correct receipts.")
    old = Receipt.objects.select_for_update().filter(pk=receipt_id).first()
    if old is None:
        raise NotFound(f"No receipt {receipt_id}.", field="receipt")
    if old.cancelled_at is not None:
        raise Conflict("This receipt is cancelled already.")
    reason = clean_text(reason, field="reason", limit=300)
    if donor is not None:
        values = _clean_donor(donor)
        Donor.objects.filter(pk=old.donor_id).update(
            **{k: v for k, v in values.items() if k not in ("email",)}
        )
    old.cancelled_at, old.cancel_reason = timezone.now(), reason
    old.save(update_fields=["cancelled_at", "cancel_reason"])
    donations = list(old.donations.all())
    person = Donor.objects.get(pk=old.donor_id)
    new = Receipt.objects.create(
        beneficiary=old.beneficiary,
        year=old.year,
        number=_next_number(old.beneficiary, old.year),
        donor=person,
        amount_cents=old.amount_cents,
        consolidated=old.consolidated,
        snapshot=_snapshot(person, old.beneficiary, donations),
        replaces=old,
    )
    new.donations.set(donations)
    audit_record(actor=by, action="receipt.reissue", details={"old": old.pk, "new": new.pk})
    _mail_later(new.pk)
    return new


@transaction.atomic
def receipt_issue_annual(*, key: str, beneficiary_id: int, year: int) -> Receipt:
    """One consolidated receipt for a person's received gifts of ``year`` to a beneficiary
    (monthly donors get this rather than twelve receipts). Gifts that already have a receipt
    are left out; refused when none is left."""
    beneficiary = Beneficiary.objects.filter(pk=beneficiary_id).first()
    if beneficiary is None:
        raise NotFound(f"No beneficiary {beneficiary_id}.", field="beneficiary")
    if not 2000 <= year <= 2200:
        raise InvalidInput("Give a year between 2000 and 2200.", field="year")
    zone = timezone.get_current_timezone()
    low = datetime.datetime(year, 1, 1, tzinfo=zone)
    high = datetime.datetime(year + 1, 1, 1, tzinfo=zone)
    donations = list(
        Donation.objects.select_for_update(of=("self",))
        .select_related("donor")
        .filter(
            donor__key=key,
            beneficiary=beneficiary,
            status=DonationStatus.SUCCEEDED,
            succeeded_at__gte=low,
            succeeded_at__lt=high,
        )
        .exclude(receipts__cancelled_at__isnull=True, receipts__isnull=False)
        .order_by("succeeded_at", "id")
    )
    if not donations:
        raise Conflict(f"No received gift of {year} is waiting for a receipt.")
    person = donations[-1].donor  # the latest identity the person gave
    receipt = Receipt.objects.create(
        beneficiary=beneficiary,
        year=year,
        number=_next_number(beneficiary, year),
        donor=person,
        amount_cents=sum(d.amount_cents for d in donations),
        consolidated=True,
        snapshot=_snapshot(person, beneficiary, donations),
    )
    receipt.donations.set(donations)
    _mail_later(receipt.pk)
    return receipt
