"""Storing posts: once whoever saw them, matched against the active rules, counted per
minute in the same transaction; the same post stored by two workers at once counts once."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connections
from django.utils import timezone

from nextwork.monitoring import services
from nextwork.monitoring.models import Mention, MinuteCount, Post, WatchRule
from nextwork.monitoring.services import PostIn, canonical_url, post_key

T0 = datetime.datetime(2026, 11, 27, 9, 15, 30, tzinfo=datetime.UTC)


def post(i, text="La réforme des retraites", **extra):
    return PostIn(network="test", external_id=str(i), text=text,
                  published_at=extra.pop("at", T0), **extra)  # fmt: skip


def test_the_canonical_address_drops_what_varies_between_sightings():
    assert canonical_url("HTTPS://Example.org/a/b/?utm_source=x&b=2&a=1#c") == (
        "https://example.org/a/b?a=1&b=2"
    )
    assert canonical_url("https://example.org") == "https://example.org/"
    assert canonical_url("not a url") == "" and canonical_url("/relative") == ""
    # The same Mastodon post seen from two feeds of it is one post; without an address the
    # network's id decides.
    one = PostIn(
        network="rss", external_id="a", text="x", url="https://m.example/@x/1?utm_medium=rss"
    )
    two = PostIn(network="mastodon", external_id="b", text="x", url="https://m.example/@x/1")
    assert post_key(one) == post_key(two)
    assert post_key(post(1)) != post_key(post(2)) and post_key(post(1)) == post_key(post(1))


def test_posts_are_stored_once_matched_and_counted(db, rule):
    retraites, budget = rule(), rule("Budget", ["budget", "#PLFSS"])
    rule("Éteinte", ["retraites"]).__class__.objects.filter(name="Éteinte").update(active=False)
    first = services.store_posts(source=None, posts=[
        post(1), post(2, "Le #PLFSS et le budget", at=T0 + datetime.timedelta(seconds=40)),
        post(3, "Rien à voir"), post(1),  # the same post twice in one batch
    ])  # fmt: skip
    assert (first.new, first.duplicates, first.mentions) == (3, 1, 2)
    again = services.store_posts(source=None, posts=[post(1), post(2), post(4)])
    assert (again.new, again.duplicates, again.mentions) == (1, 2, 1)
    assert Post.objects.count() == 4
    assert Mention.objects.filter(rule=retraites).count() == 2
    counts = {(c.rule_id, c.minute): c.count for c in MinuteCount.objects.all()}
    minute = T0.replace(second=0)
    assert counts == {
        (retraites.pk, minute): 2,
        (budget.pk, minute + datetime.timedelta(minutes=1)): 1,
    }
    assert not Mention.objects.exclude(rule__in=[retraites, budget]).exists()  # switched off


def test_a_rule_edited_applies_to_the_next_posts(db, rule, people):
    watched = rule()
    services.store_posts(source=None, posts=[post(1, "La grève générale")])
    services.rule_update(by=people["staff"], rule_id=watched.pk, terms=["grève"])
    services.store_posts(source=None, posts=[post(2, "La grève générale")])
    assert list(Mention.objects.values_list("post__external_id", flat=True)) == ["2"]


def test_times_in_the_future_or_missing_become_now(db, rule):
    watched = rule()
    before = timezone.now()
    services.store_posts(source=None, posts=[
        post(1, at=None), post(2, at=timezone.now() + datetime.timedelta(days=3)),
    ])  # fmt: skip
    for moment in Mention.objects.filter(rule=watched).values_list("published_at", flat=True):
        assert before <= moment <= timezone.now()


@pytest.fixture
def committed_rule(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        made = WatchRule.objects.create(name="Concurrent", terms=["retraites"])
    yield made
    with django_db_blocker.unblock():
        Post.objects.filter(network="race").delete()
        made.delete()


def test_two_workers_storing_the_same_posts_count_them_once(committed_rule, django_db_blocker):
    """Committed for real (one connection per thread), without ``transaction=True``, whose
    flush at the end would empty the territory registry the other tests share."""
    batch = [PostIn(network="race", external_id=str(i), text="retraites", published_at=T0)
             for i in range(60)]  # fmt: skip
    results, errors = [], []
    barrier = threading.Barrier(3)

    def work(posts):
        try:
            barrier.wait()
            results.append(services.store_posts(source=None, posts=posts))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        # Three workers, overlapping batches in different orders.
        threads = [threading.Thread(target=work, args=(p,))
                   for p in (batch, batch[::-1], batch[20:50])]  # fmt: skip
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sum(r.new for r in results) == 60
        assert Post.objects.filter(network="race").count() == 60
        assert Mention.objects.filter(rule=committed_rule).count() == 60
        assert MinuteCount.objects.get(rule=committed_rule).count == 60


def test_a_nul_character_in_a_post_does_not_lose_the_batch(db, rule):
    rule()
    stored = services.store_posts(source=None, posts=[
        post(1, "la réforme des\x00 retraites", author="A\x00B"), post(2),
    ])  # fmt: skip
    assert stored.new == 2 and stored.mentions == 2
    assert Post.objects.get(external_id="1").author == "AB"
