"""Network endpoints of /api/v1/ (public aggregates for now)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from nextwork.network import selectors

router = Router(tags=["network"])


class DepartmentCoverage(Schema):
    code: str
    name: str
    total: int
    covered: int
    substitute_only: int
    pending: int
    uncovered: int


class SenateCoverage(Schema):
    departments_total: int
    departments_covered: int
    areas_total: int
    areas_covered: int
    abroad_covered: bool


class CoverageOut(Schema):
    total: int
    covered: int
    substitute_only: int
    pending: int
    uncovered: int
    ratio: float
    by_department: list[DepartmentCoverage]
    senate: SenateCoverage


@router.get("/coverage", response=CoverageOut, summary="Relay coverage of the 577 seats")
def coverage(request: HttpRequest):
    return selectors.coverage()
