"""Who may create, edit, cancel and read the attendees of an event: visitor, member, Camille
(relay of 75-02), coordinators of 75 and 13, staff. Deny by default; a grant covers its area."""

from __future__ import annotations

import pytest
from django.utils import timezone

from nextwork.common.errors import Forbidden
from nextwork.events import selectors, services
from nextwork.events.models import Event, EventStatus
from nextwork.network.models import Grant, Role
from nextwork.privacy.models import AuditEvent
from nextwork.territories.models import AreaKind

from .conftest import MARSEILLE, MENDE, PARIS, PARIS_SEAT, in_days

ACTORS = ["visitor", "member", "camille", "coord75", "coord13", "staff"]

# Where each actor may create an event: Paris (75), Marseille (13), Mende (48).
CREATES = {
    "visitor": set(),
    "member": set(),
    "camille": {"75"},
    "coord75": {"75"},
    "coord13": {"13"},
    "staff": {"75", "13", "48"},
}
PLACES = {"75": (PARIS, PARIS_SEAT), "13": (MARSEILLE, None), "48": (MENDE, None)}


@pytest.fixture
def world(people):
    return {**people, "visitor": None}


def create(who, department):
    address, seat = PLACES[department]
    return services.event_create(
        creator=who,
        title="Réunion",
        kind="meetup",
        starts_at=in_days(5),
        ends_at=in_days(5, hour=21),
        place=services.Place(address=address, constituency=seat),
    )


@pytest.mark.parametrize("who", ACTORS)
@pytest.mark.parametrize("department", ["75", "13", "48"])
def test_create(world, who, department):
    actor = world[who]
    allowed = department in CREATES[who]
    if actor is not None:
        assert selectors.may_create_somewhere(actor) is bool(CREATES[who])
    if allowed:
        event = create(actor, department)
        assert event.department.code == department and event.created_by == actor
    else:
        from django.contrib.auth.models import AnonymousUser

        with pytest.raises(Forbidden):
            create(actor or AnonymousUser(), department)
        assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("role", "area_code", "kind"),
    [
        (Role.SUBSTITUTE, "75-05", AreaKind.CONSTITUENCY),
        (Role.SENATE_RELAY, "75", AreaKind.DEPARTMENT),
    ],
)
def test_substitutes_and_senate_relays_create_in_their_department_only(
    make_member, area, role, area_code, kind
):
    relay = make_member("Nour")
    Grant.objects.create(member=relay, role=role, area=area(area_code, kind))
    assert create(relay, "75").department.code == "75"
    with pytest.raises(Forbidden):
        create(relay, "13")


def test_an_ended_grant_creates_nothing(people):
    Grant.objects.filter(member=people["camille"]).update(valid_to=timezone.now())
    with pytest.raises(Forbidden):
        create(people["camille"], "75")


def test_a_region_coordinator_creates_in_every_department_of_the_region(make_member, area):
    coordinator = make_member("Rémi")
    # Occitanie (76) holds Lozère (48), not Bouches-du-Rhône (13).
    Grant.objects.create(
        member=coordinator, role=Role.COORDINATOR, area=area("76", AreaKind.REGION)
    )
    assert create(coordinator, "48").department.code == "48"
    with pytest.raises(Forbidden):
        create(coordinator, "13")


# Who manages an event Camille created in Paris: edit, cancel, see the attendees.
MANAGES = {"visitor": False, "member": False, "camille": True, "coord75": True, "coord13": False}
MANAGES["staff"] = True


@pytest.mark.parametrize("who", ACTORS)
def test_manage(world, make_event, who, django_capture_on_commit_callbacks):
    event = make_event()
    actor = world[who]
    allowed = MANAGES[who]
    assert selectors.may_manage(actor, event) is allowed
    edit = {
        "title": "Nouveau titre",
        "kind": "debrief",
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "place": services.Place(address=event.address, constituency=event.constituency.code),
    }
    if allowed:
        assert services.event_update(event=event, by=actor, **edit).title == "Nouveau titre"
        rows = selectors.attendees(event=event, caller=actor)
        assert rows == []
        with django_capture_on_commit_callbacks(execute=True):
            assert services.event_cancel(event=event, by=actor).status == EventStatus.CANCELLED
    else:
        from django.contrib.auth.models import AnonymousUser

        caller = actor or AnonymousUser()
        with pytest.raises(Forbidden):
            services.event_update(event=event, by=caller, **edit)
        with pytest.raises(Forbidden):
            services.event_cancel(event=event, by=caller)
        from nextwork.common.errors import NotFound

        with pytest.raises(NotFound):
            selectors.attendees(event=event, caller=caller)
        event.refresh_from_db()
        assert event.title == "Rencontre des membres" and event.status == EventStatus.PUBLISHED
        assert not AuditEvent.objects.filter(action="events.attendees").exists()


def test_another_relay_of_the_department_does_not_manage_camilles_event(
    make_event, make_member, area
):
    other = make_member("Yanis")
    Grant.objects.create(member=other, role=Role.RELAY, area=area("75-05"))
    event = make_event()
    assert selectors.may_create_at(other, event.constituency)
    assert not selectors.may_manage(other, event)
    with pytest.raises(Forbidden):
        services.event_cancel(event=event, by=other)


def test_moving_an_event_needs_a_grant_at_the_new_place(people, make_event):
    event = make_event()
    with pytest.raises(Forbidden):
        services.event_update(
            event=event,
            by=people["camille"],
            title=event.title,
            kind=event.kind,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            place=services.Place(address=MENDE),
        )
    event.refresh_from_db()
    assert event.department.code == "75"


def test_reading_the_attendees_is_audited_with_counts_only(people, make_event, make_member):
    event = make_event(capacity=1)
    ada, bo = make_member("Ada"), make_member("Bo")
    services.rsvp_set(event=event, member=ada, going=True)
    services.rsvp_set(event=event, member=bo, going=True)
    rows = selectors.attendees(event=event, caller=people["coord75"])
    assert [(r.member, r.status) for r in rows] == [(ada, "going"), (bo, "waiting")]
    audit = AuditEvent.objects.get(action="events.attendees")
    assert audit.actor == people["coord75"] and audit.area_code == "75"
    assert audit.details == {"event": event.pk, "going": 1, "waiting": 1}
    assert ada.first_name not in str(audit.details) and ada.email not in str(audit.details)


# -- the pages follow the same rules ---------------------------------------------------------


@pytest.mark.parametrize("who", ACTORS)
def test_pages(client, world, make_event, who):
    event = make_event()
    actor = world[who]
    if actor is not None:
        client.force_login(actor)
    new = client.get("/evenements/nouveau/")
    attendees = client.get(f"/evenements/{event.pk}/participants/")
    edit = client.get(f"/evenements/{event.pk}/modifier/")
    detail = client.get(f"/evenements/{event.pk}/").content.decode()
    if actor is None:
        assert new.status_code == attendees.status_code == edit.status_code == 302
        assert "/connexion/" in new["Location"]
    else:
        assert new.status_code == (200 if CREATES[who] else 403)
        assert attendees.status_code == (200 if MANAGES[who] else 404)
        assert edit.status_code == (200 if MANAGES[who] else 404)
    assert (f"/evenements/{event.pk}/participants/" in detail) is MANAGES[who]
    cancel = client.post(f"/evenements/{event.pk}/annuler/")
    event.refresh_from_db()
    assert (event.status == EventStatus.CANCELLED) is MANAGES[who]
    if actor is not None and not MANAGES[who]:
        assert cancel.status_code == 404
