"""A member's preferences: which messages on which channel, the weekly digest, tracking.

The page is reached logged in, or from the link in every bulk email without logging in: that
link carries a signed token (``preferences_url``) naming the member, valid 60 days.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse

from nextwork.common.errors import InvalidInput
from nextwork.messaging import consent
from nextwork.messaging.models import Channel, ConsentHow, MessageType, Preferences
from nextwork.messaging.texts import consent_text
from nextwork.network.models import Member

SALT = "nextwork.messaging.preferences"
TOKEN_MAX_AGE = 60 * 24 * 3600

# What the page offers: every type by email, the SMS types by SMS.
OFFERED = {
    Channel.EMAIL: tuple(MessageType),
    Channel.SMS: tuple(consent.SMS_TYPES),
}


def preferences_token(member: Member) -> str:
    return signing.dumps({"m": str(member.public_id)}, salt=SALT)


def preferences_url(member: Member) -> str:
    """The absolute link to the member's preferences page, for the footer of bulk emails."""
    return f"{settings.NEXTWORK_SITE_URL}{_path()}?t={preferences_token(member)}"


@functools.cache
def _path() -> str:
    # Reversed once per process: the senders build this link for every email.
    return reverse("messaging:preferences")


def member_from_token(token: str) -> Member:
    """The member a preferences link was made for; InvalidInput (field ``t``) when the link
    is forged, damaged, expired or its member is gone."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=TOKEN_MAX_AGE)
        return Member.objects.get(public_id=payload["m"])
    except signing.SignatureExpired as exc:
        raise InvalidInput(
            "This link has expired (links are valid 60 days): use the one in a more recent "
            "message, or log in.",
            field="t",
            code="expired",
        ) from exc
    except (
        signing.BadSignature,
        Member.DoesNotExist,
        KeyError,
        TypeError,
        ValueError,
    ) as exc:
        raise InvalidInput("This link is not valid.", field="t") from exc


@dataclass(frozen=True)
class Change:
    channel: str
    message_type: str
    given: bool


@transaction.atomic
def preferences_update(
    *,
    member: Member,
    consents: dict[tuple[str, str], bool],
    weekly_digest: bool | None = None,
    tracking: bool | None = None,
    language: str | None = None,
    how: str = ConsentHow.SITE,
    may_give: bool = True,
) -> list[Change]:
    """Apply the answers of the preferences page; returns the consents that changed.

    Only changes reach the ledger: a box left as it was writes nothing, and a type never
    consented to and left unticked does not become a "withdrawn" line. A request for SMS
    without a phone number is refused, naming the box, before anything is written.

    ``may_give`` is True only for the member logged in as themselves. Without it (the page
    reached through the emailed link, which anyone the email was forwarded to can follow),
    only withdrawing and narrowing are allowed: a consent not currently given that arrives
    given, or tracking turned on, is refused (``code="login_to_give"``, naming the first such
    box) and nothing is written; the weekly digest and the language may change either way.

    A new SMS opt-in by the member logged in (``may_give``, how=site) also lifts a STOP on
    their number (``consent.lift_stop``; never a bounce or complaint), or it would never
    take effect.
    """
    for channel, message_type in consents:
        if message_type not in OFFERED.get(channel, ()):
            raise InvalidInput(
                f"{channel}.{message_type} is not offered: by SMS only "
                + ", ".join(consent.SMS_TYPES)
                + ".",
                field=f"{channel}.{message_type}",
            )
    if not member.phone:
        asked = [t for (c, t), given in consents.items() if c == Channel.SMS and given]
        if asked:
            raise InvalidInput(
                "Add a phone number to your profile before asking for SMS.",
                field=f"sms.{asked[0]}",
            )
    current = consent.current_consents(member)
    if not may_give:
        # Reached through an emailed link, without logging in (emails get forwarded): one
        # may withdraw and narrow, never give a new consent in the member's name.
        newly = [
            f"{c}.{t}" for (c, t), given in consents.items() if given and not current.get((c, t))
        ]
        prefs_now = consent.preferences_for(member)
        if tracking and not prefs_now.tracking:
            newly.append("tracking")
        if newly:
            raise InvalidInput(
                "Log in to give a new consent: through the link of an email, one may only "
                "withdraw.",
                field=newly[0],
                code="login_to_give",
            )
    changes = []
    for (channel, message_type), given in consents.items():
        if current.get((channel, message_type), False) == given:
            continue
        text = consent_text("sms" if channel == Channel.SMS else "preferences")
        if consent.consent_set(
            member=member,
            channel=channel,
            message_type=message_type,
            given=given,
            how=how,
            text=text,
        ):
            changes.append(Change(channel, message_type, given))
    if (
        may_give
        and how == ConsentHow.SITE
        and any(c.given and c.channel == Channel.SMS for c in changes)
    ):
        consent.lift_stop(member.phone)
    prefs = consent.preferences_for(member)
    fields = []
    if weekly_digest is not None and prefs.weekly_digest != weekly_digest:
        prefs.weekly_digest = weekly_digest
        fields.append("weekly_digest")
    if tracking is not None and prefs.tracking != tracking:
        prefs.tracking = tracking
        fields.append("tracking")
        if not tracking:  # what was recorded under the permission goes with it
            prefs.last_opened_at = prefs.last_clicked_at = None
            fields += ["last_opened_at", "last_clicked_at"]
    if language is not None and prefs.language != language:
        from django.conf import settings

        codes = [code for code, _name in settings.LANGUAGES]
        if language not in codes:
            raise InvalidInput(
                f"Unknown language {language!r}; choose one of {', '.join(codes)}.",
                field="language",
            )
        prefs.language = language
        fields.append("language")
    if fields:
        prefs.save(update_fields=fields)
    return changes


def preferences_of(member: Member) -> Preferences:
    return consent.preferences_for(member)
