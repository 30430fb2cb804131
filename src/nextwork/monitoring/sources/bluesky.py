"""Bluesky, read from Jetstream: the network's posts as JSON over a WebSocket, streamed.

Config: ``{"endpoint": "wss://jetstream2.us-east.bsky.network/subscribe"}`` (that public
instance when empty). The plugin asks for posts only (``wantedCollections=app.bsky.feed.post``)
and reads the whole network's new posts: the watch rules pick what matters. It is run by
``nextwork manage listen`` (``streams.run_stream``), not by the polling worker.

Each ``commit`` event that creates an ``app.bsky.feed.post`` record becomes one post: id
``at://<did>/app.bsky.feed.post/<rkey>``, address ``https://bsky.app/profile/<did>/post/<rkey>``,
the record's text, its first language (``langs``) and its ``createdAt``. Jetstream gives the
author's DID, not their handle (a handle only shows in ``identity`` events, when it changes):
the handle stored is the DID, and the author's name is empty. Deletions and updates of posts,
other collections, ``identity`` and ``account`` events move the position but store nothing; a
post with no text (an image alone) is not stored; a malformed message is skipped and counted.

Resumption without loss: the position kept in ``Source.cursor`` is the ``time_us`` of the
newest event of the last stored batch. On (re)connection the plugin asks Jetstream to replay
from 5 seconds before it (``cursor=<time_us - 5 s>``, Jetstream's advice for a gapless
replay); what this replays again is stored once (``store_posts`` keys each post). Jetstream
keeps about a day of events: a listener stopped for longer resumes from the oldest it has.
Jetstream's zstd compression is not used (about 3 times more bytes on the wire).
"""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import urlencode, urlsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import connect

from nextwork.common.errors import InvalidInput
from nextwork.monitoring.services import PostIn
from nextwork.monitoring.sources import USER_AGENT, SourceError, SourcePlugin, register

DEFAULT_ENDPOINT = "wss://jetstream2.us-east.bsky.network/subscribe"
POST = "app.bsky.feed.post"
REPLAY_US = 5_000_000  # read again from 5 s before the position: nothing falls in between
IDLE_SECONDS = 0.5  # the longest wait for a message before the runner gets a say
OPEN_TIMEOUT = 10.0
MAX_MESSAGE = 1 << 20  # a Jetstream event is a few kB; anything beyond is not one


def _moment(time_us: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(time_us / 1_000_000, tz=datetime.UTC)


def _created(value) -> datetime.datetime | None:
    """A record's ``createdAt`` (RFC 3339), aware; ``None`` when unreadable (stored as now)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def parse_event(raw: str | bytes):
    """One Jetstream message as the stream runner wants it (``streams.StreamEvent``)."""
    from nextwork.monitoring.streams import StreamEvent

    try:
        event = json.loads(raw)
        time_us = event["time_us"]
        if not isinstance(time_us, int) or isinstance(time_us, bool) or time_us <= 0:
            raise ValueError("time_us")
    except (ValueError, TypeError, KeyError):
        return StreamEvent(malformed=True)
    moment = _moment(time_us)
    ignored = StreamEvent(cursor=str(time_us), moment=moment)
    commit = event.get("commit")
    if event.get("kind") != "commit" or not isinstance(commit, dict):
        return ignored
    if commit.get("operation") != "create" or commit.get("collection") != POST:
        return ignored
    did, rkey, record = event.get("did"), commit.get("rkey"), commit.get("record")
    if not (isinstance(did, str) and did.startswith("did:") and isinstance(rkey, str) and rkey):
        return StreamEvent(cursor=str(time_us), moment=moment, malformed=True)
    if not isinstance(record, dict) or not isinstance(record.get("text", ""), str):
        return StreamEvent(cursor=str(time_us), moment=moment, malformed=True)
    text = record.get("text", "").strip()
    if not text:
        return ignored
    langs = record.get("langs")
    lang = langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else ""
    post = PostIn(
        network="bluesky", external_id=f"at://{did}/{POST}/{rkey}"[:500],
        url=f"https://bsky.app/profile/{did}/post/{rkey}"[:1000], author_handle=did[:200],
        text=text, lang=lang[:12], published_at=_created(record.get("createdAt")),
    )  # fmt: skip
    return StreamEvent(cursor=str(time_us), post=post, moment=moment)


@register
class Jetstream(SourcePlugin):
    kind = "bluesky"
    polled = False

    def check_config(self, config: dict) -> dict:
        if not isinstance(config, dict):
            raise InvalidInput("config: an object with the endpoint.", field="config")
        unknown = sorted(set(config) - {"endpoint"})
        if unknown:
            raise InvalidInput(f"config: unknown setting {unknown[0]!r} (endpoint).",
                               field="config")  # fmt: skip
        endpoint = str(config.get("endpoint") or "").strip()
        if endpoint:
            parts = urlsplit(endpoint)
            if parts.scheme not in ("ws", "wss") or not parts.netloc or parts.query:
                raise InvalidInput(
                    "config.endpoint: a Jetstream address, wss://…/subscribe, without query.",
                    field="config",
                )
        return {"endpoint": endpoint}

    def url(self, source, cursor: str) -> str:
        endpoint = source.config.get("endpoint") or DEFAULT_ENDPOINT
        query = {"wantedCollections": POST}
        if cursor.isdigit():
            query["cursor"] = str(max(1, int(cursor) - REPLAY_US))
        return f"{endpoint}?{urlencode(query)}"

    def events(self, source, cursor: str, stop: threading.Event) -> Iterator:
        """Jetstream's messages from ``cursor`` (see ``streams``); ``SourceError`` on a drop."""
        url = self.url(source, cursor)
        newest = int(cursor) if cursor.isdigit() else 0
        host = urlsplit(url).netloc
        try:
            websocket = connect(
                url, open_timeout=OPEN_TIMEOUT, close_timeout=2, max_size=MAX_MESSAGE,
                user_agent_header=USER_AGENT, compression=None,
            )  # fmt: skip
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise SourceError(f"Jetstream at {host} could not be reached "
                              f"({type(exc).__name__}).") from None  # fmt: skip
        with websocket:
            while not stop.is_set():
                try:
                    message = websocket.recv(timeout=IDLE_SECONDS)
                except TimeoutError:
                    yield None
                    continue
                except ConnectionClosed as exc:
                    code = exc.rcvd.code if exc.rcvd else "no close frame"
                    raise SourceError(f"Jetstream at {host} dropped the connection "
                                      f"({code}).") from None  # fmt: skip
                event = parse_event(message)
                if event.cursor and int(event.cursor) < newest:
                    # A replayed event: the position never goes back (everything up to it
                    # is stored), so a connection dropping again and again still advances.
                    event = replace(event, cursor=str(newest))
                elif event.cursor:
                    newest = int(event.cursor)
                yield event
