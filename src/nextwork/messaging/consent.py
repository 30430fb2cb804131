"""The consent ledger: every consent given or withdrawn, and the current state sending reads.

Rules (DESIGN.md §8, CNIL guidance on political communication):
- email needs a current consent for the message type *and* a confirmed address (double
  opt-in: the sign-up link was followed);
- SMS needs an explicit opt-in of its own (a box the member ticked, never pre-ticked, never
  implied by an import);
- withdrawing is always possible, from any message (one-click), the preferences page, a STOP
  reply or a spam complaint; the ledger keeps every step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from nextwork.common.errors import InvalidInput
from nextwork.messaging.models import (
    Channel,
    ConsentEvent,
    ConsentHow,
    ConsentState,
    MessageType,
    Preferences,
    Suppression,
    SuppressionReason,
)
from nextwork.network.models import ConsentText, Member, normalise_email

# What agreeing to the sign-up text covers (it says the organisation will write about its
# action): email only, and only once the address is confirmed.
SIGNUP_EMAIL_TYPES = (MessageType.NEWSLETTER, MessageType.CAMPAIGN, MessageType.ALERT)
# An SMS opt-in is asked for these types; community news by SMS is not offered.
SMS_TYPES = (MessageType.CAMPAIGN, MessageType.ALERT)


def _check(channel: str, message_type: str) -> None:
    if channel not in Channel.values:
        raise InvalidInput(
            f"Unknown channel {channel!r}; the channels are {', '.join(Channel.values)}.",
            field="channel",
        )
    if message_type not in MessageType.values:
        raise InvalidInput(
            f"Unknown message type {message_type!r}; the types are "
            f"{', '.join(MessageType.values)}.",
            field="message_type",
        )


@transaction.atomic
def consent_set(
    *,
    member: Member,
    channel: str,
    message_type: str,
    given: bool,
    how: str,
    text: ConsentText | None = None,
) -> bool:
    """Record a consent given or withdrawn; returns False (and writes nothing) when the state
    does not change, so repeated clicks do not fill the ledger."""
    _check(channel, message_type)
    if given and channel == Channel.SMS and how in (ConsentHow.IMPORT, ConsentHow.SIGNUP):
        raise InvalidInput(
            "An SMS consent needs the member's explicit opt-in, not an import.", field="channel"
        )
    if given and channel == Channel.SMS and not member.phone:
        raise InvalidInput("Give a phone number before asking for SMS.", field="phone")
    state = (
        ConsentState.objects.select_for_update()
        .filter(member=member, channel=channel, message_type=message_type)
        .first()
    )
    if state is not None and state.given == given:
        return False
    now = timezone.now()
    ConsentEvent.objects.create(
        member=member,
        channel=channel,
        message_type=message_type,
        given=given,
        at=now,
        how=how,
        text=text,
    )
    if state is None:
        ConsentState.objects.create(
            member=member, channel=channel, message_type=message_type, given=given, updated_at=now
        )
    else:
        state.given, state.updated_at = given, now
        state.save(update_fields=["given", "updated_at"])
    return True


def consents_give_many(
    *, member: Member, channel: str, types: Iterable[str], how: str, text=None
) -> int:
    return sum(
        consent_set(member=member, channel=channel, message_type=t, given=True, how=how, text=text)
        for t in types
    )


def withdraw_all(*, member: Member, channel: str, how: str) -> int:
    """Withdraw every consent on a channel (STOP, complaint): how many were current."""
    given = ConsentState.objects.filter(member=member, channel=channel, given=True)
    return sum(
        consent_set(member=member, channel=channel, message_type=t, given=False, how=how)
        for t in given.values_list("message_type", flat=True)
    )


def current_consents(member: Member) -> dict[tuple[str, str], bool]:
    return {
        (s.channel, s.message_type): s.given for s in ConsentState.objects.filter(member=member)
    }


def history(member: Member):
    return ConsentEvent.objects.filter(member=member).select_related("text").order_by("-at", "-id")


def preferences_for(member: Member) -> Preferences:
    prefs, _created = Preferences.objects.get_or_create(member=member)
    return prefs


# -- who may be written to ---------------------------------------------------------------------


def address_hash(channel: str, address: str) -> str:
    """The suppression key: a hash of the normalised address (never the address itself)."""
    value = normalise_email(address) if channel == Channel.EMAIL else address.strip()
    return hashlib.sha256(f"{channel}:{value}".encode()).hexdigest()


def suppress(*, channel: str, address: str, reason: str, source: str = "") -> bool:
    """Put an address on the suppression list; False when it already was."""
    _obj, created = Suppression.objects.get_or_create(
        channel=channel,
        address_hash=address_hash(channel, address),
        defaults={"reason": reason, "source": source[:40]},
    )
    return created


def lift_stop(phone: str) -> bool:
    """Take a number off the SMS suppression list if, and only if, it is there for a STOP.

    Only for the member's own opt-in, logged in (``preferences.preferences_update`` with
    ``may_give``): never a bounce, a complaint or the staff's manual entry, and never from a
    sign-up form or a link anyone could have filled in with someone else's number.
    """
    if not phone:
        return False
    deleted, _ = Suppression.objects.filter(
        channel=Channel.SMS,
        address_hash=address_hash(Channel.SMS, phone),
        reason=SuppressionReason.STOP,
    ).delete()
    return bool(deleted)


def is_suppressed(channel: str, address: str) -> bool:
    return Suppression.objects.filter(
        channel=channel, address_hash=address_hash(channel, address)
    ).exists()


def reachable_q(channel: str, message_type: str) -> Q:
    """Members who may receive this channel and type right now (used on ``Member``).

    The suppression list is checked per recipient at hand-over (it is keyed by hash).
    """
    _check(channel, message_type)
    consent = ConsentState.objects.filter(
        member=OuterRef("pk"), channel=channel, message_type=message_type, given=True
    )
    q = Q(Exists(consent), is_active=True)
    if channel == Channel.EMAIL:
        q &= Q(confirmed_at__isnull=False)  # double opt-in
    else:
        q &= ~Q(phone="")
    return q


def may_receive(member_id: int, channel: str, message_type: str) -> bool:
    return Member.objects.filter(reachable_q(channel, message_type), pk=member_id).exists()
