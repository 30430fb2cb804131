"""Where posts come from: a small plugin interface and its registry (DESIGN.md §3).

A polled source (a feed, a Mastodon timeline) implements ``poll``: it reads what is new since
the source's validators and cursor and returns it; ``runner.poll_source`` stores the posts and
keeps the source's health. A streamed source (the Bluesky firehose, Mastodon's streaming API)
is read by ``nextwork listen``. The ingestion endpoint has no plugin work to do: its posts
arrive by ``POST /api/v1/ingest``.

Plugins raise ``SourceError`` for what went wrong at the other end (the message is shown on
the page of sources, so it names the problem, never a secret) and ``SourceBusy`` when the
other end asks to come back later (HTTP 429 or 503 with ``Retry-After``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import ClassVar

from nextwork.common.errors import InvalidInput

USER_AGENT = "nextwork-monitoring/1 (+https://github.com/nextwork; polite polling)"
MAX_BYTES = 5 * 1024 * 1024  # a feed larger than this is refused, not read


class SourceError(Exception):
    """The source could not be read; the message says why, for the page of sources."""


class SourceBusy(SourceError):
    """The other end asked to come back later."""

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class PollResult:
    posts: list = field(default_factory=list)  # services.PostIn
    etag: str = ""
    last_modified: str = ""
    cursor: str = ""
    not_modified: bool = False
    newest: datetime.datetime | None = None  # the most recent post's time, for the lag


class SourcePlugin:
    kind: ClassVar[str] = ""
    min_interval: ClassVar[int] = 60  # seconds between two polls, at least
    polled: ClassVar[bool] = True

    def check_config(self, config: dict) -> dict:
        """The config kept for this source, or ``InvalidInput`` naming the field at fault."""
        if config:
            raise InvalidInput("This kind of source takes no settings.", field="config")
        return {}

    def poll(self, source, client) -> PollResult:  # pragma: no cover - interface
        raise NotImplementedError


REGISTRY: dict[str, SourcePlugin] = {}


def register(plugin: type[SourcePlugin]) -> type[SourcePlugin]:
    REGISTRY[plugin.kind] = plugin()
    return plugin


def plugin_for(kind: str) -> SourcePlugin:
    from nextwork.monitoring.sources import bluesky, ingest, mastodon, rss  # noqa: F401

    try:
        return REGISTRY[kind]
    except KeyError:
        raise InvalidInput(f"No source plugin for {kind!r}.", field="kind") from None


def retry_after(value: str | None, *, default: float = 600.0) -> float:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    from email.utils import parsedate_to_datetime

    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())
