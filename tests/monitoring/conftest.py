"""Monitoring fixtures: watch rules made by staff, an ingestion source and its token."""

from __future__ import annotations

import pytest


@pytest.fixture
def rule(people):
    from nextwork.monitoring import services

    def make(name="Retraites", terms=("retraites",), **extra):
        return services.rule_create(by=people["staff"], name=name, terms=list(terms), **extra)

    return make


@pytest.fixture
def ingest_source(people):
    from nextwork.monitoring import services

    source, token = services.source_create(by=people["staff"], kind="ingest", name="Forum")
    return source, token


@pytest.fixture
def busy_rule(rule, people):
    """A rule with 16 days of history, one post every other minute, followed by staff who
    accept alerts by email."""
    import datetime

    from nextwork.messaging import consent
    from nextwork.monitoring.models import MinuteCount
    from tests.monitoring.bursts import NOW

    watched = rule("Retraites", ["retraites"], min_count=10, cooldown_minutes=60)
    consent.consent_set(member=people["staff"], channel="email", message_type="alert",
                        given=True, how="site")  # fmt: skip
    start = NOW.replace(second=0) - datetime.timedelta(days=16)
    MinuteCount.objects.bulk_create(
        MinuteCount(rule=watched, minute=start + datetime.timedelta(minutes=m), count=1)
        for m in range(0, 16 * 1440, 2)
    )
    return watched
