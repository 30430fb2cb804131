"""The cast of the network tests (Camille relays 75-02, coordinators of 75 and 13, staff, Lou
the member), and events they organise through the service."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from nextwork.events import services

PARIS = "Café des Arts, 12 rue de la Roquette, 75011 Paris"  # 75011 spans 75-06 and 75-07
PARIS_SEAT = "75-06"
MENDE = "Salle des fêtes, 2 place de la Mairie, 48000 Mende"
MARSEILLE = "Local associatif, 13001 Marseille"
POINTE_A_PITRE = "Salle Jean Jaurès, 97110 Pointe-à-Pitre"


def in_days(days: float, hour: int = 18) -> datetime.datetime:
    """A naive local time ``days`` from now at ``hour`` o'clock (read in the event's zone)."""
    day = (timezone.now() + datetime.timedelta(days=days)).date()
    return datetime.datetime.combine(day, datetime.time(hour, 30))


@pytest.fixture
def make_event(people):
    """An event created through the service: in Paris by Camille unless told otherwise."""

    def make(
        creator=None,
        *,
        title: str = "Rencontre des membres",
        address: str = PARIS,
        constituency: str | None = PARIS_SEAT,
        days: float = 10,
        capacity: int | None = None,
        public: bool = True,
        **extra,
    ):
        return services.event_create(
            creator=creator or people["camille"],
            title=title,
            kind=extra.pop("kind", "meetup"),
            starts_at=in_days(days),
            ends_at=in_days(days, hour=20),
            place=services.Place(address=address, constituency=constituency),
            capacity=capacity,
            public=public,
            **extra,
        )

    return make
