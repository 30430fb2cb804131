"""Erasing a member: everything personal goes, in one transaction, and the ledger says so.

What goes, what stays and under which law: docs/privacy.md. In short, ``member_erase``:

1. writes the ledger row (``ErasureRecord``: ids, date, reason, keyed hashes, never an address),
   appended to the ledger file once the transaction has committed (``privacy.ledger``);
2. puts the email and phone on the suppression list (a hash only) when the member had withdrawn
   a consent on that channel or was already suppressed there, so that a later import of an old
   list does not write to them again;
3. erases their donor records through ``fundraising.erasure.donor_erase`` (the accounting
   identity stays while a gift is within the legal retention period);
4. empties what ``SET_NULL`` would leave behind: the note of their moderation reports, their
   fundraising pages (hidden, emptied), their social accounts in the presence audit;
5. deletes their sessions and the admin history naming them, then the member row, which takes
   every record of theirs with it (locations, grants, consents, messages received, supports,
   proxies, RSVPs…); their proposals and comments stay as contributions, without an author.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from nextwork.common.errors import Forbidden, InvalidInput, NotFound
from nextwork.network.permissions import is_staff
from nextwork.network.security.sessions import end_sessions
from nextwork.privacy import ledger
from nextwork.privacy.models import ErasureReason, ErasureRecord
from nextwork.privacy.services import audit_record

# What a member without a password types to confirm (case and spaces do not matter).
CONFIRMATION_PHRASE = "effacer mon compte"
STAFF_REASONS = (ErasureReason.REQUEST, ErasureReason.LEGAL, ErasureReason.OTHER)


def needs_password(member) -> bool:
    """Whether the member confirms with their password (else with the phrase): members who
    only ever logged in by link have no password to type."""
    return member.has_usable_password()


def confirm_self_erasure(*, member, confirmation: str) -> None:
    """Raise ``InvalidInput`` (field ``confirmation``) unless ``confirmation`` is the member's
    password, or, for a member without one, the phrase."""
    given = (confirmation or "").strip()
    if not given:
        raise InvalidInput(
            "Confirm the erasure: type your password."
            if needs_password(member)
            else f"Confirm the erasure: type « {CONFIRMATION_PHRASE} ».",
            field="confirmation",
        )
    if needs_password(member):
        if not member.check_password(given):
            raise InvalidInput("This is not your password.", field="confirmation")
        return
    if " ".join(given.lower().split()) != CONFIRMATION_PHRASE:
        raise InvalidInput(
            f"Type « {CONFIRMATION_PHRASE} » exactly to confirm.", field="confirmation"
        )


def _check_rights(*, member, by, reason: str) -> None:
    if reason not in ErasureReason.values:
        raise InvalidInput(
            f"Unknown reason {reason!r}; the reasons are {', '.join(ErasureReason.values)}.",
            field="reason",
        )
    if by is None:
        return  # the system or the operator (retention, command line)
    if by.pk == member.pk:
        return
    if not is_staff(by):
        raise Forbidden("Only the member themself or staff may erase a member.")


def _withdrew(member, channel: str, address: str) -> bool:
    from nextwork.messaging.consent import is_suppressed
    from nextwork.messaging.models import ConsentEvent

    if not address:
        return False
    return ConsentEvent.objects.filter(
        member=member, channel=channel, given=False
    ).exists() or is_suppressed(channel, address)


def _suppress(member, channels: set[str]) -> list[str]:
    from nextwork.messaging.consent import suppress
    from nextwork.messaging.models import Channel, ConsentEvent, ConsentHow, SuppressionReason

    addresses = {Channel.EMAIL: member.email, Channel.SMS: member.phone}
    done = []
    for channel, address in addresses.items():
        if not address or not (channel in channels or _withdrew(member, channel, address)):
            continue
        complained = ConsentEvent.objects.filter(
            member=member, channel=channel, how=ConsentHow.COMPLAINT
        ).exists()
        if complained:
            reason = SuppressionReason.COMPLAINT
        elif channel == Channel.SMS:
            reason = SuppressionReason.STOP
        else:
            reason = SuppressionReason.MANUAL
        suppress(channel=channel, address=address, reason=reason, source="erasure")
        done.append(str(channel))
    return sorted(done)


def _erase_donors(member, by) -> int:
    from nextwork.fundraising.erasure import donor_erase
    from nextwork.fundraising.models import Donor
    from nextwork.fundraising.rules import donor_key

    keys = set(Donor.objects.filter(member=member).values_list("key", flat=True))
    keys.add(donor_key(member.email))
    live = Donor.objects.filter(key__in=keys, erased_at__isnull=True)
    records = 0
    for key in sorted(set(live.values_list("key", flat=True))):
        # The member's own request goes through as the system's: donor_erase is staff-only.
        records += donor_erase(key=key, by=by if by is not None and is_staff(by) else None)
    return records


def _empty_leftovers(member) -> None:
    """What ``SET_NULL`` keeps of the member, emptied (their contributions stay authorless)."""
    from nextwork.fundraising.models import FundraisingPage
    from nextwork.monitoring.models import Channel as SocialChannel
    from nextwork.monitoring.models import ChannelSnapshot
    from nextwork.participation.models import Report

    now = timezone.now()
    Report.objects.filter(reporter=member).update(note="")
    _empty_unpublished(member)
    for page in FundraisingPage.objects.filter(owner=member):
        if page.photo:
            page.photo.delete(save=False)
        page.title, page.text, page.photo = f"Page {page.pk}", "", ""
        if page.hidden_at is None:
            page.hidden_at = now
        page.hidden_reason = "Page retirée : compte effacé."
        page.save(update_fields=["title", "text", "photo", "hidden_at", "hidden_reason"])
    channels = SocialChannel.objects.filter(member=member)
    ChannelSnapshot.objects.filter(channel__in=channels).delete()
    for channel in channels:
        SocialChannel.objects.filter(pk=channel.pk).update(
            url=f"https://erased.invalid/{channel.pk}", handle="", label="", active=False,
            updated_at=now,
        )  # fmt: skip


def _empty_unpublished(member) -> None:
    """Their contributions that never were, or no longer are, public (held, hidden) are not
    part of the debate: emptied, with their earlier versions and files. Their requests for a
    second look go too. Published ones stay as they are, without an author."""
    from nextwork.participation.models import (
        Comment,
        Proposal,
        ProposalAttachment,
        ProposalVersion,
        State,
    )

    unpublished = Proposal.objects.filter(author=member).exclude(state=State.PUBLISHED)
    ProposalVersion.objects.filter(proposal__in=unpublished).delete()
    for attachment in ProposalAttachment.objects.filter(proposal__in=unpublished):
        attachment.file.delete(save=False)
        attachment.delete()
    unpublished.update(title="Proposition retirée", body="", body_digest="")
    comments = Comment.objects.filter(author=member)
    comments.exclude(state=State.PUBLISHED).update(body="", body_digest="")
    comments.update(review_note="")
    Proposal.objects.filter(author=member).update(review_note="")


def _delete_admin_history(member) -> None:
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(member), object_id=str(member.pk)
    ).delete()


def _erase(member, *, by, channels: set[str]) -> dict:
    """Everything but the member row's deletion; the counts for the audit log."""
    suppressed = _suppress(member, channels)
    donors = _erase_donors(member, by)
    _empty_leftovers(member)
    # Live sessions (expired rows hold only the id, and the nightly retention run clears them).
    sessions = end_sessions(member)
    _delete_admin_history(member)
    return {"donor_records": donors, "sessions": sessions, "suppressed": suppressed}


def _locked(member):
    found = get_user_model().objects.select_for_update().filter(pk=member.pk).first()
    if found is None or found.public_id != member.public_id:
        raise NotFound("This member does not exist or was already erased.", field="member")
    return found


@transaction.atomic
def member_erase(*, member, by, reason: str) -> ErasureRecord:
    """Erase ``member`` for good (see the module's docstring) and return the ledger row.

    ``by`` is the member themself, a staff member, or None for the system (retention, the
    operator). Anyone else gets ``Forbidden``; an erased member ``NotFound``."""
    _check_rights(member=member, by=by, reason=reason)
    member = _locked(member)
    by_self = by is not None and by.pk == member.pk
    record = ErasureRecord(
        member_ref=member.pk,
        public_id=member.public_id,
        by_self=by_self,
        by_ref=by.pk if by is not None and not by_self else None,
        reason=reason,
        email_hmac=ledger.address_hmac("email", member.email),
        phone_hmac=ledger.address_hmac("sms", member.phone),
    )
    counts = _erase(member, by=by, channels=set())
    record.suppressed = counts["suppressed"]
    try:
        record.save()
    except IntegrityError:
        # Another erasure of the same member committed first (SQLite does not lock the row
        # read above): the whole transaction is rolled back, nothing is done twice.
        raise NotFound(
            "This member does not exist or was already erased.", field="member"
        ) from None
    # Recorded before the row goes: the event keeps the actor's id (``actor_ref``) when the
    # actor is the member themself.
    audit_record(
        actor=by,
        action="privacy.erase",
        details={"member": record.member_ref, "self": by_self, "reason": reason, **counts},
    )
    member.delete()
    transaction.on_commit(ledger.file_pending)
    return record


@transaction.atomic
def reerase(*, member, entry: ledger.Entry) -> None:
    """Erase again, after a restore, a member whom the ledger names (its row exists already)."""
    member = _locked(member)
    counts = _erase(member, by=None, channels=set(entry.suppressed))
    audit_record(
        actor=None,
        action="privacy.erase",
        details={"member": entry.member_id, "reapplied": True, "reason": entry.reason, **counts},
    )
    member.delete()
