"""/api/v1 of the presence audit: channels, audits and their reports (docs/presence.md).

Staff manage the organisation's channels and see every scope; a relay, senate relay or
coordinator manages those of the areas their grants cover. Errors in the project's format
(``network.apis.ErrorOut``).
"""

from __future__ import annotations

import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from nextwork.api.auth import member_auth
from nextwork.monitoring.models import Channel, ChannelSnapshot, PresenceReport
from nextwork.monitoring.presence import checks, selectors, services
from nextwork.network.apis import ErrorOut

router = Router(tags=["presence"])

READ_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}
WRITE_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}
Kind = Literal[
    "website", "facebook", "x", "instagram", "linkedin", "youtube", "tiktok", "mastodon",
    "bluesky", "peertube", "other",
]  # fmt: skip


class ChannelOut(Schema):
    id: int
    kind: str = Field(description="website, facebook, x, instagram, linkedin, youtube, tiktok, "
                      "mastodon, bluesky, peertube or other.")  # fmt: skip
    url: str
    handle: str = Field(description="What the url names on its network (@name@instance).")
    label: str
    area: str | None = Field(description="The local group's or relay's area; null: the "
                             "organisation's channel.")  # fmt: skip
    member: int | None = Field(description="The relay who holds it, if any.")
    active: bool
    read_automatically: bool = Field(
        description="true: the audit reads its public profile (website, Mastodon, Bluesky); "
        "false: its profile is typed by hand (POST /channels/{id}/snapshots)."
    )
    created_at: datetime.datetime


def _channel_out(channel: Channel) -> dict:
    from nextwork.monitoring.presence import reader_for

    return {
        "id": channel.pk, "kind": channel.kind, "url": channel.url, "handle": channel.handle,
        "label": channel.label, "area": channel.area.code if channel.area_id else None,
        "member": channel.member_id, "active": channel.active,
        "read_automatically": reader_for(channel.kind) is not None,
        "created_at": channel.created_at,
    }  # fmt: skip


class ChannelPage(Schema):
    items: list[ChannelOut]
    total: int
    limit: int
    offset: int


class ChannelQuery(Schema):
    area: str | None = Field(None, max_length=20, description="Only this area's (75-02, 75).")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000)


@router.get(
    "/channels",
    response={200: ChannelPage, **READ_ERRORS},
    auth=member_auth,
    summary="The active channels you manage (staff: all; relays, coordinators: their areas')",
)
def channel_list(request: HttpRequest, query: Query[ChannelQuery]):
    scope = selectors.area(query.area) if query.area else None
    found = selectors.channels(request.user, area=scope)
    page = found[query.offset : query.offset + query.limit]
    return {"items": [_channel_out(c) for c in page], "total": found.count(),
            "limit": query.limit, "offset": query.offset}  # fmt: skip


class ChannelIn(Schema):
    kind: Kind
    url: str = Field(max_length=1000, description="The profile's address, http(s); a Mastodon "
                     "account is https://instance/@name, Bluesky https://bsky.app/profile/"
                     "<handle>.")  # fmt: skip
    area: str | None = Field(
        None,
        max_length=20,
        description="A local group's or relay's "
        "channel: its area (75-02, 75). Empty: the organisation's (staff).",
    )
    label: str = Field("", max_length=200)
    held_by_me: bool = Field(False, description="The channel is your own (a relay's account).")


@router.post(
    "/channels",
    response={201: ChannelOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Register a channel (staff: the organisation's; relays, coordinators: their areas')",
)
def channel_create(request: HttpRequest, payload: ChannelIn):
    channel = services.channel_create(
        by=request.user, kind=payload.kind, url=payload.url, label=payload.label,
        area=selectors.area(payload.area),
        member=request.user if payload.held_by_me else None,
    )  # fmt: skip
    return Status(201, _channel_out(channel))


class HandIn(Schema):
    name: str = Field(max_length=300, description="The profile's name as it shows.")
    description: str = Field("", max_length=5000)
    last_post_at: datetime.datetime | None = Field(None, description="With its time zone.")
    website: str = Field("", max_length=1000, description="The link shown on the profile.")
    links: list[str] = Field(default_factory=list, max_length=50)
    avatar_url: str = Field("", max_length=1000, description="The profile picture's address.")


class SnapshotOut(Schema):
    id: int
    channel: int
    kind: str
    url: str
    read_at: datetime.datetime
    read_ok: bool = Field(description="false: the channel could not be read (see error).")
    error: str = Field(description="Why it was not read, or why its avatar was not (French).")
    entered_by_hand: bool
    name: str
    description: str
    avatar_url: str
    avatar_hash: str = Field(description="Perceptual hash (imagehash.phash, hex); empty: none.")
    website: str
    links: list[str]
    me_links: list[str] = Field(description='Links marked rel="me", or verified by Mastodon.')
    last_post_at: datetime.datetime | None


def _snapshot_out(snapshot: ChannelSnapshot) -> dict:
    channel = snapshot.channel
    return {
        "id": snapshot.pk, "channel": channel.pk, "kind": channel.kind, "url": channel.url,
        "read_at": snapshot.read_at, "read_ok": snapshot.read_ok, "error": snapshot.error,
        "entered_by_hand": snapshot.entered_by_hand, "name": snapshot.name,
        "description": snapshot.description, "avatar_url": snapshot.avatar_url,
        "avatar_hash": snapshot.avatar_hash, "website": snapshot.website,
        "links": snapshot.links, "me_links": snapshot.me_links,
        "last_post_at": snapshot.last_post_at,
    }  # fmt: skip


@router.post(
    "/channels/{channel_id}/snapshots",
    response={201: SnapshotOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Type what a profile shows where nothing can read it (Facebook, YouTube…)",
)
def snapshot_enter(request: HttpRequest, channel_id: int, payload: HandIn):
    channel = selectors.channel(request.user, channel_id)
    snapshot = services.snapshot_enter(by=request.user, channel=channel, **payload.dict())
    return Status(201, _snapshot_out(snapshot))


class AuditIn(Schema):
    area: str | None = Field(None, max_length=20, description="The area to audit (75-02, 75, "
                             "R11); empty: the organisation's channels (staff).")  # fmt: skip


class FindingOut(Schema):
    code: str = Field(description="Stable: " + ", ".join(checks.WEIGHTS) + ".")
    severity: Literal["high", "medium", "low"]
    weight: int = Field(description="Points it takes off the score.")
    channels: list[int]
    message: str = Field(description="What is wrong, in French, for the people who fix it.")
    fix: str = Field(description="What to do, in French.")


class PresenceReportOut(Schema):
    id: int
    area: str | None = Field(description="The audited area; null: the organisation.")
    created_at: datetime.datetime
    score: int = Field(description="100 minus the findings' weights, at least 0.")
    previous_report: int | None = Field(description="The scope's report before this one.")
    previous_score: int | None
    delta: int | None = Field(description="score - previous_score: the progress.")
    duration_ms: int = Field(description="Time spent reading the channels.")
    findings: list[FindingOut] = Field(description="The heaviest first.")
    snapshots: list[SnapshotOut] = Field(description="What was read of each channel.")


def _report_out(report: PresenceReport) -> dict:
    previous = report.previous
    snapshots = report.snapshots.select_related("channel").order_by("channel_id")
    return {
        "id": report.pk, "area": report.area.code if report.area_id else None,
        "created_at": report.created_at, "score": report.score,
        "previous_report": previous.pk if previous else None,
        "previous_score": previous.score if previous else None,
        "delta": report.score - previous.score if previous else None,
        "duration_ms": report.duration_ms, "findings": report.findings,
        "snapshots": [_snapshot_out(s) for s in snapshots],
    }  # fmt: skip


@router.post(
    "/presence/audit",
    response={201: PresenceReportOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Audit the presence of a scope now (reads its channels; 45 s at most)",
)
def presence_audit(request: HttpRequest, payload: AuditIn):
    report = services.presence_audit(by=request.user, area=selectors.area(payload.area))
    return Status(201, _report_out(report))


@router.get(
    "/presence/reports/{report_id}",
    response={200: PresenceReportOut, **READ_ERRORS},
    auth=member_auth,
    summary="A presence report, with the previous score of its scope",
)
def presence_report(request: HttpRequest, report_id: int):
    return _report_out(selectors.report(request.user, report_id))
