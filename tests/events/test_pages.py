"""The event pages: public list, map and detail (never a name of who comes), the organisers'
form with an ambiguous place, editing, cancelling, and the English catalogue."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from nextwork.events import services
from nextwork.events.models import Event, EventStatus
from nextwork.privacy.models import AuditEvent

from .conftest import MENDE, PARIS, in_days


@pytest.fixture
def attended(make_event, make_member):
    """A public event in Paris with two people going and one waiting, all oddly named."""
    event = make_event(title="Rencontre publique", capacity=2)
    names = []
    for first in ("Zéphyrin", "Anastasie", "Barnabé"):
        member = make_member(first)
        member.last_name = f"Quasimodo{first}"
        member.save(update_fields=["last_name"])
        services.rsvp_set(event=event, member=member, going=True)
        names += [member.first_name, member.last_name, member.email]
    return event, names


def test_public_pages_never_show_who_comes(client, attended, make_member):
    event, names = attended
    urls = [
        "/evenements/",
        "/evenements/?department=75",
        "/evenements/carte/",
        f"/evenements/{event.pk}/",
        f"/evenements/{event.pk}.ics",
        "/evenements.ics",
        "/api/v1/events",
        f"/api/v1/events/{event.pk}",
    ]
    for viewer in (None, make_member("Curieux")):
        if viewer is not None:
            client.force_login(viewer)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            text = response.content.decode()
            leaked = [n for n in names if n in text]
            assert not leaked, (url, leaked)
    detail = client.get(f"/evenements/{event.pk}/").content.decode()
    assert "Complet" in detail and "1 personne en liste d" in detail


def test_the_organiser_sees_the_names_and_the_read_is_audited(client, attended, people):
    event, names = attended
    client.force_login(people["camille"])
    page = client.get(f"/evenements/{event.pk}/participants/").content.decode()
    assert all(n in page for n in names if "@" not in n)
    assert not any(n in page for n in names if "@" in n)  # names only, no addresses
    assert page.index("QuasimodoZéphyrin") < page.index("QuasimodoAnastasie")
    assert AuditEvent.objects.get(action="events.attendees").details["waiting"] == 1


def test_the_list_shows_upcoming_events_and_filters_by_department(client, make_event, people):
    make_event(title="Apéro à Paris", capacity=12)
    make_event(title="Entre membres", public=False)
    services.event_create(
        creator=people["staff"],
        title="Réunion à Mende",
        kind="public_meeting",
        starts_at=in_days(2),
        ends_at=in_days(2, hour=20),
        place=services.Place(address=MENDE),
    )
    page = client.get("/evenements/").content.decode()
    assert page.index("Réunion à Mende") < page.index("Apéro à Paris")  # soonest first
    assert "12 places restantes" in page
    assert "Entre membres" not in page and "Créer un événement" not in page
    page = client.get("/evenements/?department=48").content.decode()
    assert "Réunion à Mende" in page and "Apéro à Paris" not in page
    response = client.get("/evenements/?department=ZZ")
    assert response.status_code == 400 and "pas un département" in response.content.decode()
    client.force_login(people["camille"])
    page = client.get("/evenements/").content.decode()
    assert "Entre membres" in page and "Créer un événement" in page


def test_the_map_marks_seats_and_departments_and_links_to_the_list(client, make_event):
    make_event()
    page = client.get("/evenements/carte/").content.decode()
    assert re.search(r'class="seat event-here" d="[^"]*" data-code="75-06"', page)
    assert re.search(r'class="seat event-department" d="[^"]*" data-code="75-01"', page)
    assert re.search(r'class="seat " d="[^"]*" data-code="48-01"', page)
    assert 'href="/evenements/?department=75"' in page
    assert 'href="/circonscriptions/' not in page
    assert "1 événement à venir" in page


def test_create_through_the_form_with_an_ambiguous_place(client, people):
    client.force_login(people["camille"])
    form = {
        "title": "Soirée d'accueil",
        "kind": "meetup",
        "starts_at": in_days(6).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": in_days(6, hour=21).strftime("%Y-%m-%dT%H:%M"),
        "address": PARIS,
        "capacity": "25",
        "description": "Venez nombreux <b>!</b>",
        "public": "on",
    }
    response = client.post("/evenements/nouveau/", form)
    assert response.status_code == 400
    page = response.content.decode()
    assert "plusieurs circonscriptions" in page
    assert 'value="75-06"' in page and 'value="75-07"' in page
    assert not Event.objects.exists()
    response = client.post(
        "/evenements/nouveau/", {**form, "constituency": "75-07", "place_key": PARIS}
    )
    event = Event.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/evenements/{event.pk}/"
    assert event.constituency.code == "75-07" and event.capacity == 25
    assert event.starts_at.astimezone(event.starts_at.tzinfo).tzinfo is not None
    page = client.get(response["Location"]).content.decode()
    assert "Soirée d&#x27;accueil" in page and "25 places restantes" in page
    assert "Venez nombreux &lt;b&gt;!&lt;/b&gt;" in page  # plain text, escaped
    assert "Liste des participants" in page and "Modifier" in page


def test_a_stale_seat_choice_is_asked_again(client, people):
    client.force_login(people["staff"])
    response = client.post(
        "/evenements/nouveau/",
        {
            "title": "Ailleurs",
            "kind": "meetup",
            "starts_at": in_days(6).strftime("%Y-%m-%dT%H:%M"),
            "ends_at": in_days(6, hour=21).strftime("%Y-%m-%dT%H:%M"),
            "address": MENDE,
            "constituency": "75-07",  # chosen for the Paris address typed before
            "place_key": PARIS,
        },
    )
    assert response.status_code == 302
    assert Event.objects.get().constituency.code == "48-01"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"starts_at": ""}, "Indiquez un début à venir"),
        ({"starts_at": in_days(-3).strftime("%Y-%m-%dT%H:%M")}, "Indiquez un début à venir"),
        ({"ends_at": in_days(6, hour=17).strftime("%Y-%m-%dT%H:%M")}, "La fin doit venir après"),
        ({"capacity": "0"}, "au moins 1"),
        ({"address": "quelque part"}, "Nous n&#x27;avons pas reconnu ce lieu"),
        ({"address": MENDE}, "Vos rôles ne vous permettent pas"),
    ],
)
def test_form_errors_are_shown_by_the_field(client, people, changes, message):
    client.force_login(people["camille"])
    form = {
        "title": "Soirée",
        "kind": "meetup",
        "starts_at": in_days(6).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": in_days(6, hour=21).strftime("%Y-%m-%dT%H:%M"),
        "address": PARIS,
        "constituency": "75-06",
        "place_key": PARIS,
    }
    response = client.post("/evenements/nouveau/", {**form, **changes})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Event.objects.exists()


def test_edit_keeps_the_place_and_shows_local_times(client, make_event, people):
    event = make_event(title="Avant")
    client.force_login(people["coord75"])
    page = client.get(f"/evenements/{event.pk}/modifier/").content.decode()
    start = in_days(10).strftime("%Y-%m-%dT%H:%M")
    assert f'value="{start}"' in page
    response = client.post(
        f"/evenements/{event.pk}/modifier/",
        {
            "title": "Après",
            "kind": "debrief",
            "starts_at": start,
            "ends_at": in_days(10, hour=20).strftime("%Y-%m-%dT%H:%M"),
            "address": event.address,
            "constituency": "75-06",
            "place_key": event.address,
            "capacity": "",
            "public": "on",
        },
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.title, event.kind, event.capacity, event.sequence) == (
        "Après",
        "debrief",
        None,
        0,
    )


def test_cancel_through_the_page(client, attended, people, django_capture_on_commit_callbacks):
    event, _names = attended
    client.force_login(people["camille"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/evenements/{event.pk}/annuler/", {"reason": "Grève des trains"})
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.status == EventStatus.CANCELLED
    assert len(mail.outbox) == 3 and "Grève des trains" in mail.outbox[0].body
    page = client.get(f"/evenements/{event.pk}/").content.decode()
    assert "Cet événement est annulé." in page and "Je participe" not in page
    assert "Rencontre publique" not in client.get("/evenements/").content.decode()
    assert client.get(f"/evenements/{event.pk}/modifier/").status_code == 302


def test_an_overseas_event_page_shows_its_local_time(client, people):
    event = services.event_create(
        creator=people["staff"],
        title="Rencontre à Nouméa",
        kind="meetup",
        starts_at=in_days(4),
        ends_at=in_days(4, hour=20),
        place=services.Place(address="98800 Nouméa", constituency="988-02"),
    )
    page = client.get(f"/evenements/{event.pk}/").content.decode()
    assert "18:30 – 20:30" in page and "Nouméa, UTC+11" in page
    assert "Nouvelle-Calédonie (2e circonscription)<" in page


def test_members_only_events_are_hidden_from_visitors(client, make_event, people):
    event = make_event(public=False)
    assert client.get(f"/evenements/{event.pk}/").status_code == 404
    client.force_login(people["member"])
    assert "Réservé aux membres" in client.get(f"/evenements/{event.pk}/").content.decode()


def test_english(client, make_event):
    event = make_event(capacity=5)
    page = client.get("/evenements/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Upcoming events" in page and "5 seats left" in page
    page = client.get(f"/evenements/{event.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Add to my calendar" in page and "Log in to take part" in page


def test_a_past_event_offers_no_answer(client, make_event, people):
    import datetime

    from django.utils import timezone

    event = make_event()
    past = timezone.now() - datetime.timedelta(days=1)
    Event.objects.filter(pk=event.pk).update(
        starts_at=past - datetime.timedelta(hours=2), ends_at=past
    )
    client.force_login(people["member"])
    page = client.get(f"/evenements/{event.pk}/").content.decode()
    assert "Cet événement a eu lieu." in page and "Je participe" not in page
    assert "Rencontre des membres" not in client.get("/evenements/").content.decode()
