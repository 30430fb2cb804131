"""Participation fixtures: an open national consultation and a few confirmed members."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone


@pytest.fixture
def consultation(people):
    from nextwork.participation.models import Consultation

    now = timezone.now()
    return Consultation.objects.create(
        title="Quelle école pour demain ?",
        text="Vos idées pour l'école.",
        opens_at=now - datetime.timedelta(days=1),
        proposals_close_at=now + datetime.timedelta(days=10),
        closes_at=now + datetime.timedelta(days=20),
        status="published",
        created_by=people["staff"],
    )


@pytest.fixture
def old_member(make_member):
    """A member confirmed long ago: the spam heuristic's "new account" does not apply."""

    def make(name: str = "Ines"):
        member = make_member(name)
        member.confirmed_at = timezone.now() - datetime.timedelta(days=60)
        member.save(update_fields=["confirmed_at"])
        return member

    return make


@pytest.fixture
def propose(consultation):
    from nextwork.participation import services

    def make(author, title="Des cantines bio", body="Servir des repas bio et locaux.", **kw):
        return services.proposal_submit(
            consultation=kw.pop("consultation", consultation),
            author=author,
            title=title,
            body=body,
            **kw,
        )

    return make
