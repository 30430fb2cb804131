"""The demo network comes with monitoring data whose spikes the real detector found, and
pages that show them; seeding again replaces it."""

from __future__ import annotations

import pytest

from nextwork.monitoring.models import MinuteCount, Post, Source, Spike, WatchRule
from nextwork.network.demo import seed_demo
from nextwork.network.models import Grant, Role

pytestmark = pytest.mark.django_db


def test_demo_seeds_rules_with_history_spikes_and_posts(registry, client):
    seed_demo(members=100)
    assert WatchRule.objects.filter(kind="custom").count() == 3
    assert WatchRule.objects.filter(kind="representative").count() > 800  # from the registry
    retraites = WatchRule.objects.get(name="Retraites")
    assert MinuteCount.objects.filter(rule=retraites).count() > 5000
    recent = Spike.objects.filter(rule=retraites).order_by("-start")
    assert recent.count() >= 2, list(recent.values_list("start", "count"))
    assert Post.objects.filter(network="démonstration").count() > 50
    assert Source.objects.filter(active=True, kind="ingest").count() == 1
    staff = Grant.objects.get(role=Role.STAFF).member
    client.force_login(staff)
    assert client.get(f"/espace/veille/regles/{retraites.pk}/").status_code == 200
    seed_demo(members=100)
    assert WatchRule.objects.filter(kind="custom").count() == 3 and Source.objects.count() == 2
