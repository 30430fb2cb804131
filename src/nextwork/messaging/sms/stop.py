"""Replies that mean "stop writing to me", and what they do.

A reply is a STOP when, once accents, case and punctuation are set aside, it *is* one of the
keywords, or it starts with one and has at most three words ("Stop", "ARRÊT", "stop svp",
"STOP SMS", "Stop all"). A longer text that merely contains "stop" ("stop à la réforme des
retraites, on est avec vous") is a conversation, not an opt-out.

The keywords (see docs/messaging-sms.md): French ones (ARRET, ARRETER, ARRETEZ, DESINSCRIPTION,
DESINSCRIRE, DESINSCRIS, DESABONNER, DESABONNEMENT, DESABONNE) and the English ones that
Twilio itself treats as an opt-out (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE,
OPTOUT), so our ledger agrees with the block Twilio applies on its side.
"""

from __future__ import annotations

import logging
import re
import unicodedata

from django.db import transaction

from nextwork.common.errors import InvalidInput
from nextwork.messaging import consent
from nextwork.messaging.models import Channel, ConsentHow, SuppressionReason
from nextwork.messaging.sms.base import redact
from nextwork.network.models import Member
from nextwork.network.signup import clean_phone

logger = logging.getLogger("nextwork.messaging.sms")

STOP_KEYWORDS = frozenset(
    {
        # French
        "ARRET",
        "ARRETER",
        "ARRETEZ",
        "DESINSCRIPTION",
        "DESINSCRIRE",
        "DESINSCRIS",
        "DESABONNER",
        "DESABONNEMENT",
        "DESABONNE",
        # English, as Twilio's own opt-out filter
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
    }
)
MAX_WORDS = 3


def _words(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).upper()
    plain = plain.replace("-", "")  # OPT-OUT, DÉS-INSCRIPTION
    return re.findall(r"[A-Z0-9]+", plain)


def is_stop(text: str) -> bool:
    words = _words(text)
    return bool(words) and words[0] in STOP_KEYWORDS and len(words) <= MAX_WORDS


@transaction.atomic
def handle_stop(*, phone: str, source: str) -> int:
    """Withdraw every SMS consent of the members with this number and put the number on the
    suppression list (even when no member has it: it may be an old or erased one).
    Returns how many members were found."""
    try:
        number = clean_phone(phone) or phone.strip()
    except InvalidInput:
        number = phone.strip()  # a short code or a foreign format: still never write to it
    members = list(Member.objects.filter(phone=number)) if number.startswith("+") else []
    for member in members:
        consent.withdraw_all(member=member, channel=Channel.SMS, how=ConsentHow.SMS_STOP)
    consent.suppress(
        channel=Channel.SMS, address=number, reason=SuppressionReason.STOP, source=source
    )
    logger.info("SMS STOP from %s: %d member(s)", redact(number), len(members))
    return len(members)
