"""Writes of electoral mobilisation: elections, voting situations, proxy requests and offers,
matches and their steps (docs/mobilisation.md).

Promises:
- nothing about a member's vote is stored without the ``electoral`` consent; withdrawing it
  deletes their situation and cancels their requests, offers and matches (the other side is
  told);
- a request or offer is refused for a round that is past or too close
  (``NEXTWORK_PROXY_DEADLINE_DAYS`` before it), and for a commune the election does not cover;
- the legal limits of proxies hold in the database (``models.ProxyMatch``): two coordinators
  matching at once get a clear refusal for the second, never a holder with two French proxies;
- contact details are shared only once both sides accepted (``selectors.match_view``).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from nextwork.common.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from nextwork.common.text import clean_text
from nextwork.mobilisation import notices
from nextwork.mobilisation.models import (
    CURRENT,
    Election,
    ElectionKind,
    MatchRun,
    MatchStatus,
    ProxyMatch,
    ProxyOffer,
    ProxyRequest,
    Registered,
    RequestStatus,
    Round,
    RunStatus,
    VotingSituation,
)
from nextwork.network.models import Consent, ConsentSource, Member, Role
from nextwork.network.permissions import covers, is_staff
from nextwork.privacy.services import audit_record
from nextwork.territories.lookup import get_engine
from nextwork.territories.models import Area, AreaKind, CommuneConstituency

CONSENT_KIND = "electoral"
# By-elections concern some areas only; the general ones may too (a regional election is not
# held in every territory), so only these must name theirs.
PARTIAL_KINDS = (
    ElectionKind.LEGISLATIVE_PARTIELLE,
    ElectionKind.MUNICIPALE_PARTIELLE,
    ElectionKind.DEPARTEMENTALE_PARTIELLE,
)
# Where one votes: a commune, or a municipal arrondissement of Paris, Lyon or Marseille.
PLACE_KINDS = (AreaKind.COMMUNE, AreaKind.ARRONDISSEMENT)
AREA_KINDS = (AreaKind.CONSTITUENCY, *PLACE_KINDS, AreaKind.DEPARTMENT, AreaKind.REGION)


class LawBroken(DomainError):
    """A proxy the electoral code does not allow; the message says which rule."""

    code = "rule_broken"
    status = 422


def deadline_days() -> int:
    return int(getattr(settings, "NEXTWORK_PROXY_DEADLINE_DAYS", 2))


# -- elections (staff) --------------------------------------------------------------------------


@dataclass(frozen=True)
class RoundIn:
    number: int
    date: datetime.date
    opens_at: datetime.time = datetime.time(8, 0)
    closes_at: datetime.time = datetime.time(18, 0)


def _area(code: str, *, kinds=AREA_KINDS, field: str = "areas") -> Area:
    """An area of the active registry by its official code: a seat (75-02), a commune
    (75056), a department (75, 2A), a region (R11)."""
    code = clean_text(code, field=field, limit=20).upper()
    areas = Area.objects.filter(boundary_set_id=get_engine().boundary_set_id, kind__in=kinds)
    if code.startswith("R") and code[1:].isdigit():
        found = areas.filter(kind=AreaKind.REGION, code=code[1:]).first()
    elif "-" in code:
        found = areas.filter(kind=AreaKind.CONSTITUENCY, code=code).first()
    elif len(code) == 5:
        found = areas.filter(kind__in=PLACE_KINDS, code=code).order_by("kind").first()
    else:
        found = areas.filter(kind=AreaKind.DEPARTMENT, code=code).first()
    if found is None:
        raise InvalidInput(f"No area {code!r} in the registry.", field=field)
    return found


def commune(code: str, *, field: str = "commune") -> Area:
    """Where one votes, by INSEE code: a commune (69123), or an arrondissement of Paris, Lyon
    or Marseille (75102), which places the voter in one seat."""
    code = clean_text(code, field=field, limit=5)
    if len(code) != 5:
        raise InvalidInput("Give the commune's INSEE code (5 characters, 75056).", field=field)
    return _area(code, kinds=PLACE_KINDS, field=field)


@transaction.atomic
def election_create(
    *,
    by: Member,
    kind: str,
    name: str,
    slug: str,
    registration_deadline: datetime.date,
    rounds: Iterable[RoundIn],
    area_codes: Iterable[str] = (),
    published: bool = False,
    notes: str = "",
) -> Election:
    if not is_staff(by):
        raise Forbidden("Only staff enter elections.")
    if kind not in ElectionKind.values:
        raise InvalidInput(f"Unknown kind {kind!r}; one of {', '.join(ElectionKind.values)}.",
                           field="kind")  # fmt: skip
    rounds = sorted(rounds, key=lambda r: r.number)
    if [r.number for r in rounds] not in ([1], [1, 2]):
        raise InvalidInput("An election has a first round, and maybe a second.", field="rounds")
    if len(rounds) == 2 and rounds[1].date <= rounds[0].date:
        raise InvalidInput("The second round comes after the first.", field="rounds")
    for r in rounds:
        if r.closes_at <= r.opens_at:
            raise InvalidInput("Polling stations close after they open.", field="rounds")
    if registration_deadline >= rounds[0].date:
        raise InvalidInput(
            "The registration deadline comes before the first round.", field="registration_deadline"
        )
    areas = [_area(code) for code in area_codes]
    if kind in PARTIAL_KINDS and not areas:
        raise InvalidInput("A by-election names its seats or communes.", field="areas")
    if Election.objects.filter(slug=slug).exists():
        raise Conflict(f"An election {slug!r} exists already.", field="slug")
    election = Election.objects.create(
        kind=kind,
        name=clean_text(name, field="name", limit=200),
        slug=slug,
        registration_deadline=registration_deadline,
        published=published,
        notes=clean_text(notes, field="notes", limit=5000, required=False),
    )
    election.areas.set(areas)
    for r in rounds:
        Round.objects.create(
            election=election, number=r.number, date=r.date, opens_at=r.opens_at,
            closes_at=r.closes_at,
        )  # fmt: skip
    audit_record(actor=by, action="mobilisation.election_create", details={"election": election.pk})
    return election


def covered(election: Election, place: Area) -> bool:
    """Does the election concern this commune or arrondissement? (No areas: the whole
    country.) A seat covers the communes (and arrondissements) linked to it; a commune split
    between seats is covered when one of its parts is."""
    ids = set(election.areas.values_list("pk", flat=True))
    if not ids:
        return True
    node: Area | None = place
    while node is not None:  # the place, its commune, department, region
        if node.pk in ids:
            return True
        node = node.parent
    seats = CommuneConstituency.objects.filter(
        Q(commune=place) | Q(commune__parent=place)
    ).values_list("constituency_id", flat=True)
    return bool(ids & set(seats))


# -- the voting situation (the member) ---------------------------------------------------------


def _consent(member: Member) -> Consent | None:
    return (
        Consent.objects.filter(member=member, text__kind=CONSENT_KIND, revoked_at__isnull=True)
        .order_by("-given_at")
        .first()
    )


def _require_consent(member: Member) -> Consent:
    consent = _consent(member)
    if consent is None:
        raise Forbidden(
            "Agree to the electoral data notice first (your voting situation page).",
            field="consent",
        )
    return consent


@transaction.atomic
def situation_set(
    *,
    member: Member,
    consent: bool,
    registered: str = "",
    commune_code: str = "",
    polling_station: str = "",
) -> VotingSituation:
    """Record what the member chose to say; ``consent`` is the box they ticked (needed the
    first time, and again after a withdrawal)."""
    from nextwork.messaging.texts import consent_text

    if not member.is_authenticated or not member.is_active:
        raise Forbidden("Sign in with a confirmed account.")
    given = _consent(member)
    if given is None:
        if not consent:
            raise InvalidInput(
                "Tick the box to agree that we keep this information.", field="consent"
            )
        given = Consent.objects.create(
            member=member, text=consent_text(CONSENT_KIND), source=ConsentSource.SITE
        )
    if registered and registered not in Registered.values:
        raise InvalidInput(
            f"registered: one of {', '.join(Registered.values)}, or nothing.", field="registered"
        )
    place = commune(commune_code) if commune_code else None
    situation, _created = VotingSituation.objects.update_or_create(
        member=member,
        defaults={
            "consent": given,
            "registered": registered,
            "commune": place,
            "polling_station": clean_text(
                polling_station, field="polling_station", limit=200, required=False
            ),
            "updated_at": timezone.now(),
        },
    )
    return situation


@transaction.atomic
def situation_withdraw(*, member: Member) -> int:
    """Withdraw the electoral consent: the situation goes, requests, offers and matches are
    cancelled (the other sides told). Returns how many matches were cancelled."""
    now = timezone.now()
    Consent.objects.filter(member=member, text__kind=CONSENT_KIND, revoked_at__isnull=True).update(
        revoked_at=now
    )
    VotingSituation.objects.filter(member=member).delete()
    cancelled = 0
    matches = ProxyMatch.objects.select_for_update().filter(
        CURRENT, Q(request__member=member) | Q(holder=member)
    )
    for match in matches:
        _cancel_match(match, reason="consentement retiré", by=member)
        cancelled += 1
    ProxyRequest.objects.filter(CURRENT, member=member).update(
        status=RequestStatus.CANCELLED, cancel_reason="consentement retiré", updated_at=now
    )
    ProxyOffer.objects.filter(member=member, active=True).update(active=False)
    return cancelled


def member_deleted(sender, instance: Member, **kwargs) -> None:
    """A member erased or deleted: their current matches are cancelled first, so the other
    side is told and a requester left without holder waits for another (the rows themselves
    go with the member)."""
    matches = (
        ProxyMatch.objects.select_for_update()
        .filter(CURRENT, Q(request__member=instance) | Q(holder=instance))
        .select_related("request", "round", "round__election")
    )
    for match in matches:
        _cancel_match(match, reason="compte supprimé", by=instance)


# -- proxy requests and offers (members) --------------------------------------------------------


def _open_round(round_id: int) -> Round:
    found = (
        Round.objects.select_related("election")
        .filter(pk=round_id, election__published=True)
        .first()
    )
    if found is None:
        raise NotFound(f"No published round {round_id}.", field="round")
    today = timezone.localdate()
    if found.date < today:
        raise Conflict("This round is over.", field="round")
    limit = found.date - datetime.timedelta(days=deadline_days())
    if today > limit:
        raise Conflict(
            f"Proxies for this round are arranged here until {limit.isoformat()}; "
            "ask your town hall or a police station directly.",
            field="round",
        )
    return found


@transaction.atomic
def request_create(
    *, member: Member, round_id: int, commune_code: str = "", established_abroad: bool = False
) -> ProxyRequest:
    """A member who will be absent asks for a proxy holder, for the commune they vote in
    (their situation's when not given)."""
    _require_consent(member)
    the_round = _open_round(round_id)
    if commune_code:
        place = commune(commune_code)
    else:
        situation = VotingSituation.objects.filter(member=member).select_related("commune").first()
        if situation is None or situation.commune is None:
            raise InvalidInput("Say in which commune you vote.", field="commune")
        place = situation.commune
    if not covered(the_round.election, place):
        raise InvalidInput(
            f"{the_round.election.name} is not held in {place.name}.", field="commune"
        )
    if ProxyOffer.objects.filter(member=member, round=the_round, active=True).exists():
        raise Conflict(
            "You offered to carry a proxy on this round: withdraw the offer first.", field="round"
        )
    try:
        with transaction.atomic():
            request = ProxyRequest.objects.create(
                member=member, round=the_round, commune=place,
                established_abroad=bool(established_abroad),
            )  # fmt: skip
    except IntegrityError:
        raise Conflict("You asked for a proxy on this round already.", field="round") from None
    return request


@transaction.atomic
def offer_create(*, member: Member, round_id: int, commune_codes: Iterable[str]) -> ProxyOffer:
    """A member offers to carry a proxy on a round, in the communes they can go to."""
    _require_consent(member)
    the_round = _open_round(round_id)
    codes = list(dict.fromkeys(c for c in commune_codes if c))
    if not codes:
        raise InvalidInput("Name at least one commune you can go to.", field="communes")
    if len(codes) > 20:
        raise InvalidInput("At most 20 communes per offer.", field="communes")
    places = [commune(c, field="communes") for c in codes]
    outside = [p.name for p in places if not covered(the_round.election, p)]
    if outside:
        raise InvalidInput(
            f"{the_round.election.name} is not held in {', '.join(outside)}.", field="communes"
        )
    if ProxyRequest.objects.filter(CURRENT, member=member, round=the_round).exists():
        raise Conflict(
            "You asked for a proxy on this round: you cannot carry one for someone else.",
            field="round",
        )
    try:
        with transaction.atomic():
            offer = ProxyOffer.objects.create(member=member, round=the_round)
    except IntegrityError:
        raise Conflict("You offered already for this round.", field="round") from None
    offer.communes.set(places)
    return offer


@transaction.atomic
def request_cancel(*, request_id: int, member: Member) -> ProxyRequest:
    request = ProxyRequest.objects.select_for_update().filter(pk=request_id, member=member).first()
    if request is None:
        raise NotFound(f"No proxy request {request_id} of yours.", field="request")
    for match in ProxyMatch.objects.select_for_update().filter(CURRENT, request=request):
        _cancel_match(match, reason="demande annulée", by=member)
    request.status, request.updated_at = RequestStatus.CANCELLED, timezone.now()
    request.cancel_reason = "annulée par le mandant"
    request.save(update_fields=["status", "updated_at", "cancel_reason"])
    return request


@transaction.atomic
def offer_withdraw(*, offer_id: int, member: Member) -> ProxyOffer:
    offer = ProxyOffer.objects.select_for_update().filter(pk=offer_id, member=member).first()
    if offer is None:
        raise NotFound(f"No proxy offer {offer_id} of yours.", field="offer")
    for match in ProxyMatch.objects.select_for_update().filter(CURRENT, offer=offer):
        _cancel_match(match, reason="offre retirée", by=member)
    offer.active = False
    offer.save(update_fields=["active"])
    return offer


# -- matches ------------------------------------------------------------------------------------


def _require_coordinator(by: Member, place: Area) -> None:
    if not covers(by, place, [Role.COORDINATOR]) and not _covers_seat_of(by, place):
        raise Forbidden(f"No current grant lets you match proxies in {place.name}.")


def _covers_seat_of(by: Member, place: Area) -> bool:
    """A coordinator of a constituency covers the communes of that seat."""
    seats = Area.objects.filter(commune_links__commune=place)
    return any(covers(by, seat, [Role.COORDINATOR]) for seat in seats)


def _insert_match(
    request: ProxyRequest, offer: ProxyOffer, *, by: Member | None, distance_km: float
) -> ProxyMatch:
    """Take a free slot of the holder for this request. The database refuses what the law
    does not allow; the refusal is then explained from what is stored (the same on
    PostgreSQL and SQLite, whose messages name columns, not constraints)."""
    for slot in (1, 2):
        try:
            with transaction.atomic():
                return ProxyMatch.objects.create(
                    request=request, offer=offer, round_id=request.round_id,
                    holder_id=offer.member_id, abroad=request.established_abroad, slot=slot,
                    proposed_by=by, distance_km=distance_km,
                )  # fmt: skip
        except IntegrityError:
            held = ProxyMatch.objects.filter(CURRENT, round_id=request.round_id,
                                             holder_id=offer.member_id)  # fmt: skip
            if ProxyMatch.objects.filter(CURRENT, request=request).exists():
                raise Conflict("This request has its holder already.", field="request") from None
            if not request.established_abroad and held.filter(abroad=False).exists():
                raise LawBroken(
                    "This holder carries a proxy established in France already on this round: "
                    "the electoral code allows only one (art. L73).",
                    field="offer",
                ) from None
    raise LawBroken(
        "This holder carries two proxies already on this round, the most the electoral code "
        "allows (art. L73).",
        field="offer",
    )


@transaction.atomic
def match_propose(
    *, request_id: int, offer_id: int, by: Member, distance_km: float = 0.0
) -> ProxyMatch:
    """A coordinator pairs a request of their territory with a holder's offer."""
    request = (
        ProxyRequest.objects.select_for_update().select_related("commune", "round")
        .filter(pk=request_id).first()
    )  # fmt: skip
    if request is None:
        raise NotFound(f"No proxy request {request_id}.", field="request")
    _require_coordinator(by, request.commune)
    _open_round(request.round_id)
    if request.status != RequestStatus.REQUESTED:
        raise Conflict(f"This request is {request.get_status_display()}.", field="request")
    offer = ProxyOffer.objects.filter(pk=offer_id, active=True).first()
    if offer is None:
        raise NotFound(f"No current proxy offer {offer_id}.", field="offer")
    if offer.round_id != request.round_id:
        raise InvalidInput("The offer is for another round.", field="offer")
    if offer.member_id == request.member_id:
        raise InvalidInput("Nobody carries their own proxy.", field="offer")
    if _declined(request.pk, offer.pk):
        raise Conflict("One of them declined this request with this holder already.",
                       field="offer")  # fmt: skip
    match = _insert_match(request, offer, by=by, distance_km=distance_km)
    request.status, request.updated_at = RequestStatus.MATCHED, timezone.now()
    request.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=by, action="mobilisation.match_propose", area_code=request.commune.code,
        details={"match": match.pk},
    )  # fmt: skip
    notices.proposed(match)
    return match


DECLINED = "refusée"


def _declined(request_id: int, offer_id: int) -> bool:
    return ProxyMatch.objects.filter(
        request_id=request_id, offer_id=offer_id, status=MatchStatus.CANCELLED,
        cancel_reason=DECLINED,
    ).exists()  # fmt: skip


def _side(match: ProxyMatch, member: Member) -> str:
    if match.request.member_id == member.pk:
        return "requester"
    if match.holder_id == member.pk:
        return "holder"
    raise NotFound(f"No proxy match {match.pk} of yours.", field="match")


def _locked_match(match_id: int) -> ProxyMatch:
    match = (
        ProxyMatch.objects.select_for_update(of=("self",))
        .select_related("request", "request__commune", "round", "round__election")
        .filter(pk=match_id)
        .first()
    )
    if match is None:
        raise NotFound(f"No proxy match {match_id}.", field="match")
    return match


@transaction.atomic
def match_accept(*, match_id: int, member: Member) -> ProxyMatch:
    """One side accepts; when both have, the match is accepted and each gets the other's
    contact and the steps to follow."""
    match = _locked_match(match_id)
    side = _side(match, member)
    if match.status != MatchStatus.PROPOSED:
        if match.status == MatchStatus.CANCELLED:
            raise Conflict("This match was cancelled.", field="match")
        return match
    if match.round.date < timezone.localdate():
        raise Conflict("This round is over.", field="match")
    now = timezone.now()
    if side == "requester" and match.requester_accepted_at is None:
        match.requester_accepted_at = now
    if side == "holder" and match.holder_accepted_at is None:
        match.holder_accepted_at = now
    if match.requester_accepted_at and match.holder_accepted_at:
        match.status = MatchStatus.ACCEPTED
        ProxyRequest.objects.filter(pk=match.request_id).update(
            status=RequestStatus.ACCEPTED, updated_at=now
        )
        notices.accepted(match)
    match.updated_at = now
    match.save()
    return match


@transaction.atomic
def match_decline(*, match_id: int, member: Member) -> ProxyMatch:
    """Either side says no, before the proxy is established: the request waits for another
    holder (never this one again), the other side is told. An established proxy is revoked
    officially, then the requester cancels their request (``request_cancel``)."""
    match = _locked_match(match_id)
    _side(match, member)
    if match.status == MatchStatus.CANCELLED:
        return match
    if match.status == MatchStatus.VOTED:
        raise Conflict("The vote took place: nothing to cancel.", field="match")
    if match.status == MatchStatus.DECLARED:
        raise Conflict(
            "This proxy is established: the person who gave it revokes it officially "
            "(maprocuration.gouv.fr or a police station), then cancels their request.",
            field="match",
        )
    _cancel_match(match, reason=DECLINED, by=member)
    return match


def _cancel_match(match: ProxyMatch, *, reason: str, by: Member | None) -> None:
    now = timezone.now()
    match.status, match.cancel_reason, match.updated_at = MatchStatus.CANCELLED, reason, now
    match.save(update_fields=["status", "cancel_reason", "updated_at"])
    ProxyRequest.objects.filter(pk=match.request_id).exclude(status=RequestStatus.CANCELLED).update(
        status=RequestStatus.REQUESTED, updated_at=now
    )
    notices.cancelled(match, by=by)


@transaction.atomic
def match_step(*, match_id: int, member: Member, step: str) -> ProxyMatch:
    """``declared``: the requester says the proxy is established (online request validated);
    ``voted``: the holder says they voted."""
    match = _locked_match(match_id)
    side = _side(match, member)
    if step == "declared":
        if side != "requester":
            raise Forbidden("The person giving the proxy says when it is established.")
        if match.status not in (MatchStatus.ACCEPTED, MatchStatus.DECLARED):
            raise Conflict("Both sides accept before the proxy is established.", field="match")
        new = MatchStatus.DECLARED
    elif step == "voted":
        if side != "holder":
            raise Forbidden("The holder says when they voted.")
        if match.status not in (MatchStatus.DECLARED, MatchStatus.VOTED):
            raise Conflict("The proxy must be established before the vote.", field="match")
        if timezone.localdate() < match.round.date:
            raise Conflict("The round has not taken place yet.", field="match")
        new = MatchStatus.VOTED
    else:
        raise InvalidInput("step: declared or voted.", field="step")
    now = timezone.now()
    match.status, match.updated_at = new, now
    match.save(update_fields=["status", "updated_at"])
    ProxyRequest.objects.filter(pk=match.request_id).update(status=new, updated_at=now)
    return match


# -- automatic matching (coordinators) ----------------------------------------------------------


def _points(commune_ids: list[int]) -> np.ndarray:
    """lon/lat of each commune's town hall (its shape's centre when the registry has none)."""
    import shapely

    rows = dict(Area.objects.filter(pk__in=commune_ids).values_list("pk", "point"))
    out = np.zeros((len(commune_ids), 2))
    missing = []
    for i, pk in enumerate(commune_ids):
        wkb = rows.get(pk)
        point = shapely.from_wkb(bytes(wkb)) if wkb else None
        if point is not None and not point.is_empty:
            out[i] = (point.x, point.y)
        else:  # some communes have no town hall point, or an empty one
            missing.append(i)
    if missing:
        shapes = dict(
            Area.objects.filter(pk__in=[commune_ids[i] for i in missing]).values_list(
                "pk", "geometry"
            )
        )
        for i in missing:
            wkb = shapes.get(commune_ids[i])
            shape = shapely.from_wkb(bytes(wkb)) if wkb else None
            if shape is not None and not shape.is_empty:
                c = shape.centroid
                out[i] = (c.x, c.y)
            else:  # nowhere known: far from everything, so only same-commune pairs
                out[i] = (np.nan, np.nan)
    return out


def _check_run(*, round_id: int, by: Member, radius_km: float) -> Round:
    from nextwork.mobilisation import selectors

    if not is_staff(by) and not selectors.coordinates_anything(by):
        raise Forbidden("No current grant lets you match proxies.")
    if not 0 <= radius_km <= 200:
        raise InvalidInput("radius_km: 0 to 200.", field="radius_km")
    return _open_round(round_id)


RUN_STALE = datetime.timedelta(hours=1)  # a run "running" this long lost its worker


@transaction.atomic
def match_run_queue(*, round_id: int, by: Member, radius_km: float = 20.0) -> MatchRun:
    """Queue an automatic matching of the round in the caller's territory for the worker
    (``match_run_do``). One run per coordinator and round at a time."""
    _check_run(round_id=round_id, by=by, radius_km=radius_km)
    busy = MatchRun.objects.filter(
        Q(status=RunStatus.QUEUED) | Q(status=RunStatus.RUNNING,
                                       started_at__gt=timezone.now() - RUN_STALE),
        by=by, round_id=round_id,
    )  # fmt: skip
    if busy.exists():
        raise Conflict("A matching of this round you started is under way.", field="round")
    run = MatchRun.objects.create(round_id=round_id, by=by, radius_km=radius_km)
    audit_record(actor=by, action="mobilisation.match_run", details={"run": run.pk,
                 "round": round_id, "radius_km": radius_km})  # fmt: skip

    def enqueue() -> None:
        from nextwork.mobilisation.tasks import match_run_task

        match_run_task.enqueue(run.pk)

    transaction.on_commit(enqueue)
    return run


def match_run_do(run_id: int) -> MatchRun:
    """The worker's side of ``match_run_queue``. A run done (or started less than an hour
    ago) is left as it is, so a task delivered twice proposes nothing twice; a run whose
    worker died is run again, which proposes only for the requests still waiting."""
    with transaction.atomic():
        run = MatchRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            raise NotFound(f"No matching run {run_id}.", field="run")
        stale = run.status == RunStatus.RUNNING and run.started_at < timezone.now() - RUN_STALE
        if run.status != RunStatus.QUEUED and not stale:
            return run
        run.status, run.started_at = RunStatus.RUNNING, timezone.now()
        run.save(update_fields=["status", "started_at"])
    try:
        if run.by is None:
            raise Forbidden("The coordinator who asked for this run has left.")
        run.result = match_run(round_id=run.round_id, by=run.by, radius_km=run.radius_km)
        run.status = RunStatus.DONE
    except DomainError as exc:
        run.status, run.error = RunStatus.FAILED, exc.message[:300]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "result", "error", "finished_at"])
    return run


def match_run(*, round_id: int, by: Member, radius_km: float = 20.0) -> dict:
    """Propose holders for every waiting request of the round in the caller's territory:
    in the requester's commune first, then within ``radius_km``. Pairs the database refuses
    (another coordinator was faster) are counted, not raised. Pages and the API queue it for
    the worker (``match_run_queue``)."""
    from nextwork.mobilisation import matching, selectors

    _check_run(round_id=round_id, by=by, radius_km=radius_km)
    waiting = list(
        selectors.requests_in_scope(caller=by, round_id=round_id)
        .filter(status=RequestStatus.REQUESTED)
        .values_list("pk", "commune_id", "established_abroad")
    )
    offers = list(
        ProxyOffer.objects.filter(round_id=round_id, active=True).prefetch_related("communes")
    )
    held: dict[int, list[bool]] = {}
    for holder, abroad in ProxyMatch.objects.filter(CURRENT, round_id=round_id).values_list(
        "holder_id", "abroad"
    ):
        held.setdefault(holder, []).append(abroad)
    index: dict[int, int] = {}

    def at(commune_id: int) -> int:
        return index.setdefault(commune_id, len(index))

    needs = [matching.Need(pk, at(c), abroad) for pk, c, abroad in waiting]
    plan_offers = [
        matching.Offer(
            o.pk, tuple(at(c.pk) for c in o.communes.all()),
            french_used=any(not a for a in held.get(o.member_id, [])),
            used=len(held.get(o.member_id, [])),
        )
        for o in offers
    ]  # fmt: skip
    plan = matching.plan(needs, plan_offers, _points(list(index)), radius_km=radius_km)
    proposed = refused = 0
    holder_of = {o.pk: o.member_id for o in offers}
    requester_of = dict(
        ProxyRequest.objects.filter(pk__in=[p[0] for p in plan.pairs]).values_list(
            "pk", "member_id"
        )
    )
    declined = set(
        ProxyMatch.objects.filter(
            round_id=round_id, status=MatchStatus.CANCELLED, cancel_reason=DECLINED
        ).values_list("request_id", "offer_id")
    )
    for request_id, offer_id, km in plan.pairs:
        if requester_of.get(request_id) == holder_of[offer_id]:
            continue
        if (request_id, offer_id) in declined:  # never proposed again; the request waits
            refused += 1
            continue
        try:
            match_propose(request_id=request_id, offer_id=offer_id, by=by, distance_km=km)
            proposed += 1
        except (Conflict, LawBroken, NotFound):
            refused += 1
    return {
        "waiting": len(waiting), "proposed": proposed, "same_commune": plan.same_commune,
        "nearby": plan.nearby, "refused": refused, "unmatched": len(plan.unmatched),
    }  # fmt: skip
