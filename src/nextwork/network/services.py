"""Writes of the network: grants, relay applications and their decisions, coverage snapshots.

Each service checks the caller's grants itself (deny by default), runs in one transaction and
queues its emails for after the commit.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation

from nextwork.common.errors import Conflict, InvalidInput
from nextwork.common.mail import send_after_commit
from nextwork.network import permissions
from nextwork.network.models import (
    ApplicationStatus,
    CoverageSnapshot,
    Grant,
    Member,
    RelayApplication,
    Role,
)
from nextwork.privacy.services import audit_record
from nextwork.territories.models import SENATE_KINDS, Area, AreaKind

# Which kind of area each role is granted on.
ROLE_AREAS = {
    Role.RELAY: (AreaKind.CONSTITUENCY,),
    Role.SUBSTITUTE: (AreaKind.CONSTITUENCY,),
    Role.SENATE_RELAY: SENATE_KINDS,
    Role.COORDINATOR: (*SENATE_KINDS, AreaKind.REGION),
}
# What one applies or is invited to.
APPLICATION_ROLES = (Role.RELAY, Role.SUBSTITUTE, Role.SENATE_RELAY)
# Who decides on whom: coordinators of the area (or above), and staff.
DECIDERS = (Role.COORDINATOR,)


def _check_area(role: str, area: Area | None) -> None:
    if role == Role.STAFF:
        if area is not None:
            raise InvalidInput("The staff role is national: give no area.", field="area")
        return
    if role not in ROLE_AREAS:
        raise InvalidInput(f"Unknown role {role!r}.", field="role")
    if area is None or area.kind not in ROLE_AREAS[role]:
        kinds = ", ".join(ROLE_AREAS[role])
        raise InvalidInput(f"A {role} grant is given on a {kinds}.", field="area")


@transaction.atomic
def grant_role(*, member: Member, role: str, area: Area | None, granted_by: Member | None) -> Grant:
    """Give ``role`` on ``area``; ``granted_by`` None means the operator (CLI, migrations)."""
    _check_area(role, area)
    if granted_by is not None:
        if role in (Role.STAFF, Role.COORDINATOR):
            if not permissions.is_staff(granted_by):
                raise permissions.Forbidden("Only national staff give this role.", field="role")
        else:
            permissions.require(granted_by, area, DECIDERS, "give this role")
    grant = Grant(member=member, role=role, area=area, granted_by=granted_by)
    grant.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            grant.save()
    except IntegrityError as exc:
        raise _grant_conflict(role, area) from exc
    _audit_grant("grants.give", grant, granted_by)
    return grant


def _audit_grant(action: str, grant: Grant, by: Member | None) -> None:
    """Grant changes are sensitive (they open member lists): audited, ids only."""
    audit_record(actor=by, action=action, area_code=grant.area.code if grant.area_id else "",
                 details={"grant": grant.pk, "member": grant.member_id,
                          "role": grant.role})  # fmt: skip


def _grant_conflict(role: str, area: Area | None) -> Conflict:
    if role == Role.RELAY:
        return Conflict(
            f"{area.code} already has a titular relay: step them down first, or add a substitute.",
            field="area",
        )
    return Conflict("This member already holds this role here.", field="role")


@transaction.atomic
def grant_end(*, grant: Grant, ended_by: Member | None) -> Grant:
    """End a grant (a relay steps down, a coordinator leaves); its history is kept."""
    if ended_by is not None and ended_by != grant.member:
        if grant.area is None or grant.role == Role.COORDINATOR:
            if not permissions.is_staff(ended_by):
                raise permissions.Forbidden("Only national staff end this role.", field=None)
        else:
            permissions.require(ended_by, grant.area, DECIDERS, "end this role")
    if grant.valid_to is not None:
        raise Conflict("This role has already ended.", field=None)
    grant.valid_to = timezone.now()
    grant.save(update_fields=["valid_to"])
    _audit_grant("grants.end", grant, ended_by)
    return grant


@transaction.atomic
def substitute_promote(*, grant: Grant, promoted_by: Member) -> Grant:
    """Make a substitute the titular relay of their seat (the seat must have none)."""
    if grant.role != Role.SUBSTITUTE or grant.valid_to is not None:
        raise InvalidInput("Only a current substitute can be promoted.", field="grant")
    permissions.require(promoted_by, grant.area, DECIDERS, "promote a substitute")
    grant_end(grant=grant, ended_by=promoted_by)
    return grant_role(member=grant.member, role=Role.RELAY, area=grant.area, granted_by=promoted_by)


@transaction.atomic
def relay_apply(
    *, member: Member, area: Area, role: str = Role.RELAY, motivation: str = ""
) -> RelayApplication:
    """A confirmed member applies to relay ``area``; the area's coordinators are told."""
    if member.confirmed_at is None:
        raise Conflict("Confirm your email address before applying.", field="member")
    if role not in APPLICATION_ROLES:
        raise InvalidInput(
            "One applies to be a relay, a substitute or a senate relay.", field="role"
        )
    _check_area(role, area)
    if len(motivation) > 5000:
        raise InvalidInput("The motivation is limited to 5,000 characters.", field="motivation")
    application = RelayApplication(member=member, area=area, role=role, motivation=motivation)
    try:
        with transaction.atomic():
            application.save()
    except IntegrityError as exc:
        raise Conflict("You already have a pending application here.", field="area") from exc
    send_after_commit(
        _notify_coordinators,
        application,
        what="application mail",
        ref=f"application #{application.pk}",
    )
    return application


@transaction.atomic
def relay_invite(*, member: Member, area: Area, role: str, invited_by: Member) -> RelayApplication:
    """Co-optation: a coordinator (or staff) covering ``area`` invites a confirmed member.

    The invitation waits for the invited member's answer (``invitation_answer``), who is
    emailed after the commit; coordinators do not decide on it a second time.
    """
    permissions.require(invited_by, area, DECIDERS, "invite a relay")
    if role not in APPLICATION_ROLES:
        raise InvalidInput("One invites a relay, a substitute or a senate relay.", field="role")
    _check_area(role, area)
    if member.confirmed_at is None or not member.is_active:
        raise Conflict(
            "This member has not confirmed their email address: they cannot be invited yet.",
            field="member",
            code="not_confirmed",
        )
    current = Grant.objects.filter(area=area, valid_to__isnull=True)
    if current.filter(member=member, role=role).exists():
        raise Conflict(
            "This member already holds this role here.", field="role", code="already_holds"
        )
    if role == Role.RELAY and current.filter(role=Role.RELAY).exists():
        raise Conflict(
            f"{area.code} already has a titular relay: invite a substitute instead.",
            field="role",
            code="seat_taken",
        )
    application = RelayApplication(member=member, area=area, role=role, invited_by=invited_by)
    try:
        with transaction.atomic():
            application.save()
    except IntegrityError as exc:
        raise Conflict(
            "This member already has a pending application or invitation here.",
            field="member",
            code="already_pending",
        ) from exc
    send_after_commit(
        _notify_invited, application, what="invitation mail", ref=f"application #{application.pk}"
    )
    return application


@transaction.atomic
def invitation_answer(
    *, application: RelayApplication, member: Member, accept: bool
) -> RelayApplication:
    """The invited member, and only them, accepts or declines an invitation.

    Accepting grants the role on the inviter's authority (``granted_by`` is the inviter, whose
    grant must still cover the area) and approves the invitation; a seat that found a titular
    relay meanwhile is a clear conflict and the invitation stays pending. The inviter is
    emailed the answer after the commit.
    """
    application = (
        # Lock the application row only: PostgreSQL refuses FOR UPDATE on the nullable side
        # of the outer join to the inviter.
        RelayApplication.objects.select_for_update(of=("self",))
        .select_related("area", "invited_by")
        .get(pk=application.pk)
    )
    if application.invited_by_id is None or application.member_id != member.pk:
        raise permissions.Forbidden("Only the invited member answers an invitation.", field=None)
    if application.status != ApplicationStatus.PENDING:
        raise Conflict(f"This invitation is already {application.status}.", field=None)
    if accept:
        try:
            grant_role(
                member=member,
                role=application.role,
                area=application.area,
                granted_by=application.invited_by,
            )
        except permissions.Forbidden as exc:
            raise Conflict(
                f"Whoever invited you no longer coordinates {application.area.code}: "
                "this invitation cannot be accepted any more; decline it, or apply yourself.",
                field=None,
                code="inviter_gone",
            ) from exc
        except Conflict as exc:
            if application.role == Role.RELAY:
                raise Conflict(
                    f"{application.area.code} has found a titular relay since you were "
                    "invited: decline this invitation, or apply as a substitute.",
                    field=None,
                    code="seat_taken",
                ) from exc
            raise
    application.status = ApplicationStatus.APPROVED if accept else ApplicationStatus.DECLINED
    application.decided_by = member
    application.decided_at = timezone.now()
    application.save(update_fields=["status", "decided_by", "decided_at"])
    send_after_commit(
        _notify_inviter, application, what="answer mail", ref=f"application #{application.pk}"
    )
    return application


@transaction.atomic
def application_decide(
    *, application: RelayApplication, decided_by: Member, approve: bool, message: str = ""
) -> RelayApplication:
    """Approve (the grant is created, or a clear conflict) or decline, with a message."""
    if len(message) > 2000:
        raise InvalidInput("The message is limited to 2,000 characters.", field="message")
    application = RelayApplication.objects.select_for_update().get(pk=application.pk)
    permissions.require(decided_by, application.area, DECIDERS, "decide on applications")
    if application.status != ApplicationStatus.PENDING:
        raise Conflict(f"This application is already {application.status}.", field=None)
    if application.invited_by_id is not None:
        # Nobody becomes a relay without saying yes: the invited member answers.
        raise Conflict("This is an invitation: the invited member answers it.", field=None)
    if approve:
        grant_role(
            member=application.member,
            role=application.role,
            area=application.area,
            granted_by=decided_by,
        )
    application.status = ApplicationStatus.APPROVED if approve else ApplicationStatus.DECLINED
    application.decided_by = decided_by
    application.decided_at = timezone.now()
    application.decision_message = message
    application.save(update_fields=["status", "decided_by", "decided_at", "decision_message"])
    send_after_commit(
        _notify_applicant, application, what="decision mail", ref=f"application #{application.pk}"
    )
    return application


@transaction.atomic
def coverage_snapshot_take(*, day: datetime.date | None = None) -> CoverageSnapshot:
    """Record today's coverage (idempotent for a day: the last run of the day wins)."""
    from nextwork.network.selectors import coverage

    figures = coverage()
    snapshot, _created = CoverageSnapshot.objects.update_or_create(
        day=day or timezone.localdate(),
        defaults={
            "total": figures["total"],
            "covered": figures["covered"],
            "substitute_only": figures["substitute_only"],
            "pending": figures["pending"],
            "uncovered": figures["uncovered"],
            "senate_total": figures["senate"]["areas_total"],
            "senate_covered": figures["senate"]["areas_covered"],
        },
    )
    return snapshot


# -- notifications (after commit) ---------------------------------------------------------------


def _notify_coordinators(application: RelayApplication) -> None:
    from nextwork.network.permissions import area_lineage

    coordinators = Member.objects.filter(
        grants__role=Role.COORDINATOR,
        grants__valid_to__isnull=True,
        grants__area_id__in=area_lineage(application.area),
        is_active=True,
    ).distinct()
    recipients = [m.email for m in coordinators]
    if recipients:
        send_mail(
            f"Nouvelle candidature de relais : {application.area.name}",
            f"Une candidature attend votre décision pour {application.area.name} "
            f"({application.area.code}).",
            None,
            recipients,
        )


def _role_label(role: str) -> str:
    with translation.override("fr"):
        return str(Role(role).label)


def _notify_invited(application: RelayApplication) -> None:
    inviter = application.invited_by.full_name if application.invited_by else ""
    organisation = settings.NEXTWORK_ORGANISATION
    role = _role_label(application.role)
    send_mail(
        f"Invitation à devenir {role} — {organisation}",
        f"Bonjour {application.member.first_name},\n\n"
        f"{inviter or 'La coordination'} vous invite à devenir {role} pour "
        f"{application.area.name} ({application.area.code}) dans le réseau de {organisation}.\n\n"
        "Vous pouvez accepter ou décliner cette invitation depuis votre espace :\n\n"
        f"{settings.NEXTWORK_SITE_URL}{reverse('network:space')}\n\n"
        "Rien ne change tant que vous n'avez pas répondu.\n",
        None,
        [application.member.email],
    )


def _notify_inviter(application: RelayApplication) -> None:
    if application.invited_by is None or not application.invited_by.is_active:
        return
    accepted = application.status == ApplicationStatus.APPROVED
    send_mail(
        f"Invitation {'acceptée' if accepted else 'déclinée'} : {application.area.name}",
        f"{application.member.full_name} a {'accepté' if accepted else 'décliné'} "
        f"votre invitation à devenir {_role_label(application.role)} pour {application.area.name} "
        f"({application.area.code}).",
        None,
        [application.invited_by.email],
    )


def _notify_applicant(application: RelayApplication) -> None:
    verdict = "acceptée" if application.status == ApplicationStatus.APPROVED else "refusée"
    body = f"Votre candidature de relais pour {application.area.name} a été {verdict}."
    if application.decision_message:
        body += f"\n\nMessage :\n{application.decision_message}"
    send_mail(f"Votre candidature : {verdict}", body, None, [application.member.email])
