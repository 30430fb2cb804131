"""Grants, relay applications and decisions: the one-titular rule and deny-by-default."""

import pytest
from django.core import mail
from django.db import IntegrityError, transaction

from nextwork.common.errors import Conflict, Forbidden, InvalidInput
from nextwork.network import services
from nextwork.network.models import ApplicationStatus, Grant, Role
from nextwork.network.permissions import covers
from nextwork.territories.models import AreaKind


def test_the_database_refuses_a_second_current_titular_relay(people, area, make_member):
    with pytest.raises(IntegrityError), transaction.atomic():
        Grant.objects.create(member=make_member(), role=Role.RELAY, area=area("75-02"))


def test_a_second_titular_through_the_service_is_a_clear_conflict(people, area, make_member):
    with pytest.raises(Conflict, match="75-02 already has a titular relay"):
        services.grant_role(
            member=make_member(), role=Role.RELAY, area=area("75-02"), granted_by=people["coord75"]
        )


def test_stepping_down_keeps_history_and_frees_the_seat(people, area, make_member):
    camille_grant = Grant.objects.get(member=people["camille"], role=Role.RELAY)
    services.grant_end(grant=camille_grant, ended_by=people["camille"])
    successor = make_member("Noa")
    services.grant_role(
        member=successor, role=Role.RELAY, area=area("75-02"), granted_by=people["coord75"]
    )
    history = Grant.objects.filter(area=area("75-02"), role=Role.RELAY).order_by("valid_from")
    assert [g.member for g in history] == [people["camille"], successor]
    assert history[0].valid_to is not None and history[1].valid_to is None


@pytest.mark.parametrize(
    ("who", "seat", "allowed"),
    [
        ("staff", "13-04", True),
        ("coord75", "75-02", True),
        ("coord75", "13-04", False),
        ("coord13", "13-04", True),
        ("coord13", "75-02", False),
        ("camille", "75-02", False),  # a relay does not decide on their own seat
        ("member", "75-02", False),
    ],
)
def test_who_decides_on_applications(people, area, make_member, who, seat, allowed):
    application = services.relay_apply(member=make_member(), area=area(seat), role=Role.SUBSTITUTE)
    if allowed:
        services.application_decide(application=application, decided_by=people[who], approve=True)
        application.refresh_from_db()
        assert application.status == ApplicationStatus.APPROVED
        assert Grant.objects.filter(member=application.member, valid_to__isnull=True).exists()
    else:
        with pytest.raises(Forbidden):
            services.application_decide(
                application=application, decided_by=people[who], approve=True
            )
        application.refresh_from_db()
        assert application.status == ApplicationStatus.PENDING


def test_a_visitor_is_covered_by_nothing(area):
    assert covers(None, area("75-02"), [Role.COORDINATOR]) is False


def test_coordinator_of_a_region_covers_its_seats(people, area, make_member):
    coord = make_member("Yann")
    Grant.objects.create(member=coord, role=Role.COORDINATOR, area=area("53", AreaKind.REGION))
    assert covers(coord, area("29-07"), [Role.COORDINATOR])  # Finistère is in Bretagne
    assert not covers(coord, area("75-02"), [Role.COORDINATOR])


def test_approving_a_second_titular_fails_and_leaves_the_application_pending(
    people, area, make_member
):
    application = services.relay_apply(member=make_member(), area=area("75-02"))
    with pytest.raises(Conflict):
        services.application_decide(
            application=application, decided_by=people["coord75"], approve=True
        )
    application.refresh_from_db()
    assert application.status == ApplicationStatus.PENDING


def test_unconfirmed_members_cannot_apply(area, make_member):
    with pytest.raises(Conflict, match="Confirm your email"):
        services.relay_apply(member=make_member(confirmed=False), area=area("48-01"))


def test_one_pending_application_per_seat_and_role(area, make_member):
    member = make_member()
    services.relay_apply(member=member, area=area("48-01"))
    with pytest.raises(Conflict, match="already have a pending application"):
        services.relay_apply(member=member, area=area("48-01"))


def test_roles_are_granted_on_the_right_kind_of_area(people, area, make_member):
    with pytest.raises(InvalidInput, match="senate_relay"):
        services.grant_role(
            member=make_member(),
            role=Role.SENATE_RELAY,
            area=area("75-02"),
            granted_by=people["staff"],
        )
    with pytest.raises(InvalidInput):
        services.grant_role(
            member=make_member(), role=Role.STAFF, area=area("75-02"), granted_by=None
        )


def test_only_staff_appoints_coordinators(people, area, make_member):
    with pytest.raises(Forbidden):
        services.grant_role(
            member=make_member(),
            role=Role.COORDINATOR,
            area=area("75", AreaKind.DEPARTMENT),
            granted_by=people["coord75"],
        )


def test_substitute_promoted_when_the_seat_is_free(people, area, make_member):
    substitute = make_member("Lina")
    grant = services.grant_role(
        member=substitute, role=Role.SUBSTITUTE, area=area("48-01"), granted_by=people["staff"]
    )
    promoted = services.substitute_promote(grant=grant, promoted_by=people["staff"])
    assert promoted.role == Role.RELAY and promoted.valid_to is None
    grant.refresh_from_db()
    assert grant.valid_to is not None


def test_decisions_and_applications_are_emailed_after_commit(
    people, area, make_member, django_capture_on_commit_callbacks
):
    applicant = make_member("Jo")
    with django_capture_on_commit_callbacks(execute=True):
        application = services.relay_apply(member=applicant, area=area("75-05"))
    assert [m.to for m in mail.outbox] == [[people["coord75"].email]]
    with django_capture_on_commit_callbacks(execute=True):
        services.application_decide(
            application=application,
            decided_by=people["coord75"],
            approve=False,
            message="Nous cherchons quelqu'un qui habite la circonscription.",
        )
    assert mail.outbox[-1].to == [applicant.email]
    assert "refusée" in mail.outbox[-1].subject
    assert "habite la circonscription" in mail.outbox[-1].body


def test_an_overlong_decision_message_is_refused_and_nothing_changes(people, area, make_member):
    application = services.relay_apply(member=make_member(), area=area("75-05"))
    with pytest.raises(InvalidInput, match="2,000"):
        services.application_decide(
            application=application,
            decided_by=people["coord75"],
            approve=True,
            message="x" * 2001,
        )
    application.refresh_from_db()
    assert application.status == ApplicationStatus.PENDING


def test_grant_changes_are_audited_with_ids_only(people, area, make_member):
    from nextwork.privacy.models import AuditEvent

    camille_grant = Grant.objects.get(member=people["camille"], role=Role.RELAY)
    services.grant_end(grant=camille_grant, ended_by=people["coord75"])
    successor = make_member("Noa")
    given = services.grant_role(
        member=successor, role=Role.RELAY, area=area("75-02"), granted_by=people["coord75"]
    )
    events = list(AuditEvent.objects.filter(action__startswith="grants.").order_by("pk"))
    assert [(e.action, e.actor, e.area_code) for e in events] == [
        ("grants.end", people["coord75"], "75-02"),
        ("grants.give", people["coord75"], "75-02"),
    ]
    assert events[1].details == {"grant": given.pk, "member": successor.pk, "role": "relay"}
    assert successor.email not in events[1].details_text
