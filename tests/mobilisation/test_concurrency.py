"""Two coordinators matching at the same moment can never give a holder two proxies
established in France, nor a requester two holders: the database refuses, whatever the
interleaving. These tests commit for real (one connection per thread) and remove what they
made."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connections

from nextwork.common.errors import Conflict
from nextwork.mobilisation import services
from nextwork.mobilisation.services import LawBroken


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """A published round, two coordinators of Paris, four voters: all committed."""
    from django.utils import timezone

    from nextwork.network.models import Consent, Grant, Member, Role
    from nextwork.territories.models import Area, AreaKind

    with django_db_blocker.unblock():
        paris = Area.objects.get(kind=AreaKind.DEPARTMENT, code="75", boundary_set__active=True)
        made = []

        def member(name, **extra):
            m = Member.objects.create_user(
                f"{name}.concurrent@example.org", "correct horse battery staple",
                first_name=name, last_name="Test", is_active=True, confirmed_at=timezone.now(),
            )  # fmt: skip
            made.append(m)
            return m

        staff = member("Staff")
        Grant.objects.create(member=staff, role=Role.STAFF)
        coordinators = [member(f"Coord{i}") for i in range(2)]
        for c in coordinators:
            Grant.objects.create(member=c, role=Role.COORDINATOR, area=paris)
        today = timezone.localdate()
        election = services.election_create(
            by=staff, kind="legislatives", name="Concurrente", slug="concurrente",
            registration_deadline=today + datetime.timedelta(days=3), published=True,
            rounds=[services.RoundIn(1, today + datetime.timedelta(days=20))],
        )  # fmt: skip
        the_round = election.rounds.get()
        voters = []
        for name in ("Req1", "Req2", "Req3", "Holder"):
            v = member(name)
            services.situation_set(member=v, consent=True, registered="yes", commune_code="75056")
            voters.append(v)
        requests = [services.request_create(member=v, round_id=the_round.pk) for v in voters[:3]]
        offer = services.offer_create(
            member=voters[3], round_id=the_round.pk, commune_codes=["75056"]
        )
        other = member("Other")
        services.situation_set(member=other, consent=True, commune_code="75056")
        second_offer = services.offer_create(
            member=other, round_id=the_round.pk, commune_codes=["75056"]
        )
        yield {"coordinators": coordinators, "requests": requests, "offer": offer,
               "second_offer": second_offer, "round": the_round}  # fmt: skip
        election.delete()
        for m in made:
            Consent.objects.filter(member=m).delete()
            m.delete()


def _race(calls):
    barrier = threading.Barrier(len(calls))
    outcomes, errors = [], []

    def run(call):
        try:
            barrier.wait(timeout=10)
            outcomes.append(call())
        except (LawBroken, Conflict) as exc:
            outcomes.append(type(exc).__name__)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return outcomes


def test_two_coordinators_never_give_a_holder_two_french_proxies(committed, django_db_blocker):
    from nextwork.mobilisation.models import ProxyMatch

    with django_db_blocker.unblock():
        coords, requests, offer = (
            committed["coordinators"], committed["requests"], committed["offer"]
        )  # fmt: skip
        outcomes = _race([
            (lambda c=c, r=r: services.match_propose(request_id=r.pk, offer_id=offer.pk, by=c))
            for c, r in zip(coords, requests[:2], strict=True)
        ])  # fmt: skip
        assert sorted(type(o).__name__ if not isinstance(o, str) else o for o in outcomes) == [
            "LawBroken", "ProxyMatch",
        ]  # fmt: skip
        held = ProxyMatch.objects.filter(holder_id=offer.member_id).exclude(status="cancelled")
        assert held.count() == 1 and not held.get().abroad


def test_two_coordinators_never_give_a_request_two_holders(committed, django_db_blocker):
    from nextwork.mobilisation.models import ProxyMatch

    with django_db_blocker.unblock():
        coords, request = committed["coordinators"], committed["requests"][2]
        offers = [committed["offer"], committed["second_offer"]]
        outcomes = _race([
            (lambda c=c, o=o: services.match_propose(request_id=request.pk, offer_id=o.pk, by=c))
            for c, o in zip(coords, offers, strict=True)
        ])  # fmt: skip
        kinds = sorted(type(o).__name__ if not isinstance(o, str) else o for o in outcomes)
        assert kinds == ["Conflict", "ProxyMatch"]
        assert ProxyMatch.objects.filter(request=request).exclude(status="cancelled").count() == 1
