"""Demonstration data for monitoring, added when ``nextwork demo`` seeds its network: the
representatives' rules from the registry; three watch rules with sixteen days of minute counts
following a daily rhythm, a burst yesterday evening and one an hour ago (found by the real
detector, ``spikes.detect``); posts behind the recent counts so the lists have something to
show; and two sources, an ingestion endpoint and a feed switched off (nothing is fetched from
the outside)."""

from __future__ import annotations

import datetime
import math

import numpy as np
from django.conf import settings
from django.utils import timezone

from nextwork.monitoring import spikes
from nextwork.monitoring.models import (
    Mention,
    MinuteCount,
    Post,
    RuleKind,
    Source,
    SourceKind,
    Spike,
    WatchRule,
)
from nextwork.monitoring.services import representative_rules_sync

RULES = [
    ("Retraites", ["retraites", "#RéformeDesRetraites", "âge de départ"], ["complémentaires"], 40),
    ("Assurance chômage", ["assurance chômage", "#chômage"], [], 12),
    ("Transports du quotidien", ["pass navigo", "TER", "#transports"], [], 6),
]
DAYS = 16
AUTHORS = ["@camille@social.example", "@syndicat@mastodon.example", "@nora.bsky.social",
           "@quotidien@presse.example", "@lea@piaille.example", "@marc@social.example"]  # fmt: skip
TEXTS = [
    "Manifestation contre la réforme des retraites ce jeudi, rendez-vous à 14 h.",
    "L'âge de départ à 64 ans, c'est non. #RéformeDesRetraites",
    "Notre député a voté la réforme des retraites : écrivons-lui.",
    "Retraites : les chiffres du Conseil d'orientation des retraites expliqués simplement.",
    "Grève reconduite demain contre la réforme des retraites.",
]
DEMO = "démonstration"


def _profile(minutes: np.ndarray, start: datetime.datetime) -> np.ndarray:
    """Posts per minute by local hour: low at night, a lunch bump, high in the evening."""
    zone = timezone.get_default_timezone()
    hours = np.array(
        [timezone.localtime(start + datetime.timedelta(minutes=int(m)), zone).hour
         for m in range(0, len(minutes), 60)]
    ).repeat(60)[: len(minutes)]  # fmt: skip
    return 0.15 + 0.85 * (np.sin((hours - 9) / 24 * 2 * math.pi) + 1) / 2


def seed(sender=None, *, people, staff, rng, **kwargs) -> None:
    WatchRule.objects.filter(created_by__isnull=True, kind=RuleKind.CUSTOM).delete()
    Source.objects.filter(name__endswith=f"({DEMO})").delete()
    Post.objects.filter(network=DEMO).delete()
    Source.objects.create(
        kind=SourceKind.INGEST, name=f"Forum des adhérents ({DEMO})", created_by=staff,
        last_success_at=timezone.now() - datetime.timedelta(minutes=4), posts_stored=1830,
    )  # fmt: skip
    Source.objects.create(
        kind=SourceKind.RSS, name=f"Quotidien régional ({DEMO})", active=False,
        config={"url": "https://quotidien.example/politique/rss.xml"}, created_by=staff,
        failures=3, last_error="HTTP 503 from the feed's server.",
        last_error_at=timezone.now() - datetime.timedelta(hours=5),
    )  # fmt: skip
    now = timezone.now().replace(second=0, microsecond=0)
    start = now - datetime.timedelta(days=DAYS)
    n = DAYS * spikes.DAY
    generator = np.random.default_rng(rng.randint(0, 2**31))
    for name, terms, exclusions, per_hour in RULES:
        rule = WatchRule.objects.create(
            name=name, terms=terms, exclusions=exclusions, languages=["fr"],
            created_at=start, updated_at=start,
        )  # fmt: skip
        rule.followers.add(staff)
        rate = _profile(np.arange(n), start) * per_hour / 60
        if name == "Retraites":  # yesterday evening's debate, and a burst an hour ago
            for at, size in ((n - spikes.DAY - 200, 25), (n - 70, 18)):
                rate[at : at + 60] += size * np.exp(-np.arange(60) / 15)
        counts = generator.poisson(rate)
        MinuteCount.objects.bulk_create(
            (MinuteCount(rule=rule, minute=start + datetime.timedelta(minutes=int(m)),
                         count=int(c)) for m, c in enumerate(counts) if c),
            batch_size=2000,
        )  # fmt: skip
        for found in spikes.detect(counts, start, tz=settings.TIME_ZONE):
            Spike.objects.create(
                rule=rule, start=start + datetime.timedelta(minutes=found.start),
                peak=start + datetime.timedelta(minutes=found.peak),
                end=start + datetime.timedelta(minutes=found.end), count=found.count,
                expected=found.expected, score=found.score,
                alerted_at=start + datetime.timedelta(minutes=found.start + 1),
            )  # fmt: skip
        if name == "Retraites":
            _posts(rule, counts, start, rng)
    representative_rules_sync(by=staff)


def _posts(rule: WatchRule, counts: np.ndarray, start: datetime.datetime, rng) -> None:
    """Posts behind the last six hours' counts of the rule (the lists and the CSV)."""
    posts, mentions = [], []
    first = len(counts) - 6 * 60
    for minute in range(first, len(counts)):
        for k in range(int(counts[minute])):
            at = start + datetime.timedelta(minutes=minute, seconds=rng.randint(0, 59))
            ident = f"{minute}-{k}"
            author = rng.choice(AUTHORS)
            posts.append(Post(
                key=f"demo-{rule.pk}-{ident}", network=DEMO, external_id=ident,
                url=f"https://social.example/{author.split('@')[1]}/{ident}",
                author_handle=author, text=rng.choice(TEXTS), lang="fr", published_at=at,
            ))  # fmt: skip
    Post.objects.bulk_create(posts, batch_size=1000)
    for post in Post.objects.filter(network=DEMO, key__startswith=f"demo-{rule.pk}-"):
        mentions.append(Mention(rule=rule, post=post, published_at=post.published_at))
    Mention.objects.bulk_create(mentions, batch_size=1000)
