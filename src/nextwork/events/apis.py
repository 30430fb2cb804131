"""Event endpoints of /api/v1/: the upcoming list, creation, and members' answers."""

from __future__ import annotations

import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from nextwork.api.auth import member_auth
from nextwork.events import selectors, services
from nextwork.events.models import Event, EventKind

router = Router(tags=["events"])

MAX_PAGE = 100


class EventCandidateRef(Schema):
    code: str
    name: str
    share: float | None = None


class EventErrorBody(Schema):
    code: str
    message: str
    field: str | None = None
    candidates: list[EventCandidateRef] | None = Field(
        None, description="When the place spans several constituencies: pick one of them."
    )


class EventErrorOut(Schema):
    error: EventErrorBody


AUTH_ERRORS = {401: EventErrorOut, 403: EventErrorOut, 404: EventErrorOut, 409: EventErrorOut}


class EventAreaRef(Schema):
    code: str
    name: str


class CampaignRef(Schema):
    id: int
    title: str


class EventOut(Schema):
    id: int
    title: str
    description: str
    kind: str = Field(description="meetup, debrief or public_meeting.")
    status: str = Field(description="published or cancelled.")
    public: bool = Field(description="False: shown to logged-in members only.")
    starts_at: str = Field(description="ISO 8601, in the event's own time zone.")
    ends_at: str
    time_zone: str = Field(description="IANA name, such as Europe/Paris or Pacific/Noumea.")
    address: str
    constituency: str = Field(description="Constituency code, such as 75-02.")
    department: EventAreaRef
    commune: EventAreaRef | None = None
    precision: str = Field(description="How the place was resolved: address, commune, postcode…")
    lat: float | None = Field(None, description="Only when the address itself was geocoded.")
    lon: float | None = None
    capacity: int | None = Field(None, description="Empty: no limit.")
    going: int
    waiting: int
    places_left: int | None = Field(None, description="Empty when there is no limit.")
    campaign: CampaignRef | None = None
    url: str


def event_out(event: Event) -> dict:
    zone = ZoneInfo(event.time_zone)
    campaign = event.campaign
    return {
        "id": event.pk,
        "title": event.title,
        "description": event.description,
        "kind": event.kind,
        "status": event.status,
        "public": event.public,
        "starts_at": event.starts_at.astimezone(zone).isoformat(),
        "ends_at": event.ends_at.astimezone(zone).isoformat(),
        "time_zone": event.time_zone,
        "address": event.address,
        "constituency": event.constituency.code,
        "department": {"code": event.department.code, "name": event.department.name},
        "commune": {"code": event.commune.code, "name": event.commune.name}
        if event.commune
        else None,
        "precision": event.precision,
        "lat": event.lat,
        "lon": event.lon,
        "capacity": event.capacity,
        "going": getattr(event, "going_count", 0),
        "waiting": getattr(event, "waiting_count", 0),
        "places_left": selectors.places_left(event),
        # A draft campaign is not shown outside until it is opened.
        "campaign": {"id": campaign.pk, "title": campaign.title}
        if campaign is not None and campaign.status != "draft"
        else None,
        "url": f"/evenements/{event.pk}/",
    }


class EventFilter(Schema):
    department: str | None = Field(
        None, max_length=10, description="Department code, such as 75, 2A, 971 or 99."
    )
    limit: int = Field(MAX_PAGE, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0)


@router.get(
    "/events",
    response={200: list[EventOut], 400: EventErrorOut},
    summary="Upcoming events, soonest first (members-only ones too with a session login)",
)
def event_list(request: HttpRequest, filters: Query[EventFilter]):
    events = selectors.upcoming(viewer=request.user, department=filters.department)
    return [event_out(e) for e in events[filters.offset : filters.offset + filters.limit]]


@router.get(
    "/events/{event_id}",
    response={200: EventOut, 400: EventErrorOut, 404: EventErrorOut},
    summary="One event (public, or any with a session login); never who attends",
)
def event_detail(request: HttpRequest, event_id: int):
    return event_out(selectors.event_for(request.user, event_id))


class EventIn(Schema):
    title: str = Field(max_length=200)
    description: str = Field("", max_length=5000, description="Plain text.")
    kind: Literal["meetup", "debrief", "public_meeting"] = EventKind.MEETUP.value
    starts_at: datetime.datetime = Field(
        description="ISO 8601; without an offset, read in the event's time zone."
    )
    ends_at: datetime.datetime
    time_zone: str | None = Field(
        None,
        max_length=64,
        description="IANA name; by default the department's (Europe/Paris, "
        "America/Guadeloupe, Pacific/Noumea…).",
    )
    address: str = Field(max_length=500, description="The place, with its postcode.")
    country: str | None = Field(
        None, max_length=100, description="For an event abroad: ISO code or French name."
    )
    constituency: str | None = Field(
        None,
        max_length=10,
        description="The choice among candidates when the place spans several seats.",
    )
    capacity: int | None = Field(None, description="At least 1; empty for no limit.")
    campaign: int | None = Field(None, description="The id of the campaign it belongs to.")
    public: bool = Field(True, description="False: shown to logged-in members only.")


@router.post(
    "/events",
    response={201: EventOut, 400: EventErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Create an event (staff anywhere, coordinators in their territory, relays in "
    "their department)",
)
def event_create(request: HttpRequest, payload: EventIn):
    event = services.event_create(
        creator=request.user,
        title=payload.title,
        description=payload.description,
        kind=payload.kind,
        starts_at=payload.starts_at,
        ends_at=payload.ends_at,
        time_zone=payload.time_zone,
        place=services.Place(
            address=payload.address, country=payload.country, constituency=payload.constituency
        ),
        capacity=payload.capacity,
        campaign=payload.campaign,
        public=payload.public,
    )
    return Status(201, event_out(selectors.event_for(request.user, event.pk)))


class RsvpIn(Schema):
    going: bool = Field(description="True to come (or wait for a seat), False to withdraw.")


class RsvpOut(Schema):
    event: int
    status: str = Field(description="going, waiting or cancelled.")
    places_left: int | None = None
    waiting_position: int | None = Field(None, description="1 for the next one to get a seat.")


@router.post(
    "/events/{event_id}/rsvp",
    response={200: RsvpOut, 201: RsvpOut, 400: EventErrorOut, **AUTH_ERRORS},
    auth=member_auth,
    summary="Answer an event: 201 when newly registered (going, or waiting once it is full), "
    "200 otherwise",
)
def event_rsvp(request: HttpRequest, event_id: int, payload: RsvpIn):
    event = selectors.event_for(request.user, event_id)
    rsvp, created = services.rsvp_set(event=event, member=request.user, going=payload.going)
    event = selectors.event_for(request.user, event_id)
    body = {
        "event": event.pk,
        "status": rsvp.status,
        "places_left": selectors.places_left(event),
        "waiting_position": selectors.waiting_position(rsvp),
    }
    return Status(201 if created else 200, body)
