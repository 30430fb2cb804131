"""Mobilisation fixtures: a published election with a round three weeks ahead, and members who
agreed to the electoral notice."""

from __future__ import annotations

import datetime

import pytest


@pytest.fixture
def election(people):
    from django.utils import timezone

    from nextwork.mobilisation import services

    today = timezone.localdate()
    return services.election_create(
        by=people["staff"], kind="legislatives", name="Élections législatives anticipées",
        slug="legislatives-anticipees", registration_deadline=today + datetime.timedelta(days=5),
        rounds=[services.RoundIn(1, today + datetime.timedelta(days=21)),
                services.RoundIn(2, today + datetime.timedelta(days=28))],
        published=True,
    )  # fmt: skip


@pytest.fixture
def first_round(election):
    return election.rounds.get(number=1)


@pytest.fixture
def voter(make_member):
    """A confirmed member who agreed to the electoral notice and votes in ``commune``."""
    from nextwork.mobilisation import services

    def make(name: str = "Ines", commune: str = "75056"):
        member = make_member(name)
        services.situation_set(member=member, consent=True, registered="yes", commune_code=commune)
        return member

    return make
