"""Calendar files, parsed back with icalendar: times in the event's own zone with its TZID,
title, place; the feed keeps cancelled events marked so; no attendee ever appears."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import icalendar
import pytest

from nextwork.events import services

from .conftest import POINTE_A_PITRE, in_days


def parse(response) -> list[icalendar.Event]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    calendar = icalendar.Calendar.from_ical(response.content)
    assert str(calendar["VERSION"]) == "2.0"
    return list(calendar.walk("VEVENT"))


def test_one_event(client, make_event, make_member):
    event = make_event(title="Rencontre avec les habitants", capacity=30)
    services.rsvp_set(event=event, member=make_member("Zéphyrin"), going=True)
    [vevent] = parse(client.get(f"/evenements/{event.pk}.ics"))
    assert str(vevent["SUMMARY"]) == "Rencontre avec les habitants"
    assert vevent["DTSTART"].params["TZID"] == "Europe/Paris"
    start = vevent.decoded("DTSTART")
    assert start == event.starts_at and start.tzinfo.key == "Europe/Paris"
    assert (start.hour, start.minute) == (18, 30)  # what the organiser typed, local time
    assert vevent.decoded("DTEND") == event.ends_at
    assert "12 rue de la Roquette, 75011 Paris" in str(vevent["LOCATION"])
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert str(vevent["UID"]).startswith(f"event-{event.pk}@")
    assert str(vevent["URL"]).endswith(f"/evenements/{event.pk}/")
    assert (
        "ATTENDEE" not in vevent
        and b"Z\xc3\xa9phyrin" not in client.get(f"/evenements/{event.pk}.ics").content
    )


def test_an_overseas_event_keeps_its_local_time(client, people):
    event = services.event_create(
        creator=people["staff"],
        title="Débriefing Guadeloupe",
        kind="debrief",
        starts_at=in_days(7),
        ends_at=in_days(7, hour=20),
        place=services.Place(address=POINTE_A_PITRE),
    )
    assert event.time_zone == "America/Guadeloupe"
    response = client.get(f"/evenements/{event.pk}.ics")
    [vevent] = parse(response)
    assert vevent["DTSTART"].params["TZID"] == "America/Guadeloupe"
    start = vevent.decoded("DTSTART")
    assert (start.hour, start.minute) == (18, 30)
    # 18:30 in Pointe-à-Pitre is 22:30 UTC (no daylight saving there).
    assert start.astimezone(datetime.UTC).hour == 22
    calendar = icalendar.Calendar.from_ical(response.content)
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["America/Guadeloupe"]


def test_the_feed_lists_upcoming_public_events_and_marks_cancelled_ones(client, make_event, people):
    shown = make_event(title="Public")
    make_event(title="Entre membres", public=False)
    cancelled = make_event(title="Annulé", days=12)
    services.event_cancel(event=cancelled, by=people["staff"])
    vevents = parse(client.get("/evenements.ics"))
    assert [str(v["SUMMARY"]) for v in vevents] == ["Public", "Annulé"]
    assert [str(v["STATUS"]) for v in vevents] == ["CONFIRMED", "CANCELLED"]
    assert int(vevents[1]["SEQUENCE"]) == 1
    assert vevents[0].decoded("DTSTART") == shown.starts_at


def test_the_feed_by_department(client, make_event, people):
    make_event(title="Paris")
    services.event_create(
        creator=people["staff"],
        title="Mende",
        kind="meetup",
        starts_at=in_days(3),
        ends_at=in_days(3, hour=20),
        place=services.Place(address="48000 Mende"),
    )
    assert [str(v["SUMMARY"]) for v in parse(client.get("/evenements.ics?department=48"))] == [
        "Mende"
    ]
    assert client.get("/evenements.ics?department=ZZ").status_code == 400


@pytest.mark.parametrize("logged_in", [False, True])
def test_a_members_only_event_file_needs_a_login(client, make_event, people, logged_in):
    event = make_event(public=False)
    if logged_in:
        client.force_login(people["member"])
        assert parse(client.get(f"/evenements/{event.pk}.ics"))
    else:
        assert client.get(f"/evenements/{event.pk}.ics").status_code == 404


def test_naive_and_aware_times_mean_the_same_instant(people):
    paris = ZoneInfo("Europe/Paris")
    naive = in_days(20)
    event = services.event_create(
        creator=people["staff"],
        title="Aware",
        kind="meetup",
        starts_at=naive.replace(tzinfo=paris).astimezone(datetime.UTC),
        ends_at=in_days(20, hour=20).replace(tzinfo=paris),
        place=services.Place(address="48000 Mende"),
    )
    assert event.starts_at.astimezone(paris).replace(tzinfo=None) == naive
