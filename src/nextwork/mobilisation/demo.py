"""Demonstration data for electoral mobilisation, added when ``nextwork demo`` seeds its
network: a published election three weeks ahead, generated members who shared their voting
situation, proxy requests and offers paired by the automatic matching (some accepted, one
established), and a registration drive under way, so that the calendar, the member pages, the
coordinators' page and the dashboard have something true-looking to show. Nobody is mailed
(``notices.held``)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from nextwork.common.errors import DomainError
from nextwork.mobilisation import notices, services
from nextwork.mobilisation.models import Election, ProxyMatch, RegistrationAnswer
from nextwork.network.models import MemberLocation
from nextwork.territories.lookup import get_engine

SLUG = "demonstration-legislatives"
NAME = "Élections législatives anticipées (démonstration)"
SITUATIONS = 600  # members who say where they vote
REQUESTS = OFFERS = 80


def seed(sender=None, *, people, staff, rng, **kwargs) -> None:
    Election.objects.filter(slug=SLUG).delete()
    today = timezone.localdate()
    election = services.election_create(
        by=staff, kind="legislatives", name=NAME, slug=SLUG,
        registration_deadline=today + datetime.timedelta(days=10),
        rounds=[services.RoundIn(1, today + datetime.timedelta(days=24)),
                services.RoundIn(2, today + datetime.timedelta(days=31))],
        published=True,
        notes="Élection fictive, pour découvrir les pages de mobilisation.",
    )  # fmt: skip
    first = election.rounds.get(number=1)
    sample = rng.sample(people, min(SITUATIONS, len(people)))
    where = {
        m: (lon, lat)
        for m, lon, lat in MemberLocation.objects.filter(
            member__in=sample, valid_to__isnull=True
        ).values_list("member_id", "lon", "lat")
    }
    engine = get_engine()
    voters = []
    for person in sample:
        lon, lat = where.get(person.pk, (None, None))
        code = engine.unit_at(lon, lat) if lon is not None else None
        registered = rng.choices(["yes", "no", "unsure"], weights=[80, 8, 12])[0]
        try:
            services.situation_set(
                member=person, consent=True, registered=registered, commune_code=code or ""
            )
        except DomainError:  # a point outside every commune (at sea): say nothing of it
            continue
        if code and registered == "yes":
            voters.append((person, code))
    rng.shuffle(voters)
    with notices.held():
        for person, _code in voters[:REQUESTS]:
            services.request_create(member=person, round_id=first.pk)
        for person, code in voters[REQUESTS : REQUESTS + OFFERS]:
            services.offer_create(member=person, round_id=first.pk, commune_codes=[code])
        services.match_run(round_id=first.pk, by=staff, radius_km=30)
        matches = list(ProxyMatch.objects.filter(round=first).select_related("request"))
        for i, match in enumerate(matches):
            if i % 3 == 2:
                continue  # answers awaited
            services.match_accept(match_id=match.pk, member=match.request.member)
            if i % 3 == 0:
                services.match_accept(match_id=match.pk, member=match.holder)
        accepted = list(ProxyMatch.objects.filter(round=first, status="accepted"))
        if accepted:
            services.match_step(
                match_id=accepted[0].pk, member=accepted[0].request.member, step="declared"
            )
    _drive(election, sample, rng)


def _drive(election, sample, rng) -> None:
    """The registration drive's first reminders, and the members who answered "done"."""
    now = timezone.now()
    answers = []
    for person in rng.sample(sample, len(sample) // 3):
        reminded = now - datetime.timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 12))
        done = (
            reminded + datetime.timedelta(hours=rng.randint(1, 48)) if rng.random() < 0.4 else None
        )
        answers.append(RegistrationAnswer(
            election=election, member=person, reminded_at=reminded,
            done_at=done if done and done < now else None,
        ))  # fmt: skip
    RegistrationAnswer.objects.bulk_create(answers)
