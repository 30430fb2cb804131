"""Messaging endpoints of /api/v1/: segments, messages, alerts and one-click unsubscribe."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from nextwork.api.auth import member_auth
from nextwork.messaging import segments, services
from nextwork.messaging.models import Message, Segment
from nextwork.network.apis import AUTH_ERRORS, ErrorOut
from nextwork.network.permissions import is_staff

router = Router(tags=["messaging"])

DEFINITION_HELP = (
    'A filter tree: {"and": [...]}, {"or": [...]}, {"not": {...}} over the leaves area, role '
    "(with optional within), community, consent, confirmed, active_within_days, "
    "opened_within_days, clicked_within_days, language. See docs/messaging.md."
)


class SegmentIn(Schema):
    name: str = Field(max_length=120)
    definition: dict[str, Any] = Field(description=DEFINITION_HELP)


class SegmentOut(Schema):
    id: int
    name: str
    definition: dict[str, Any]
    created_at: datetime.datetime


class CountOut(Schema):
    scope: str = Field(description="national, an area code, or community:<slug>")
    members: int
    reachable_email: int | None = None
    reachable_sms: int | None = None


def _segment_out(segment: Segment) -> dict:
    return {
        "id": segment.pk,
        "name": segment.name,
        "definition": segment.definition,
        "created_at": segment.created_at,
    }


@router.get(
    "/segments",
    response={200: list[SegmentOut], **AUTH_ERRORS},
    auth=member_auth,
    summary="Saved segments (mine; all for staff)",
)
def segment_list(request: HttpRequest, limit: int = 50, offset: int = 0):
    services.require_sender(request.user)
    segments = Segment.objects.order_by("-created_at")
    if not is_staff(request.user):
        segments = segments.filter(created_by=request.user)
    limit = max(1, min(limit, 200))
    return [_segment_out(s) for s in segments[max(offset, 0) : max(offset, 0) + limit]]


@router.post(
    "/segments",
    response={201: SegmentOut, 400: ErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Save a segment",
)
def segment_create(request: HttpRequest, payload: SegmentIn):
    segment = services.segment_create(
        name=payload.name, definition=payload.definition, by=request.user
    )
    return Status(201, _segment_out(segment))


@router.get(
    "/segments/{segment_id}/count",
    response={200: CountOut, 400: ErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Live count of a segment, within my scope",
)
def segment_count(
    request: HttpRequest,
    segment_id: int,
    scope_area: str | None = None,
    scope_community: str | None = None,
    message_type: str | None = None,
):
    segment = services.segment_visible(segment_id, by=request.user)
    return services.segment_count(
        definition=segment.definition,
        by=request.user,
        scope_area=scope_area,
        scope_community=scope_community,
        message_type=message_type,
    )


class MessageIn(Schema):
    channel: str = Field(description="email or sms")
    message_type: str = Field(description="newsletter, campaign, alert or community")
    subject: str = Field("", max_length=200)
    body_html: str = Field("", max_length=services.MAX_HTML)
    body_text: str = Field("", max_length=services.MAX_HTML)
    segment: int | None = Field(None, description="A saved segment's id…")
    definition: dict[str, Any] | None = Field(None, description="…or a filter tree.")
    scope_area: str | None = Field(None, description="Write as the coordinator of this area.")
    scope_community: str | None = Field(None, description="Write as this community's coordinator.")


class MessageOut(Schema):
    id: int
    channel: str
    message_type: str
    subject: str
    status: str
    scope: str
    recipients: int
    created_at: datetime.datetime
    queued_at: datetime.datetime | None
    finished_at: datetime.datetime | None


def _message_out(message: Message) -> dict:
    scope = (
        segments.written(message.scope_area)
        if message.scope_area_id
        else f"community:{message.scope_community.slug}"
        if message.scope_community_id
        else "national"
    )
    return {
        "id": message.pk,
        "channel": message.channel,
        "message_type": message.message_type,
        "subject": message.subject,
        "status": message.status,
        "scope": scope,
        "recipients": message.recipients,
        "created_at": message.created_at,
        "queued_at": message.queued_at,
        "finished_at": message.finished_at,
    }


@router.get(
    "/messages",
    response={200: list[MessageOut], **AUTH_ERRORS},
    auth=member_auth,
    summary="Messages (mine; all for staff)",
)
def message_list(request: HttpRequest, limit: int = 50, offset: int = 0):
    services.require_sender(request.user)
    messages = Message.objects.select_related("scope_area", "scope_community").order_by("-id")
    if not is_staff(request.user):
        messages = messages.filter(created_by=request.user)
    limit = max(1, min(limit, 200))
    return [_message_out(m) for m in messages[max(offset, 0) : max(offset, 0) + limit]]


@router.post(
    "/messages",
    response={201: MessageOut, 400: ErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Write a message (a draft until sent)",
)
def message_create(request: HttpRequest, payload: MessageIn):
    message = services.message_create(data=services.MessageIn(**payload.dict()), by=request.user)
    return Status(201, _message_out(message))


@router.post(
    "/messages/{message_id}/send",
    response={202: MessageOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Send a draft (queued for the workers)",
)
def message_send(request: HttpRequest, message_id: int):
    message = services.message_for(message_id, by=request.user)
    return Status(202, _message_out(services.message_send(message=message, by=request.user)))


@router.post(
    "/messages/{message_id}/test",
    response={200: dict[str, str], 400: ErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Send the message to myself only, marked as a test",
)
def message_test(request: HttpRequest, message_id: int):
    message = services.message_for(message_id, by=request.user)
    return {"sent_to": services.message_test_send(message=message, by=request.user)}


class StatsOut(Schema):
    message: int
    status: str
    recipients: int
    queued: int
    sent: int
    delivered: int
    bounced: int
    complained: int
    failed: int
    skipped: int
    digest: int = Field(description="Held for the weekly digest of members who chose it.")
    opened: int = Field(description="Only members who allow tracking are counted.")
    clicked: int
    unsubscribed: int
    handed_twice: int = Field(
        description="Hand-overs interrupted by a dying sender and done again (same Message-ID)."
    )


@router.get(
    "/messages/{message_id}/stats",
    response={200: StatsOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Where a message stands, per delivery status",
)
def message_stats(request: HttpRequest, message_id: int):
    return services.message_stats(services.message_for(message_id, by=request.user))


class AlertIn(Schema):
    channels: list[str] = Field(description="email and/or sms")
    subject: str = Field("", max_length=200)
    body: str = Field(max_length=services.MAX_SMS)
    segment: int | None = None
    definition: dict[str, Any] | None = None
    scope_area: str | None = None
    scope_community: str | None = None
    confirm: bool = Field(
        False, description="False: only count who would receive it. True: send now."
    )


class AlertOut(Schema):
    confirmed: bool
    reachable: dict[str, int]
    messages: list[int]


@router.post(
    "/alerts",
    response={200: AlertOut, 202: AlertOut, 400: ErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="An urgent alert to a segment in one step (count first, then confirm)",
)
def alert_send(request: HttpRequest, payload: AlertIn):
    data = payload.dict()
    confirm = data.pop("confirm")
    result = services.alert_send(data=services.AlertIn(**data), by=request.user, confirm=confirm)
    return Status(202 if confirm else 200, result)


class UnsubscribeOut(Schema):
    channel: str
    message_type: str


@router.post(
    "/unsubscribe/{token}",
    response={200: UnsubscribeOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="One-click unsubscribe (RFC 8058): no login, only the message's signed token",
)
def unsubscribe(request: HttpRequest, token: str):
    delivery = services.unsubscribe(token=token)
    return {"channel": delivery.message.channel, "message_type": delivery.message.message_type}
