"""Reads of electoral mobilisation, scoped by grants (deny by default).

- elections: published ones for everybody;
- a member sees their own situation, requests, offers and matches;
- a coordinator sees the requests and offers of the communes their grants cover (a
  department's or region's grant: its communes; a constituency's: the communes of that seat),
  without contact details;
- the other side of a match is shown by first name and commune until both accepted, then by
  full name and contact.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from nextwork.mobilisation.models import (
    CURRENT,
    Election,
    MatchRun,
    MatchStatus,
    ProxyMatch,
    ProxyOffer,
    ProxyRequest,
    Round,
    VotingSituation,
)
from nextwork.network.models import Member, Role
from nextwork.network.permissions import current_grants


def elections_public() -> QuerySet[Election]:
    return Election.objects.filter(published=True).prefetch_related("rounds", "areas")


def election_public(election_id: int) -> Election | None:
    return elections_public().filter(pk=election_id).first()


def coordinates_anything(member: Member) -> bool:
    return current_grants(member, [Role.COORDINATOR, Role.STAFF]).exists()


def commune_scope(member: Member, field: str = "commune") -> Q:
    """A Q on ``field`` (a commune) for the communes a member's coordinator grants cover."""
    grants = list(current_grants(member, [Role.COORDINATOR, Role.STAFF]))
    if any(g.role == Role.STAFF for g in grants):
        return Q()
    areas = [g.area_id for g in grants if g.area_id]
    if not areas:
        return Q(pk__in=[])
    return (
        Q(**{f"{field}__in": areas})
        | Q(**{f"{field}__parent__in": areas})
        | Q(**{f"{field}__parent__parent__in": areas})
        # An arrondissement of Paris, Lyon or Marseille: city → department → region.
        | Q(**{f"{field}__parent__parent__parent__in": areas})
        | Q(**{f"{field}__constituency_links__constituency__in": areas})
    )


def requests_in_scope(*, caller: Member, round_id: int | None = None) -> QuerySet[ProxyRequest]:
    found = ProxyRequest.objects.filter(commune_scope(caller)).distinct().select_related("member")
    if round_id is not None:
        found = found.filter(round_id=round_id)
    return found.select_related("commune", "round", "round__election")


def offers_in_scope(*, caller: Member, round_id: int | None = None) -> QuerySet[ProxyOffer]:
    found = ProxyOffer.objects.filter(active=True).filter(
        pk__in=ProxyOffer.communes.through.objects.filter(commune_scope(caller, "area")).values(
            "proxyoffer_id"
        )
    )
    if round_id is not None:
        found = found.filter(round_id=round_id)
    return found.prefetch_related("communes")


def open_rounds() -> QuerySet[Round]:
    from django.utils import timezone

    return (
        Round.objects.filter(election__published=True, date__gte=timezone.localdate())
        .select_related("election")
        .order_by("date", "number")
    )


def matches_of(member: Member) -> QuerySet[ProxyMatch]:
    return (
        ProxyMatch.objects.filter(CURRENT)
        .filter(Q(request__member=member) | Q(holder=member))
        .select_related(
            "request", "request__member", "request__commune", "holder", "round", "round__election"
        )
        .order_by("round__date", "pk")
    )


def matches_in_scope(*, caller: Member) -> QuerySet[ProxyMatch]:
    """The matches a member may see: their own, and those of the communes they coordinate."""
    return (
        ProxyMatch.objects.filter(
            Q(request__member=caller)
            | Q(holder=caller)
            | Q(request__in=ProxyRequest.objects.filter(commune_scope(caller)))
        )
        .select_related(
            "request", "request__member", "request__commune", "holder", "round", "round__election"
        )
        .order_by("-pk")
    )


SHARED = (MatchStatus.ACCEPTED, MatchStatus.DECLARED, MatchStatus.VOTED)


def match_view(match: ProxyMatch, viewer: Member) -> dict:
    """What ``viewer`` may see of a match: their side, and the other side's first name until
    both accepted, then their full name, email and phone. Coordinators see first names only."""
    requester, holder = match.request.member, match.holder
    if viewer.pk == requester.pk:
        side, other = "requester", holder
    elif viewer.pk == holder.pk:
        side, other = "holder", requester
    else:
        side, other = "coordinator", None
    data = {
        "id": match.pk,
        "round": match.round_id,
        "election": match.round.election.name,
        "date": match.round.date.isoformat(),
        "commune": {"code": match.request.commune.code, "name": match.request.commune.name},
        "status": match.status,
        "side": side,
        "distance_km": match.distance_km,
        "requester_accepted": match.requester_accepted_at is not None,
        "holder_accepted": match.holder_accepted_at is not None,
    }
    if other is None:
        data["requester"] = {"first_name": requester.first_name}
        data["holder"] = {"first_name": holder.first_name}
        return data
    person = {"first_name": other.first_name}
    if match.status in SHARED:
        person.update(last_name=other.last_name, email=other.email, phone=other.phone or "")
    data["other"] = person
    return data


# -- a member's own ---------------------------------------------------------------------------


def situation_of(member: Member) -> VotingSituation | None:
    return VotingSituation.objects.filter(member=member).select_related("commune").first()


def requests_of(member: Member) -> QuerySet[ProxyRequest]:
    """The member's current proxy requests."""
    return ProxyRequest.objects.filter(CURRENT, member=member).select_related("commune", "round")


def offers_of(member: Member) -> QuerySet[ProxyOffer]:
    """The member's active proxy offers."""
    return ProxyOffer.objects.filter(member=member, active=True).prefetch_related("communes")


def runs_of(member: Member) -> QuerySet[MatchRun]:
    """The automatic matchings a coordinator queued, the latest first."""
    return (
        MatchRun.objects.filter(by=member)
        .select_related("round", "round__election")
        .order_by("-created_at", "-pk")
    )
