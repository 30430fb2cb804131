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


# Who changed the number -> how the withdrawal is written in the ledger (existing values only:
# no migration). The member's own profile page is "site", the admin "staff", a file "import".
HOW_BY_PHONE_CHANGE = {
    "member": ConsentHow.SITE,
    "staff": ConsentHow.STAFF,
    "import": ConsentHow.IMPORT,
}


@receiver(phone_changed, dispatch_uid="messaging.phone_changed")
def on_phone_changed(sender, *, member, previous, by="member", **kwargs) -> None:
    """SMS consent was given for a number: when the number changes, every current SMS consent
    of the member is withdrawn, one ledger line per type, and the new number (perhaps someone
    else's, recycled) must be opted in again by the member.

    The line's ``how`` says who made the change: ``site`` when the member changed it on their
    profile (their own action on the site, as for the preferences page), ``staff`` from the
    admin, ``import`` from a file. No new ``ConsentHow`` value: that would need a migration.
    """
    consent.withdraw_all(
        member=member, channel=Channel.SMS, how=HOW_BY_PHONE_CHANGE.get(by, ConsentHow.SITE)
    )
