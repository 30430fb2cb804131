"""Bluesky's Jetstream read through the plugin and the stream runner, against recorded events
played by a local WebSocket server that drops the connection once mid-stream: every post is
stored once (no loss, no duplicate), the reconnection asks to replay from before the last
stored event, other events are ignored, a malformed one is skipped and counted, and the
listener stops cleanly with its last batch stored and its cursor saved."""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import signal
import threading
import time
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from websockets.asyncio.server import serve

from nextwork.common.errors import InvalidInput
from nextwork.monitoring import services, streams
from nextwork.monitoring.models import Mention, Post, Source, WatchRule
from nextwork.monitoring.sources import bluesky
from tests.recorded_server import RECORDED

LINES = (RECORDED / "monitoring" / "jetstream_posts.jsonl").read_text().splitlines()
DROP_AFTER = 14  # lines sent on the first connection before it drops


def time_us(line: str) -> int | None:
    try:
        return json.loads(line)["time_us"]
    except ValueError:
        return None


def is_post(line: str) -> bool:
    try:
        event = json.loads(line)
    except ValueError:
        return False
    commit = event.get("commit") or {}
    return (commit.get("operation") == "create" and commit.get("collection")
            == "app.bsky.feed.post" and bool(commit["record"]["text"]))  # fmt: skip


POSTS = [json.loads(line) for line in LINES if is_post(line)]


class Jetstream:
    """A local Jetstream: plays the recorded events, replays from ``cursor`` like the real
    one, and (when ``drop``) cuts the first connection mid-stream without a close frame."""

    def __init__(self, *, drop: bool) -> None:
        self.drop = drop
        self.paths: list[str] = []
        self.all_sent = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _handler(self, websocket) -> None:
        self.paths.append(websocket.request.path)
        if self.drop and len(self.paths) == 1:
            for line in LINES[:DROP_AFTER]:
                await websocket.send(line)
            await asyncio.sleep(0.3)
            for line in LINES[DROP_AFTER : DROP_AFTER + 2]:  # lost in transit, most likely
                await websocket.send(line)
            websocket.transport.abort()
            return
        cursor = int(parse_qs(urlsplit(websocket.request.path).query).get("cursor", ["0"])[0])
        for line in LINES:
            moment = time_us(line)
            if (moment is None and cursor == 0) or (moment is not None and moment >= cursor):
                await websocket.send(line)
        self.all_sent.set()
        await websocket.wait_closed()

    async def _main(self) -> None:
        self.stopping = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        async with serve(self._handler, "127.0.0.1", 0) as server:
            self.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/subscribe"
            self.ready.set()
            await self.stopping.wait()

    def __enter__(self) -> Jetstream:
        self.thread.start()
        assert self.ready.wait(5)
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(5)

    def cursors(self) -> list[int | None]:
        found = [parse_qs(urlsplit(p).query).get("cursor") for p in self.paths]
        return [int(c[0]) if c else None for c in found]


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """Sources and a rule committed for real (the listener's threads have connections of their
    own), removed with the posts they stored. No ``transaction=True``: its flush at the end
    would also empty the territory registry that the session imported once."""
    made: list = []

    def source(url: str) -> Source:
        config = bluesky.Jetstream().check_config({"endpoint": url})
        made.append(Source.objects.create(kind="bluesky", name=f"Bluesky {len(made)}",
                                          config=config))  # fmt: skip
        return made[-1]

    def rule() -> WatchRule:
        made.append(WatchRule.objects.create(name="Retraites (stream)", terms=["retraites"]))
        return made[-1]

    with django_db_blocker.unblock():
        yield SimpleNamespace(source=source, rule=rule)
        Post.objects.filter(network="bluesky").delete()
        for thing in reversed(made):
            thing.delete()


def listener(source: Source, stop: threading.Event, results: dict) -> threading.Thread:
    thread = threading.Thread(
        target=streams.run_in_thread, args=(source.pk, stop, results),
        kwargs={"batch_size": 5, "flush_seconds": 0.2, "first_backoff": 0.05},
    )  # fmt: skip
    thread.start()
    return thread


def test_a_dropped_stream_resumes_without_loss_or_duplicates(committed):
    retraites = committed.rule()
    stop, results = threading.Event(), {}
    with Jetstream(drop=True) as jetstream:
        source = committed.source(jetstream.url)
        thread = listener(source, stop, results)
        try:
            assert jetstream.all_sent.wait(10), jetstream.paths
            assert wait_for(lambda: Post.objects.count() == len(POSTS))
            time.sleep(0.4)  # a batch or two more: nothing else arrives
        finally:
            stop.set()
            thread.join(5)
    assert not thread.is_alive()
    stored = sorted(Post.objects.values_list("external_id", flat=True))
    assert stored == sorted(
        f"at://{e['did']}/app.bsky.feed.post/{e['commit']['rkey']}" for e in POSTS
    )  # each once: the key is unique, and the count matches the recording
    # The reconnection asked to replay from 5 s before an event it had stored.
    first, second = jetstream.cursors()[:2]
    assert first is None and second is not None
    stored_before_drop = [time_us(line) for line in LINES[: DROP_AFTER + 2] if time_us(line)]
    assert second + bluesky.REPLAY_US in stored_before_drop
    assert "wantedCollections=app.bsky.feed.post" in jetstream.paths[1]
    stats = results[source.pk]
    assert stats.malformed == 1 and stats.drops == 1 and stats.connections == 2
    assert stats.new == len(POSTS) and stats.duplicates > 0  # the replay, absorbed
    # Identity, account, like, delete, update events and the image-only post: ignored.
    assert stats.ignored >= 9
    source = Source.objects.get(pk=source.pk)
    assert source.cursor == str(max(filter(None, map(time_us, LINES))))
    assert source.failures == 0 and source.posts_stored == len(POSTS)
    assert "dropped the connection" in source.last_error
    assert source.last_success_at is not None and source.lag_seconds > 0
    assert Mention.objects.filter(rule=retraites).count() == 5


def test_events_become_posts_or_are_ignored():
    events = [bluesky.parse_event(line) for line in LINES]
    posts = [e.post for e in events if e.post]
    assert len(posts) == len(POSTS) and sum(e.malformed for e in events) == 1
    first = posts[0]
    assert (
        first.external_id
        == "at://did:plc:4q2ymd5a6fs3tz2ar7bzwqzm/app.bsky.feed.post/3lcxq7ab2ks2a"
    )
    assert (
        first.url == "https://bsky.app/profile/did:plc:4q2ymd5a6fs3tz2ar7bzwqzm/post/3lcxq7ab2ks2a"
    )
    assert first.author_handle == "did:plc:4q2ymd5a6fs3tz2ar7bzwqzm" and first.author == ""
    assert first.published_at == datetime.datetime(2026, 11, 27, 7, 59, 59, 874000,
                                                   tzinfo=datetime.UTC)  # fmt: skip
    assert [p.lang for p in posts] == ["fr", "en", "de", "ja", "fr", "pt", "es", "fr", "en",
                                       "fr", "it", "fr", ""]  # fmt: skip
    assert events[0].cursor == str(time_us(LINES[0])) and events[0].post is None
    assert bluesky.parse_event("[1, 2]").malformed and bluesky.parse_event(b"\xff").malformed


def test_the_listen_command_stops_cleanly_on_sigterm(committed):
    with Jetstream(drop=False) as jetstream:
        source = committed.source(jetstream.url)
        Source.objects.filter(pk=source.pk).update(cursor="1")  # replay everything
        ours = signal.signal(signal.SIGTERM, lambda *_: None)  # restored by the command
        try:
            timer = threading.Timer(1.5, signal.raise_signal, (signal.SIGTERM,))
            timer.start()
            out = io.StringIO()
            started = time.monotonic()
            call_command("listen", "--source", str(source.pk), "--max-seconds", "15", stdout=out)
            assert time.monotonic() - started < 5
            timer.join()
        finally:
            signal.signal(signal.SIGTERM, ours)
    assert jetstream.cursors() == [1]  # "1" minus the replay margin: from the first event on
    assert f"source #{source.pk}: {len(LINES) - 1} events, {len(POSTS)} new posts" in out.getvalue()
    # The last batch (2 s by default) was stored on stopping, and its cursor saved.
    assert Post.objects.count() == len(POSTS)
    assert Source.objects.get(pk=source.pk).cursor == str(max(filter(None, map(time_us, LINES))))


def test_an_unreachable_jetstream_is_retried_less_and_less_until_stopped(committed):
    source = committed.source("ws://127.0.0.1:9/subscribe")
    stop, results = threading.Event(), {}
    thread = listener(source, stop, results)
    try:
        assert wait_for(lambda: Source.objects.get(pk=source.pk).failures >= 4)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and results[source.pk].drops >= 4
    source = Source.objects.get(pk=source.pk)
    assert (
        source.last_error
        == "Jetstream at 127.0.0.1:9 could not be reached (ConnectionRefusedError)."
    )
    assert source.last_success_at is None and source.cursor == ""


def test_the_command_refuses_a_source_that_is_not_streamed(people, db):
    polled, _ = services.source_create(by=people["staff"], kind="rss", name="Feed",
                                       config={"url": "https://example.org/feed"})  # fmt: skip
    with pytest.raises(CommandError, match=f"No active streamed source with id {polled.pk}"):
        call_command("listen", "--source", str(polled.pk), stdout=io.StringIO())
    out = io.StringIO()
    call_command("listen", stdout=out)
    assert out.getvalue() == "No active streamed source to listen to.\n"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"endpoint": "https://jetstream.example/subscribe"}, r"config\.endpoint: a Jetstream"),
        ({"endpoint": "wss://j.example/subscribe?cursor=1"}, "without query"),
        ({"url": "wss://j.example"}, "unknown setting 'url'"),
    ],
)
def test_the_config_is_checked(people, config, message):
    with pytest.raises(InvalidInput, match=message) as refused:
        services.source_create(by=people["staff"], kind="bluesky", name="x", config=config)
    assert refused.value.field == "config"


def test_the_default_endpoint_and_the_replay_margin(people):
    made, _ = services.source_create(by=people["staff"], kind="bluesky", name="x")
    plugin = bluesky.Jetstream()
    assert made.config == {"endpoint": ""}
    assert plugin.url(made, "") == (
        "wss://jetstream2.us-east.bsky.network/subscribe?wantedCollections=app.bsky.feed.post"
    )
    assert plugin.url(made, "1795766400123456").endswith("&cursor=1795766395123456")
