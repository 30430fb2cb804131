"""The demonstration network: alive, clearly labelled, and never over real data."""

import pytest

from nextwork.common.errors import Conflict
from nextwork.network.demo import DOMAIN, seed_demo
from nextwork.network.models import CoverageSnapshot, Member
from nextwork.network.selectors import coverage


def test_demo_seeds_a_third_of_the_seats_and_a_curve(registry):
    figures = seed_demo(members=1500, coverage=0.34)
    assert Member.objects.exclude(email__endswith=f"@{DOMAIN}").count() == 0
    now = coverage()
    assert now["covered"] == figures["relays"]
    assert 0.15 < now["ratio"] < 0.45  # about a third of the seats that have residents
    curve = list(CoverageSnapshot.objects.order_by("day").values_list("covered", flat=True))
    assert len(curve) > 10 and curve == sorted(curve) and curve[-1] == figures["relays"]
    staff = Member.objects.get(email=figures["staff_login"])
    assert staff.check_password(figures["staff_password"])
    # Seeding again replaces the demo instead of piling up.
    seed_demo(members=200)
    assert Member.objects.count() == 201


def test_demo_refuses_a_database_with_real_members(registry, make_member):
    make_member("Réelle")
    with pytest.raises(Conflict, match="real members"):
        seed_demo(members=10)
    assert Member.objects.count() == 1
