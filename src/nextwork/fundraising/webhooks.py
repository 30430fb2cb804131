"""Applying providers' webhook events, once each.

Every event is stored first (``ProviderEvent``, unique by provider and event id) in the
transaction that applies it: the same event delivered again finds its row and changes nothing;
two deliveries at the same moment wait on the unique index and the second changes nothing.
An event the state does not allow (a success after a refund, a refund of a failed payment)
is stored with its outcome and acknowledged: redelivering it would not change the answer.

Events out of order end where the money is: a refund that arrives before the success refunds
the pending donation and gives its cap back; the late success is then refused by
``services.donation_succeeded`` and recorded as such.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from nextwork.common.errors import DomainError
from nextwork.fundraising import providers, recurring, services
from nextwork.fundraising.models import Donation, ProviderEvent

logger = logging.getLogger(__name__)


def receive(*, provider_name: str, body: bytes, headers) -> list[dict]:
    """Check and apply one webhook delivery. ``NotFound`` for a provider not offered,
    ``BadSignature`` (nothing stored) for a delivery that is not the provider's."""
    provider = providers.get(provider_name)
    events = provider.parse_webhook(body, headers)
    return process(provider_name, events)


def process(provider_name: str, events: list[providers.Event]) -> list[dict]:
    return [_apply(provider_name, event) for event in events]


@transaction.atomic
def _apply(provider_name: str, event: providers.Event) -> dict:
    try:
        with transaction.atomic():
            record = ProviderEvent.objects.create(
                provider=provider_name,
                event_id=event.id[:200],
                kind=(event.provider_type or event.kind)[:100],
            )
    except IntegrityError:
        return {"event": event.id, "outcome": "already received"}
    try:
        with transaction.atomic():
            outcome = HANDLERS.get(event.kind, _ignored)(provider_name, event)
    except DomainError as exc:
        outcome = f"not applied: {exc.message}"
    record.processed_at, record.outcome = timezone.now(), outcome[:200]
    record.save(update_fields=["processed_at", "outcome"])
    logger.info("payment event %s %s (%s): %s", provider_name, event.id, event.kind, outcome)
    return {"event": event.id, "outcome": outcome}


def _donation(provider_name: str, event: providers.Event) -> Donation | None:
    found = None
    if event.donation_id is not None:
        found = Donation.objects.filter(pk=event.donation_id, provider=provider_name).first()
    if found is None and event.ref:
        found = Donation.objects.filter(provider=provider_name, provider_ref=event.ref).first()
    return found


def _ignored(provider_name: str, event: providers.Event) -> str:
    return f"ignored ({event.note or event.kind})"


def _succeeded(provider_name: str, event: providers.Event) -> str:
    donation = _donation(provider_name, event)
    if donation is None:
        return "no such donation"
    if event.ref and not donation.provider_ref:
        Donation.objects.filter(pk=donation.pk).update(provider_ref=event.ref)
    services.donation_succeeded(donation_id=donation.pk)
    return f"donation {donation.pk} succeeded"


def _failed(provider_name: str, event: providers.Event) -> str:
    donation = _donation(provider_name, event)
    if donation is None:
        return "no such donation"
    donation = services.donation_failed(donation_id=donation.pk)
    return f"donation {donation.pk} {donation.status}"


def _refunded(provider_name: str, event: providers.Event) -> str:
    donation = _donation(provider_name, event)
    if donation is None:
        return "no such donation"
    services.donation_refunded(donation_id=donation.pk)
    return f"donation {donation.pk} refunded"


def _started(provider_name: str, event: providers.Event) -> str:
    donation = _donation(provider_name, event)
    if donation is None:
        return "no such donation"
    return recurring.recurring_started(donation=donation, provider_ref=event.recurring_ref)


def _renewed(provider_name: str, event: providers.Event) -> str:
    return recurring.recurring_renewal(
        provider=provider_name,
        recurring_ref=event.recurring_ref,
        ref=event.ref,
        amount_cents=event.amount_cents,
    )


def _payment_failed(provider_name: str, event: providers.Event) -> str:
    return recurring.recurring_payment_failed(
        provider=provider_name, recurring_ref=event.recurring_ref
    )


def _cancelled(provider_name: str, event: providers.Event) -> str:
    return recurring.recurring_ended(provider=provider_name, recurring_ref=event.recurring_ref)


HANDLERS = {
    providers.PAYMENT_SUCCEEDED: _succeeded,
    providers.PAYMENT_FAILED: _failed,
    providers.PAYMENT_REFUNDED: _refunded,
    providers.RECURRING_STARTED: _started,
    providers.RECURRING_RENEWED: _renewed,
    providers.RECURRING_PAYMENT_FAILED: _payment_failed,
    providers.RECURRING_CANCELLED: _cancelled,
}
