"""The weekly digest: members who chose it get one email a week instead of one per message.

Messages meant for them wait as ``digest`` deliveries. Each Monday, per member, the waiting
deliveries are marked sent in one transaction and one email lists them after the commit (a
crash between the two loses that week's digest rather than sending it twice). Alerts are never
held back for the digest.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from nextwork.common.mail import send_after_commit
from nextwork.messaging import render
from nextwork.messaging.consent import is_suppressed, reachable_q
from nextwork.messaging.delivery import BulkEmail, _Deputies, recipients, unsubscribe_url
from nextwork.messaging.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    MessageStatus,
)
from nextwork.network.models import Member


def send_digests(*, limit_members: int | None = None) -> int:
    waiting = (
        Delivery.objects.filter(
            status=DeliveryStatus.DIGEST,
            message__status__in=[MessageStatus.SENDING, MessageStatus.SENT],
        )
        .order_by("member_id", "message_id")
        .values_list("member_id", flat=True)
        .distinct()
    )
    member_ids = list(waiting[:limit_members] if limit_members else waiting)
    deputies = _Deputies()
    sent = 0
    for member_id in member_ids:
        sent += _one(member_id, deputies)
    return sent


@transaction.atomic
def _one(member_id: int, deputies: _Deputies) -> int:
    rows = list(
        Delivery.objects.select_for_update()
        .filter(member_id=member_id, status=DeliveryStatus.DIGEST)
        .select_related("message")
        .order_by("message_id")
    )
    # The digest is an email: each item needs what any email needs now (a current email
    # consent for its type, a confirmed address, an active member, no suppression).
    member = Member.objects.filter(pk=member_id).values("email").first()
    reachable = {
        message_type
        for message_type in {d.message.message_type for d in rows}
        if member is not None
        and Member.objects.filter(reachable_q(Channel.EMAIL, message_type), pk=member_id).exists()
    }
    if member is not None and is_suppressed(Channel.EMAIL, member["email"]):
        reachable = set()
    kept = [
        d
        for d in rows
        if d.message.channel == Channel.EMAIL and d.message.message_type in reachable
    ]
    now = timezone.now()
    Delivery.objects.filter(pk__in=[d.pk for d in rows if d not in kept]).update(
        status=DeliveryStatus.SKIPPED, error="no current consent"
    )
    if not kept:
        return 0
    Delivery.objects.filter(pk__in=[d.pk for d in kept]).update(
        status=DeliveryStatus.SENT, sent_at=now, provider_id="digest"
    )
    (recipient,) = recipients([(kept[0].pk, member_id, False)], deputies) or [None]
    if recipient is None:
        return 0
    parts = []
    for delivery in kept:
        message = delivery.message
        text = message.body_text or render.text_from_html(message.body_html)
        values = {**recipient.values, "unsubscribe_url": "", "preferences_url": ""}
        parts.append(
            render.Compiled.of(message.subject).fill(values)
            + "\n"
            + "=" * 40
            + "\n"
            + render.Compiled.of(text).fill(values).strip()
        )
    # One click stops every email the digest gathered, not only the first item's type.
    unsubscribe = unsubscribe_url(kept[0].pk, everything=True)
    from nextwork.messaging.delivery import _preferences_url

    body = "\n\n\n".join(parts) + render.footer_text(
        unsubscribe_url=unsubscribe,
        preferences_url=_preferences_url(recipient),
        organisation=settings.NEXTWORK_ORGANISATION,
    )
    email = BulkEmail(
        subject=_("Votre résumé de la semaine — %(org)s") % {"org": settings.NEXTWORK_ORGANISATION},
        body=body,
        to=[recipient.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Precedence": "bulk",
        },
    )
    send_after_commit(email.send, what="weekly digest", ref=f"member #{member_id}")
    return 1
