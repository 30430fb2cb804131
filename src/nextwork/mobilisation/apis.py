"""Electoral mobilisation endpoints of /api/v1/: the published election calendar, proxy
requests and offers, matches and their steps, automatic matching.

Reads go through ``selectors`` (what the caller may see), writes through ``services``; this
module only shapes the answers. A match is shown through ``selectors.match_view``: the other
side's contact details appear only once both sides accepted, and coordinators see first names.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import AfterValidator, Field

from nextwork.api.auth import member_auth
from nextwork.common.errors import Forbidden, NotFound
from nextwork.mobilisation import selectors, services
from nextwork.mobilisation.models import Election, ProxyOffer, ProxyRequest
from nextwork.network.apis import ErrorOut

router = Router(tags=["mobilisation"])

MAX_PAGE = 100
MAX_OFFSET = 1_000_000


def _no_nul(value: str) -> str:
    # PostgreSQL refuses NUL in text; codes never hold one.
    if "\x00" in value:
        raise ValueError("holds a NUL character")
    return value


Code = Annotated[str, AfterValidator(_no_nul)]


# -- errors ---------------------------------------------------------------------------------------


READ_ERRORS = {400: ErrorOut, 404: ErrorOut}
WRITE_ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
}


class Paging(Schema):
    limit: int = Field(20, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class CommuneRef(Schema):
    code: str = Field(description="INSEE code of the commune (75056) or arrondissement (75106).")
    name: str


# -- elections ------------------------------------------------------------------------------------


class RoundOut(Schema):
    id: int = Field(description="What proxy requests and offers name.")
    number: int = Field(description="1 or 2.")
    date: datetime.date
    opens_at: str = Field(
        pattern=r"^\d\d:\d\d$", description="When polling stations open, local time (08:00)."
    )
    closes_at: str = Field(pattern=r"^\d\d:\d\d$", description="When they close (18:00).")


class ElectionOut(Schema):
    id: int
    slug: str
    name: str
    kind: str = Field(description="presidentielle, legislatives, municipales, … or a by-election.")
    registration_deadline: datetime.date = Field(
        description="The last day to register on the electoral roll."
    )
    areas: list[str] = Field(
        description="Codes of the areas it concerns (75-02, 75056, 13, R93); empty: everywhere."
    )
    rounds: list[RoundOut]
    notes: str


class ElectionPage(Schema):
    items: list[ElectionOut]
    total: int
    limit: int
    offset: int


def _election_out(election: Election) -> dict:
    return {
        "id": election.pk,
        "slug": election.slug,
        "name": election.name,
        "kind": election.kind,
        "registration_deadline": election.registration_deadline,
        "areas": [a.code for a in election.areas.all()],
        "rounds": [
            {
                "id": r.pk,
                "number": r.number,
                "date": r.date,
                "opens_at": r.opens_at.strftime("%H:%M"),
                "closes_at": r.closes_at.strftime("%H:%M"),
            }
            for r in election.rounds.all()
        ],
        "notes": election.notes,
    }


@router.get(
    "/elections",
    response={200: ElectionPage, **READ_ERRORS},
    summary="The published elections, with their rounds and registration deadline",
)
def election_list(request: HttpRequest, paging: Query[Paging]):
    elections = selectors.elections_public()
    total = elections.count()
    page = elections[paging.offset : paging.offset + paging.limit]
    return {
        "items": [_election_out(e) for e in page],
        "total": total,
        "limit": paging.limit,
        "offset": paging.offset,
    }


@router.get(
    "/elections/{election_id}",
    response={200: ElectionOut, **READ_ERRORS},
    summary="One published election",
)
def election_detail(request: HttpRequest, election_id: int):
    election = selectors.election_public(election_id)
    if election is None:
        raise NotFound(f"No published election {election_id}.", field="election_id")
    return _election_out(election)


# -- requests and offers --------------------------------------------------------------------------


class RequestIn(Schema):
    round: int = Field(ge=1, le=2**31 - 1, description="The round's id (see /elections).")
    commune: Code | None = Field(
        None, max_length=5,
        description="INSEE code of where you vote; by default your voting situation's.",
    )  # fmt: skip
    established_abroad: bool = Field(
        False, description="The proxy is established at a consulate (abroad)."
    )


class RequestOut(Schema):
    id: int
    round: int
    commune: CommuneRef
    established_abroad: bool
    status: Literal["requested", "matched", "accepted", "declared", "voted", "cancelled"]


def _request_out(request: ProxyRequest) -> dict:
    return {
        "id": request.pk,
        "round": request.round_id,
        "commune": {"code": request.commune.code, "name": request.commune.name},
        "established_abroad": request.established_abroad,
        "status": request.status,
    }


@router.post(
    "/proxies/requests",
    response={201: RequestOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="I will be absent: ask for someone to vote for me (needs the electoral consent)",
)
def request_create(request: HttpRequest, payload: RequestIn):
    created = services.request_create(
        member=request.user,
        round_id=payload.round,
        commune_code=payload.commune or "",
        established_abroad=payload.established_abroad,
    )
    return Status(201, _request_out(created))


@router.post(
    "/proxies/requests/{request_id}/cancel",
    response={200: RequestOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Cancel my proxy request (its match, if any, is cancelled and the holder told)",
)
def request_cancel(request: HttpRequest, request_id: int):
    return _request_out(services.request_cancel(request_id=request_id, member=request.user))


class OfferIn(Schema):
    round: int = Field(ge=1, le=2**31 - 1, description="The round's id (see /elections).")
    communes: list[Annotated[Code, Field(max_length=5)]] = Field(
        min_length=1, max_length=20, description="INSEE codes of the communes you can go to."
    )


class OfferOut(Schema):
    id: int
    round: int
    communes: list[CommuneRef]
    active: bool


def _offer_out(offer: ProxyOffer) -> dict:
    return {
        "id": offer.pk,
        "round": offer.round_id,
        "communes": [{"code": c.code, "name": c.name} for c in offer.communes.all()],
        "active": offer.active,
    }


@router.post(
    "/proxies/offers",
    response={201: OfferOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="I can carry a proxy on a round, in these communes (needs the electoral consent)",
)
def offer_create(request: HttpRequest, payload: OfferIn):
    offer = services.offer_create(
        member=request.user, round_id=payload.round, commune_codes=payload.communes
    )
    return Status(201, _offer_out(offer))


@router.post(
    "/proxies/offers/{offer_id}/withdraw",
    response={200: OfferOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Withdraw my offer (its matches are cancelled and the requesters told)",
)
def offer_withdraw(request: HttpRequest, offer_id: int):
    return _offer_out(services.offer_withdraw(offer_id=offer_id, member=request.user))


# -- matches --------------------------------------------------------------------------------------


class PersonOut(Schema):
    first_name: str
    last_name: str | None = Field(None, description="Only once both sides accepted.")
    email: str | None = Field(None, description="Only once both sides accepted.")
    phone: str | None = Field(None, description="Only once both sides accepted.")


class FirstName(Schema):
    first_name: str


class MatchOut(Schema):
    id: int
    round: int
    election: str
    date: datetime.date
    commune: CommuneRef = Field(description="Where the requester votes: the holder goes there.")
    status: Literal["proposed", "accepted", "declared", "voted", "cancelled"]
    side: Literal["requester", "holder", "coordinator"] = Field(
        description="The caller's part: the one who asks, the one who votes, or a coordinator."
    )
    distance_km: float
    requester_accepted: bool
    holder_accepted: bool
    other: PersonOut | None = Field(
        None, description="The other side, for the requester and the holder."
    )
    requester: FirstName | None = Field(None, description="For a coordinator.")
    holder: FirstName | None = Field(None, description="For a coordinator.")


class MatchPage(Schema):
    items: list[MatchOut]
    total: int
    limit: int
    offset: int


class MatchFilter(Paging):
    round: int | None = Field(None, ge=1, le=2**31 - 1)
    status: Literal["proposed", "accepted", "declared", "voted", "cancelled"] | None = None


@router.get(
    "/proxies/matches",
    response={200: MatchPage, 401: ErrorOut, **READ_ERRORS},
    auth=member_auth,
    summary="My matches, and for a coordinator those of their territory (newest first)",
)
def match_list(request: HttpRequest, filters: Query[MatchFilter]):
    matches = selectors.matches_in_scope(caller=request.user)
    if filters.round is not None:
        matches = matches.filter(round_id=filters.round)
    if filters.status is not None:
        matches = matches.filter(status=filters.status)
    total = matches.count()
    page = matches[filters.offset : filters.offset + filters.limit]
    return {
        "items": [selectors.match_view(m, request.user) for m in page],
        "total": total,
        "limit": filters.limit,
        "offset": filters.offset,
    }


class ProposeIn(Schema):
    request: int = Field(ge=1, le=2**31 - 1)
    offer: int = Field(ge=1, le=2**31 - 1)


def _in_scope(caller, request_id: int) -> None:
    """Coordinators only, and a request of their territory: one elsewhere is not found."""
    if not selectors.coordinates_anything(caller):
        raise Forbidden("Only coordinators match proxies.")
    if not selectors.requests_in_scope(caller=caller).filter(pk=request_id).exists():
        raise NotFound(f"No proxy request {request_id} in your territory.", field="request")


@router.post(
    "/proxies/matches",
    response={201: MatchOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Propose a holder's offer for a request of my territory (coordinators)",
)
def match_propose(request: HttpRequest, payload: ProposeIn):
    _in_scope(request.user, payload.request)
    match = services.match_propose(
        request_id=payload.request, offer_id=payload.offer, by=request.user
    )
    return Status(201, selectors.match_view(match, request.user))


def _mine(match_id: int, member) -> dict:
    # The service checked the caller is a side of it; read it back through the scoped selector.
    match = selectors.matches_in_scope(caller=member).filter(pk=match_id).first()
    if match is None:
        raise NotFound(f"No proxy match {match_id} of yours.", field="match")
    return selectors.match_view(match, member)


@router.post(
    "/proxies/matches/{match_id}/accept",
    response={200: MatchOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Accept a match proposed to me; once both accept, each sees the other's contact",
)
def match_accept(request: HttpRequest, match_id: int):
    services.match_accept(match_id=match_id, member=request.user)
    return _mine(match_id, request.user)


@router.post(
    "/proxies/matches/{match_id}/decline",
    response={200: MatchOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Decline a match: the request waits for another holder, the other side is told",
)
def match_decline(request: HttpRequest, match_id: int):
    services.match_decline(match_id=match_id, member=request.user)
    return _mine(match_id, request.user)


class StepIn(Schema):
    step: Literal["declared", "voted"] = Field(
        description="declared: the requester established the proxy; voted: the holder voted."
    )


@router.post(
    "/proxies/matches/{match_id}/steps",
    response={200: MatchOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Say the proxy is established (requester) or that I voted (holder)",
)
def match_step(request: HttpRequest, match_id: int, payload: StepIn):
    services.match_step(match_id=match_id, member=request.user, step=payload.step)
    return _mine(match_id, request.user)


class RunIn(Schema):
    round: int = Field(ge=1, le=2**31 - 1)
    radius_km: float = Field(20.0, ge=0, le=200, description="How far a holder may be sought.")


class RunResult(Schema):
    waiting: int = Field(description="Requests of the caller's territory that waited.")
    proposed: int
    same_commune: int
    nearby: int
    refused: int = Field(description="Pairs the database refused (matched meanwhile).")
    unmatched: int


class RunOut(Schema):
    id: int
    round: int = Field(validation_alias="round_id")
    radius_km: float
    status: Literal["queued", "running", "done", "failed"]
    result: RunResult | None = Field(None, description="Once done.")
    error: str = Field("", description="Why it failed, if it did.")
    created_at: datetime.datetime
    finished_at: datetime.datetime | None

    @staticmethod
    def resolve_result(run) -> dict | None:
        return run.result or None


@router.post(
    "/proxies/match-run",
    response={202: RunOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Queue an automatic matching of my territory on a round (coordinators)",
    description="The worker proposes holders for the waiting requests of the caller's "
    "territory: in the same commune first, then within radius_km. Follow it with "
    "GET /proxies/match-runs/{run_id}.",
)
def match_run(request: HttpRequest, payload: RunIn):
    run = services.match_run_queue(
        round_id=payload.round, by=request.user, radius_km=payload.radius_km
    )
    return Status(202, run)


@router.get(
    "/proxies/match-runs/{run_id}",
    response={200: RunOut, 401: ErrorOut, **READ_ERRORS},
    auth=member_auth,
    summary="An automatic matching I queued, with its figures once done",
)
def match_run_get(request: HttpRequest, run_id: int):
    run = selectors.runs_of(request.user).filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"No matching run {run_id} of yours.", field="run_id")
    return run
