"""Community endpoints of /api/v1/: the public list, creation (staff), joining and leaving."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from nextwork.api.auth import member_auth
from nextwork.messaging import communities
from nextwork.messaging.models import Community, CommunityMembership

router = Router(tags=["communities"])

MAX_PAGE = 100


class CommunityErrorBody(Schema):
    code: str
    message: str
    field: str | None = None


class CommunityErrorOut(Schema):
    error: CommunityErrorBody


AUTH_ERRORS = {
    401: CommunityErrorOut,
    403: CommunityErrorOut,
    404: CommunityErrorOut,
    409: CommunityErrorOut,
}


class CommunityOut(Schema):
    id: int
    slug: str
    name: str
    description: str = Field(description="Plain text.")
    public: bool = Field(description="False: hidden from the list and closed to joining.")
    members: int = Field(description="Current members (a count, never who).")
    url: str


def community_out(community: Community) -> dict:
    return {
        "id": community.pk,
        "slug": community.slug,
        "name": community.name,
        "description": community.description,
        "public": community.public,
        "members": getattr(community, "member_count", 0),
        "url": f"/communautes/{community.slug}/",
    }


class CommunityPaging(Schema):
    limit: int = Field(MAX_PAGE, ge=1, le=MAX_PAGE, description=f"{MAX_PAGE} at most.")
    offset: int = Field(0, ge=0, le=1_000_000)


@router.get(
    "/communities",
    response={200: list[CommunityOut], 400: CommunityErrorOut},
    summary="Public communities by name, with their member counts",
)
def community_list(request: HttpRequest, page: Query[CommunityPaging]):
    found = communities.public_communities()[page.offset : page.offset + page.limit]
    return [community_out(c) for c in found]


class CommunityIn(Schema):
    name: str = Field(max_length=communities.NAME_MAX)
    slug: str | None = Field(
        None,
        max_length=200,
        description="Lowercase letters, digits and hyphens; made from the name when empty.",
    )
    description: str = Field("", max_length=communities.DESCRIPTION_MAX, description="Plain text.")
    public: bool = Field(True, description="False: hidden from the list and closed to joining.")


@router.post(
    "/communities",
    response={201: CommunityOut, 400: CommunityErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Create a community (national staff only)",
)
def community_create(request: HttpRequest, payload: CommunityIn):
    community = communities.community_create(
        actor=request.user,
        name=payload.name,
        slug=payload.slug,
        description=payload.description,
        public=payload.public,
    )
    return Status(201, community_out(communities.community_for(request.user, pk=community.pk)))


class JoinIn(Schema):
    community_news: bool = Field(
        False,
        description="Also receive community news by email (an explicit opt-in, off unless "
        "asked), unless an earlier answer for that type exists (a withdrawal is never "
        "overridden).",
    )


class MembershipOut(Schema):
    community: int
    member: bool = Field(description="True while the caller belongs to the community.")
    joined_at: str | None = Field(None, description="ISO 8601, of the current membership.")
    left_at: str | None = Field(None, description="ISO 8601, when the call just ended it.")
    community_news: bool = Field(
        description="The caller currently consents to community news by email."
    )
    members: int


def _membership_out(member, community: Community, membership: CommunityMembership | None) -> dict:
    current = membership is not None and membership.left_at is None
    return {
        "community": community.pk,
        "member": current,
        "joined_at": membership.joined_at.isoformat() if current else None,
        "left_at": membership.left_at.isoformat()
        if membership is not None and membership.left_at
        else None,
        "community_news": communities.has_community_news(member),
        "members": communities.member_count(community),
    }


@router.post(
    "/communities/{community_id}/join",
    response={200: MembershipOut, 201: MembershipOut, 400: CommunityErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Join a public community: 201 when joined, 200 when already a member (idempotent)",
)
def community_join(request: HttpRequest, community_id: int, payload: JoinIn | None = None):
    community = communities.community_for(request.user, pk=community_id)
    result = communities.community_join(
        member=request.user,
        community=community,
        community_news=payload.community_news if payload is not None else False,
    )
    return Status(
        201 if result.created else 200,
        _membership_out(request.user, community, result.membership),
    )


@router.post(
    "/communities/{community_id}/leave",
    response={200: MembershipOut, 400: CommunityErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Leave a community (the membership is kept as history); 200 also when the caller "
    "was not a member",
)
def community_leave(request: HttpRequest, community_id: int):
    community = communities.community_for(request.user, pk=community_id)
    left = communities.community_leave(member=request.user, community=community)
    return _membership_out(request.user, community, left)
