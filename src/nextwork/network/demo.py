"""A clearly labelled demonstration network, so a newcomer sees the product alive.

Every demo address ends in ``@demo.invalid`` (a domain that cannot exist); the seeding refuses
to run on a database holding any other member.
"""

from __future__ import annotations

import datetime
import random
import secrets

import numpy as np
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from nextwork.common.errors import Conflict
from nextwork.network.models import (
    ApplicationStatus,
    CoverageSnapshot,
    Grant,
    Member,
    MemberLocation,
    RelayApplication,
    Role,
)
from nextwork.network.services import coverage_snapshot_take
from nextwork.territories.lookup import get_engine
from nextwork.territories.models import Area, AreaKind
from nextwork.territories.sampling import points_inside

DOMAIN = "demo.invalid"

# Sent once the demo network exists, inside its transaction, so that the apps built on the
# network (participation, …) add their own demonstration data without this module knowing
# them. Arguments: ``people`` (the generated members), ``staff`` (the demo staff member),
# ``rng`` (seeded ``random.Random``).
demo_seeded = Signal()
FIRST = [
    "Camille",
    "Dominique",
    "Claude",
    "Sacha",
    "Alex",
    "Lou",
    "Noa",
    "Louise",
    "Jules",
    "Inès",
    "Léo",
    "Chloé",
    "Hugo",
    "Manon",
    "Yanis",
    "Sarah",
    "Nathan",
    "Léa",
    "Adam",
    "Emma",
    "Karim",
    "Fatou",
    "Mathis",
    "Anaïs",
    "Théo",
    "Zoé",
    "Malik",
    "Jeanne",
]
LAST = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "Diallo",
    "Nguyen",
]


def has_real_members() -> bool:
    return Member.objects.exclude(email__endswith=f"@{DOMAIN}").exists()


@transaction.atomic
def seed_demo(*, members: int = 3000, coverage: float = 0.34, seed: int = 2012) -> dict:
    """Generated people placed across France, relays in about ``coverage`` of the seats."""
    if has_real_members():
        raise Conflict(
            "This database holds real members: the demo only seeds an empty one.", field=None
        )
    rng = random.Random(seed)  # noqa: S311 (reproducible demo data, not secrets)
    engine = get_engine()
    Member.objects.filter(email__endswith=f"@{DOMAIN}").delete()
    CoverageSnapshot.objects.all().delete()
    areas = Area.objects.filter(boundary_set_id=engine.boundary_set_id)
    seat_ids = dict(areas.filter(kind=AreaKind.CONSTITUENCY).values_list("code", "pk"))
    seat_parent = dict(areas.filter(kind=AreaKind.CONSTITUENCY).values_list("code", "parent_id"))

    # People where people live: points inside communes weighted by population.
    population = np.array(
        [engine.units[c]["population"] or 1 for c in engine.unit_codes], dtype=float
    )
    lons, lats = points_inside(engine.unit_geoms, members, np.random.default_rng(seed), population)
    password = make_password(None)
    now = timezone.now()
    people = [
        Member(
            email=f"membre{i:05d}@{DOMAIN}",
            first_name=rng.choice(FIRST),
            last_name=rng.choice(LAST),
            password=password,
            is_active=True,
            confirmed_at=now - datetime.timedelta(days=rng.randint(0, 400)),
        )
        for i in range(members)
    ]
    Member.objects.bulk_create(people, batch_size=2000)
    people = list(Member.objects.filter(email__endswith=f"@{DOMAIN}").order_by("email"))
    seats_of: dict[str, list[Member]] = {}
    locations = []
    for person, lon, lat in zip(people, lons, lats, strict=True):
        seat = engine.locate_point(float(lat), float(lon))["candidates"][0]["code"]
        seats_of.setdefault(seat, []).append(person)
        locations.append(
            MemberLocation(
                member=person,
                constituency_id=seat_ids[seat],
                department_id=seat_parent[seat],
                lat=float(lat),
                lon=float(lon),
                precision="point",
                valid_from=person.confirmed_at,
            )
        )
    MemberLocation.objects.bulk_create(locations, batch_size=2000)

    grants, applications = [], []
    for code, residents in seats_of.items():
        draw = rng.random()
        if draw < coverage:
            grants.append(Grant(member=residents[0], role=Role.RELAY, area_id=seat_ids[code]))
            if len(residents) > 1 and rng.random() < 0.3:
                grants.append(
                    Grant(member=residents[1], role=Role.SUBSTITUTE, area_id=seat_ids[code])
                )
        elif draw < coverage + 0.08:
            applications.append(
                RelayApplication(
                    member=residents[0],
                    area_id=seat_ids[code],
                    status=ApplicationStatus.PENDING,
                    motivation="Je connais bien la circonscription et j'ai du temps.",
                )
            )
        elif draw < coverage + 0.12:
            grants.append(Grant(member=residents[0], role=Role.SUBSTITUTE, area_id=seat_ids[code]))
    Grant.objects.bulk_create(grants)
    RelayApplication.objects.bulk_create(applications)

    coordinator_password = secrets.token_urlsafe(12)
    coordinator = Member.objects.create_user(
        f"coordination@{DOMAIN}",
        coordinator_password,
        first_name="Dominique",
        last_name="Coordination",
        is_active=True,
        confirmed_at=now,
    )
    Grant.objects.create(member=coordinator, role=Role.STAFF)

    _coverage_curve(rng, total=len(seat_ids), covered=sum(g.role == Role.RELAY for g in grants))
    demo_seeded.send(sender=seed_demo, people=people, staff=coordinator, rng=rng)
    return {
        "members": members,
        "relays": sum(g.role == Role.RELAY for g in grants),
        "pending": len(applications),
        "staff_login": coordinator.email,
        "staff_password": coordinator_password,
    }


def _coverage_curve(rng: random.Random, *, total: int, covered: int, days: int = 180) -> None:
    """A plausible history: from a handful of relays six months ago to today's figure."""
    today = timezone.localdate()
    snapshots = []
    for back in range(days, 0, -7):
        progress = 1 - back / days
        n = round(covered * progress**0.8)
        snapshots.append(
            CoverageSnapshot(
                day=today - datetime.timedelta(days=back),
                total=total,
                covered=n,
                substitute_only=round(n * 0.15),
                pending=rng.randint(5, 40),
                uncovered=total - n - round(n * 0.15),
                senate_total=108,
                senate_covered=0,
            )
        )
    CoverageSnapshot.objects.bulk_create(snapshots)
    coverage_snapshot_take()  # today's point is the real figure
