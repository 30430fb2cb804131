"""Schemas every part of the API shares. One class per name: the OpenAPI document names its
components after the classes, so two different classes of the same name would be merged into
one (``tests/test_api_schema.py`` checks that no name is taken twice)."""

from __future__ import annotations

from ninja import Schema
from pydantic import Field


class ErrorBody(Schema):
    code: str = Field(description="invalid, unauthenticated, forbidden, not_found, conflict…")
    message: str = Field(description="What is wrong, in a sentence a person can act on.")
    field: str | None = Field(None, description="The input at fault, when there is one.")


class ErrorOut(Schema):
    error: ErrorBody
