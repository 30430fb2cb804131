"""Writes of the presence audit: channels, profiles typed by hand, audits (docs/presence.md).

Promises:
- a channel's address is checked before it is stored: http(s) only, 1,000 characters at most,
  on the network's own host when it has one (a YouTube channel is on youtube.com), in the form
  its reader needs (a Mastodon account is ``https://instance/@name``); the error names the field
  and shows the expected form;
- the organisation's channels are staff's; a relay, senate relay or coordinator registers and
  audits the channels of the areas their grants cover; every write is in the audit log;
- an audit never fails because a channel does: a channel that cannot be read, a page too large,
  an avatar that is not an image are findings and errors on the snapshot; the reading is
  bounded in time (``AUDIT_SECONDS``) and done outside any transaction; the report and its
  snapshots are then written in one.
"""

from __future__ import annotations

import datetime
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor, wait
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from nextwork.common.errors import Conflict, InvalidInput
from nextwork.common.text import clean_text
from nextwork.monitoring.models import Channel, ChannelKind, ChannelSnapshot, PresenceReport
from nextwork.monitoring.presence import (
    Deadline,
    ReadError,
    Reading,
    avatar_hash,
    checks,
    make_client,
    reader_for,
)
from nextwork.monitoring.presence.selectors import require_manage
from nextwork.privacy.services import audit_record
from nextwork.territories.models import Area

log = logging.getLogger(__name__)

MAX_URL = 1000
MAX_CHANNELS = 60  # per scope: an audit reads them all within AUDIT_SECONDS
AUDIT_SECONDS = 45.0  # the whole reading of an audit, so that the API answers in time
READERS = 8  # channels read side by side
# Networks that live on one host; Mastodon, PeerTube and websites live anywhere.
HOSTS = {
    "facebook": ("facebook.com", "fb.com"),
    "x": ("x.com", "twitter.com"),
    "instagram": ("instagram.com",),
    "linkedin": ("linkedin.com",),
    "youtube": ("youtube.com", "youtu.be"),
    "tiktok": ("tiktok.com",),
    "bluesky": ("bsky.app",),
}
EXAMPLES = {
    "facebook": "https://www.facebook.com/nextwork",
    "x": "https://x.com/nextwork",
    "instagram": "https://www.instagram.com/nextwork",
    "linkedin": "https://www.linkedin.com/company/nextwork",
    "youtube": "https://www.youtube.com/@nextwork",
    "tiktok": "https://www.tiktok.com/@nextwork",
    "bluesky": "https://bsky.app/profile/nextwork.bsky.social",
    "mastodon": "https://mastodon.social/@nextwork",
}
MASTODON_PATH = re.compile(r"^/@([A-Za-z0-9_]{1,30})/?$")
BLUESKY_PATH = re.compile(
    r"^/profile/((?:[a-zA-Z0-9-]+\.)+[a-zA-Z][a-zA-Z0-9-]*|did:plc:[a-z2-7]{24})/?$"
)
SOCIAL_HANDLE = re.compile(r"^/(@?[\w.\-]{1,100})/?")


def check_url(kind: str, url: str) -> tuple[str, str]:
    """The channel's address, trimmed, and the handle it names; ``InvalidInput`` on "url"
    saying what is wrong and what is expected."""
    if kind not in ChannelKind.values:
        raise InvalidInput(f"kind: one of {', '.join(ChannelKind.values)}.", field="kind")
    url = clean_text(url, field="url", limit=MAX_URL)
    example = EXAMPLES.get(kind, "https://www.example.org/")
    if any(c.isspace() for c in url):
        raise InvalidInput("The url holds spaces: give the address as the browser shows it.",
                           field="url")  # fmt: skip
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"The url must start with https:// (for example {example}).",
                           field="url")  # fmt: skip
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("The url must not hold a user name or password.", field="url")
    host = checks.url_key(url)[0].split(":")[0]
    expected = HOSTS.get(kind)
    if expected and not any(host == h or host.endswith("." + h) for h in expected):
        raise InvalidInput(
            f"A {ChannelKind(kind).label} channel is on {expected[0]}: {url} is on {host} "
            f"(for example {example}).",
            field="url",
        )
    handle = ""
    if kind == "mastodon":
        match = MASTODON_PATH.match(parts.path)
        if not match:
            raise InvalidInput(
                f"A Mastodon channel's url is the profile's, https://instance/@name "
                f"(for example {example}).",
                field="url",
            )
        handle = f"@{match.group(1)}@{parts.hostname.lower()}"
    elif kind == "bluesky":
        match = BLUESKY_PATH.match(parts.path)
        if not match:
            raise InvalidInput(
                f"A Bluesky channel's url is https://bsky.app/profile/<handle> "
                f"(for example {example}).",
                field="url",
            )
        handle = match.group(1).lower()
    elif kind in ("x", "instagram", "tiktok", "youtube"):
        match = SOCIAL_HANDLE.match(parts.path)
        handle = match.group(1) if match else ""
    return url, handle


def _duplicate(kind: str, url: str, area: Area | None, *, exclude: int | None = None) -> None:
    same = Channel.objects.filter(active=True, kind=kind)
    same = same.filter(area=area) if area is not None else same.filter(area__isnull=True)
    key = checks.url_key(url)
    for other in same.exclude(pk=exclude).only("pk", "url"):
        if checks.url_key(other.url) == key:
            raise Conflict(f"This channel is already registered (channel {other.pk}).",
                           field="url", code="duplicate")  # fmt: skip


def _scope_code(area: Area | None) -> str:
    return area.code if area is not None else ""


@transaction.atomic
def channel_create(
    *,
    by,
    kind: str,
    url: str,
    area: Area | None = None,
    member=None,
    label: str = "",
    handle: str = "",
) -> Channel:
    """Register a channel of the organisation (``area`` None, staff) or of a local group or
    relay (``area``; ``member``: the relay who holds it, themselves unless staff)."""
    require_manage(by, area, "register a channel")
    url, derived = check_url(kind, url)
    if member is not None and member.pk != by.pk:
        require_manage(by, None, "register a channel for someone else")
    _duplicate(kind, url, area)
    channel = Channel(
        kind=kind, url=url, area=area, member=member, created_by=by,
        label=clean_text(label, field="label", limit=200, required=False),
        handle=clean_text(handle, field="handle", limit=200, required=False) or derived,
    )  # fmt: skip
    channel.full_clean(exclude=["url"])  # the address was checked above, with clearer messages
    channel.save()
    audit_record(actor=by, action="presence.channel_create", area_code=_scope_code(area),
                 details={"channel": channel.pk, "kind": kind})  # fmt: skip
    return channel


@transaction.atomic
def channel_update(
    *, by, channel: Channel, url: str | None = None, label: str | None = None
) -> Channel:
    """Change a channel's address or label (its kind and scope stay: register another)."""
    require_manage(by, channel.area, "change this channel")
    fields = []
    if url is not None:
        channel.url, channel.handle = check_url(channel.kind, url)
        _duplicate(channel.kind, channel.url, channel.area, exclude=channel.pk)
        fields += ["url", "handle"]
    if label is not None:
        channel.label = clean_text(label, field="label", limit=200, required=False)
        fields.append("label")
    if fields:
        channel.updated_at = timezone.now()
        channel.save(update_fields=[*fields, "updated_at"])
        audit_record(actor=by, action="presence.channel_update",
                     area_code=_scope_code(channel.area),
                     details={"channel": channel.pk, "fields": fields})  # fmt: skip
    return channel


@transaction.atomic
def channel_deactivate(*, by, channel: Channel) -> Channel:
    """Stop auditing a channel (a closed account); its snapshots and reports stay."""
    require_manage(by, channel.area, "deactivate this channel")
    if channel.active:
        channel.active = False
        channel.updated_at = timezone.now()
        channel.save(update_fields=["active", "updated_at"])
        audit_record(actor=by, action="presence.channel_deactivate",
                     area_code=_scope_code(channel.area),
                     details={"channel": channel.pk})  # fmt: skip
    return channel


@transaction.atomic
def snapshot_enter(
    *,
    by,
    channel: Channel,
    name: str,
    description: str = "",
    last_post_at: datetime.datetime | None = None,
    website: str = "",
    links: list[str] | tuple[str, ...] = (),
    avatar_url: str = "",
) -> ChannelSnapshot:
    """What a profile that no reader can read shows (Facebook, YouTube…), typed by hand; the
    next audits use the latest one."""
    require_manage(by, channel.area, "describe this channel")
    if reader_for(channel.kind) is not None:
        raise InvalidInput(
            f"{ChannelKind(channel.kind).label} profiles are read by the audit itself.",
            field="channel_id",
        )
    if last_post_at is not None:
        if timezone.is_naive(last_post_at):
            raise InvalidInput("last_post_at: give the time zone (2026-09-20T10:00:00Z).",
                               field="last_post_at")  # fmt: skip
        if last_post_at > timezone.now() + datetime.timedelta(days=1):
            raise InvalidInput("last_post_at is in the future.", field="last_post_at")
    addresses = []
    for field, value in [("website", website), ("avatar_url", avatar_url)] + [
        ("links", link) for link in links
    ]:
        value = clean_text(value, field=field, limit=MAX_URL, required=False)
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise InvalidInput(f"{field}: an http(s) address.", field=field)
        addresses.append(value)
    if len(links) > 50:
        raise InvalidInput("links: at most 50.", field="links")
    snapshot = ChannelSnapshot(
        channel=channel, entered_by_hand=True, entered_by=by,
        name=clean_text(name, field="name", limit=300),
        description=clean_text(description, field="description", limit=5000, required=False),
        last_post_at=last_post_at, website=addresses[0], avatar_url=addresses[1],
        links=[a for a in addresses[2:] if a],
    )  # fmt: skip
    snapshot.save()
    audit_record(actor=by, action="presence.snapshot_enter", area_code=_scope_code(channel.area),
                 details={"channel": channel.pk, "snapshot": snapshot.pk})  # fmt: skip
    return snapshot


# -- the audit ------------------------------------------------------------------------------


def _read_one(channel: Channel, typed: ChannelSnapshot | None, deadline: Deadline):
    """What the audit knows of one channel; runs in a worker thread, without the database."""
    reader = reader_for(channel.kind)
    with make_client() as client:
        if reader is None:
            if typed is None:
                return None
            reading = Reading(
                name=typed.name, description=typed.description, avatar_url=typed.avatar_url,
                avatar_hash=typed.avatar_hash, website=typed.website, links=list(typed.links),
                last_post_at=typed.last_post_at, entered_by_hand=True,
            )  # fmt: skip
        else:
            try:
                reading = reader.read(channel, client, deadline)
            except ReadError as exc:
                return Reading(ok=False, error=str(exc)[:300])
            except Exception:  # a reader's bug must not sink the whole audit
                log.exception("presence reader %s failed on channel %s", channel.kind, channel.pk)
                return Reading(ok=False, error="erreur inattendue du lecteur (voir les journaux)")
        if reading.avatar_url and not reading.avatar_hash:
            try:
                reading.avatar_hash = avatar_hash(client, reading.avatar_url, deadline)
            except ReadError as exc:
                reading.avatar_error = str(exc)
    return reading


def _read_all(channels: list[Channel], typed: dict, seconds: float) -> dict:
    deadline = Deadline(seconds)
    pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="presence")
    try:
        futures = {
            pool.submit(_read_one, channel, typed.get(channel.pk), deadline): channel.pk
            for channel in channels
        }
        wait(futures, timeout=seconds + 1)
        readings = {}
        for future, pk in futures.items():
            if future.done() and not future.cancelled():
                try:
                    readings[pk] = future.result()
                except Exception:  # an image library's surprise, say: one channel, not all
                    log.exception("presence reading of channel %s failed", pk)
                    readings[pk] = Reading(ok=False, error="erreur inattendue de lecture")
            else:
                readings[pk] = Reading(ok=False, error="temps d'audit épuisé avant la lecture")
        return readings
    finally:
        # Readers still running end on their own: every request is bounded by the deadline.
        pool.shutdown(wait=False, cancel_futures=True)


def _latest_typed(channels: list[Channel]) -> dict[int, ChannelSnapshot]:
    typed: dict[int, ChannelSnapshot] = {}
    found = ChannelSnapshot.objects.filter(
        channel__in=[c for c in channels if reader_for(c.kind) is None],
        entered_by_hand=True, report__isnull=True,
    ).order_by("channel_id", "-read_at", "-pk")  # fmt: skip
    for snapshot in found:
        typed.setdefault(snapshot.channel_id, snapshot)
    return typed


def _snapshot(channel: Channel, reading: Reading, report: PresenceReport, by) -> ChannelSnapshot:
    error = reading.error or (f"image de profil : {reading.avatar_error}"
                              if reading.avatar_error else "")  # fmt: skip

    def address(value: str) -> str:
        return value if len(value) <= MAX_URL else ""

    return ChannelSnapshot(
        channel=channel, report=report, read_at=report.created_at, read_ok=reading.ok,
        error=error[:300], name=reading.name[:300], description=reading.description[:5000],
        avatar_url=address(reading.avatar_url), avatar_hash=reading.avatar_hash,
        website=address(reading.website), links=reading.links, me_links=reading.me_links,
        last_post_at=reading.last_post_at, entered_by_hand=reading.entered_by_hand,
        entered_by=by if reading.entered_by_hand else None,
    )  # fmt: skip


def presence_audit(
    *,
    by,
    area: Area | None = None,
    now: datetime.datetime | None = None,
    seconds: float | None = None,
) -> PresenceReport:
    """Read every active channel of the scope (the organisation's when ``area`` is None),
    check them together and keep the report, linked to the scope's previous one. ``now`` is
    the moment silence is measured against (tests); ``seconds`` bounds the reading."""
    require_manage(by, area, "audit the presence")
    scope = Channel.objects.filter(active=True)
    scope = scope.filter(area=area) if area is not None else scope.filter(area__isnull=True)
    channels = list(scope.order_by("pk")[: MAX_CHANNELS + 1])
    if not channels:
        raise InvalidInput("No active channel in this scope: register its channels first.",
                           field="area")  # fmt: skip
    if len(channels) > MAX_CHANNELS:
        raise InvalidInput(f"At most {MAX_CHANNELS} active channels per scope are audited.",
                           field="area")  # fmt: skip
    started = time.monotonic()
    readings = _read_all(channels, _latest_typed(channels), seconds or AUDIT_SECONDS)
    sites = [c.url for c in channels if c.kind == ChannelKind.WEBSITE]
    if not sites and area is not None:  # a local group without a site links to the national one
        sites = list(
            Channel.objects.filter(area__isnull=True, active=True, kind=ChannelKind.WEBSITE)
            .order_by("pk")
            .values_list("url", flat=True)
        )
    reads = [checks.Read(channel=c, reading=readings[c.pk]) for c in channels]
    findings = checks.run(reads, sites=sites, now=now or timezone.now())
    with transaction.atomic():
        previous = (
            PresenceReport.objects.filter(area=area)
            if area is not None
            else (PresenceReport.objects.filter(area__isnull=True))
        )
        report = PresenceReport.objects.create(
            area=area, created_by=by, score=checks.score(findings), findings=findings,
            previous=previous.order_by("-created_at", "-pk").first(),
            duration_ms=int((time.monotonic() - started) * 1000),
        )  # fmt: skip
        ChannelSnapshot.objects.bulk_create(
            _snapshot(c, readings[c.pk], report, by) for c in channels if readings[c.pk]
        )
        audit_record(actor=by, action="presence.audit", area_code=_scope_code(area),
                     details={"report": report.pk, "score": report.score})  # fmt: skip
    return report
