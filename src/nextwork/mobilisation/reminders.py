"""Reminders of electoral mobilisation: the registration drive before an election's deadline,
the polling-day reminders of each round, and the one-click links they carry.

Promises:
- a member gets at most one registration reminder per election (``RegistrationAnswer``) and
  one polling-day reminder per round (``Turnout``): the row is written with the message, in
  the same transaction, and its unique constraint makes a second run (or a second worker)
  send nothing;
- every reminder goes through ``messaging.services.notify`` as a "campaign call"
  (``MessageType.CAMPAIGN``): the consents apply as to any message — an email only to a
  confirmed address with the campaign consent, an SMS only with the SMS opt-in — and the
  suppression list (bounces, STOP) is checked when it is handed over;
- a member who can be reached by email gets an email, otherwise an SMS; one who can be
  reached by neither gets nothing and no row is written (they may consent later);
- the links ("C'est fait", "J'ai voté") are signed (``django.core.signing``, a salt of their
  own) and name nothing but ids: following one (GET) shows a button, only the POST records.

Who is concerned by an election: every active member when it names no areas; otherwise the
members who vote in a commune it covers (their voting situation's commune, when they gave
one), or else who live in its areas (their current location).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from nextwork.common.errors import DomainError, InvalidInput
from nextwork.messaging.consent import reachable_q
from nextwork.messaging.models import Channel, MessageType
from nextwork.messaging.render import literal
from nextwork.mobilisation import notices
from nextwork.mobilisation.models import (
    CURRENT,
    Election,
    MatchStatus,
    ProxyMatch,
    Registered,
    RegistrationAnswer,
    RequestStatus,
    Round,
    Turnout,
    VotingSituation,
)
from nextwork.network.models import Member, MemberLocation

logger = logging.getLogger(__name__)

CHECK_REGISTRATION = notices.CHECK_REGISTRATION
REGISTER_ONLINE = "https://www.service-public.fr/particuliers/vosdroits/R16396"
REGISTRATION_SALT = "nextwork.mobilisation.registration-done"
VOTED_SALT = "nextwork.mobilisation.voted"
BIG_CITIES_CLOSE = datetime.time(20, 0)
EVE, MORNING = "eve", "morning"
# The eve's reminder leaves from noon the day before; the morning's from 6:00 until the
# polling stations close.
EVE_FROM = datetime.time(12, 0)
MORNING_FROM = datetime.time(6, 0)
# notify's de-duplication key is ours per member, election or round: never sent twice.
COOLDOWN = datetime.timedelta(days=400)
HELD = (MatchStatus.ACCEPTED, MatchStatus.DECLARED, MatchStatus.VOTED)


def registration_window_days() -> int:
    """How many days before the registration deadline the drive starts."""
    return int(getattr(settings, "NEXTWORK_REGISTRATION_REMINDER_DAYS", 30))


def polling_moments() -> tuple[str, ...]:
    """When polling-day reminders leave: the eve, the morning, or both (a member reminded on
    the eve is not reminded again in the morning)."""
    value = getattr(settings, "NEXTWORK_POLLING_REMINDERS", (EVE, MORNING))
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    return tuple(v for v in value if v in (EVE, MORNING))


def _site() -> str:
    return getattr(settings, "NEXTWORK_SITE_URL", "").rstrip("/")


@dataclass
class Outcome:
    """What a run did: ``status`` is ``sent`` (even zero), ``not_yet``, ``deadline_passed``,
    ``round_over``, ``not_today`` or ``unpublished``."""

    kind: str
    target: int
    name: str
    status: str
    email: int = 0
    sms: int = 0
    unreachable: int = 0
    already: int = 0
    dry_run: bool = False
    detail: str = ""
    moment: str = ""
    members: list[int] = field(default_factory=list, repr=False)

    @property
    def sent(self) -> int:
        return self.email + self.sms

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("members")
        data["sent"] = self.sent
        return data


# -- who is concerned ---------------------------------------------------------------------------


def concerned_q(election: Election, field: str = "pk") -> Q:
    """A Q on ``field`` (a member id) for the members this election concerns."""
    ids = list(election.areas.values_list("pk", flat=True))
    if not ids:
        return Q()
    lives = MemberLocation.objects.filter(valid_to__isnull=True).filter(
        Q(constituency__in=ids)
        | Q(department__in=ids)
        | Q(department__parent__in=ids)
        | Q(commune__in=ids)
        | Q(commune__parent__in=ids)
    )
    votes = VotingSituation.objects.filter(
        Q(commune__in=ids)
        | Q(commune__parent__in=ids)
        | Q(commune__parent__parent__in=ids)
        | Q(commune__parent__parent__parent__in=ids)
        | Q(commune__constituency_links__constituency__in=ids)
        # A city split between seats (Paris, Lyon, Marseille) is covered when one of its
        # arrondissements is, as ``services.covered`` says.
        | Q(commune__children__constituency_links__constituency__in=ids)
    )
    says_where = VotingSituation.objects.filter(commune__isnull=False)
    return Q(**{f"{field}__in": votes.values("member_id")}) | (
        Q(**{f"{field}__in": lives.values("member_id")})
        & ~Q(**{f"{field}__in": says_where.values("member_id")})
    )


def concerned(election: Election) -> QuerySet[Member]:
    return Member.objects.filter(is_active=True).filter(concerned_q(election))


def _channels(members: QuerySet[Member]) -> dict[int, str]:
    """Each reachable member's channel for a campaign call: email first, else SMS."""
    by_email = set(
        members.filter(reachable_q(Channel.EMAIL, MessageType.CAMPAIGN)).values_list(
            "pk", flat=True
        )
    )
    by_sms = set(
        members.filter(reachable_q(Channel.SMS, MessageType.CAMPAIGN)).values_list("pk", flat=True)
    )
    chosen = {pk: Channel.EMAIL.value for pk in by_email}
    chosen.update({pk: Channel.SMS.value for pk in by_sms - by_email})
    return chosen


def _date(day: datetime.date) -> str:
    return day.strftime("%d/%m/%Y")


def _hour(value: datetime.time) -> str:
    return f"{value.hour} h" if not value.minute else f"{value.hour} h {value.minute:02d}"


# -- the tokens of the one-click links ---------------------------------------------------------


def registration_token(election_id: int, member_id: int) -> str:
    return signing.dumps({"e": election_id, "m": member_id}, salt=REGISTRATION_SALT)


def voted_token(round_id: int, member_id: int) -> str:
    return signing.dumps({"r": round_id, "m": member_id}, salt=VOTED_SALT)


def registration_url(election_id: int, member_id: int) -> str:
    return f"{_site()}/mobilisation/c-est-fait/{registration_token(election_id, member_id)}/"


def voted_url(round_id: int, member_id: int) -> str:
    return f"{_site()}/mobilisation/j-ai-vote/{voted_token(round_id, member_id)}/"


class LinkExpired(DomainError):
    code = "link_expired"
    status = 410


def _read(token: str, salt: str, keys: tuple[str, str]) -> tuple[int, int]:
    try:
        value = signing.loads(token, salt=salt)
        return int(value[keys[0]]), int(value[keys[1]])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(
            "This link is not valid (altered or incomplete).", field="token", code="invalid_token"
        ) from exc


@dataclass
class Answer:
    """A link's target, for its page: what it records, and whether it was recorded already."""

    title: str
    when: datetime.date
    done_at: datetime.datetime | None


def registration_link(token: str) -> tuple[Election, int]:
    """The election and member of a "C'est fait" link, valid until the first round."""
    election_id, member_id = _read(token, REGISTRATION_SALT, ("e", "m"))
    election = Election.objects.filter(pk=election_id).prefetch_related("rounds").first()
    if election is None or not Member.objects.filter(pk=member_id).exists():
        raise InvalidInput("This link is not valid any more.", field="token", code="invalid_token")
    first = min((r.date for r in election.rounds.all()), default=election.registration_deadline)
    if timezone.localdate() > first:
        raise LinkExpired("This election is over: the link has expired.", field="token")
    return election, member_id


@transaction.atomic
def registration_done(*, token: str) -> tuple[RegistrationAnswer, bool]:
    """Record that a member registered (or checked they are); ``False`` when it was already
    recorded (the first time is kept)."""
    election, member_id = registration_link(token)
    answer, _created = RegistrationAnswer.objects.select_for_update().get_or_create(
        election=election, member_id=member_id
    )
    if answer.done_at is not None:
        return answer, False
    answer.done_at = timezone.now()
    answer.save(update_fields=["done_at"])
    return answer, True


def voted_link(token: str) -> tuple[Round, int]:
    """The round and member of a "J'ai voté" link, valid from the eve to the end of the
    round's day (some territories overseas vote the day before)."""
    round_id, member_id = _read(token, VOTED_SALT, ("r", "m"))
    round_ = Round.objects.filter(pk=round_id).select_related("election").first()
    if round_ is None or not Member.objects.filter(pk=member_id).exists():
        raise InvalidInput("This link is not valid any more.", field="token", code="invalid_token")
    today = timezone.localdate()
    if today > round_.date:
        raise LinkExpired("This round is over: the link has expired.", field="token")
    if today < round_.date - datetime.timedelta(days=1):
        raise InvalidInput("This link works on polling day.", field="token", code="not_polling_day")
    return round_, member_id


@transaction.atomic
def voted(*, token: str) -> tuple[Turnout, bool]:
    """Record a member's "I voted" for a round; ``False`` when it was already recorded."""
    round_, member_id = voted_link(token)
    turnout, _created = Turnout.objects.select_for_update().get_or_create(
        round=round_, member_id=member_id
    )
    if turnout.voted_at is not None:
        return turnout, False
    turnout.voted_at = timezone.now()
    turnout.save(update_fields=["voted_at"])
    return turnout, True


# -- the registration drive ---------------------------------------------------------------------


def registration_drive(
    election: Election, *, now: datetime.datetime | None = None, dry_run: bool = False
) -> Outcome:
    """Remind the members concerned who are not registered, unsure or silent, once per
    election, from ``NEXTWORK_REGISTRATION_REMINDER_DAYS`` before the deadline until the
    deadline's day. After the deadline nothing is sent (``deadline_passed``)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    deadline = election.registration_deadline
    outcome = Outcome("registration", election.pk, election.name, "sent", dry_run=dry_run)
    if not election.published:
        outcome.status, outcome.detail = "unpublished", "the election is not published"
        return outcome
    if today > deadline:
        outcome.status = "deadline_passed"
        outcome.detail = f"the registration deadline ({deadline.isoformat()}) has passed"
        return outcome
    opens = deadline - datetime.timedelta(days=registration_window_days())
    if today < opens:
        outcome.status, outcome.detail = "not_yet", f"the drive opens on {opens.isoformat()}"
        return outcome
    said_yes = VotingSituation.objects.filter(registered=Registered.YES).values("member_id")
    answered = RegistrationAnswer.objects.filter(election=election).filter(
        Q(reminded_at__isnull=False) | Q(done_at__isnull=False)
    )
    candidates = concerned(election).exclude(pk__in=said_yes)
    outcome.already = candidates.filter(pk__in=answered.values("member_id")).count()
    candidates = candidates.exclude(pk__in=answered.values("member_id"))
    channels = _channels(candidates)
    outcome.unreachable = candidates.count() - len(channels)
    first = election.rounds.order_by("number").first()
    for member_id, channel in sorted(channels.items()):
        if dry_run:
            outcome.email += channel == Channel.EMAIL
            outcome.sms += channel == Channel.SMS
            continue
        if _remind_registration(election, first, member_id, channel, now):
            outcome.email += channel == Channel.EMAIL
            outcome.sms += channel == Channel.SMS
            outcome.members.append(member_id)
        else:
            outcome.already += 1
    logger.info(
        "registration drive of election #%s: %s emails, %s SMS, %s unreachable, %s already",
        election.pk, outcome.email, outcome.sms, outcome.unreachable, outcome.already,
    )  # fmt: skip
    return outcome


def _remind_registration(
    election: Election, first: Round | None, member_id: int, channel: str, now
) -> bool:
    from nextwork.messaging.services import notify

    with transaction.atomic():
        answer, _created = RegistrationAnswer.objects.select_for_update().get_or_create(
            election=election, member_id=member_id
        )
        if answer.reminded_at is not None or answer.done_at is not None:
            return False
        answer.reminded_at = now
        answer.save(update_fields=["reminded_at"])
        subject, body = registration_message(election, first, member_id, channel)
        notify(
            key=f"mobilisation:registration:{election.pk}:{member_id}",
            members=[member_id],
            subject=subject,
            body=body,
            channel=channel,
            message_type=MessageType.CAMPAIGN,
            cooldown=COOLDOWN,
        )
    return True


def registration_message(
    election: Election, first: Round | None, member_id: int, channel: str
) -> tuple[str, str]:
    facts = {
        "election": literal(election.name),
        "deadline": _date(election.registration_deadline),
        "first": _date(first.date) if first else "",
        "check": CHECK_REGISTRATION,
        "register": REGISTER_ONLINE,
        "done": registration_url(election.pk, member_id),
    }
    subject = _("Inscrivez-vous sur les listes électorales avant le %(deadline)s") % facts
    if channel == Channel.SMS:
        body = _(
            "{{ first_name }}, %(election)s : inscription sur les listes jusqu'au "
            "%(deadline)s. Vérifier : %(check)s S'inscrire : %(register)s "
            "C'est fait ? %(done)s"
        )
        return subject, body % facts
    body = _(
        "Bonjour {{ first_name }},\n\n"
        "« %(election)s » : le premier tour a lieu le %(first)s. Pour voter, il faut être "
        "inscrit·e sur les listes électorales avant le %(deadline)s.\n\n"
        "1. Vérifiez votre inscription et votre bureau de vote (service officiel) :\n"
        "%(check)s\n\n"
        "2. Si vous n'êtes pas inscrit·e, ou si vous avez déménagé, inscrivez-vous en ligne "
        "(service officiel, quelques minutes avec une pièce d'identité et un justificatif de "
        "domicile) :\n%(register)s\n\n"
        "C'est fait ? Dites-le nous d'un clic (nous ne vous relancerons plus) :\n%(done)s\n"
    )
    return subject, body % facts


# -- polling-day reminders ----------------------------------------------------------------------


def polling_moment(round_: Round, now: datetime.datetime) -> str:
    """``eve``, ``morning`` or an empty string: the moment ``now`` is, for this round."""
    local = timezone.localtime(now)
    moments = polling_moments()
    if EVE in moments and local.date() == round_.date - datetime.timedelta(days=1):
        return EVE if local.time() >= EVE_FROM else ""
    if MORNING in moments and local.date() == round_.date:
        return MORNING if MORNING_FROM <= local.time() < round_.closes_at else ""
    return ""


def polling_day(
    round_: Round, *, now: datetime.datetime | None = None, dry_run: bool = False
) -> Outcome:
    """Remind the members concerned who can be reached, once per round, on the eve (from
    noon) and/or the morning (from 6:00 until the polling stations close), as
    ``NEXTWORK_POLLING_REMINDERS`` says; outside these moments nothing is sent."""
    now = now or timezone.now()
    election = round_.election
    name = f"{election.name} — {round_.number}"
    outcome = Outcome("polling", round_.pk, name, "sent", dry_run=dry_run)
    if not election.published:
        outcome.status, outcome.detail = "unpublished", "the election is not published"
        return outcome
    local = timezone.localtime(now)
    if local.date() > round_.date or (
        local.date() == round_.date and local.time() >= round_.closes_at
    ):
        outcome.status, outcome.detail = "round_over", "the polling stations are closed"
        return outcome
    moment = polling_moment(round_, now)
    if not moment:
        outcome.status = "not_today"
        outcome.detail = f"reminders leave on {round_.date - datetime.timedelta(days=1)} " + (
            f"or {round_.date}"
        )
        return outcome
    outcome.moment = moment
    reminded = Turnout.objects.filter(round=round_, reminded_at__isnull=False).values("member_id")
    candidates = concerned(election)
    outcome.already = candidates.filter(pk__in=reminded).count()
    candidates = candidates.exclude(pk__in=reminded)
    channels = _channels(candidates)
    outcome.unreachable = candidates.count() - len(channels)
    if dry_run:
        outcome.email = sum(c == Channel.EMAIL for c in channels.values())
        outcome.sms = len(channels) - outcome.email
        return outcome
    ids = list(channels)
    stations = dict(
        VotingSituation.objects.filter(member_id__in=ids)
        .exclude(polling_station="")
        .values_list("member_id", "polling_station")
    )
    holding: dict[int, list[str]] = {}
    for holder_id, commune in ProxyMatch.objects.filter(
        CURRENT, round=round_, holder_id__in=ids, status__in=HELD
    ).values_list("holder_id", "request__commune__name"):
        holding.setdefault(holder_id, []).append(commune)
    gave = set(
        ProxyMatch.objects.filter(
            CURRENT, round=round_, request__member_id__in=ids, status__in=HELD
        ).values_list("request__member_id", flat=True)
    ) | set(
        round_.proxy_requests.filter(
            member_id__in=ids, status__in=[RequestStatus.DECLARED, RequestStatus.VOTED]
        ).values_list("member_id", flat=True)
    )
    for member_id, channel in sorted(channels.items()):
        facts = PollingFacts(
            station=stations.get(member_id, ""),
            proxies=holding.get(member_id, []),
            gave_proxy=member_id in gave,
        )
        if _remind_polling(round_, member_id, channel, moment, facts, now):
            outcome.email += channel == Channel.EMAIL
            outcome.sms += channel == Channel.SMS
            outcome.members.append(member_id)
        else:
            outcome.already += 1
    logger.info(
        "polling-day reminders of round #%s (%s): %s emails, %s SMS, %s unreachable, %s already",
        round_.pk, moment, outcome.email, outcome.sms, outcome.unreachable, outcome.already,
    )  # fmt: skip
    return outcome


@dataclass
class PollingFacts:
    station: str = ""
    proxies: list[str] = field(default_factory=list)  # the communes of the proxies they hold
    gave_proxy: bool = False


def _remind_polling(round_, member_id, channel, moment, facts, now) -> bool:
    from nextwork.messaging.services import notify

    with transaction.atomic():
        turnout, _created = Turnout.objects.select_for_update().get_or_create(
            round=round_, member_id=member_id
        )
        if turnout.reminded_at is not None:
            return False
        turnout.reminded_at, turnout.channel = now, channel
        turnout.save(update_fields=["reminded_at", "channel"])
        subject, body = polling_message(round_, member_id, channel, moment, facts)
        notify(
            key=f"mobilisation:polling:{round_.pk}:{member_id}",
            members=[member_id],
            subject=subject,
            body=body,
            channel=channel,
            message_type=MessageType.CAMPAIGN,
            cooldown=COOLDOWN,
        )
    return True


def polling_message(
    round_: Round, member_id: int, channel: str, moment: str, facts: PollingFacts
) -> tuple[str, str]:
    values = {
        "election": literal(round_.election.name),
        "number": round_.number,
        "day": _("demain") if moment == EVE else _("aujourd'hui"),
        "date": _date(round_.date),
        "opens": _hour(round_.opens_at),
        "closes": _hour(round_.closes_at),
        "late": _hour(BIG_CITIES_CLOSE),
        "station": literal(facts.station),
        "voted": voted_url(round_.pk, member_id),
        "check": CHECK_REGISTRATION,
    }
    subject = _("On vote %(day)s : %(election)s, tour %(number)s") % values
    lines = []
    if channel == Channel.SMS:
        lines.append(
            _(
                "{{ first_name }}, on vote %(day)s (%(election)s, tour %(number)s), "
                "de %(opens)s à %(closes)s (%(late)s dans certaines grandes villes)."
            )
            % values
        )
        if facts.station:
            lines.append(_("Votre bureau : %(station)s.") % values)
        if facts.proxies:
            lines.append(
                _("Votez aussi pour la personne qui vous a confié sa procuration.")
                if len(facts.proxies) == 1
                else _("Votez aussi pour les deux personnes qui vous ont confié leur procuration.")
            )
        lines.append(_("J'ai voté : %(voted)s") % values)
        return subject, " ".join(lines)
    lines.append(_("Bonjour {{ first_name }},") + "\n")
    lines.append(
        _(
            "On vote %(day)s, %(date)s, pour le tour %(number)s de « %(election)s ». Les bureaux "
            "de vote sont ouverts de %(opens)s à %(closes)s ; dans certaines grandes villes, ils "
            "ferment à %(late)s. Pensez à votre pièce d'identité."
        )
        % values
        + "\n"
    )
    if facts.station:
        lines.append(_("Votre bureau de vote : %(station)s.") % values + "\n")
    else:
        lines.append(
            _("Votre bureau de vote est indiqué sur votre carte électorale et sur %(check)s")
            % values
            + "\n"
        )
    for commune in facts.proxies:
        lines.append(
            _(
                "N'oubliez pas : vous votez aussi pour la personne qui vous a confié sa "
                "procuration, dans son bureau de vote à %(commune)s (le détail est sur votre "
                "espace, rubrique Procurations)."
            )
            % {"commune": literal(commune)}
            + "\n"
        )
    if facts.gave_proxy:
        lines.append(
            _("Vous avez donné procuration : votre mandataire vote pour vous dans votre bureau.")
            + "\n"
        )
    lines.append(_("Après avoir voté, dites-le nous d'un clic :\n%(voted)s") % values + "\n")
    return subject, "\n".join(lines)


# -- which elections and rounds are open (tasks and the command) --------------------------------


def drives_open(now: datetime.datetime | None = None) -> QuerySet[Election]:
    """Published elections whose registration drive is open today."""
    today = timezone.localdate(now or timezone.now())
    return Election.objects.filter(
        published=True,
        registration_deadline__gte=today,
        registration_deadline__lte=today + datetime.timedelta(days=registration_window_days()),
    ).order_by("registration_deadline", "pk")


def rounds_open(now: datetime.datetime | None = None) -> QuerySet[Round]:
    """Rounds of published elections held today or tomorrow."""
    today = timezone.localdate(now or timezone.now())
    return (
        Round.objects.filter(
            election__published=True,
            date__gte=today,
            date__lte=today + datetime.timedelta(days=1),
        )
        .select_related("election")
        .order_by("date", "pk")
    )


def remind_registration_all(
    *, now: datetime.datetime | None = None, dry_run: bool = False
) -> list[Outcome]:
    return [registration_drive(e, now=now, dry_run=dry_run) for e in drives_open(now)]


def remind_polling_all(
    *, now: datetime.datetime | None = None, dry_run: bool = False
) -> list[Outcome]:
    return [polling_day(r, now=now, dry_run=dry_run) for r in rounds_open(now)]


# -- the pages of the one-click links -----------------------------------------------------------


def _link_page(request, token, *, template, read, record, title) -> HttpResponse:
    context: dict = {"token": token}
    try:
        target, _member_id = read(token)
    except DomainError as exc:
        context.update(error=exc.message, code=exc.code)
        return render(request, template, context, status=exc.status)
    context.update(title=title(target))
    if request.method == "GET":
        return render(request, template, context)
    try:
        _row, first = record(token=token)
    except DomainError as exc:
        context.update(error=exc.message, code=exc.code)
        return render(request, template, context, status=exc.status)
    context.update(done=True, first=first)
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def registration_done_page(request: HttpRequest, token: str) -> HttpResponse:
    """ "C'est fait": the link of the registration reminder (GET shows a button)."""
    return _link_page(
        request,
        token,
        template="mobilisation/registration_done.html",
        read=registration_link,
        record=registration_done,
        title=lambda election: election.name,
    )


@require_http_methods(["GET", "POST"])
def voted_page(request: HttpRequest, token: str) -> HttpResponse:
    """ "J'ai voté": the link of the polling-day reminder (GET shows a button)."""
    return _link_page(
        request,
        token,
        template="mobilisation/voted.html",
        read=voted_link,
        record=voted,
        title=lambda round_: f"{round_.election.name}, tour {round_.number}",
    )
