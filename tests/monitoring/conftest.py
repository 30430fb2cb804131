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
