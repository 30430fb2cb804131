"""Streamed sources (Bluesky's Jetstream): read continuously by ``nextwork manage listen``,
one thread per source, until the process is told to stop.

A streamed plugin (``polled = False``) implements ``events(source, cursor, stop)``: it
connects from ``cursor`` (the position it handed over last, or "" to start from now) and
yields a ``StreamEvent`` per message — a post to store, or nothing to store (an event of
another kind, a deletion, a malformed message) — and ``None`` when the connection is idle,
so that the runner keeps its promises on time; it raises ``SourceError`` when the connection
cannot be opened or drops, and closes it when the runner stops iterating.

``run_stream`` promises:

- posts are stored in batches (``store_posts``: each post once, matched and counted) every
  200 events or every 2 seconds, whichever comes first, and at the end;
- the source's cursor moves only after the batch before it is stored: a crash makes the next
  run read some events again (stored once all the same), never skip any;
- a dropped connection is opened again after a back-off that doubles with each failure in a
  row (1 s, 2 s, 4 s… at most 60 s) and starts again after a connection that worked;
- the source's health is kept as for polled sources: ``last_attempt_at`` at each connection,
  ``last_success_at`` and the lag (how old the last event was when stored) at each batch or
  every 30 s when idle, ``failures`` in a row and ``last_error`` when it drops; a source
  switched off stops within 30 s;
- when ``stop`` is set, the last batch is stored, the cursor saved and the connection closed.

Malformed events are skipped, logged and counted (``StreamStats.malformed``); they do not stop
the stream.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass

from django.db import connections
from django.utils import timezone

from nextwork.monitoring.models import Source
from nextwork.monitoring.services import PostIn, store_posts
from nextwork.monitoring.sources import REGISTRY, SourceError, plugin_for

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
FLUSH_SECONDS = 2.0
HEALTH_SECONDS = 30.0
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0


@dataclass(frozen=True)
class StreamEvent:
    """One message of a stream, as the plugin understood it."""

    cursor: str = ""  # where to resume after this event ("" : the position does not move)
    post: PostIn | None = None  # what to store, if anything
    moment: datetime.datetime | None = None  # when the other end saw it (the lag)
    malformed: bool = False


@dataclass
class StreamStats:
    events: int = 0
    new: int = 0
    duplicates: int = 0
    ignored: int = 0
    malformed: int = 0
    batches: int = 0
    connections: int = 0
    drops: int = 0

    def __str__(self) -> str:
        return (
            f"{self.events} events, {self.new} new posts, {self.duplicates} seen before, "
            f"{self.ignored} ignored, {self.malformed} malformed, {self.drops} drops"
        )


class _Batch:
    """Events read but not stored yet."""

    def __init__(self) -> None:
        self.posts: list[PostIn] = []
        self.events = 0
        self.cursor = ""
        self.moment: datetime.datetime | None = None
        self.started = time.monotonic()

    def add(self, event: StreamEvent) -> None:
        self.events += 1
        if event.post is not None:
            self.posts.append(event.post)
        if event.cursor:
            self.cursor = event.cursor
        if event.moment is not None:
            self.moment = event.moment


def streamed_kinds() -> list[str]:
    plugin_for("rss")  # the built-ins are registered
    return [kind for kind, plugin in REGISTRY.items() if not plugin.polled]


def run_stream(
    source_id: int,
    stop: threading.Event,
    *,
    batch_size: int = BATCH_SIZE,
    flush_seconds: float = FLUSH_SECONDS,
    first_backoff: float = FIRST_BACKOFF,
    max_backoff: float = MAX_BACKOFF,
) -> StreamStats:
    """Read one streamed source until ``stop`` is set (or the source is switched off)."""
    stats = StreamStats()
    source = Source.objects.filter(pk=source_id, active=True, kind__in=streamed_kinds()).first()
    if source is None:
        return stats
    plugin = plugin_for(source.kind)
    health_at = time.monotonic()
    while not stop.is_set():
        source.last_attempt_at = timezone.now()
        stats.connections += 1
        batch, stop_here = _Batch(), False
        try:
            # closing(): the connection is closed as soon as the runner stops reading.
            with closing(plugin.events(source, source.cursor, stop)) as events:
                for event in events:
                    if event is not None:
                        stats.events += 1
                        if event.malformed:
                            stats.malformed += 1
                            logger.warning("monitoring source #%s: a malformed event skipped",
                                           source.pk)  # fmt: skip
                        elif event.post is None:
                            stats.ignored += 1
                        batch.add(event)
                    if batch.events >= batch_size or (
                        batch.events and time.monotonic() - batch.started >= flush_seconds
                    ):
                        _store(source, batch, stats)
                        batch, health_at = _Batch(), time.monotonic()
                    elif time.monotonic() - health_at >= HEALTH_SECONDS:
                        _store(source, batch, stats, alive=True)
                        batch, health_at = _Batch(), time.monotonic()
                        if not Source.objects.filter(pk=source.pk, active=True).exists():
                            stop_here = True
                            break
                    if stop.is_set():
                        break
                else:
                    if not stop.is_set():
                        raise SourceError("The stream ended (closed by the other end).")
        except SourceError as exc:
            _store(source, batch, stats)  # what was read before the drop is kept
            stats.drops += 1
            source.failures += 1
            source.last_error, source.last_error_at = str(exc)[:300], timezone.now()
            source.save(update_fields=["last_attempt_at", "failures", "last_error",
                                       "last_error_at"])  # fmt: skip
            logger.warning("monitoring source #%s: %s", source.pk, exc)
            stop.wait(min(first_backoff * 2 ** (source.failures - 1), max_backoff))
            continue
        _store(source, batch, stats)
        if stop_here:
            break
    return stats


def _store(source: Source, batch: _Batch, stats: StreamStats, *, alive: bool = False) -> None:
    """Store the batch, then move the cursor past it and note the source's health (a batch,
    or an idle connection that is ``alive``, is a success)."""
    if not batch.events and not alive:
        return
    now = timezone.now()
    if batch.posts:
        stored = store_posts(source=source, posts=batch.posts)
        stats.new += stored.new
        stats.duplicates += stored.duplicates
    stats.batches += 1 if batch.events else 0
    fields = ["last_attempt_at", "last_success_at", "failures"]
    source.last_success_at, source.failures = now, 0  # the connection works
    if batch.cursor:
        source.cursor = batch.cursor
        fields.append("cursor")
    if batch.moment is not None:
        source.lag_seconds = max(0.0, (now - batch.moment).total_seconds())
        fields.append("lag_seconds")
    source.save(update_fields=fields)


def run_in_thread(source_id: int, stop: threading.Event, results: dict, **options) -> None:
    """``run_stream`` for a thread of its own: its database connection is closed at the end,
    and an unexpected error is logged (and stops this source only)."""
    try:
        results[source_id] = run_stream(source_id, stop, **options)
    except Exception:
        logger.exception("monitoring source #%s: the stream stopped", source_id)
        results[source_id] = None
    finally:
        connections.close_all()


def listen(
    source_ids: Iterable[int] | None = None,
    *,
    stop: threading.Event,
    max_seconds: float | None = None,
    **options,
) -> dict[int, StreamStats | None]:
    """Run every active streamed source (or those given), one thread each, until ``stop`` is
    set or ``max_seconds`` have passed; what each read."""
    sources = Source.objects.filter(active=True, kind__in=streamed_kinds())
    if source_ids is not None:
        sources = sources.filter(pk__in=list(source_ids))
    results: dict[int, StreamStats | None] = {}
    threads = [
        threading.Thread(target=run_in_thread, args=(pk, stop, results), kwargs=options,
                         name=f"listen-source-{pk}", daemon=True)
        for pk in sources.order_by("pk").values_list("pk", flat=True)
    ]  # fmt: skip
    for thread in threads:
        thread.start()
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    while any(t.is_alive() for t in threads):
        if deadline is not None and time.monotonic() >= deadline:
            stop.set()
        # Short waits: the main thread must stay free to receive SIGTERM and SIGINT.
        stop.wait(0.2)
        if stop.is_set():
            for thread in threads:
                thread.join()
    return results
