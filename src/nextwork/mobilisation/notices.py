"""The emails of a proxy match, sent after the transaction commits: a match proposed, accepted
(each side gets the other's contact and the steps), cancelled (the other side is told).

These are service messages the member asked for by requesting or offering a proxy, not
campaigns: they go to the address of the account, whatever the newsletter consents.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

OFFICIAL_REQUEST = "https://www.maprocuration.gouv.fr"
OFFICIAL_HELP = "https://www.service-public.fr/particuliers/vosdroits/F1604"
CHECK_REGISTRATION = (
    "https://www.service-public.fr/particuliers/vosdroits/services-en-ligne-et-formulaires/ISE"
)


def _site() -> str:
    return getattr(settings, "NEXTWORK_SITE_URL", "").rstrip("/")


_held = contextvars.ContextVar("nextwork_proxy_notices_held", default=False)


@contextlib.contextmanager
def held():
    """Send none of these notices inside the block: demonstration data, whose people are
    generated, pairs without mailing anyone."""
    token = _held.set(True)
    try:
        yield
    finally:
        _held.reset(token)


def _send(member_id: int, subject: str, body: str) -> None:
    from nextwork.network.models import Member

    if _held.get():
        return

    def send() -> None:
        member = Member.objects.filter(pk=member_id, is_active=True).first()
        if member is None:
            return
        try:
            send_mail(subject, body, None, [member.email])
        except Exception as exc:  # a mail failure never undoes the match
            logger.error("proxy notice to member #%s not sent: %s", member_id, type(exc).__name__)

    transaction.on_commit(send)


def _page() -> str:
    return f"{_site()}/espace/procurations/"


def proposed(match) -> None:
    round_ = match.round
    for member_id in (match.request.member_id, match.holder_id):
        _send(
            member_id,
            _("Procuration : une proposition vous attend"),
            _(
                "Bonjour,\n\nUne procuration vous est proposée pour le tour %(number)s de "
                "« %(election)s » (%(date)s). Acceptez-la ou refusez-la sur votre page : "
                "%(page)s\n\nVos coordonnées ne sont transmises à l'autre personne que lorsque "
                "vous avez accepté tous les deux.\n"
            )
            % {"number": round_.number, "election": round_.election.name,
               "date": round_.date.strftime("%d/%m/%Y"), "page": _page()},
        )  # fmt: skip


def _contact(member) -> str:
    lines = [member.full_name, member.email]
    if getattr(member, "phone", ""):
        lines.append(member.phone)
    return "\n".join(f"  {line}" for line in lines if line)


def accepted(match) -> None:
    request = match.request
    requester, holder = request.member, match.holder
    round_ = match.round
    where = request.commune.name
    facts = {
        "number": round_.number, "election": round_.election.name,
        "date": round_.date.strftime("%d/%m/%Y"), "commune": where, "official": OFFICIAL_REQUEST,
        "help": OFFICIAL_HELP, "check": CHECK_REGISTRATION, "page": _page(),
    }  # fmt: skip
    _send(
        requester.pk,
        _("Procuration acceptée : les étapes à suivre"),
        _(
            "Bonjour,\n\nVotre procuration pour le tour %(number)s de « %(election)s » "
            "(%(date)s) est acceptée. Votre mandataire :\n%(contact)s\n\n"
            "1. Demandez-lui son numéro national d'électeur et sa date de naissance (son numéro "
            "figure sur sa carte électorale ou sur %(check)s).\n"
            "2. Faites la demande en ligne sur %(official)s.\n"
            "3. Faites-la valider en personne dans un commissariat, une gendarmerie ou un "
            "consulat (ou en ligne avec une identité numérique certifiée).\n"
            "4. Dites-nous sur %(page)s que la procuration est établie.\n\n"
            "Le jour du vote, votre mandataire vote à votre place dans votre bureau de vote, à "
            "%(commune)s. Tout est expliqué sur %(help)s.\n"
        )
        % {**facts, "contact": _contact(holder)},
    )
    _send(
        holder.pk,
        _("Procuration acceptée : vous votez pour quelqu'un"),
        _(
            "Bonjour,\n\nVous portez la procuration de cette personne pour le tour %(number)s "
            "de « %(election)s » (%(date)s) :\n%(contact)s\n\n"
            "Elle va vous demander votre numéro national d'électeur et votre date de naissance "
            "pour sa demande sur %(official)s. Le jour du vote, allez dans son bureau de vote, "
            "à %(commune)s, avec votre pièce d'identité : vous votez à sa place. Dites-nous "
            "sur %(page)s quand c'est fait.\n"
        )
        % {**facts, "contact": _contact(requester)},
    )


def cancelled(match, *, by=None) -> None:
    round_ = match.round
    for member_id in (match.request.member_id, match.holder_id):
        if by is not None and member_id == by.pk:
            continue
        _send(
            member_id,
            _("Procuration annulée"),
            _(
                "Bonjour,\n\nLa procuration prévue pour le tour %(number)s de « %(election)s » "
                "(%(date)s) est annulée. Si vous l'aviez demandée, votre demande attend un autre "
                "mandataire : %(page)s\n"
            )
            % {"number": round_.number, "election": round_.election.name,
               "date": round_.date.strftime("%d/%m/%Y"), "page": _page()},
        )  # fmt: skip


# -- reminders of the steps ---------------------------------------------------------------------

ANSWER_AFTER = datetime.timedelta(days=2)  # a proposal unanswered this long gets a reminder
DECLARE_BEFORE = datetime.timedelta(days=7)  # an accepted proxy not established this close


def nudge_steps(*, now: datetime.datetime | None = None) -> dict:
    """Remind, once each, (a) the side that has not answered a proposal made two days ago and
    more, (b) a requester whose accepted proxy is not established a week before the round.
    Rounds that are over get nothing. Returns how many of each were sent."""
    from django.db.models import Q
    from django.utils import timezone

    from nextwork.mobilisation.models import MatchStatus, ProxyMatch

    now = now or timezone.now()
    today = timezone.localdate(now)
    waiting = ProxyMatch.objects.filter(
        status=MatchStatus.PROPOSED,
        created_at__lte=now - ANSWER_AFTER,
        nudged_answer_at__isnull=True,
        round__date__gte=today,
    ).select_related("request", "round", "round__election")
    answers = 0
    for match in waiting:
        with transaction.atomic():
            if not ProxyMatch.objects.filter(pk=match.pk, nudged_answer_at__isnull=True).update(
                nudged_answer_at=now
            ):
                continue  # another worker took it
            late = []
            if match.requester_accepted_at is None:
                late.append(match.request.member_id)
            if match.holder_accepted_at is None:
                late.append(match.holder_id)
            for member_id in late:
                _send(member_id, _("Procuration : une proposition attend votre réponse"),
                      _answer_body(match))  # fmt: skip
                answers += 1
    to_declare = ProxyMatch.objects.filter(
        Q(status=MatchStatus.ACCEPTED),
        nudged_declare_at__isnull=True,
        round__date__gte=today,
        round__date__lte=today + DECLARE_BEFORE,
    ).select_related("request", "round", "round__election")
    declares = 0
    for match in to_declare:
        with transaction.atomic():
            if not ProxyMatch.objects.filter(pk=match.pk, nudged_declare_at__isnull=True).update(
                nudged_declare_at=now
            ):
                continue
            _send(match.request.member_id, _("Procuration : pensez à la faire établir"),
                  _declare_body(match))  # fmt: skip
            declares += 1
    return {"answer": answers, "declare": declares}


def _facts(match) -> dict:
    round_ = match.round
    return {"number": round_.number, "election": round_.election.name,
            "date": round_.date.strftime("%d/%m/%Y"), "page": _page(),
            "official": OFFICIAL_REQUEST}  # fmt: skip


def _answer_body(match) -> str:
    return _(
        "Bonjour,\n\nUne procuration pour le tour %(number)s de « %(election)s » (%(date)s) "
        "attend votre réponse depuis deux jours. Acceptez-la ou refusez-la sur %(page)s : "
        "l'autre personne compte sur vous, et si vous refusez, nous lui en chercherons une "
        "autre.\n"
    ) % _facts(match)


def _declare_body(match) -> str:
    return _(
        "Bonjour,\n\nLe tour %(number)s de « %(election)s » a lieu le %(date)s et votre "
        "procuration n'est pas encore établie. Faites la demande sur %(official)s puis "
        "faites-la valider sans attendre, et dites-le-nous sur %(page)s.\n"
    ) % _facts(match)
