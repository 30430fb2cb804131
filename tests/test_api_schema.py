"""The OpenAPI document names its components after the schema classes: two different classes
with the same name are silently merged into one, and one endpoint is then documented (and
checked by schemathesis) with another's schema. Every schema class of the API has its own
name."""

from __future__ import annotations

from collections import defaultdict

from ninja import Schema


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_no_two_schema_classes_share_a_name():
    from nextwork.api.urls import api

    api.get_openapi_schema()  # every router and its schemas are imported
    by_name = defaultdict(set)
    for cls in _subclasses(Schema):
        if cls.__module__.startswith("nextwork."):
            by_name[cls.__name__].add(f"{cls.__module__}.{cls.__qualname__}")
    shared = {name: sorted(where) for name, where in by_name.items() if len(where) > 1}
    assert shared == {}
