"""Named people of the network tests: Camille relays 75-02, coordinators of 75 and 13, staff."""

from __future__ import annotations

import itertools

import pytest
from django.utils import timezone

from nextwork.network.models import Grant, Member, Role
from nextwork.territories.models import Area, AreaKind

_numbers = itertools.count(1)


@pytest.fixture
def area(registry):
    def get(code: str, kind: str = AreaKind.CONSTITUENCY) -> Area:
        return Area.objects.get(boundary_set=registry, kind=kind, code=code)

    return get


@pytest.fixture
def make_member(db):
    def make(first_name: str = "Alex", *, confirmed: bool = True) -> Member:
        n = next(_numbers)
        return Member.objects.create_user(
            f"{first_name.lower()}.{n}@example.org",
            "correct horse battery staple",
            first_name=first_name,
            last_name=f"Test{n}",
            is_active=confirmed,
            confirmed_at=timezone.now() if confirmed else None,
        )

    return make


@pytest.fixture
def people(make_member, area):
    """The cast of the permission tests."""
    staff = make_member("Sacha")
    Grant.objects.create(member=staff, role=Role.STAFF)
    coord75 = make_member("Dominique")
    Grant.objects.create(
        member=coord75, role=Role.COORDINATOR, area=area("75", AreaKind.DEPARTMENT)
    )
    coord13 = make_member("Marius")
    Grant.objects.create(
        member=coord13, role=Role.COORDINATOR, area=area("13", AreaKind.DEPARTMENT)
    )
    camille = make_member("Camille")
    Grant.objects.create(member=camille, role=Role.RELAY, area=area("75-02"))
    return {
        "staff": staff,
        "coord75": coord75,
        "coord13": coord13,
        "camille": camille,
        "member": make_member("Lou"),
    }
