"""iCalendar (RFC 5545) files of events, written with the ``icalendar`` package.

Times carry their zone (``DTSTART;TZID=Pacific/Noumea:…``) with its VTIMEZONE, so a calendar
shows an overseas event at the right instant; a cancelled event stays in feeds with
``STATUS:CANCELLED`` and a higher ``SEQUENCE``, so subscribed calendars drop it. Attendees are
never written: a calendar file is public.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
from django.conf import settings

from nextwork.events.models import Event, EventStatus

PRODID = "-//nextwork//events//FR"


def _uid_domain(base_url: str) -> str:
    return (
        urlsplit(base_url).hostname or urlsplit(settings.NEXTWORK_SITE_URL).hostname or "nextwork"
    )


def calendar(events: Iterable[Event], *, base_url: str, name: str) -> bytes:
    """One VCALENDAR holding ``events``; ``base_url`` (scheme and host) makes links absolute."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    domain = _uid_domain(base_url)
    for event in events:
        cal.add_component(_vevent(event, base_url=base_url, domain=domain))
    cal.add_missing_timezones()
    return cal.to_ical()


def _vevent(event: Event, *, base_url: str, domain: str) -> icalendar.Event:
    zone = ZoneInfo(event.time_zone)
    url = f"{base_url}/evenements/{event.pk}/"
    vevent = icalendar.Event()
    vevent.add("uid", f"event-{event.pk}@{domain}")
    vevent.add("dtstamp", event.updated_at)
    vevent.add("last-modified", event.updated_at)
    vevent.add("created", event.created_at)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstart", event.starts_at.astimezone(zone))
    vevent.add("dtend", event.ends_at.astimezone(zone))
    vevent.add("summary", event.title)
    place = event.address
    if event.commune is not None and event.commune.name.lower() not in place.lower():
        place = f"{place}, {event.commune.name}"
    vevent.add("location", place)
    if event.lat is not None and event.lon is not None:
        vevent.add("geo", (event.lat, event.lon))
    description = event.description.strip()
    vevent.add("description", f"{description}\n\n{url}" if description else url)
    vevent.add("url", url)
    vevent.add("categories", [event.get_kind_display()])
    vevent.add("status", "CANCELLED" if event.status == EventStatus.CANCELLED else "CONFIRMED")
    vevent.add("class", "PUBLIC" if event.public else "PRIVATE")
    return vevent
