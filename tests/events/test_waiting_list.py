"""Answers and the waiting list: seats while there are some, then the queue in order; a freed
seat goes to the first person waiting, who is emailed after the commit."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from nextwork.common.errors import Conflict, NotFound
from nextwork.events import selectors, services
from nextwork.events.models import Event, Rsvp, RsvpStatus


@pytest.fixture
def crowd(make_member):
    return [make_member(name) for name in ("Ada", "Bo", "Cyd", "Dee", "Eli")]


def answer(event, member, going=True):
    rsvp, created = services.rsvp_set(event=event, member=member, going=going)
    return rsvp.status, created


def statuses(event):
    return {
        r.member.first_name: r.status
        for r in Rsvp.objects.filter(event=event).select_related("member")
    }


def test_seats_then_the_waiting_list_in_order(make_event, crowd):
    event = make_event(capacity=2)
    ada, bo, cyd, dee, _eli = crowd
    assert answer(event, ada) == (RsvpStatus.GOING, True)
    assert answer(event, bo) == (RsvpStatus.GOING, True)
    assert answer(event, cyd) == (RsvpStatus.WAITING, True)
    assert answer(event, dee) == (RsvpStatus.WAITING, True)
    assert selectors.places_left(selectors.event_for(None, event.pk)) == 0
    positions = [selectors.waiting_position(Rsvp.objects.get(member=m)) for m in (cyd, dee)]
    assert positions == [1, 2]
    # Answering the same again changes nothing, and is not a new registration.
    assert answer(event, ada) == (RsvpStatus.GOING, False)
    assert answer(event, cyd) == (RsvpStatus.WAITING, False)


def test_a_freed_seat_goes_to_the_first_waiting_who_is_emailed(
    make_event, crowd, django_capture_on_commit_callbacks
):
    event = make_event(capacity=2, title="Débat sur la santé")
    ada, bo, cyd, dee, _eli = crowd
    for member in (ada, bo, cyd, dee):
        answer(event, member)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert answer(event, bo, going=False) == (RsvpStatus.CANCELLED, False)
    assert statuses(event) == {"Ada": "going", "Bo": "cancelled", "Cyd": "going", "Dee": "waiting"}
    assert len(callbacks) == 1  # the mail waits for the commit
    assert [m.to for m in mail.outbox] == [[cyd.email]]
    message = mail.outbox[0]
    assert "Débat sur la santé" in message.subject
    assert f"/evenements/{event.pk}/" in message.body
    assert selectors.waiting_position(Rsvp.objects.get(member=dee)) == 1


def test_someone_waiting_who_withdraws_frees_no_seat(
    make_event, crowd, django_capture_on_commit_callbacks
):
    event = make_event(capacity=1)
    ada, bo, cyd, *_ = crowd
    for member in (ada, bo, cyd):
        answer(event, member)
    with django_capture_on_commit_callbacks(execute=True):
        answer(event, bo, going=False)
    assert statuses(event) == {"Ada": "going", "Bo": "cancelled", "Cyd": "waiting"}
    assert not mail.outbox
    assert selectors.waiting_position(Rsvp.objects.get(member=cyd)) == 1


def test_coming_back_after_withdrawing_joins_the_end_of_the_queue(make_event, crowd):
    event = make_event(capacity=1)
    ada, bo, cyd, *_ = crowd
    answer(event, ada)
    answer(event, bo)
    answer(event, bo, going=False)
    answer(event, cyd)
    assert answer(event, bo) == (RsvpStatus.WAITING, True)
    assert selectors.waiting_position(Rsvp.objects.get(member=cyd)) == 1
    assert selectors.waiting_position(Rsvp.objects.get(member=bo)) == 2
    assert Rsvp.objects.filter(event=event, member=bo).count() == 1


def test_without_capacity_everyone_is_going(make_event, crowd):
    event = make_event(capacity=None)
    assert {answer(event, m)[0] for m in crowd} == {RsvpStatus.GOING}
    assert selectors.places_left(event) is None


def test_withdrawing_without_having_answered_is_not_found(make_event, crowd):
    with pytest.raises(NotFound):
        answer(make_event(), crowd[0], going=False)


def test_raising_the_capacity_promotes_people_waiting(
    people, make_event, crowd, django_capture_on_commit_callbacks
):
    event = make_event(capacity=1)
    ada, bo, cyd, dee, _ = crowd
    for member in (ada, bo, cyd, dee):
        answer(event, member)
    with django_capture_on_commit_callbacks(execute=True):
        services.event_update(
            event=event,
            by=people["camille"],
            title=event.title,
            kind=event.kind,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            place=services.Place(address=event.address, constituency=event.constituency.code),
            capacity=3,
        )
    assert statuses(event) == {"Ada": "going", "Bo": "going", "Cyd": "going", "Dee": "waiting"}
    # Only the promoted are told: nothing else changed for the others.
    assert sorted(m.to[0] for m in mail.outbox) == sorted([bo.email, cyd.email])


def test_lowering_the_capacity_takes_no_seat_away(people, make_event, crowd):
    event = make_event(capacity=3)
    for member in crowd[:3]:
        answer(event, member)
    services.event_update(
        event=event,
        by=people["camille"],
        title=event.title,
        kind=event.kind,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        place=services.Place(address=event.address, constituency=event.constituency.code),
        capacity=1,
    )
    assert set(statuses(event).values()) == {"going"}
    assert answer(event, crowd[3]) == (RsvpStatus.WAITING, True)
    assert selectors.places_left(selectors.event_for(None, event.pk)) == 0


def test_a_new_time_is_emailed_to_those_going_and_waiting(
    people, make_event, crowd, django_capture_on_commit_callbacks
):
    event = make_event(capacity=1)
    ada, bo, cyd, *_ = crowd
    for member in (ada, bo, cyd):
        answer(event, member)
    answer(event, cyd, going=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.event_update(
            event=event,
            by=people["coord75"],
            title=event.title,
            kind=event.kind,
            starts_at=event.starts_at + datetime.timedelta(hours=1),
            ends_at=event.ends_at + datetime.timedelta(hours=1),
            place=services.Place(address=event.address, constituency=event.constituency.code),
            capacity=1,
        )
    assert sorted(m.to[0] for m in mail.outbox) == sorted([ada.email, bo.email])
    assert all("modifié" in m.subject for m in mail.outbox)
    event.refresh_from_db()
    assert event.sequence == 1


def test_cancelling_emails_everyone_going_or_waiting_then_closes_answers(
    people, make_event, crowd, django_capture_on_commit_callbacks
):
    event = make_event(capacity=1, title="Apéro du réseau")
    ada, bo, cyd, *_ = crowd
    for member in (ada, bo, cyd):
        answer(event, member)
    answer(event, cyd, going=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.event_cancel(event=event, by=people["camille"], reason="La salle est fermée.")
    assert sorted(m.to[0] for m in mail.outbox) == sorted([ada.email, bo.email])
    assert all(len(m.to) == 1 for m in mail.outbox)  # nobody sees the others' address
    assert "Apéro du réseau" in mail.outbox[0].subject
    assert "La salle est fermée." in mail.outbox[0].body
    # Cancelling again sends nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        services.event_cancel(event=event, by=people["staff"])
    assert len(mail.outbox) == 2
    with pytest.raises(Conflict) as caught:
        answer(event, crowd[3])
    assert caught.value.code == "event_cancelled"


def test_no_answer_once_the_event_has_started(make_event, crowd):
    event = make_event()
    Event.objects.filter(pk=event.pk).update(starts_at=timezone.now() - datetime.timedelta(hours=1))
    with pytest.raises(Conflict) as caught:
        answer(event, crowd[0])
    assert caught.value.code == "event_started"


def test_page_answers(client, make_event, crowd, django_capture_on_commit_callbacks):
    event = make_event(capacity=1)
    ada, bo, *_ = crowd
    client.force_login(ada)
    page = client.get(f"/evenements/{event.pk}/").content.decode()
    assert "Je participe" in page
    response = client.post(f"/evenements/{event.pk}/participation/", {"going": "yes"})
    assert response.status_code == 302
    page = client.get(f"/evenements/{event.pk}/").content.decode()
    assert "Vous êtes inscrit·e" in page and "Me désinscrire" in page
    client.force_login(bo)
    page = client.get(f"/evenements/{event.pk}/").content.decode()
    assert "Complet" in page and "M'inscrire sur la liste d'attente" in page
    client.post(f"/evenements/{event.pk}/participation/", {"going": "yes"})
    page = client.get(f"/evenements/{event.pk}/").content.decode()
    assert "position 1" in page
    client.force_login(ada)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/evenements/{event.pk}/participation/", {"going": "no"})
    assert statuses(event) == {"Ada": "cancelled", "Bo": "going"}
    assert [m.to for m in mail.outbox] == [[bo.email]]
