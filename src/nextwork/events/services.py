"""Writes of events: create, edit, cancel, and the members' answers with their waiting list.

Each service checks the caller's grants itself (deny by default, ``selectors.may_*``), runs in
one transaction and queues its emails for after the commit.

The waiting-list rule: while an event has free seats, an answer is ``going``; once the
capacity is reached it is ``waiting``, in the order people asked. When someone who was going
withdraws, or the organiser raises the capacity, the first people waiting take the freed seats
at once and are emailed. Every answer first locks the event's row (``select_for_update`` on
PostgreSQL; on SQLite the write transaction itself, opened IMMEDIATE, is the lock), so two
answers for the last seat are counted one after the other and cannot both be ``going``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail, send_mass_mail
from django.db import transaction
from django.urls import reverse
from django.utils import formats, timezone, translation

from nextwork.campaigns.models import Campaign
from nextwork.campaigns.models import Status as CampaignStatus
from nextwork.common.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from nextwork.common.mail import send_after_commit
from nextwork.events import zones
from nextwork.events.models import Event, EventKind, EventStatus, Rsvp, RsvpStatus
from nextwork.events.selectors import may_create_at, may_create_somewhere, may_manage
from nextwork.network.models import Member
from nextwork.network.permissions import is_staff
from nextwork.network.signup import AmbiguousLocation
from nextwork.territories import lookup
from nextwork.territories.models import Area, AreaKind

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
ADDRESS_MAX = 500
# An event is an evening or a day, not a season: a longer one is a typing mistake.
LONGEST = datetime.timedelta(days=7)


@dataclass(frozen=True)
class Place:
    """Where an event takes place, as the organiser typed it."""

    address: str
    country: str | None = None  # for an event abroad: the address alone cannot be placed
    constituency: str | None = None  # the choice among candidates when the place is ambiguous


@dataclass(frozen=True)
class ResolvedPlace:
    address: str
    constituency: Area
    department: Area
    commune: Area | None
    precision: str
    lat: float | None
    lon: float | None


def place_resolve(place: Place) -> ResolvedPlace:
    """The seat, commune and department of a place, through the lookup service.

    A place spanning several seats raises ``AmbiguousLocation`` with the candidates, until the
    organiser picks one (``place.constituency``), as at sign-up.
    """
    address = (place.address or "").strip()
    if not address:
        raise InvalidInput("The place is required: an address with its postcode.", field="address")
    if len(address) > ADDRESS_MAX:
        raise InvalidInput(
            f"The address is {len(address)} characters long; at most {ADDRESS_MAX}.",
            field="address",
        )
    result = _locate(address, (place.country or "").strip())
    candidates = result["candidates"]
    choice = (place.constituency or "").strip().upper()
    if choice:
        chosen = next((c for c in candidates if c["code"] == choice), None)
        if chosen is None:
            raise InvalidInput(
                f"{choice[:10]} is not among the constituencies of this place.",
                field="constituency",
            )
    elif result["ambiguous"] or len(candidates) != 1:
        raise AmbiguousLocation(candidates)
    else:
        chosen = candidates[0]
    areas = Area.objects.filter(boundary_set_id=lookup.get_engine().boundary_set_id)
    seat = areas.select_related("parent").get(kind=AreaKind.CONSTITUENCY, code=chosen["code"])
    commune_code = (result.get("commune") or {}).get("code")
    commune = (
        areas.filter(
            kind__in=[AreaKind.COMMUNE, AreaKind.ARRONDISSEMENT], code=commune_code
        ).first()
        if commune_code
        else None
    )
    # A point only when the geocoder found the address itself, not just its town.
    point = result.get("address") if result["precision"] == "address" else None
    return ResolvedPlace(
        address=address,
        constituency=seat,
        department=seat.parent,
        commune=commune,
        precision=result["precision"],
        lat=point["lat"] if point else None,
        lon=point["lon"] if point else None,
    )


def _locate(address: str, country: str) -> dict:
    """The lookup's answer for the place (its country, for an event abroad)."""
    try:
        result = lookup.locate(country=country) if country else lookup.locate(q=address)
    except DomainError as exc:  # bad input here, named as the form names it
        raise InvalidInput(exc.message, field={"q": "address"}.get(exc.field, exc.field)) from exc
    if not result["candidates"]:
        raise InvalidInput(
            "No constituency is known for this place: check the postcode.", field="address"
        )
    return result


# -- input checks --------------------------------------------------------------------------


def _clean_text(value: str | None, field: str, limit: int, *, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(f"The {field} is required.", field=field)
    if len(value) > limit:
        raise InvalidInput(
            f"The {field} is {len(value)} characters long; at most {limit}.", field=field
        )
    return value


def _clean_kind(kind: str | None) -> str:
    if kind not in EventKind.values:
        raise InvalidInput(
            f"Unknown kind {str(kind)[:30]!r}: one of {', '.join(EventKind.values)}.", field="kind"
        )
    return kind


def _clean_capacity(capacity: int | str | None) -> int | None:
    if capacity in (None, ""):
        return None
    try:
        number = int(capacity)
    except (TypeError, ValueError):
        raise InvalidInput("The capacity must be a whole number.", field="capacity") from None
    if number < 1:
        raise InvalidInput(
            "The capacity must be at least 1 (leave it empty for no limit).", field="capacity"
        )
    if number > 1_000_000:
        raise InvalidInput("The capacity is at most 1,000,000.", field="capacity")
    return number


def _clean_zone(time_zone: str | None, department_code: str) -> str:
    name = (time_zone or "").strip()
    if not name:
        return zones.default_time_zone(department_code)
    if not zones.is_valid(name):
        raise InvalidInput(
            f"Unknown time zone {name[:40]!r}: use an IANA name such as Europe/Paris.",
            field="time_zone",
        )
    return name


def _aware(value: datetime.datetime | None, zone: str, field: str) -> datetime.datetime:
    """A naive time is read in the event's zone; an aware one is kept as the instant it is."""
    if value is None:
        raise InvalidInput(f"The {field} is required.", field=field)
    if timezone.is_naive(value):
        return value.replace(tzinfo=ZoneInfo(zone))
    return value


def _clean_times(
    starts_at: datetime.datetime | None,
    ends_at: datetime.datetime | None,
    zone: str,
    *,
    future: bool,
) -> tuple[datetime.datetime, datetime.datetime]:
    starts = _aware(starts_at, zone, "starts_at")
    ends = _aware(ends_at, zone, "ends_at")
    if future and starts <= timezone.now():
        raise InvalidInput("The event cannot start in the past.", field="starts_at")
    if ends <= starts:
        raise InvalidInput("The event must end after it starts.", field="ends_at")
    if ends - starts > LONGEST:
        raise InvalidInput("An event lasts at most 7 days.", field="ends_at")
    return starts, ends


def _clean_campaign(campaign_id: int | str | None, *, by: Member, department: Area):
    if campaign_id in (None, ""):
        return None
    try:
        pk = int(campaign_id)
    except (TypeError, ValueError):
        raise InvalidInput("The campaign is given by its number.", field="campaign") from None
    campaign = Campaign.objects.filter(pk=pk).first()
    # A draft is staff's work in progress: nobody else links to it, or learns it exists.
    if campaign is None or (campaign.status == CampaignStatus.DRAFT and not is_staff(by)):
        raise InvalidInput(f"No campaign #{pk}.", field="campaign")
    targeted = set(campaign.departments.values_list("code", flat=True))
    if targeted and department.code not in targeted:
        raise InvalidInput(
            f"Campaign #{pk} does not target {department.code}: link this event to another "
            "campaign, or to none.",
            field="campaign",
        )
    return campaign


def _full_clean(event: Event) -> None:
    """The model's own checks, after ours: anything they still find is bad input, not a 500."""
    try:
        event.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(
            f"{field}: {' '.join(messages)}", field=None if field == "__all__" else field
        ) from exc


# -- events --------------------------------------------------------------------------------


@transaction.atomic
def event_create(
    *,
    creator: Member,
    title: str,
    kind: str,
    starts_at: datetime.datetime | None,
    ends_at: datetime.datetime | None,
    place: Place,
    description: str = "",
    time_zone: str | None = None,
    capacity: int | str | None = None,
    campaign: int | str | None = None,
    public: bool = True,
) -> Event:
    """Create a published event placed through the lookup service.

    Staff anywhere; coordinators under their grant; relays, substitutes and senate relays in
    their own department. Naive times are read in the event's zone (``time_zone``, by default
    the department's).
    """
    if not may_create_somewhere(creator):
        raise Forbidden("Events are created by relays, coordinators and staff.", field=None)
    title = _clean_text(title, "title", TITLE_MAX, required=True)
    description = _clean_text(description, "description", DESCRIPTION_MAX, required=False)
    kind = _clean_kind(kind)
    capacity = _clean_capacity(capacity)
    resolved = place_resolve(place)
    if not may_create_at(creator, resolved.constituency):
        raise Forbidden(
            f"None of your roles allows an event in {resolved.department.code} "
            f"({resolved.department.name}).",
            field="address",
        )
    zone = _clean_zone(time_zone, resolved.department.code)
    starts, ends = _clean_times(starts_at, ends_at, zone, future=True)
    linked = _clean_campaign(campaign, by=creator, department=resolved.department)
    now = timezone.now()
    event = Event(
        title=title,
        description=description,
        kind=kind,
        starts_at=starts,
        ends_at=ends,
        time_zone=zone,
        address=resolved.address,
        constituency=resolved.constituency,
        department=resolved.department,
        commune=resolved.commune,
        precision=resolved.precision,
        lat=resolved.lat,
        lon=resolved.lon,
        capacity=capacity,
        campaign=linked,
        created_by=creator,
        public=bool(public),
        created_at=now,
        updated_at=now,
    )
    _full_clean(event)
    event.save()
    return event


@transaction.atomic
def event_update(
    *,
    event: Event,
    by: Member,
    title: str,
    kind: str,
    starts_at: datetime.datetime | None,
    ends_at: datetime.datetime | None,
    place: Place,
    description: str = "",
    time_zone: str | None = None,
    capacity: int | str | None = None,
    campaign: int | str | None = None,
    public: bool = True,
) -> Event:
    """Change an event (its creator, a coordinator covering it, staff).

    Moving it re-checks that the editor may hold an event at the new place. A new time or
    place is emailed to those going or waiting; a larger capacity promotes people waiting.
    Nobody loses their seat when the capacity is lowered.
    """
    event = Event.objects.select_for_update().select_related("constituency").get(pk=event.pk)
    if not may_manage(by, event):
        raise Forbidden("Only the organisers of this event may change it.", field=None)
    if event.cancelled:
        raise Conflict("This event is cancelled: it can no longer be changed.", field=None)
    title = _clean_text(title, "title", TITLE_MAX, required=True)
    description = _clean_text(description, "description", DESCRIPTION_MAX, required=False)
    kind = _clean_kind(kind)
    capacity = _clean_capacity(capacity)
    moved = (place.address or "").strip() != event.address or (
        place.constituency and place.constituency.strip().upper() != event.constituency.code
    )
    if moved:
        resolved = place_resolve(place)
        if not may_create_at(by, resolved.constituency):
            raise Forbidden(
                f"None of your roles allows an event in {resolved.department.code} "
                f"({resolved.department.name}).",
                field="address",
            )
        event.address = resolved.address
        event.constituency = resolved.constituency
        event.department = resolved.department
        event.commune = resolved.commune
        event.precision = resolved.precision
        event.lat, event.lon = resolved.lat, resolved.lon
    zone = _clean_zone(time_zone, event.department.code)
    starts = _aware(starts_at, zone, "starts_at")
    ends = _aware(ends_at, zone, "ends_at")
    rescheduled = starts != event.starts_at or ends != event.ends_at
    # Only a new start has to lie ahead: fixing the title of a running event stays possible.
    starts, ends = _clean_times(starts, ends, zone, future=starts != event.starts_at)
    event.campaign = _clean_campaign(campaign, by=by, department=event.department)
    event.title, event.description, event.kind = title, description, kind
    event.starts_at, event.ends_at, event.time_zone = starts, ends, zone
    event.capacity, event.public = capacity, bool(public)
    event.updated_at = timezone.now()
    if moved or rescheduled:
        event.sequence += 1
    _full_clean(event)
    event.save()
    promoted = _promote_waiting(event)
    if moved or rescheduled:
        people = _answered(event, exclude=promoted)
        send_after_commit(
            _send_changed, event, people, what="event change mail", ref=f"event #{event.pk}"
        )
    return event


@transaction.atomic
def event_cancel(*, event: Event, by: Member, reason: str = "") -> Event:
    """Cancel an event and email everyone going or waiting; cancelling twice changes nothing."""
    event = Event.objects.select_for_update().select_related("constituency").get(pk=event.pk)
    if not may_manage(by, event):
        raise Forbidden("Only the organisers of this event may cancel it.", field=None)
    if event.cancelled:
        return event
    reason = _clean_text(reason, "reason", 2000, required=False)
    now = timezone.now()
    event.status = EventStatus.CANCELLED
    event.cancelled_at = event.updated_at = now
    event.sequence += 1
    event.save(update_fields=["status", "cancelled_at", "updated_at", "sequence"])
    people = _answered(event)
    send_after_commit(
        _send_cancelled,
        event,
        people,
        reason,
        what="event cancellation mail",
        ref=f"event #{event.pk}",
    )
    return event


# -- answers and the waiting list ----------------------------------------------------------


@transaction.atomic
def rsvp_set(*, event: Event | int, member: Member, going: bool) -> tuple[Rsvp | None, bool]:
    """Answer an event: ``going`` True takes a seat, or a place on the waiting list when the
    event is full; False withdraws, and frees the seat for the first person waiting.

    Returns the answer and whether it is a new registration (False when nothing changed or
    the member withdrew). Answering the same twice changes nothing.
    """
    pk = event.pk if isinstance(event, Event) else event
    # The lock that makes the seat count and the write one step (see the module's docstring).
    locked = Event.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        raise NotFound("No event with this id.", field="id")
    if not member.is_authenticated or not member.is_active:
        raise Forbidden("Log in with a confirmed account to answer.", field=None)
    if locked.cancelled:
        raise Conflict("This event is cancelled.", field=None, code="event_cancelled")
    now = timezone.now()
    if locked.starts_at <= now:
        raise Conflict("This event has already started.", field=None, code="event_started")
    rsvp = Rsvp.objects.filter(event=locked, member=member).first()
    if not going:
        if rsvp is None:
            raise NotFound("You have not answered this event.", field="going")
        if rsvp.status == RsvpStatus.CANCELLED:
            return rsvp, False
        was_going = rsvp.status == RsvpStatus.GOING
        rsvp.status, rsvp.updated_at = RsvpStatus.CANCELLED, now
        rsvp.save(update_fields=["status", "updated_at"])
        if was_going:
            _promote_waiting(locked)
        return rsvp, False
    if rsvp is not None and rsvp.status in (RsvpStatus.GOING, RsvpStatus.WAITING):
        return rsvp, False
    going_now = Rsvp.objects.filter(event=locked, status=RsvpStatus.GOING).count()
    status = (
        RsvpStatus.GOING
        if locked.capacity is None or going_now < locked.capacity
        else RsvpStatus.WAITING
    )
    if rsvp is None:
        rsvp = Rsvp.objects.create(
            event=locked,
            member=member,
            status=status,
            created_at=now,
            queued_at=now,
            updated_at=now,
        )
    else:  # back after withdrawing: at the end of the queue, like anyone asking now
        rsvp.status, rsvp.queued_at, rsvp.updated_at = status, now, now
        rsvp.save(update_fields=["status", "queued_at", "updated_at"])
    return rsvp, True


def _promote_waiting(event: Event) -> list[Rsvp]:
    """Give the free seats to the first people waiting, and email them (the caller holds the
    event's lock)."""
    if event.capacity is None:
        free = None
    else:
        going = Rsvp.objects.filter(event=event, status=RsvpStatus.GOING).count()
        free = event.capacity - going
        if free <= 0:
            return []
    waiting = Rsvp.objects.filter(event=event, status=RsvpStatus.WAITING).order_by(
        "queued_at", "pk"
    )
    promoted = list(waiting.select_related("member")[:free] if free is not None else waiting)
    now = timezone.now()
    for rsvp in promoted:
        rsvp.status, rsvp.updated_at = RsvpStatus.GOING, now
        rsvp.save(update_fields=["status", "updated_at"])
        send_after_commit(
            _send_promoted, event, rsvp.member, what="waiting list mail", ref=f"rsvp #{rsvp.pk}"
        )
    return promoted


def _answered(event: Event, exclude: Iterable[Rsvp] = ()) -> list[Member]:
    skip = {r.pk for r in exclude}
    return [
        r.member
        for r in Rsvp.objects.filter(
            event=event, status__in=[RsvpStatus.GOING, RsvpStatus.WAITING]
        ).select_related("member")
        if r.pk not in skip
    ]


# -- mail ----------------------------------------------------------------------------------


def event_url(event: Event) -> str:
    return f"{settings.NEXTWORK_SITE_URL}{reverse('events:detail', args=[event.pk])}"


def when_text(event: Event) -> str:
    """'samedi 5 décembre 2026, 18:30–20:00 (Nouméa, UTC+11)', in the event's own zone."""
    zone = ZoneInfo(event.time_zone)
    start, end = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
    with translation.override("fr"):
        day = formats.date_format(start, "l j F Y")
        if start.date() == end.date():
            span = f"{start:%H:%M}–{end:%H:%M}"
        else:
            span = f"{start:%H:%M} – {formats.date_format(end, 'l j F Y')} {end:%H:%M}"
    return f"{day}, {span} ({zones.zone_label(event.time_zone, event.starts_at)})"


def _details(event: Event) -> str:
    return f"{event.title}\n{when_text(event)}\n{event.address}\n\n{event_url(event)}\n"


def _send_promoted(event: Event, member: Member) -> None:
    send_mail(
        f"Une place s'est libérée : {event.title}",
        f"Bonjour {member.first_name},\n\n"
        "Une place s'est libérée et elle est pour vous : vous êtes inscrit·e à cet événement.\n\n"
        f"{_details(event)}\n"
        "Si vous ne pouvez plus venir, désinscrivez-vous depuis la page de l'événement pour "
        "laisser la place à la personne suivante.\n",
        None,
        [member.email],
    )


def _send_cancelled(event: Event, people: list[Member], reason: str) -> None:
    body = (
        "L'événement auquel vous étiez inscrit·e est annulé.\n\n"
        + _details(event)
        + (f"\nMessage des organisateurs : {reason}\n" if reason else "")
    )
    # One message each: nobody sees the other addresses.
    send_mass_mail(
        [
            (
                f"Événement annulé : {event.title}",
                f"Bonjour {m.first_name},\n\n{body}",
                None,
                [m.email],
            )
            for m in people
        ]
    )


def _send_changed(event: Event, people: list[Member]) -> None:
    body = (
        "La date ou le lieu d'un événement auquel vous êtes inscrit·e a changé. "
        "Le voici à jour :\n\n"
        + _details(event)
        + "\nSi vous ne pouvez plus venir, désinscrivez-vous depuis la page de l'événement.\n"
    )
    send_mass_mail(
        [
            (
                f"Événement modifié : {event.title}",
                f"Bonjour {m.first_name},\n\n{body}",
                None,
                [m.email],
            )
            for m in people
        ]
    )
