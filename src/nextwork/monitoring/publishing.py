"""Publishing: compose once, publish to the channels that have an API (Mastodon, Bluesky) and
prepare the text for the others; the log of what was published where (docs/presence.md,
"Publishing").

Promises:
- ``publication_create`` checks that the author may speak on every channel (staff: any; a
  relay, senate relay or coordinator: the channels of the areas their grants cover, as for the
  presence audit), the text and the link (http(s), 1,000 characters at most), and every
  channel's rules (``publishers``): a text that a channel with an API would have to cut is
  refused, with the channel and what to change; the others get warnings and their text cut.
  Nothing is sent then: targets with an API are *pending* until their time (now, or
  ``scheduled_at``), the others *prepared*, ready to copy.
- ``publish_due`` (the worker's minute tick) claims each due target with a compare-and-set on
  its ``next_attempt_at`` (a lease), so two workers never publish it twice, and publishes it
  outside any transaction. Each network receives the same idempotency key (Mastodon) or record
  key (Bluesky) at every attempt, so a retry after a timeout that did go through does not post
  twice. 429, 5xx and timeouts leave the target pending with its error, tried again after
  1, 2, 4, 8 minutes (or what the network asked), 5 attempts at most; other refusals fail it
  with the reason. The publication's status then sums its targets up.
- credentials (``account_set``) are encrypted at rest and never logged, returned nor quoted in
  an error; only whether an account is set and its handle are shown.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from nextwork.common.errors import Forbidden, InvalidInput, NotFound
from nextwork.common.text import clean_text
from nextwork.monitoring.models import (
    Channel,
    Publication,
    PublicationStatus,
    PublicationTarget,
    PublishingAccount,
    TargetStatus,
)
from nextwork.monitoring.presence import selectors as channel_selectors
from nextwork.monitoring.presence.selectors import require_manage
from nextwork.monitoring.publishers import (
    Adapted,
    Problem,
    PublishError,
    Refused,
    TryLater,
    credentials,
    publisher_for,
)
from nextwork.monitoring.publishers.bluesky import DEFAULT_ENDPOINT
from nextwork.privacy.services import audit_record

log = logging.getLogger(__name__)

MAX_TEXT = 65_000  # above Facebook's 63,206, the longest limit checked
MAX_LINK = 1000
MAX_CHANNELS = 30
MAX_ATTEMPTS = 5
FIRST_RETRY = 60.0  # seconds; doubled at each attempt
LONGEST_RETRY = 3600.0  # Mastodon keeps idempotency keys for an hour
LEASE = datetime.timedelta(minutes=5)  # a publishing that takes longer is tried again
PAST_GRACE = datetime.timedelta(minutes=5)
FURTHEST = datetime.timedelta(days=366)
TICK_SECONDS = 40.0  # publishing in one tick stops claiming after this
TICK_BATCH = 50
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
APP_PASSWORD = re.compile(r"^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$")
BLUESKY_HANDLE = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]"
                            r"[a-zA-Z0-9-]{0,61}$")  # fmt: skip


def _account(channel: Channel) -> PublishingAccount | None:
    try:
        return channel.publishing_account
    except PublishingAccount.DoesNotExist:
        return None


def _where(channel: Channel) -> str:
    return channel.handle or channel.label or channel.url


def _check_link(link: str) -> str:
    link = clean_text(link, field="link", limit=MAX_LINK, required=False)
    if not link:
        return ""
    parts = urlsplit(link)
    if (
        any(c.isspace() for c in link)
        or parts.scheme.lower() not in ("http", "https")
        or (not parts.hostname)
    ):
        raise InvalidInput("link: an address starting with https:// (or http://), without "
                           "spaces.", field="link")  # fmt: skip
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("link: the address must not hold a user name or password.",
                           field="link")  # fmt: skip
    return link


def _channels(by, channel_ids: Iterable[int]) -> list[Channel]:
    try:
        ids = list(dict.fromkeys(int(pk) for pk in channel_ids))
    except (TypeError, ValueError):
        raise InvalidInput("channels: a list of channel ids.", field="channels") from None
    if not ids:
        raise InvalidInput("channels: choose at least one channel.", field="channels")
    if len(ids) > MAX_CHANNELS:
        raise InvalidInput(f"channels: {MAX_CHANNELS} at most per publication.",
                           field="channels")  # fmt: skip
    found = Channel.objects.select_related("area", "publishing_account").in_bulk(ids)
    chosen = []
    for pk in ids:
        channel = found.get(pk)
        if channel is None:
            raise NotFound(f"No channel {pk}.", field="channels")
        require_manage(by, channel.area, f"publish on channel {pk}")
        if not channel.active:
            raise InvalidInput(f"Channel {pk} is deactivated.", field="channels")
        chosen.append(channel)
    return chosen


def _when(scheduled_at: datetime.datetime | None, now: datetime.datetime):
    if scheduled_at is None:
        return None
    if timezone.is_naive(scheduled_at):
        raise InvalidInput("scheduled_at: give the time zone (2026-12-01T09:00:00+01:00).",
                           field="scheduled_at")  # fmt: skip
    if scheduled_at < now - PAST_GRACE:
        raise InvalidInput("scheduled_at is in the past: leave it empty to publish now.",
                           field="scheduled_at")  # fmt: skip
    if scheduled_at > now + FURTHEST:
        raise InvalidInput("scheduled_at: a year ahead at most.", field="scheduled_at")
    return scheduled_at


def _scope_code(channels: list[Channel]) -> str:
    codes = {c.area.code if c.area_id else "" for c in channels}
    return codes.pop() if len(codes) == 1 else ""


@dataclass(frozen=True)
class TargetPlan:
    """What one channel would receive: its adapted text and what its publisher found."""

    channel: Channel
    adapted: Adapted
    problems: list[Problem]
    live: bool  # published by the platform (an API and an account), or text to copy

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != "error"]


@dataclass(frozen=True)
class PublicationPlan:
    text: str
    link: str
    language: str
    channels: list[Channel]
    scheduled_at: datetime.datetime | None
    targets: list[TargetPlan]

    @property
    def errors(self) -> list[Problem]:
        return [p for t in self.targets for p in t.errors]


def publication_preview(
    *,
    by,
    text: str,
    link: str = "",
    channel_ids: Iterable[int],
    scheduled_at: datetime.datetime | None = None,
    language: str = "fr",
    now: datetime.datetime | None = None,
) -> PublicationPlan:
    """What ``publication_create`` would compose, channel by channel, without writing anything.

    Input that cannot be planned at all (text, link, language, channels, schedule) raises
    ``InvalidInput``; a channel's refusal (a text too long for it) is in the plan's ``errors``."""
    now = now or timezone.now()
    text = clean_text(text, field="text", limit=MAX_TEXT)
    link = _check_link(link)
    language = (language or "fr").strip()
    if not LANGUAGE.match(language):
        raise InvalidInput("language: a language code such as fr or en.", field="language")
    channels = _channels(by, channel_ids)
    scheduled_at = _when(scheduled_at, now)
    targets = []
    for channel in channels:
        publisher = publisher_for(channel.kind)
        account = _account(channel)
        problems = publisher.check(text, link, account=account, where=_where(channel))
        if publisher.has_api and account is None:
            problems.append(Problem("no_account", "warning", (
                f"Aucun compte de publication n'est enregistré pour {publisher.label} "
                f"({_where(channel)}) : le texte est préparé, à publier à la main, ou "
                "enregistrez le compte avant de composer."
            )))  # fmt: skip
        adapted = publisher.adapt(text, link, account=account)
        live = publisher.has_api and account is not None
        targets.append(TargetPlan(channel, adapted, problems, live))
    return PublicationPlan(text, link, language, channels, scheduled_at, targets)


@transaction.atomic
def publication_create(
    *,
    by,
    text: str,
    link: str = "",
    channel_ids: Iterable[int],
    scheduled_at: datetime.datetime | None = None,
    language: str = "fr",
    now: datetime.datetime | None = None,
) -> Publication:
    """Compose a publication for ``channel_ids``; nothing is sent before ``publish_due``."""
    now = now or timezone.now()
    plan = publication_preview(by=by, text=text, link=link, channel_ids=channel_ids,
                               scheduled_at=scheduled_at, language=language, now=now)  # fmt: skip
    if plan.errors:
        codes = {p.code for p in plan.errors}
        raise InvalidInput(" ".join(p.message for p in plan.errors), field="text",
                           code=codes.pop() if len(codes) == 1 else "invalid")  # fmt: skip
    publication = Publication(
        text=plan.text, link=plan.link, language=plan.language, created_by=by, created_at=now,
        scheduled_at=plan.scheduled_at,
        status=PublicationStatus.SCHEDULED if any(t.live for t in plan.targets)
        else PublicationStatus.DONE,
    )  # fmt: skip
    publication.full_clean(exclude=["link"])
    publication.save()
    PublicationTarget.objects.bulk_create([
        PublicationTarget(
            publication=publication, channel=t.channel, text=t.adapted.text,
            facets=t.adapted.facets, problems=[p.as_dict() for p in t.problems],
            status=TargetStatus.PENDING if t.live else TargetStatus.PREPARED,
            next_attempt_at=(plan.scheduled_at or now) if t.live else None,
        )
        for t in plan.targets
    ])  # fmt: skip
    when = plan.scheduled_at.isoformat() if plan.scheduled_at else None
    audit_record(actor=by, action="publishing.create", area_code=_scope_code(plan.channels),
                 details={"publication": publication.pk, "scheduled_at": when,
                          "channels": [c.pk for c in plan.channels]})  # fmt: skip
    return publication


# -- publishing what is due -----------------------------------------------------------------


def _claim(now: datetime.datetime) -> PublicationTarget | None:
    """One due target, claimed for this worker: its ``next_attempt_at`` moved to the end of
    the lease and its attempt counted, only if nobody moved it since we read it."""
    candidates = (
        PublicationTarget.objects.filter(status=TargetStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "next_attempt_at")[:TICK_BATCH]
    )
    for pk, planned in candidates:
        with transaction.atomic():
            won = PublicationTarget.objects.filter(
                pk=pk, status=TargetStatus.PENDING, next_attempt_at=planned
            ).update(next_attempt_at=now + LEASE, attempts=F("attempts") + 1)
        if won:
            target = PublicationTarget.objects.select_related(
                "publication", "channel", "channel__publishing_account"
            ).get(pk=pk)
            Publication.objects.filter(
                pk=target.publication_id, status=PublicationStatus.SCHEDULED
            ).update(status=PublicationStatus.PUBLISHING)
            return target
    return None


def _retry_at(target: PublicationTarget, now: datetime.datetime, asked: float | None):
    wait = FIRST_RETRY * 2 ** max(target.attempts - 1, 0)
    if asked is not None:
        wait = max(wait, asked)
    return now + datetime.timedelta(seconds=min(wait, LONGEST_RETRY))


def _publish(target: PublicationTarget, now: datetime.datetime) -> str:
    """Send one claimed target; what became of it (published, retrying, failed)."""
    channel = target.channel
    account = _account(channel)
    publisher = publisher_for(channel.kind)
    changes: dict = {}
    try:
        if not channel.active:
            raise Refused("Le canal a été désactivé avant la publication.")
        if account is None:
            raise Refused("Le compte de publication de ce canal a été retiré.")
        try:
            secret = credentials.decrypt(account.secret)
        except credentials.Unreadable as exc:
            raise Refused(str(exc)) from None
        done = publisher.publish(target, account, secret)
    except TryLater as exc:
        if target.attempts >= MAX_ATTEMPTS:
            changes = {"status": TargetStatus.FAILED, "next_attempt_at": None,
                       "error": f"{exc} Abandon après {target.attempts} essais."}  # fmt: skip
        else:
            changes = {"next_attempt_at": _retry_at(target, now, exc.retry_after),
                       "error": str(exc)}  # fmt: skip
    except PublishError as exc:
        changes = {"status": TargetStatus.FAILED, "next_attempt_at": None, "error": str(exc)}
    except Exception:  # a plugin's bug: logged (no secret is in its arguments), tried again
        log.exception("publishing: target #%s on %s failed unexpectedly", target.pk,
                      channel.kind)  # fmt: skip
        changes = {
            "next_attempt_at": _retry_at(target, now, None),
            "error": "Erreur inattendue (voir les journaux) : nouvel essai plus tard.",
        }
        if target.attempts >= MAX_ATTEMPTS:
            changes.update(status=TargetStatus.FAILED, next_attempt_at=None)
    else:
        changes = {"status": TargetStatus.PUBLISHED, "next_attempt_at": None, "error": "",
                   "remote_id": done.remote_id[:300], "remote_url": done.remote_url[:1000],
                   "published_at": now}  # fmt: skip
    changes["error"] = changes.get("error", "")[:300]
    # Only while the claim is ours: same attempt, still pending.
    PublicationTarget.objects.filter(
        pk=target.pk, status=TargetStatus.PENDING, attempts=target.attempts
    ).update(**changes)
    status = changes.get("status", "retrying")
    if status == TargetStatus.FAILED:
        log.warning("publishing: target #%s on %s failed: %s", target.pk, channel.kind,
                    changes["error"])  # fmt: skip
    return str(status)


def _settle(publication_id: int) -> None:
    statuses = list(
        PublicationTarget.objects.filter(publication_id=publication_id)
        .exclude(status=TargetStatus.PREPARED)
        .values_list("status", flat=True)
    )
    if TargetStatus.PENDING in statuses:
        return
    published = statuses.count(TargetStatus.PUBLISHED)
    if published == len(statuses):
        status = PublicationStatus.DONE
    elif published == 0:
        status = PublicationStatus.FAILED
    else:
        status = PublicationStatus.PARTIAL
    Publication.objects.filter(pk=publication_id).update(status=status)


def publish_due(*, now: datetime.datetime | None = None, seconds: float = TICK_SECONDS) -> dict:
    """Publish the targets whose time has come, one claim at a time, for ``seconds`` at most
    (what is left waits for the next tick); the count of each outcome."""
    started = time.monotonic()
    counts = {"published": 0, "retrying": 0, "failed": 0}
    for _ in range(TICK_BATCH):
        if time.monotonic() - started > seconds:
            break
        moment = now or timezone.now()
        target = _claim(moment)
        if target is None:
            break
        counts[_publish(target, moment)] += 1
        _settle(target.publication_id)
    return counts


# -- accounts -------------------------------------------------------------------------------


def _https(url: str, field: str) -> None:
    """Credentials travel over HTTPS only (loopback excepted: tests, a local PDS)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise InvalidInput(f"{field}: credentials are sent over https:// only ({url}).",
                           field=field)  # fmt: skip


@transaction.atomic
def account_set(
    *,
    by,
    channel_id: int,
    token: str = "",
    handle: str = "",
    app_password: str = "",
    endpoint: str = "",
    max_length: int | None = None,
) -> PublishingAccount:
    """Store (or replace) the credentials that let the platform post on a channel: a Mastodon
    access token with ``write:statuses``; a Bluesky handle and app password (never the
    account's own password), with the PDS that holds it (``https://bsky.social`` by
    default)."""
    channel = channel_selectors.channel(by, channel_id)
    require_manage(by, channel.area, "set the publishing account of this channel")
    if channel.kind == "mastodon":
        token = clean_text(token, field="token", limit=500)
        if any(c.isspace() for c in token):
            raise InvalidInput("token: the access token, without spaces.", field="token")
        _https(channel.url, "channel_id")
        if max_length is not None and not 500 <= max_length <= 100_000:
            raise InvalidInput("max_length: from 500 to 100000 characters.", field="max_length")
        values, handle, endpoint = {"token": token}, channel.handle, ""
    elif channel.kind == "bluesky":
        handle = clean_text(handle, field="handle", limit=200).removeprefix("@").lower()
        if not BLUESKY_HANDLE.match(handle):
            raise InvalidInput("handle: the account's handle, such as nextwork.bsky.social.",
                               field="handle")  # fmt: skip
        app_password = (app_password or "").strip()
        if not APP_PASSWORD.match(app_password):
            raise InvalidInput(
                "app_password: an app password (Settings → Privacy and security → App "
                "passwords), written xxxx-xxxx-xxxx-xxxx; never the account's own password.",
                field="app_password",
            )
        endpoint = clean_text(endpoint, field="endpoint", limit=300, required=False).rstrip("/")
        endpoint = endpoint or DEFAULT_ENDPOINT
        parts = urlsplit(endpoint)
        if not parts.hostname or parts.path or parts.query or parts.username:
            raise InvalidInput("endpoint: the PDS's address, such as https://bsky.social.",
                               field="endpoint")  # fmt: skip
        _https(endpoint, "endpoint")
        values, max_length = {"password": app_password}, None
    else:
        raise InvalidInput(
            f"{channel.get_kind_display()} has no publishing API here: its texts are prepared "
            "to copy.",
            field="channel_id",
        )
    account, _ = PublishingAccount.objects.update_or_create(
        channel=channel,
        defaults={"handle": handle, "endpoint": endpoint, "max_length": max_length,
                  "secret": credentials.encrypt(values), "set_by": by,
                  "set_at": timezone.now()},
    )  # fmt: skip
    audit_record(actor=by, action="publishing.account_set",
                 area_code=channel.area.code if channel.area_id else "",
                 details={"channel": channel.pk, "kind": channel.kind,
                          "handle": handle})  # fmt: skip
    return account


# -- reads ----------------------------------------------------------------------------------


def publications(caller, *, status: str | None = None) -> QuerySet:
    """The publications with at least one target on a channel ``caller`` manages."""
    seen = channel_selectors.channels(caller, active=None).values("pk")
    found = Publication.objects.filter(targets__channel__in=seen).distinct()
    if status:
        if status not in PublicationStatus.values:
            raise InvalidInput(f"status: one of {', '.join(PublicationStatus.values)}.",
                               field="status")  # fmt: skip
        found = found.filter(status=status)
    return found.order_by("-created_at", "-pk")


def visible_targets(caller, publication: Publication) -> list[PublicationTarget]:
    seen = channel_selectors.channels(caller, active=None).values("pk")
    return list(
        publication.targets.filter(channel__in=seen)
        .select_related("channel", "channel__area")
        .order_by("pk")
    )


def publication(caller, publication_id: int) -> Publication:
    found = Publication.objects.filter(pk=publication_id).first()
    if found is None:
        raise NotFound(f"No publication {publication_id}.", field="publication_id")
    if not visible_targets(caller, found):
        raise Forbidden("This publication is on channels you do not manage.")
    return found


def account_of(caller, channel_id: int) -> tuple[Channel, PublishingAccount | None]:
    channel = channel_selectors.channel(caller, channel_id)
    return channel, _account(channel)
