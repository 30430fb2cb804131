"""Network endpoints of /api/v1/ (public aggregates for now)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from nextwork.common import ratelimit
from nextwork.network import selectors
from nextwork.network.models import ConsentSource, Role
from nextwork.network.permissions import current_grants
from nextwork.network.signup import Location, member_register

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


class SignupIn(Schema):
    email: str = Field(max_length=254)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    phone: str | None = Field(None, max_length=30, description="Optional; stored in E.164.")
    postcode: str | None = Field(None, max_length=10)
    commune: str | None = Field(None, max_length=10, description="INSEE code.")
    country: str | None = Field(None, max_length=100, description="For French residents abroad.")
    address: str | None = Field(None, max_length=500)
    constituency: str | None = Field(
        None, max_length=10, description="The choice among candidates when the place is ambiguous."
    )
    consent_version: int = Field(description="Version of the sign-up text the person agreed to.")
    website: str | None = Field(None, description="Leave empty.")


class SignupOut(Schema):
    id: uuid.UUID


class ErrorBody(Schema):
    code: str
    message: str
    field: str | None = None


class ErrorOut(Schema):
    error: ErrorBody


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


@router.post(
    "/members",
    response={201: SignupOut, 400: ErrorOut, 404: ErrorOut, 429: ErrorOut},
    summary="Sign up (double opt-in: the emailed link activates the account)",
)
def signup(request: HttpRequest, payload: SignupIn):
    ratelimit.check(
        "signup", client_address(request), limit=settings.NEXTWORK_SIGNUP_RATE, window=3600
    )
    public_id = member_register(
        email=payload.email,
        first_name=payload.first_name,
        last_name=payload.last_name,
        phone=payload.phone,
        location=Location(
            postcode=payload.postcode,
            commune=payload.commune,
            country=payload.country,
            address=payload.address,
            constituency=payload.constituency,
        ),
        consent_version=payload.consent_version,
        source=ConsentSource.API,
        honeypot=payload.website or "",
    )
    return Status(201, {"id": public_id})


class GapOut(Schema):
    code: str
    name: str
    status: str
    members: int


@router.get(
    "/coverage/gaps",
    response={200: list[GapOut], 401: ErrorOut, 403: ErrorOut},
    summary="Seats without a relay, most confirmed members first (coordinators and staff)",
)
def coverage_gaps(request: HttpRequest, limit: int = 50):
    if not request.user.is_authenticated:
        return Status(
            401, {"error": {"code": "unauthenticated", "message": "Log in first.", "field": None}}
        )
    if not current_grants(request.user, [Role.COORDINATOR, Role.STAFF]).exists():
        return Status(
            403,
            {
                "error": {
                    "code": "forbidden",
                    "message": "For coordinators and staff only.",
                    "field": None,
                }
            },
        )
    return selectors.recruitment_gaps(caller=request.user, limit=max(1, min(limit, 577)))
