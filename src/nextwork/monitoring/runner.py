"""Polling the sources and keeping their health (what the page of sources shows).

``tick`` runs every minute in the worker: it hands each source that is due to a task of its
own (a slow feed never holds the others back), after moving the source's ``next_run_at``
forward in the same statement, so two ticks never poll a source twice. ``poll_source`` reads
the source through its plugin and stores what is new; then:

- success: ``last_success_at``, no failures, the validators (ETag, Last-Modified) and cursor
  kept for the next poll, the lag (how old the newest post was when we read it), next poll
  after the source's interval;
- ``SourceBusy`` (429, 503): the server's ``Retry-After`` is obeyed (at least the interval);
- ``SourceError``: the failure is counted and shown; the next poll waits twice as long after
  each failure in a row (at most 16 intervals, and a day), so a dead feed is not hammered.
"""

from __future__ import annotations

import datetime
import logging

import httpx
from django.db import transaction
from django.utils import timezone

from nextwork.monitoring.models import Source
from nextwork.monitoring.services import store_posts
from nextwork.monitoring.sources import SourceBusy, SourceError, plugin_for

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(20.0, connect=10.0)
LEASE = datetime.timedelta(minutes=10)  # a poll that takes longer is tried again
MAX_BACKOFF = 16


def client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT)


def due(now: datetime.datetime | None = None) -> list[int]:
    """Claim the polled sources whose time has come; their ids."""
    from nextwork.monitoring.sources import REGISTRY

    now = now or timezone.now()
    plugin_for("rss")  # the built-ins are registered
    polled = [kind for kind, plugin in REGISTRY.items() if plugin.polled]
    claimed = []
    candidates = Source.objects.filter(active=True, kind__in=polled).filter(
        next_run_at__lte=now
    ) | Source.objects.filter(active=True, kind__in=polled, next_run_at__isnull=True)
    for pk, planned in candidates.values_list("pk", "next_run_at"):
        with transaction.atomic():
            # Compare-and-set: only the tick that moves next_run_at from what it read wins.
            won = Source.objects.filter(pk=pk, next_run_at=planned).update(next_run_at=now + LEASE)
        if won:
            claimed.append(pk)
    return claimed


def poll_source(source_id: int, *, http: httpx.Client | None = None) -> str:
    source = Source.objects.filter(pk=source_id, active=True).first()
    if source is None:
        return f"source #{source_id}: gone or switched off"
    plugin = plugin_for(source.kind)
    now = timezone.now()
    source.last_attempt_at = now
    own = http is None
    http = http or client()
    try:
        result = plugin.poll(source, http)
    except SourceBusy as exc:
        source.last_error, source.last_error_at = str(exc)[:300], now
        wait = max(exc.retry_after, source.interval_seconds)
        source.next_run_at = now + datetime.timedelta(seconds=min(wait, 86_400))
        outcome = f"busy, back in {wait:.0f} s"
    except SourceError as exc:
        source.failures += 1
        source.last_error, source.last_error_at = str(exc)[:300], now
        backoff = source.interval_seconds * min(2 ** (source.failures - 1), MAX_BACKOFF)
        source.next_run_at = now + datetime.timedelta(seconds=min(backoff, 86_400))
        outcome = f"failed ({source.failures} in a row): {exc}"
        logger.warning("monitoring source #%s: %s", source.pk, exc)
    else:
        stored = store_posts(source=source, posts=result.posts)
        source.refresh_from_db(fields=["posts_stored"])
        source.failures, source.last_success_at = 0, now
        source.etag, source.last_modified = result.etag, result.last_modified
        if result.cursor:
            source.cursor = result.cursor
        if result.newest is not None and stored.new:
            source.lag_seconds = max(0.0, (now - result.newest).total_seconds())
        source.next_run_at = now + datetime.timedelta(seconds=source.interval_seconds)
        outcome = (
            "not modified" if result.not_modified
            else f"{stored.new} new, {stored.duplicates} seen before, {stored.mentions} mentions"
        )  # fmt: skip
    finally:
        if own:
            http.close()
    source.save(update_fields=[
        "last_attempt_at", "last_success_at", "last_error", "last_error_at", "failures",
        "next_run_at", "etag", "last_modified", "cursor", "lag_seconds",
    ])  # fmt: skip
    return f"source #{source.pk}: {outcome}"
