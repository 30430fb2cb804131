"""RSS and Atom feeds read through the plugin, against recorded answers served by a local
server: validators sent back, a 304 costs nothing, a 429 is obeyed, a broken feed is an error
shown on the source with a growing back-off, a truncated feed is read for what it holds, and
the same items read twice are stored once."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from nextwork.common.errors import InvalidInput
from nextwork.monitoring import runner, services
from nextwork.monitoring.models import Mention, Post, Source
from tests.recorded_server import Answer, RecordedServer

RSS = "application/rss+xml; charset=utf-8"


@pytest.fixture
def server():
    with RecordedServer() as running:
        yield running


@pytest.fixture
def feed(people, server):
    def make(path="/feed.xml", *answers, interval=900):
        url = server.route(path, *answers)
        source, _ = services.source_create(
            by=people["staff"], kind="rss", name=path, config={"url": url},
            interval_seconds=interval,
        )  # fmt: skip
        return source

    return make


def reload(source) -> Source:
    return Source.objects.get(pk=source.pk)


def test_a_feed_is_read_stored_matched_and_its_health_kept(feed, server, rule):
    retraites = rule()
    modified = {"Last-Modified": "Fri, 27 Nov 2026 08:20:00 GMT"}
    recorded = Answer.file("monitoring/feed_rss2.xml", content_type=RSS, ETag='"v1"', **modified)
    source = feed("/feed.xml", recorded)
    outcome = runner.poll_source(source.pk)
    assert outcome.endswith("3 new, 0 seen before, 1 mentions"), outcome
    post = Post.objects.get(external_id="qs-2026-11-27-001")
    assert post.text.startswith("Réforme des retraites : l'intersyndicale appelle")
    assert "<p>" not in post.text and "#RéformeDesRetraites" in post.text
    assert post.author == "Camille Durand" and post.lang == "fr-FR"
    assert (
        post.url
        == "https://quotidien.example/politique/retraites-journee?utm_source=rss&utm_medium=feed"
    )
    assert post.published_at == datetime.datetime(2026, 11, 27, 7, 15, tzinfo=datetime.UTC)
    assert list(Mention.objects.filter(rule=retraites).values_list("post", flat=True)) == [post.pk]
    source = reload(source)
    assert (source.failures, source.last_error, source.posts_stored) == (0, "", 3)
    assert source.etag == '"v1"' and source.last_success_at is not None
    assert source.next_run_at - source.last_attempt_at == datetime.timedelta(seconds=900)
    assert source.lag_seconds > 0
    (seen,) = server.seen("/feed.xml")
    assert seen.headers["user-agent"].startswith("nextwork-monitoring/")
    assert "if-none-match" not in seen.headers  # nothing to send back the first time


def test_the_validators_are_sent_back_and_a_304_changes_nothing(feed, server, rule):
    rule()
    source = feed(
        "/feed.xml",
        Answer.file("monitoring/feed_rss2.xml", content_type=RSS, ETag='"v1"',
                    **{"Last-Modified": "Fri, 27 Nov 2026 08:20:00 GMT"}),
        Answer(status=304, headers={"ETag": '"v1"'}),
        Answer.file("monitoring/feed_rss2.xml", content_type=RSS, ETag='"v2"'),
    )  # fmt: skip
    runner.poll_source(source.pk)
    assert runner.poll_source(source.pk).endswith("not modified")
    second = server.seen("/feed.xml")[1]
    assert second.headers["if-none-match"] == '"v1"'
    assert second.headers["if-modified-since"] == "Fri, 27 Nov 2026 08:20:00 GMT"
    assert reload(source).etag == '"v1"'
    # The same items again (a changed feed whose items were read already): stored once.
    assert runner.poll_source(source.pk).endswith("0 new, 3 seen before, 0 mentions")
    assert Post.objects.count() == 3 and Mention.objects.count() == 1


def test_atom_feeds_and_their_language(feed, rule):
    rule("Retraites", ["retraites"], exclusions=["retraites complementaires"], languages=["fr"])
    source = feed("/atom", Answer.file("monitoring/feed_atom.xml",
                                       content_type="application/atom+xml"))  # fmt: skip
    assert runner.poll_source(source.pk).endswith("2 new, 0 seen before, 1 mentions")
    assert Mention.objects.get().post.external_id == "urn:uuid:8f4e1c2a-entry-41"


def test_a_429_is_obeyed_and_is_not_a_failure(feed, server):
    source = feed("/busy", Answer(status=429, headers={"Retry-After": "3600"}))
    before = timezone.now()
    assert "busy, back in 3600 s" in runner.poll_source(source.pk)
    source = reload(source)
    assert source.failures == 0 and "429" in source.last_error
    assert source.next_run_at >= before + datetime.timedelta(seconds=3600)


def test_a_broken_feed_is_shown_and_polled_less_and_less(feed):
    source = feed("/broken", Answer.file("monitoring/feed_broken.xml", content_type="text/html"))
    waits = []
    for _ in range(6):
        runner.poll_source(source.pk)
        source = reload(source)
        waits.append(round((source.next_run_at - source.last_attempt_at).total_seconds()))
    assert source.failures == 6 and source.last_success_at is None
    assert source.last_error.startswith("Not a readable RSS or Atom feed")
    assert waits == [900, 1800, 3600, 7200, 14400, 14400]  # 16 intervals at most


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Answer(status=500, body=b"oops"), "HTTP 500 from the feed's server."),
        (Answer(status=200, body=b"x" * (5 * 1024 * 1024 + 10)), "larger than 5 MB"),
    ],
)
def test_http_errors_and_huge_feeds_are_refused_with_a_reason(feed, answer, error):
    source = feed("/bad", answer)
    runner.poll_source(source.pk)
    assert error in reload(source).last_error and Post.objects.count() == 0


def test_an_unreachable_server_is_a_failure_not_a_crash(people):
    source, _ = services.source_create(by=people["staff"], kind="rss", name="Gone",
                                       config={"url": "http://127.0.0.1:9/feed"})  # fmt: skip
    runner.poll_source(source.pk)
    source = reload(source)
    assert source.failures == 1 and source.last_error.startswith("The feed could not be fetched")


def test_a_truncated_feed_is_read_for_what_it_holds(feed, rule):
    rule()
    source = feed("/cut", Answer.file("monitoring/feed_truncated.xml", content_type=RSS))
    outcome = runner.poll_source(source.pk)
    assert reload(source).failures == 0, reload(source).last_error
    assert outcome.endswith("1 new, 0 seen before, 1 mentions"), outcome  # the cut item: skipped
    assert Post.objects.get().text == "Premier article sur la réforme des retraites"


def test_the_config_and_interval_are_checked(people):
    with pytest.raises(InvalidInput, match=r"config\.url"):
        services.source_create(by=people["staff"], kind="rss", name="x", config={"url": "ftp://a"})
    with pytest.raises(InvalidInput, match="interval_seconds: a whole number from 300"):
        services.source_create(
            by=people["staff"],
            kind="rss",
            name="x",
            config={"url": "https://a.example/f"},
            interval_seconds=60,
        )
    with pytest.raises(InvalidInput, match="kind"):
        services.source_create(by=people["staff"], kind="myspace", name="x")


def test_due_sources_are_claimed_once(feed):
    early = feed("/a", Answer(status=304))
    later = feed("/b", Answer(status=304))
    Source.objects.filter(pk=later.pk).update(
        next_run_at=timezone.now() + datetime.timedelta(hours=1)
    )
    assert runner.due() == [early.pk]
    assert runner.due() == []  # claimed: the lease moved its next run forward


def test_the_worker_ticks_and_polls_the_due_feeds(feed, rule, monkeypatch):
    import io

    from django.core.management import call_command
    from django_tasks_db.management.commands import db_worker

    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)
    rule()
    source = feed("/feed.xml", Answer.file("monitoring/feed_rss2.xml", content_type=RSS))
    call_command("worker", "--batch", stdout=io.StringIO())
    assert Post.objects.count() == 3 and reload(source).last_success_at is not None
