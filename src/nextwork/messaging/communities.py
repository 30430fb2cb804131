"""Communities ("niche networks"): services (writes) and selectors (reads).

Who may do what:
- staff create communities, change whether they are public, and name or remove coordinators
  (each grant and its end is written to the audit log);
- staff and a community's current coordinators update its name and presentation;
- any active member joins and leaves a public community; a non-public community is invisible
  to those who are neither staff, coordinators nor members, and members cannot join it.

Joining twice is idempotent: the second call changes nothing and says so (``created`` is
False), like a double click. Leaving keeps the history: the membership row gets ``left_at``,
and joining again creates a new row. Leaving a community one is not in changes nothing.

Joining gives the ``community`` email consent (how=community) unless the member already
answered for that type, given or withdrawn: a withdrawal is never overridden by a join.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.text import slugify

from nextwork.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from nextwork.messaging import consent
from nextwork.messaging.models import (
    Channel,
    Community,
    CommunityCoordinator,
    CommunityMembership,
    ConsentHow,
    ConsentState,
    MessageType,
)
from nextwork.messaging.texts import consent_text
from nextwork.network.models import Member
from nextwork.network.permissions import is_staff
from nextwork.privacy.services import audit_record

NAME_MAX = 120
SLUG_MAX = 60
DESCRIPTION_MAX = 5000


# -- reads ----------------------------------------------------------------------------------------


def with_counts(communities: QuerySet[Community]) -> QuerySet[Community]:
    """Annotate ``member_count``: current members whose account is active."""
    return communities.annotate(
        member_count=Count(
            "memberships",
            filter=Q(memberships__left_at__isnull=True, memberships__member__is_active=True),
        )
    )


def public_communities() -> QuerySet[Community]:
    """The public list, by name, with member counts (counts only, never who)."""
    return with_counts(Community.objects.filter(public=True)).order_by("name", "pk")


def _viewer(member) -> Member | None:
    if member is None or not getattr(member, "is_authenticated", False):
        return None
    return member


def visible_to(viewer) -> QuerySet[Community]:
    """Communities a person may see: public ones; every one for staff; non-public ones they
    coordinate or belong to."""
    viewer = _viewer(viewer)
    communities = Community.objects.all()
    if viewer is not None and is_staff(viewer):
        return communities
    q = Q(public=True)
    if viewer is not None:
        q |= Q(coordinators__member=viewer, coordinators__valid_to__isnull=True) | Q(
            memberships__member=viewer, memberships__left_at__isnull=True
        )
    return communities.filter(q).distinct()


def community_for(viewer, *, slug: str | None = None, pk: int | None = None) -> Community:
    """One community the viewer may see, with its member count; NotFound otherwise (a hidden
    community is not told apart from a missing one)."""
    communities = with_counts(Community.objects.filter(pk__in=visible_to(viewer).values("pk")))
    found = (
        communities.filter(slug=slug).first()
        if slug is not None
        else communities.filter(pk=pk).first()
    )
    if found is None:
        what = f"slug {slug!r}" if slug is not None else f"id {pk}"
        raise NotFound(
            f"No community with {what}.", field="slug" if slug is not None else "community_id"
        )
    return found


def current_membership(member, community: Community) -> CommunityMembership | None:
    member = _viewer(member)
    if member is None:
        return None
    return CommunityMembership.objects.filter(
        community=community, member=member, left_at__isnull=True
    ).first()


def my_communities(member) -> QuerySet[Community]:
    """The communities the member currently belongs to, with counts."""
    member = _viewer(member)
    if member is None:
        return Community.objects.none()
    return with_counts(
        Community.objects.filter(
            pk__in=CommunityMembership.objects.filter(member=member, left_at__isnull=True).values(
                "community"
            )
        )
    ).order_by("name")


def coordinated(member) -> QuerySet[Community]:
    """The communities the member coordinates now, with the count of their members."""
    member = _viewer(member)
    if member is None:
        return Community.objects.none()
    return with_counts(
        Community.objects.filter(
            pk__in=CommunityCoordinator.objects.filter(member=member, valid_to__isnull=True).values(
                "community"
            )
        )
    ).order_by("name")


def is_coordinator(member, community: Community) -> bool:
    member = _viewer(member)
    return member is not None and (
        CommunityCoordinator.objects.filter(
            community=community, member=member, valid_to__isnull=True
        ).exists()
    )


def may_manage(member, community: Community) -> bool:
    return _viewer(member) is not None and (is_staff(member) or is_coordinator(member, community))


def member_count(community: Community) -> int:
    return CommunityMembership.objects.filter(
        community=community, left_at__isnull=True, member__is_active=True
    ).count()


def has_community_news(member: Member) -> bool:
    """Does the member currently consent to community news by email?"""
    return ConsentState.objects.filter(
        member=member, channel=Channel.EMAIL, message_type=MessageType.COMMUNITY, given=True
    ).exists()


def has_community_answer(member: Member) -> bool:
    """Has the member already answered for community news by email (given or withdrawn)?"""
    return ConsentState.objects.filter(
        member=member, channel=Channel.EMAIL, message_type=MessageType.COMMUNITY
    ).exists()


# -- writes ---------------------------------------------------------------------------------------


def _require_staff(actor, action: str) -> None:
    if _viewer(actor) is None or not is_staff(actor):
        raise Forbidden(f"Only national staff may {action}.", field=None)


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("The name is required.", field="name")
    if "\x00" in name:
        raise InvalidInput("The name contains a NUL character.", field="name")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"The name is too long ({NAME_MAX} characters at most).", field="name")
    return name


def _clean_description(description: str) -> str:
    description = (description or "").strip()
    if "\x00" in description:
        raise InvalidInput("The presentation contains a NUL character.", field="description")
    if len(description) > DESCRIPTION_MAX:
        raise InvalidInput(
            f"The presentation is too long ({DESCRIPTION_MAX} characters at most).",
            field="description",
        )
    return description


def _clean_slug(slug: str | None, name: str) -> str:
    given = slug is not None and slug.strip() != ""
    value = slugify(slug.strip() if given else name)[:SLUG_MAX].strip("-")
    if given and value != slug.strip():
        raise InvalidInput(
            f"The slug {slug.strip()[:80]!r} is not valid: lowercase letters, digits and "
            f"hyphens only, {SLUG_MAX} characters at most (for example {value or 'jeunes'!r}).",
            field="slug",
        )
    if not value:
        raise InvalidInput(
            "No slug can be made from this name: give one (letters, digits, hyphens).",
            field="slug",
        )
    return value


@transaction.atomic
def community_create(
    *, actor: Member, name: str, slug: str | None = None, description: str = "", public=True
) -> Community:
    """Create a community (staff only). The slug is made from the name unless given; a slug
    already used is a Conflict naming it."""
    _require_staff(actor, "create a community")
    name = _clean_name(name)
    slug = _clean_slug(slug, name)
    if Community.objects.filter(slug=slug).exists():
        raise Conflict(f"A community already uses the slug {slug!r}.", field="slug")
    community = Community(
        slug=slug,
        name=name,
        description=_clean_description(description),
        public=bool(public),
        created_by=actor,
    )
    community.full_clean()
    try:
        with transaction.atomic():
            community.save()
    except IntegrityError as exc:  # the same slug at the same moment
        raise Conflict(f"A community already uses the slug {slug!r}.", field="slug") from exc
    return community


@transaction.atomic
def community_update(
    *,
    actor: Member,
    community: Community,
    name: str | None = None,
    description: str | None = None,
    public: bool | None = None,
) -> Community:
    """Change the name or presentation (staff, or the community's coordinators) or whether
    it is public (staff only). The slug never changes: links and segments use it."""
    if not may_manage(actor, community):
        raise Forbidden("Only staff and this community's coordinators may change it.", field=None)
    fields = []
    if name is not None:
        community.name = _clean_name(name)
        fields.append("name")
    if description is not None:
        community.description = _clean_description(description)
        fields.append("description")
    if public is not None and bool(public) != community.public:
        _require_staff(actor, "make a community public or hidden")
        community.public = bool(public)
        fields.append("public")
    if fields:
        community.full_clean()
        community.save(update_fields=fields)
    return community


@dataclass(frozen=True)
class JoinResult:
    membership: CommunityMembership
    created: bool  # False: the member already belonged (nothing changed)
    consent_given: bool  # the community-news email consent was recorded by this join


@transaction.atomic
def community_join(
    *, member: Member, community: Community, community_news: bool = False
) -> JoinResult:
    """Join a public community. Idempotent: joining again while a member changes nothing.

    With ``community_news`` (a box on the page the member ticks: never pre-ticked, since a
    pre-ticked box is not consent — CJEU Planet49, CNIL), a member who never
    answered for community news by email gives that consent (how=community); an earlier
    answer, given or withdrawn, is kept as it is.
    """
    if _viewer(member) is None or not member.is_active:
        raise Forbidden("Only active members may join a community.", field=None)
    current = current_membership(member, community)
    if current is not None:
        return JoinResult(current, created=False, consent_given=False)
    if not community.public:
        raise Forbidden(
            f"The community {community.slug!r} is not open: ask its coordinators.",
            field="community_id",
        )
    try:
        with transaction.atomic():
            membership = CommunityMembership.objects.create(community=community, member=member)
    except IntegrityError:  # a double submit raced us: the other one joined
        existing = current_membership(member, community)
        if existing is None:
            raise
        return JoinResult(existing, created=False, consent_given=False)
    given = False
    if community_news and not has_community_answer(member):
        given = consent.consent_set(
            member=member,
            channel=Channel.EMAIL,
            message_type=MessageType.COMMUNITY,
            given=True,
            how=ConsentHow.COMMUNITY,
            text=consent_text("community_news"),
        )
    return JoinResult(membership, created=True, consent_given=given)


@transaction.atomic
def community_leave(*, member: Member, community: Community) -> CommunityMembership | None:
    """Leave a community: the membership is closed (``left_at``), never deleted. Returns the
    closed membership, or None when the member was not in it (nothing changes).

    The community-news consent stays as it is: it covers every community the member is in.
    """
    if _viewer(member) is None:
        raise Forbidden("Log in first.", field=None)
    membership = (
        CommunityMembership.objects.select_for_update()
        .filter(community=community, member=member, left_at__isnull=True)
        .first()
    )
    if membership is None:
        return None
    membership.left_at = timezone.now()
    membership.save(update_fields=["left_at"])
    return membership


@transaction.atomic
def coordinator_grant(
    *, actor: Member, community: Community, member: Member
) -> CommunityCoordinator:
    """Make a member a coordinator of the community (staff only; audited)."""
    _require_staff(actor, "name community coordinators")
    if not member.is_active:
        raise InvalidInput("Only an active member may coordinate a community.", field="member")
    if CommunityCoordinator.objects.filter(
        community=community, member=member, valid_to__isnull=True
    ).exists():
        raise Conflict(
            f"This member already coordinates the community {community.slug!r}.", field="member"
        )
    grant = CommunityCoordinator.objects.create(
        community=community, member=member, granted_by=actor
    )
    audit_record(
        actor=actor,
        action="community.coordinator_grant",
        details={"community": community.slug, "member": str(member.public_id)},
    )
    return grant


@transaction.atomic
def coordinator_end(*, actor: Member, community: Community, member: Member) -> CommunityCoordinator:
    """End a member's coordination of the community (staff only; audited). The row stays,
    with ``valid_to``, as the history of who coordinated when."""
    _require_staff(actor, "remove community coordinators")
    grant = (
        CommunityCoordinator.objects.select_for_update()
        .filter(community=community, member=member, valid_to__isnull=True)
        .first()
    )
    if grant is None:
        raise NotFound(
            f"This member does not coordinate the community {community.slug!r}.", field="member"
        )
    grant.valid_to = timezone.now()
    grant.save(update_fields=["valid_to"])
    audit_record(
        actor=actor,
        action="community.coordinator_end",
        details={"community": community.slug, "member": str(member.public_id)},
    )
    return grant
