"""Writing and sending messages, alerts and internal notifications (the writes of messaging)."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from nextwork.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from nextwork.messaging import render, segments
from nextwork.messaging.models import (
    PLATFORM_TYPES,
    Channel,
    Delivery,
    DeliveryStatus,
    Message,
    MessageStatus,
    MessageType,
    Segment,
)
from nextwork.network.models import Member
from nextwork.privacy.services import audit_record

MAX_HTML = 200_000
MAX_SMS = 1_600  # ten concatenated GSM-7 segments
TEST_SENDS_PER_HOUR = 10
ALERT_PRIORITY = 50  # ahead of newsletters (0) in the task queue
INTERNAL_KEY = "_members"  # an internal leaf: a list of member ids (never from the API)


# -- segments -----------------------------------------------------------------------------------


def _check_definition(definition, by: Member | None = None) -> None:
    if "\\u0000" in json.dumps(definition):
        raise InvalidInput("definition: a NUL character is not allowed.", field="definition",
                           code="invalid_segment")  # fmt: skip
    segments.compile_definition(definition, viewer=by)


def _no_nul(**fields: str) -> None:
    for name, value in fields.items():
        if value and "\x00" in value:
            raise InvalidInput(f"The {name} contains a NUL character.", field=name)


def segment_create(*, name: str, definition: dict, by: Member) -> Segment:
    require_sender(by)
    _no_nul(name=name)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise InvalidInput("A segment needs a name of 1 to 120 characters.", field="name")
    _check_definition(definition, by)
    segment = Segment.objects.create(name=name, definition=definition, created_by=by)
    audit_record(actor=by, action="messaging.segment_create", details={"segment": segment.pk})
    return segment


def segment_visible(segment_id: int, *, by: Member) -> Segment:
    """A saved segment its author (or staff) may use; others' segments are not found."""
    from nextwork.network.permissions import is_staff

    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None or not (segment.created_by_id == by.pk or is_staff(by)):
        raise NotFound(f"No segment #{segment_id}.", field="segment")
    return segment


def segment_count(*, definition: dict, by: Member, scope_area=None, scope_community=None,
                  channel=None, message_type=None) -> dict:  # fmt: skip
    """The live count of a definition within the caller's scope (and reachable, per channel)."""
    _check_definition(definition, by)
    scope = segments.resolve_scope(by, area=scope_area, community=scope_community)
    total = segments.count(definition, scope=scope, viewer=by)
    answer = {"scope": scope.describe(), "members": total}
    if message_type:
        for ch in Channel.values if channel is None else [channel]:
            answer[f"reachable_{ch}"] = segments.count(
                definition, scope=scope, channel=ch, message_type=message_type, viewer=by
            )
    audit_record(
        actor=by,
        action="messaging.segment_count",
        area_code=segments.written(scope.area) if scope.area else "",
        details={"members": total},
    )
    return answer


# -- messages -----------------------------------------------------------------------------------


@dataclass
class MessageIn:
    channel: str
    message_type: str
    subject: str = ""
    body_html: str = ""
    body_text: str = ""
    segment: int | None = None
    definition: dict | None = None
    scope_area: str | None = None
    scope_community: str | None = None
    extra: dict = field(default_factory=dict)


def _clean_message(data: MessageIn, by: Member) -> dict:
    if data.channel not in Channel.values:
        raise InvalidInput(
            f"Unknown channel {data.channel!r}; the channels are email, sms.", field="channel"
        )
    if data.message_type not in MessageType.values:
        raise InvalidInput(
            f"Unknown message type {data.message_type!r}; the types are "
            + ", ".join(MessageType.values)
            + ".",
            field="message_type",
        )
    if data.message_type in PLATFORM_TYPES:
        raise InvalidInput(
            f"{data.message_type} messages are sent by the platform itself (answers to "
            "proposals, new comments of followed threads), never written to a segment.",
            field="message_type",
        )
    scope = segments.resolve_scope(by, area=data.scope_area, community=data.scope_community)
    if scope.community is not None and data.message_type != MessageType.COMMUNITY:
        raise InvalidInput(
            "A community's coordinators send community news (message_type 'community').",
            field="message_type",
        )
    if (data.segment is None) == (data.definition is None):
        raise InvalidInput("Give a saved segment or a definition (one of them).", field="segment")
    segment = segment_visible(data.segment, by=by) if data.segment is not None else None
    if data.definition is not None:
        _check_definition(data.definition, by)
    _no_nul(subject=data.subject, body_html=data.body_html, body_text=data.body_text)
    subject = (data.subject or "").strip()
    html = data.body_html or ""
    text = data.body_text or ""
    if data.channel == Channel.EMAIL:
        if not subject:
            raise InvalidInput("An email needs a subject.", field="subject")
        if len(subject) > 200:
            raise InvalidInput("The subject is too long (200 characters at most).", field="subject")
        if not html.strip() and not text.strip():
            raise InvalidInput("Write the message (HTML or plain text).", field="body_html")
        if len(html) > MAX_HTML or len(text) > MAX_HTML:
            raise InvalidInput(f"The message is too long ({MAX_HTML} characters at most).",
                               field="body_html")  # fmt: skip
        render.check(subject, field="subject")
        render.check(html, field="body_html")
        html = render.clean_html(html) if html.strip() else ""
    else:
        if html.strip():
            raise InvalidInput("An SMS is plain text: use body_text.", field="body_html")
        if not text.strip():
            raise InvalidInput("Write the SMS in body_text.", field="body_text")
        if len(text) > MAX_SMS:
            raise InvalidInput(f"The SMS is too long ({MAX_SMS} characters at most).",
                               field="body_text")  # fmt: skip
        for name in ("unsubscribe_url", "preferences_url"):
            if name in text:
                raise InvalidInput(f"{{{{ {name} }}}} is for emails; an SMS ends with STOP.",
                                   field="body_text")  # fmt: skip
    render.check(text, field="body_text")
    return {
        "channel": data.channel,
        "message_type": data.message_type,
        "subject": subject,
        "body_html": html,
        "body_text": text,
        "segment": segment,
        "definition": data.definition,
        "scope_area": scope.area,
        "scope_community": scope.community,
    }


@transaction.atomic
def message_create(*, data: MessageIn, by: Member) -> Message:
    values = _clean_message(data, by)
    message = Message.objects.create(created_by=by, **values)
    audit_record(
        actor=by,
        action="messaging.message_create",
        area_code=segments.written(message.scope_area) if message.scope_area else "",
        details={"message": message.pk, "channel": message.channel},
    )
    return message


def message_for(message_id: int, *, by: Member) -> Message:
    """A message its author or staff may see and act on; others get "not found"."""
    from nextwork.network.permissions import is_staff

    message = (
        Message.objects.select_related("scope_area", "scope_community", "segment")
        .filter(pk=message_id)
        .first()
    )
    if message is None or not (message.created_by_id == by.pk or is_staff(by)):
        raise NotFound(f"No message #{message_id}.", field="message")
    return message


def message_audience(message: Message):
    """The members this message goes to now: its definition (or saved segment, evaluated
    again), within its scope, who may receive its channel and type."""
    scope = segments.Scope(area=message.scope_area, community=message.scope_community)
    definition = message.segment.definition if message.segment_id else message.definition
    if isinstance(definition, dict) and INTERNAL_KEY in definition:
        ids = _internal_ids(message) if message.pk else definition[INTERNAL_KEY]
        q = segments.reachable_q(message.channel, message.message_type) & Q(pk__in=ids)
        return Member.objects.filter(q)
    return segments.audience(
        definition, scope=scope, channel=message.channel, message_type=message.message_type
    )


def _internal_ids(message: Message):
    """The member ids of an internal message, read by the database from the message's own row:
    a list of 100,000 supporters would exceed the bound parameters a query may carry (32,766
    on SQLite, 65,535 on PostgreSQL)."""
    from django.db import connection
    from django.db.models.expressions import RawSQL

    if connection.vendor == "postgresql":
        sql = (
            "SELECT (jsonb_array_elements_text(definition -> %s))::bigint "
            "FROM messaging_message WHERE id = %s"
        )
    else:
        sql = (
            "SELECT CAST(j.value AS INTEGER) FROM messaging_message m, "
            "json_each(m.definition, '$.' || %s) j WHERE m.id = %s"
        )
    return RawSQL(sql, [INTERNAL_KEY, message.pk])  # noqa: S611 (constant SQL, bound values)


def _enqueue(message: Message) -> None:
    from nextwork.messaging.delivery import enqueue_once

    transaction.on_commit(lambda: enqueue_once(message.pk, priority=message.priority))


@transaction.atomic
def message_send(*, message: Message, by: Member | None) -> Message:
    """Queue a draft for sending (background work); the audience is evaluated then."""
    locked = Message.objects.select_for_update().get(pk=message.pk)
    if locked.status != MessageStatus.DRAFT:
        raise Conflict(f"This message is already {locked.status}.", field="status")
    if by is not None:  # the sender must still hold the scope it was written under
        segments.resolve_scope(
            by,
            area=segments.written(locked.scope_area) if locked.scope_area else None,
            community=locked.scope_community.slug if locked.scope_community else None,
        )
    locked.status = MessageStatus.QUEUED
    locked.queued_at = timezone.now()
    locked.save(update_fields=["status", "queued_at"])
    audit_record(actor=by, action="messaging.message_send", details={"message": locked.pk})
    _enqueue(locked)
    return locked


@transaction.atomic
def message_cancel(*, message: Message, by: Member) -> Message:
    locked = Message.objects.select_for_update().get(pk=message.pk)
    if locked.status in (MessageStatus.SENT, MessageStatus.CANCELLED):
        raise Conflict(f"This message is already {locked.status}.", field="status")
    locked.status = MessageStatus.CANCELLED
    locked.finished_at = timezone.now()
    locked.save(update_fields=["status", "finished_at"])
    # Rows a sender has claimed but not started are skipped too; a hand-over in flight ends.
    Delivery.objects.filter(
        message=locked,
        status__in=[DeliveryStatus.QUEUED, DeliveryStatus.CLAIMED, DeliveryStatus.DIGEST],
    ).update(status=DeliveryStatus.SKIPPED, error="cancelled", claimed_by="", lease_until=None)
    audit_record(actor=by, action="messaging.message_cancel", details={"message": locked.pk})
    return locked


def message_preview(message: Message, *, member: Member) -> dict:
    """The message as ``member`` would receive it (their own values; links not usable)."""
    from nextwork.messaging.delivery import Recipient, _Deputies, recipients

    (recipient,) = recipients([(0, member.pk, False)], _Deputies()) or [
        Recipient(0, member.pk, member.public_id, member.email, member.phone, False, {})
    ]
    values = {**recipient.values, "unsubscribe_url": "#", "preferences_url": "#"}
    text = message.body_text or render.text_from_html(message.body_html)
    return {
        "subject": render.Compiled.of(message.subject).fill(values),
        "html": render.Compiled.of(message.body_html).fill(values, html=True),
        "text": render.Compiled.of(text).fill(values),
    }


def message_test_send(*, message: Message, by: Member) -> str:
    """Send the message to its author only, marked as a test; returns where it went.

    A few per hour (an SMS costs money), and never to an address that bounced, complained
    or sent STOP.
    """
    from nextwork.common import ratelimit
    from nextwork.messaging.consent import is_suppressed

    ratelimit.check("messaging.test_send", str(by.pk), limit=TEST_SENDS_PER_HOUR, window=3600)
    address = by.email if message.channel == Channel.EMAIL else by.phone
    if address and is_suppressed(message.channel, address):
        raise Conflict(
            "Your own address is on the suppression list (bounce, complaint or STOP).",
            field="channel",
            code="suppressed",
        )
    preview = message_preview(message, member=by)
    if message.channel == Channel.EMAIL:
        email = EmailMultiAlternatives(
            subject=f"[TEST] {preview['subject']}", body=preview["text"], to=[by.email]
        )
        if preview["html"]:
            email.attach_alternative(preview["html"], "text/html")
        email.send()
        where = "email"
    else:
        from nextwork.messaging.sms.base import get_provider

        if not by.phone:
            raise InvalidInput("Add your phone number to your profile for a test SMS.",
                               field="phone")  # fmt: skip
        get_provider().send(to=by.phone, body=f"[TEST] {preview['text']}",
                            reference=f"nw.test.{message.pk}")  # fmt: skip
        where = "sms"
    audit_record(actor=by, action="messaging.test_send", details={"message": message.pk})
    return where


def message_stats(message: Message) -> dict:
    rows = dict(
        Delivery.objects.filter(message=message)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    extra = Delivery.objects.filter(message=message).aggregate(
        opened=Count("id", filter=Q(opened_at__isnull=False)),
        clicked=Count("id", filter=Q(clicked_at__isnull=False)),
        unsubscribed=Count("id", filter=Q(unsubscribed_at__isnull=False)),
        handed_twice=Count("id", filter=Q(handed_twice=True)),
    )
    by_status = {s: rows.get(s, 0) for s in DeliveryStatus.values}
    return {
        "message": message.pk,
        "status": message.status,
        "recipients": message.recipients,
        "queued": by_status[DeliveryStatus.QUEUED]
        + by_status[DeliveryStatus.CLAIMED]
        + by_status[DeliveryStatus.HANDING],
        "sent": by_status[DeliveryStatus.SENT] + by_status[DeliveryStatus.DELIVERED],
        "delivered": by_status[DeliveryStatus.DELIVERED],
        "bounced": by_status[DeliveryStatus.BOUNCED],
        "complained": by_status[DeliveryStatus.COMPLAINED],
        "failed": by_status[DeliveryStatus.FAILED],
        "skipped": by_status[DeliveryStatus.SKIPPED],
        "digest": by_status[DeliveryStatus.DIGEST],
        **extra,
    }


# -- alerts -------------------------------------------------------------------------------------


@dataclass
class AlertIn:
    channels: list[str]
    subject: str
    body: str
    segment: int | None = None
    definition: dict | None = None
    scope_area: str | None = None
    scope_community: str | None = None


def alert_send(*, data: AlertIn, by: Member, confirm: bool) -> dict:
    """An urgent alert to a segment, by email and/or SMS, in one step.

    Without ``confirm`` nothing is written: the answer gives the counts to confirm.
    """
    channels = list(dict.fromkeys(data.channels or []))
    if not channels or any(c not in Channel.values for c in channels):
        raise InvalidInput("Choose the channels among email and sms.", field="channels")
    drafts = [
        MessageIn(
            channel=channel,
            message_type=MessageType.ALERT,
            subject=data.subject if channel == Channel.EMAIL else "",
            body_text=data.body,
            segment=data.segment,
            definition=data.definition,
            scope_area=data.scope_area,
            scope_community=data.scope_community,
        )
        for channel in channels
    ]
    cleaned = [_clean_message(d, by) for d in drafts]  # every channel valid before any write
    counts = {}
    for values in cleaned:
        definition = values["segment"].definition if values["segment"] else values["definition"]
        scope = segments.Scope(area=values["scope_area"], community=values["scope_community"])
        counts[values["channel"]] = segments.count(
            definition,
            scope=scope,
            channel=values["channel"],
            message_type=MessageType.ALERT,
            viewer=by,
        )
    if not confirm:
        return {"confirmed": False, "reachable": counts, "messages": []}
    with transaction.atomic():
        messages = [
            Message.objects.create(created_by=by, is_alert=True, priority=ALERT_PRIORITY, **values)
            for values in cleaned
        ]
        for message in messages:
            message_send(message=message, by=by)
    return {"confirmed": True, "reachable": counts, "messages": [m.pk for m in messages]}


def notify(
    *,
    key: str,
    members: list[int],
    subject: str,
    body: str,
    cooldown: datetime.timedelta = datetime.timedelta(hours=1),
    channel: str = Channel.EMAIL,
    message_type: str = MessageType.ALERT,
) -> Message | None:
    """The internal alert other apps use (campaign reminders, monitoring spikes): one
    message to the given members, at most once per ``key`` and cool-down; ``None`` when the
    same key was sent within the cool-down. Consents apply as to any alert."""
    if not members:
        return None
    with transaction.atomic():
        _lock_key(key)
        since = timezone.now() - cooldown
        recent = Message.objects.filter(dedupe_key=key, created_at__gte=since)
        if recent.exists():
            return None
        message = Message.objects.create(
            channel=channel,
            message_type=message_type,
            subject=subject[:200],
            body_text=body,
            definition={INTERNAL_KEY: sorted(set(members))},
            is_alert=message_type == MessageType.ALERT,
            priority=ALERT_PRIORITY,
            dedupe_key=key[:120],
        )
        return message_send(message=message, by=None)


def _lock_key(key: str) -> None:
    """Serialise callers with the same key until the transaction ends: a row lock cannot
    cover a row that does not exist yet. SQLite's write transactions are serial already."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"notify:{key}"])


def coordinators_of(area) -> list[int]:
    """Members with a current coordinator grant on ``area`` or an area containing it."""
    from nextwork.network.models import Grant, Role
    from nextwork.network.permissions import area_lineage

    return list(
        Grant.objects.filter(
            role=Role.COORDINATOR, valid_to__isnull=True, area_id__in=area_lineage(area)
        ).values_list("member_id", flat=True)
    )


def require_sender(member: Member) -> None:
    if not segments.scopes_of(member):
        raise Forbidden(
            "Only staff, coordinators and community coordinators write to members.", field=None
        )


# -- unsubscribe (RFC 8058) ---------------------------------------------------------------------


@transaction.atomic
def unsubscribe(*, token: str) -> Delivery:
    """Follow a message's one-click unsubscribe link: the consent for that channel and type
    is withdrawn. A link works once; a forged or altered one changes nothing."""
    from django.core import signing

    from nextwork.messaging.consent import consent_set, withdraw_all
    from nextwork.messaging.delivery import UNSUBSCRIBE_SALT
    from nextwork.messaging.models import ConsentHow

    try:
        value = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token)
        everything = value.startswith("all.")
        delivery_id = int(value.removeprefix("all."))
    except (signing.BadSignature, ValueError) as exc:
        raise InvalidInput(
            "This unsubscribe link is not valid (altered or incomplete).",
            field="token",
            code="invalid_token",
        ) from exc
    delivery = (
        Delivery.objects.select_for_update()
        .select_related("message", "member")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None:
        raise NotFound("This message no longer exists.", field="token")
    if delivery.unsubscribed_at is not None:
        raise Conflict(
            "This link was already used: you no longer receive these messages.",
            field="token",
            code="token_used",
        )
    if everything:  # the weekly digest's link: every email type
        withdraw_all(member=delivery.member, channel=Channel.EMAIL, how=ConsentHow.UNSUBSCRIBE)
    else:
        consent_set(
            member=delivery.member,
            channel=delivery.message.channel,
            message_type=delivery.message.message_type,
            given=False,
            how=ConsentHow.UNSUBSCRIBE,
        )
    delivery.unsubscribed_at = timezone.now()
    delivery.save(update_fields=["unsubscribed_at"])
    return delivery
