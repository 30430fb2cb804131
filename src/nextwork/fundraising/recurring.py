"""Monthly donations: started by the first payment, renewed by the provider each month (each
renewal a new ``Donation`` checked against the rules again), stopped by the donor, staff,
the provider, a renewal the law refuses, or repeated failures.

Promises:
- a renewal that would break a cap is recorded as a failed donation (nothing counted), its
  money is refunded and the subscription cancelled, all said in the event's outcome;
- after ``MAX_FAILURES`` failed renewals in a row the subscription is cancelled;
- only the donor (the member their donor record belongs to) or staff cancel a monthly
  donation; the provider is told first, so nothing is marked stopped that still charges.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from nextwork.common.errors import NotFound
from nextwork.fundraising import providers, services
from nextwork.fundraising.models import Donation, DonationStatus, Recurring
from nextwork.fundraising.rules import RuleBroken
from nextwork.network.models import Member
from nextwork.network.permissions import is_staff
from nextwork.privacy.services import audit_record

MAX_FAILURES = 3


def _cancel_at_provider_later(recurring: Recurring) -> None:
    name = recurring.provider

    def cancel() -> None:
        providers.get(name).cancel_recurring(recurring)

    # robust: a provider that fails is logged; the webhook is still acknowledged.
    transaction.on_commit(cancel, robust=True)


@transaction.atomic
def recurring_open(*, donation: Donation) -> Recurring:
    """The monthly donation whose first payment is ``donation`` (pending until the provider
    confirms)."""
    recurring = Recurring.objects.create(
        donor=donation.donor,
        beneficiary=donation.beneficiary,
        amount_cents=donation.amount_cents,
        provider=donation.provider,
    )
    Donation.objects.filter(pk=donation.pk).update(recurring=recurring)
    donation.recurring = recurring
    return recurring


@transaction.atomic
def recurring_started(*, donation: Donation, provider_ref: str) -> str:
    """The first payment went through and the provider holds a subscription."""
    services.donation_succeeded(donation_id=donation.pk)
    recurring = Recurring.objects.select_for_update().filter(pk=donation.recurring_id).first()
    if recurring is None:
        return f"donation {donation.pk} succeeded (no monthly donation attached)"
    if recurring.status == Recurring.Status.PENDING:
        recurring.status, recurring.provider_ref = Recurring.Status.ACTIVE, provider_ref
        recurring.save(update_fields=["status", "provider_ref"])
    return f"donation {donation.pk} succeeded; monthly donation {recurring.pk} {recurring.status}"


def _by_ref(provider: str, recurring_ref: str) -> Recurring | None:
    if not recurring_ref:
        return None
    return (
        Recurring.objects.select_for_update(of=("self",))
        .select_related("donor", "beneficiary")
        .filter(provider=provider, provider_ref=recurring_ref)
        .first()
    )


@transaction.atomic
def recurring_renewal(
    *, provider: str, recurring_ref: str, ref: str, amount_cents: int | None
) -> str:
    """A month's payment taken by the provider: a new donation, checked against the rules."""
    recurring = _by_ref(provider, recurring_ref)
    if recurring is None:
        return f"no monthly donation {recurring_ref}"
    earlier = Donation.objects.filter(provider=provider, provider_ref=ref).first() if ref else None
    if earlier is not None:
        return f"renewal {ref} is donation {earlier.pk} already"
    first = recurring.payments.order_by("pk").first()
    method = first.method if first else "card"
    amount = amount_cents or recurring.amount_cents
    try:
        with transaction.atomic():
            donation = services.donation_create(
                beneficiary_id=recurring.beneficiary_id,
                donor=None,
                record=recurring.donor,
                amount_cents=amount,
                method=method,
                provider=provider,
                provider_ref=ref,
                member=recurring.donor.member,
                recurring=recurring,
            )
            services.donation_succeeded(donation_id=donation.pk)
    except (RuleBroken, NotFound) as exc:
        # The money is taken but the law (or a closed beneficiary) refuses it: recorded as a
        # failed donation that counts nowhere, given back, and no more months.
        refused = Donation.objects.create(
            donor=recurring.donor,
            person_id=recurring.donor.person_id,
            beneficiary=recurring.beneficiary,
            amount_cents=amount,
            method=method,
            provider=provider,
            provider_ref=ref,
            status=DonationStatus.FAILED,
            recurring=recurring,
            department=(first.department if first else ""),
        )
        recurring.status, recurring.cancelled_at = Recurring.Status.CANCELLED, timezone.now()
        recurring.save(update_fields=["status", "cancelled_at"])
        name = provider

        def give_back() -> None:
            engine = providers.get(name)
            engine.refund(refused)
            engine.cancel_recurring(recurring)

        transaction.on_commit(give_back, robust=True)
        return (
            f"renewal refused, recorded as failed donation {refused.pk}, refunded and "
            f"subscription cancelled: {exc.message}"
        )[:200]
    if recurring.failures:
        recurring.failures = 0
        recurring.save(update_fields=["failures"])
    return f"renewal: donation {donation.pk} of monthly donation {recurring.pk}"


@transaction.atomic
def recurring_payment_failed(*, provider: str, recurring_ref: str) -> str:
    recurring = _by_ref(provider, recurring_ref)
    if recurring is None:
        return f"no monthly donation {recurring_ref}"
    if recurring.status != Recurring.Status.ACTIVE:
        return f"monthly donation {recurring.pk} is {recurring.status}"
    recurring.failures += 1
    fields = ["failures"]
    if recurring.failures >= MAX_FAILURES:
        recurring.status, recurring.cancelled_at = Recurring.Status.FAILED, timezone.now()
        fields += ["status", "cancelled_at"]
        _cancel_at_provider_later(recurring)
    recurring.save(update_fields=fields)
    if recurring.status == Recurring.Status.FAILED:
        return f"monthly donation {recurring.pk}: {recurring.failures} failures, cancelled"
    return f"monthly donation {recurring.pk}: failure {recurring.failures} of {MAX_FAILURES}"


@transaction.atomic
def recurring_ended(*, provider: str, recurring_ref: str) -> str:
    """The provider stopped the subscription (cancelled there, or by us earlier)."""
    recurring = _by_ref(provider, recurring_ref)
    if recurring is None:
        return f"no monthly donation {recurring_ref}"
    if recurring.status in (Recurring.Status.PENDING, Recurring.Status.ACTIVE):
        recurring.status, recurring.cancelled_at = Recurring.Status.CANCELLED, timezone.now()
        recurring.save(update_fields=["status", "cancelled_at"])
    return f"monthly donation {recurring.pk} {recurring.status}"


def recurring_cancel(*, recurring_id: int, by: Member) -> Recurring:
    """The donor (or staff) stops a monthly donation. The provider is asked first, outside
    any transaction: if it cannot be reached, nothing changes and the caller may retry."""
    recurring = (
        Recurring.objects.select_related("donor").filter(pk=recurring_id).first()
        if isinstance(recurring_id, int)
        else None
    )
    owner = recurring is not None and by is not None and recurring.donor.member_id == by.pk
    if recurring is None or not (owner or is_staff(by)):
        # Someone else's is answered as an unknown one: the answer does not tell which exist.
        raise NotFound(f"No monthly donation {recurring_id} of yours.", field="recurring")
    if recurring.status not in (Recurring.Status.PENDING, Recurring.Status.ACTIVE):
        return recurring
    providers.get(recurring.provider).cancel_recurring(recurring)
    with transaction.atomic():
        locked = Recurring.objects.select_for_update().get(pk=recurring.pk)
        if locked.status in (Recurring.Status.PENDING, Recurring.Status.ACTIVE):
            locked.status, locked.cancelled_at = Recurring.Status.CANCELLED, timezone.now()
            locked.save(update_fields=["status", "cancelled_at"])
            audit_record(actor=by, action="recurring.cancel", details={"recurring": locked.pk})
    return locked
