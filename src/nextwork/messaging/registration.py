"""Consents recorded at sign-up (connected in ``MessagingConfig.ready``).

Agreeing to the sign-up text covers email for ``consent.SIGNUP_EMAIL_TYPES`` (how=signup, that
text): nothing is sent before the address is confirmed, ``consent.reachable_q`` checks it. The
optional SMS box, ticked with a phone number, is an explicit opt-in of its own (how=site or
api, the SMS text); an import never gives SMS consent.
"""

from __future__ import annotations

from django.dispatch import receiver

from nextwork.messaging import consent
from nextwork.messaging.models import Channel, ConsentHow
from nextwork.messaging.texts import consent_text
from nextwork.network.models import ConsentSource
from nextwork.network.signals import member_registered, phone_changed

HOW_BY_SOURCE = {
    ConsentSource.SITE: ConsentHow.SIGNUP,
    ConsentSource.API: ConsentHow.SIGNUP,
    ConsentSource.IMPORT: ConsentHow.IMPORT,
}
SMS_HOW_BY_SOURCE = {ConsentSource.SITE: ConsentHow.SITE, ConsentSource.API: ConsentHow.API}


@receiver(member_registered, dispatch_uid="messaging.signup_consents")
def on_member_registered(sender, *, member, text, source, sms_opt_in=False, **kwargs) -> None:
    consent.consents_give_many(
        member=member,
        channel=Channel.EMAIL,
        types=consent.SIGNUP_EMAIL_TYPES,
        how=HOW_BY_SOURCE.get(source, ConsentHow.SIGNUP),
        text=text,
    )
    how = SMS_HOW_BY_SOURCE.get(source)
    if sms_opt_in and member.phone and how is not None:
        consent.consents_give_many(
            member=member,
            channel=Channel.SMS,
            types=consent.SMS_TYPES,
            how=how,
            text=consent_text("sms"),
        )


@receiver(phone_changed, dispatch_uid="messaging.phone_changed")
def on_phone_changed(sender, *, member, previous, **kwargs) -> None:
    """An SMS consent was given for the old number: the new one must be opted in again
    (recorded as the member's own change on the site)."""
    consent.withdraw_all(member=member, channel=Channel.SMS, how=ConsentHow.SITE)
