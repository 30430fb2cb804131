"""What the email provider reports after hand-over, through django-anymail's tracking signal.

Anymail checks the webhook (basic auth, the provider's signature) and turns each provider's
payload into an ``AnymailTrackingEvent``; this module applies it:

- bounced, or rejected for a bad address: the delivery is ``bounced`` and the address goes on
  the suppression list (as a hash);
- complained: the delivery is ``complained``, the address is suppressed and every email consent
  of the member is withdrawn (the ledger says how: a complaint);
- delivered: ``delivered`` with its time, never over ``bounced`` or ``complained``;
- deferred: nothing, the provider tries again;
- opened, clicked: recorded only when the member allows tracking (``tracking.record_*``);
- unsubscribed (the provider's own link): the consent for that message type is withdrawn.

Providers send the same event again when our answer is slow; every step is idempotent, so a
replay changes nothing. An event whose message is unknown still suppresses a bad address.
Logs name delivery ids and event types, never an address.
"""

from __future__ import annotations

import logging

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason
from django.db import transaction
from django.utils import timezone

from nextwork.messaging import consent, tracking
from nextwork.messaging.models import (
    Channel,
    ConsentHow,
    Delivery,
    DeliveryStatus,
    SuppressionReason,
)
from nextwork.network.models import Member, normalise_email

log = logging.getLogger(__name__)

# Statuses that no later event may overwrite (a complaint may still follow a delivery).
FINAL = (DeliveryStatus.BOUNCED, DeliveryStatus.COMPLAINED)
# Rejections that say the address itself is bad; the others (provider policy, sending limits,
# timeouts) say nothing about it and suppress nothing.
BAD_ADDRESS = (RejectReason.BOUNCED, RejectReason.INVALID)


def _delivery_for(event: AnymailTrackingEvent) -> Delivery | None:
    """The delivery the event is about, locked; matched on the provider's message id, with or
    without angle brackets (providers and the SMTP header differ)."""
    if not event.message_id:
        return None
    bare = event.message_id.strip().strip("<>")
    candidates = list(
        Delivery.objects.select_for_update()
        .select_related("member", "message")
        .filter(provider_id__in=[bare, f"<{bare}>"])[:100]
    )
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    # One provider id for several recipients (a batch send): the recipient tells them apart.
    wanted = normalise_email(event.recipient or "")
    return next((d for d in candidates if normalise_email(d.member.email) == wanted), None)


def _set_status(delivery: Delivery | None, status: str, *, error: str = "", **stamps) -> None:
    if delivery is None or delivery.status == status:
        return
    # Never downgrade: only a complaint (which proves the message arrived) goes over a bounce.
    if delivery.status in FINAL and status != DeliveryStatus.COMPLAINED:
        return
    delivery.status = status
    fields = ["status"]
    if error:
        delivery.error, fields = error[:200], [*fields, "error"]
    for field, value in stamps.items():
        setattr(delivery, field, value)
        fields.append(field)
    delivery.save(update_fields=fields)


def _suppress(event: AnymailTrackingEvent, reason: str, esp_name: str) -> None:
    if event.recipient:
        consent.suppress(
            channel=Channel.EMAIL, address=event.recipient, reason=reason, source=esp_name
        )


def _bounced(event, delivery, esp_name) -> None:
    _suppress(event, SuppressionReason.BOUNCE, esp_name)
    _set_status(delivery, DeliveryStatus.BOUNCED, error=f"{event.event_type}:{event.reject_reason}")


def _rejected(event, delivery, esp_name) -> None:
    if event.reject_reason in BAD_ADDRESS:
        _bounced(event, delivery, esp_name)
    elif event.reject_reason == RejectReason.SPAM:
        # The provider refuses because this address complained before (maybe while our
        # webhook was down): treat it as the complaint it is.
        _complaint(event, delivery, esp_name, status=DeliveryStatus.FAILED)
    else:
        _failed(event, delivery, esp_name)


def _failed(event, delivery, esp_name) -> None:
    if delivery is not None and delivery.status != DeliveryStatus.DELIVERED:
        _set_status(
            delivery, DeliveryStatus.FAILED, error=f"{event.event_type}:{event.reject_reason}"
        )


def _complaint(event, delivery, esp_name, *, status=DeliveryStatus.COMPLAINED) -> None:
    _suppress(event, SuppressionReason.COMPLAINT, esp_name)
    member = delivery.member if delivery is not None else None
    if member is None and event.recipient:
        member = Member.objects.filter(email=normalise_email(event.recipient)).first()
    if member is not None:
        consent.withdraw_all(member=member, channel=Channel.EMAIL, how=ConsentHow.COMPLAINT)
    _set_status(delivery, status, error=f"{event.event_type}:{event.reject_reason or ''}")


def _delivered(event, delivery, esp_name) -> None:
    _set_status(delivery, DeliveryStatus.DELIVERED, delivered_at=event.timestamp or timezone.now())


def _opened(event, delivery, esp_name) -> None:
    if delivery is not None:
        tracking.record_open(delivery_id=delivery.pk, at=event.timestamp)


def _clicked(event, delivery, esp_name) -> None:
    if delivery is not None:
        tracking.record_click(delivery_id=delivery.pk, at=event.timestamp)


def _unsubscribed(event, delivery, esp_name) -> None:
    if delivery is None:
        return
    consent.consent_set(
        member=delivery.member,
        channel=Channel.EMAIL,
        message_type=delivery.message.message_type,
        given=False,
        how=ConsentHow.UNSUBSCRIBE,
    )
    if delivery.unsubscribed_at is None:
        delivery.unsubscribed_at = event.timestamp or timezone.now()
        delivery.save(update_fields=["unsubscribed_at"])


HANDLERS = {
    EventType.BOUNCED: _bounced,
    EventType.REJECTED: _rejected,
    EventType.FAILED: _failed,
    EventType.COMPLAINED: _complaint,
    EventType.DELIVERED: _delivered,
    EventType.OPENED: _opened,
    EventType.CLICKED: _clicked,
    EventType.UNSUBSCRIBED: _unsubscribed,
}


def on_tracking(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    """Receiver of ``anymail.signals.tracking`` (connected in ``MessagingConfig.ready``)."""
    handler = HANDLERS.get(event.event_type)
    with transaction.atomic():
        delivery = _delivery_for(event)
        if handler is not None:
            handler(event, delivery, esp_name)
    log.info(
        "email event %s from %s for delivery %s",
        event.event_type,
        esp_name,
        delivery.pk if delivery is not None else "unknown",
    )
