"""Network endpoints of /api/v1/: coverage, sign-up, applications, invitations, member reads."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from nextwork.api.auth import member_auth
from nextwork.api.schemas import ErrorOut
from nextwork.common import ratelimit
from nextwork.common.errors import Forbidden, NotFound
from nextwork.network import selectors, services
from nextwork.network.models import ConsentSource, Role
from nextwork.network.permissions import current_grants
from nextwork.network.signup import Location, member_register
from nextwork.privacy.services import audit_record

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
    sms_opt_in: bool = Field(
        False,
        description="The person ticked the optional SMS box (calls to action and alerts); "
        "needs a phone.",
    )
    website: str | None = Field(None, description="Leave empty.")


class SignupOut(Schema):
    id: uuid.UUID


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
        sms_opt_in=payload.sms_opt_in,
    )
    return Status(201, {"id": public_id})


class GapOut(Schema):
    code: str
    name: str
    status: str
    members: int


@router.get(
    "/coverage/gaps",
    auth=member_auth,
    response={200: list[GapOut], 401: ErrorOut, 403: ErrorOut},
    summary="Seats without a relay, most confirmed members first (coordinators and staff)",
)
def coverage_gaps(request: HttpRequest, limit: int = 50):
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


# -- authorised callers (session login; personal API tokens come with the trust work) -------


class ApplicationIn(Schema):
    role: str = Field(
        "relay",
        description="relay or substitute (of my constituency), or senate_relay (of its "
        "department, overseas collectivity, or 99 for the French abroad).",
    )
    motivation: str = Field("", max_length=5000)


class ApplicationOut(Schema):
    id: int
    area: str
    role: str
    status: str
    member: str | None = Field(None, description="Shown to those who decide.")
    motivation: str = ""
    invited_by: str | None = Field(None, description="Who invited the member, for invitations.")


class ApplicationDecisionIn(Schema):
    approve: bool
    message: str = Field("", max_length=2000)


class MemberOut(Schema):
    id: uuid.UUID
    first_name: str
    last_name: str
    email: str
    constituency: str | None = Field(
        description="Empty while the member's place spans several seats and they have not "
        "chosen theirs."
    )
    department: str | None
    confirmed: bool


def _application_out(application, *, with_member: bool) -> dict:
    return {
        "id": application.pk,
        "area": application.area.code,
        "role": application.role,
        "status": application.status,
        "member": application.member.full_name if with_member else None,
        "motivation": application.motivation if with_member else "",
        "invited_by": application.invited_by.full_name if application.invited_by else None,
    }


AUTH_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


@router.post(
    "/applications",
    response={201: ApplicationOut, 400: ErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Apply to relay my constituency",
)
def application_create(request: HttpRequest, payload: ApplicationIn):
    location = selectors.current_location(request.user)
    if location is None:
        raise NotFound("Your home is not known: set it in your profile first.", field="area")
    application = services.relay_apply(
        member=request.user,
        area=selectors.application_area(location.constituency, payload.role),
        role=payload.role,
        motivation=payload.motivation,
    )
    return Status(201, _application_out(application, with_member=False))


@router.get(
    "/applications",
    response={200: list[ApplicationOut], **AUTH_ERRORS},
    auth=member_auth,
    summary="Applications I may decide on (coordinators, staff); invitations are not among them",
)
def application_list(request: HttpRequest):
    return [
        _application_out(a, with_member=True)
        for a in selectors.applications_to_decide(request.user)
    ]


@router.post(
    "/applications/{application_id}/decision",
    response={200: ApplicationOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Approve or decline an application",
)
def application_decision(request: HttpRequest, application_id: int, payload: ApplicationDecisionIn):
    application = selectors.applications_to_decide(request.user).filter(pk=application_id).first()
    if application is None:
        raise NotFound("No application of yours to decide with this id.", field="application_id")
    decided = services.application_decide(
        application=application,
        decided_by=request.user,
        approve=payload.approve,
        message=payload.message,
    )
    return _application_out(decided, with_member=True)


class InvitationIn(Schema):
    member: uuid.UUID = Field(description="The member's id, as GET /members gives it.")
    role: str = Field(
        description="relay or substitute (of the member's constituency), or senate_relay "
        "(of its department, overseas collectivity, or 99)."
    )


class InvitationAnswerIn(Schema):
    accept: bool


@router.post(
    "/invitations",
    response={201: ApplicationOut, 400: ErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Invite a member of my territory to be a relay (coordinators, staff); "
    "they are emailed and answer it",
)
def invitation_create(request: HttpRequest, payload: InvitationIn):
    if not current_grants(request.user, [Role.COORDINATOR, Role.STAFF]).exists():
        raise Forbidden("Invitations are issued by coordinators and staff.", field=None)
    location = (
        selectors.members_for_export(caller=request.user)
        .filter(member__public_id=payload.member)
        .first()
    )
    if location is None:
        raise NotFound("No member of your territory has this id.", field="member")
    application = services.relay_invite(
        member=location.member,
        area=selectors.application_area(location.constituency, payload.role),
        role=payload.role,
        invited_by=request.user,
    )
    return Status(201, _application_out(application, with_member=True))


@router.get(
    "/invitations",
    response={200: list[ApplicationOut], **AUTH_ERRORS},
    auth=member_auth,
    summary="My pending invitations",
)
def invitation_list(request: HttpRequest):
    return [_application_out(a, with_member=False) for a in selectors.invitations_for(request.user)]


@router.post(
    "/invitations/{invitation_id}/answer",
    response={200: ApplicationOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Accept or decline an invitation addressed to me",
)
def invitation_answer(request: HttpRequest, invitation_id: int, payload: InvitationAnswerIn):
    invitation = selectors.invitations_for(request.user).filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound("No pending invitation of yours with this id.", field="invitation_id")
    answered = services.invitation_answer(
        application=invitation, member=request.user, accept=payload.accept
    )
    return _application_out(answered, with_member=False)


@router.get(
    "/members",
    response={200: list[MemberOut], **AUTH_ERRORS},
    auth=member_auth,
    summary="Members of an area, within my grants (each read is audited)",
)
def member_list(request: HttpRequest, area: str, limit: int = 100, offset: int = 0):
    if not current_grants(request.user, [Role.COORDINATOR, Role.STAFF]).exists():
        raise Forbidden("Member lists are for coordinators and staff.", field=None)
    limit = max(1, min(limit, 500))
    locations = list(
        selectors.members_for_export(caller=request.user, area_code=area)[
            max(offset, 0) : max(offset, 0) + limit
        ]
    )
    audit_record(
        actor=request.user,
        action="members.read",
        area_code=area.upper(),
        details={"count": len(locations), "offset": offset},
    )
    return [
        {
            "id": loc.member.public_id,
            "first_name": loc.member.first_name,
            "last_name": loc.member.last_name,
            "email": loc.member.email,
            "constituency": loc.constituency.code if loc.constituency else None,
            "department": loc.department.code if loc.department else None,
            "confirmed": loc.member.confirmed_at is not None,
        }
        for loc in locations
    ]


class GrantOut(Schema):
    id: int
    role: str
    area: str | None = Field(description="The area's code; empty for national staff.")
    member: uuid.UUID
    member_name: str
    valid_from: str
    valid_to: str | None


def _grant_out(grant) -> dict:
    return {
        "id": grant.pk,
        "role": grant.role,
        "area": grant.area.code if grant.area else None,
        "member": grant.member.public_id,
        "member_name": grant.member.full_name,
        "valid_from": grant.valid_from.isoformat(),
        "valid_to": grant.valid_to.isoformat() if grant.valid_to else None,
    }


def _grant_for(request: HttpRequest, grant_id: int):
    """A grant the caller may act on: their own, or one under their coordinator grants."""
    from nextwork.network.models import Grant

    scope = selectors.grant_scope_filter(request.user, [Role.COORDINATOR])
    grants = Grant.objects.filter(pk=grant_id).select_related("area", "member")
    if scope:  # an empty Q is staff's "everything": OR-ing it would narrow it instead
        grants = grants.filter(scope | Q(member=request.user))
    grant = grants.first()
    if grant is None:
        raise NotFound("No grant with this id within your grants.", field="grant_id")
    return grant


@router.get(
    "/grants",
    response={200: list[GrantOut], **AUTH_ERRORS},
    auth=member_auth,
    summary="Roles held in an area (relays, substitutes, coordinators), within my grants",
)
def grant_list(request: HttpRequest, area: str, current: bool = True):
    if not current_grants(request.user, [Role.COORDINATOR, Role.STAFF]).exists():
        raise Forbidden("Role lists are for coordinators and staff.", field=None)
    found = selectors.area_in_scope(caller=request.user, code=area)
    grants = selectors.grants_in(found, caller=request.user, current=current)
    audit_record(
        actor=request.user,
        action="grants.read",
        area_code=found.code,
        details={"count": len(grants), "current": current},
    )
    return [_grant_out(g) for g in grants]


@router.post(
    "/grants/{grant_id}/promote",
    response={200: GrantOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Make a substitute the titular relay of their seat",
)
def grant_promote(request: HttpRequest, grant_id: int):
    grant = _grant_for(request, grant_id)
    return _grant_out(services.substitute_promote(grant=grant, promoted_by=request.user))


@router.post(
    "/grants/{grant_id}/end",
    response={200: GrantOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="End a role: my own (stepping down), or one in the area I coordinate",
)
def grant_finish(request: HttpRequest, grant_id: int):
    grant = _grant_for(request, grant_id)
    return _grant_out(services.grant_end(grant=grant, ended_by=request.user))
