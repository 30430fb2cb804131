"""A donor's intent to give: the donation is checked and reserved, then handed to its
provider, whose answer is the donor's next step (a checkout page, or instructions)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction

from nextwork.common.errors import DomainError, InvalidInput
from nextwork.fundraising import providers, services
from nextwork.fundraising.models import Donation, Frequency
from nextwork.fundraising.recurring import recurring_open
from nextwork.network.models import Member


def _return_url(path: str, donation_id: int, outcome: str) -> str:
    path = path or "/"
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        raise InvalidInput("The return path must be a path of this site (/…).", field="return_path")
    query = urlencode({"don": donation_id, "paiement": outcome})
    return f"{settings.NEXTWORK_SITE_URL}{path}{'&' if '?' in path else '?'}{query}"


def donation_start(
    *,
    provider_name: str,
    beneficiary_id: int,
    donor: services.DonorIn,
    amount_cents: int,
    frequency: str,
    method: str,
    source: str = "",
    page_slug: str = "",
    member: Member | None = None,
    return_path: str = "/",
) -> tuple[Donation, dict]:
    """A pending donation (and its monthly donation) and the provider's next step. When the
    provider cannot start, the donation is cancelled (its cap given back) and the error
    raised: no donor is left holding a reservation nobody will pay."""
    try:
        provider = providers.get(provider_name)
    except DomainError:
        raise InvalidInput(
            f"Unknown payment provider {provider_name!r}; one of "
            f"{', '.join(providers.available())}.",
            field="provider",
        ) from None
    if frequency not in Frequency.values:
        raise InvalidInput("The frequency is once or monthly.", field="frequency")
    if method not in provider.methods:
        raise InvalidInput(
            f"{provider.name} takes {', '.join(provider.methods)}, not {method!r}.",
            field="method",
        )
    if frequency == Frequency.MONTHLY and not provider.recurring:
        raise InvalidInput(
            f"Monthly gifts need an online provider, not {provider.name}.", field="frequency"
        )
    _return_url(return_path, 0, "ok")  # refused before anything is stored
    with transaction.atomic():
        donation = services.donation_create(
            beneficiary_id=beneficiary_id,
            donor=donor,
            amount_cents=amount_cents,
            method=method,
            provider=provider.name,
            source=source,
            page_slug=page_slug,
            member=member,
        )
        recurring = recurring_open(donation=donation) if frequency == Frequency.MONTHLY else None
    success = _return_url(return_path, donation.pk, "ok")
    cancel = _return_url(return_path, donation.pk, "annule")
    try:
        if recurring is not None:
            step = provider.start_recurring(
                donation=donation, recurring=recurring, success_url=success, cancel_url=cancel
            )
        else:
            step = provider.start(donation=donation, success_url=success, cancel_url=cancel)
    except Exception:
        services.donation_failed(donation_id=donation.pk, cancelled=True)
        if recurring is not None:
            recurring.status = recurring.Status.CANCELLED
            recurring.save(update_fields=["status"])
        raise
    ref = step.pop("ref", "")
    if ref:
        Donation.objects.filter(pk=donation.pk, provider_ref="").update(provider_ref=ref)
        donation.provider_ref = ref
    return donation, step
