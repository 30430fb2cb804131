"""Electoral mobilisation: the election calendar, members' voting situation, proxy votes.

What the law says and how it is kept (docs/mobilisation.md cites each article):

- a proxy holder (mandataire) carries at most two proxies, of which at most one established in
  France (code électoral, art. L73): two partial unique indexes on ``ProxyMatch`` — one
  current French proxy per holder and round, and at most two slots (1, 2) per holder and round
  — so two coordinators matching at once can never break it, whatever the code above does;
- a requester (mandant) has one holder per round: one current match per request, and one
  current request per member and round;
- the holder votes at the requester's polling station, so matching looks for holders who can
  go to the requester's commune.

A member's voting situation says whether they are registered and where: it reveals nothing of
their opinions but is personal and, on a political platform, sensitive. It exists only with the
``electoral`` consent (network.Consent, text kind ``electoral``); withdrawing the consent
deletes it and cancels the member's proxy requests, offers and matches.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MEMBER = settings.AUTH_USER_MODEL
AREA = "territories.Area"


class ElectionKind(models.TextChoices):
    PRESIDENTIELLE = "presidentielle", _("élection présidentielle")
    LEGISLATIVES = "legislatives", _("élections législatives")
    EUROPEENNES = "europeennes", _("élections européennes")
    MUNICIPALES = "municipales", _("élections municipales")
    DEPARTEMENTALES = "departementales", _("élections départementales")
    REGIONALES = "regionales", _("élections régionales")
    LEGISLATIVE_PARTIELLE = "legislative_partielle", _("élection législative partielle")
    MUNICIPALE_PARTIELLE = "municipale_partielle", _("élection municipale partielle")
    DEPARTEMENTALE_PARTIELLE = "departementale_partielle", _("élection départementale partielle")


class Election(models.Model):
    """An election entered by staff: its rounds, its registration deadline, and the areas it
    concerns (none: the whole country; a by-election: its seats or communes)."""

    kind = models.CharField(_("type"), max_length=30, choices=ElectionKind.choices)
    name = models.CharField(_("nom de l'élection"), max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    # The last day to register on the electoral roll (the sixth Friday before the first round
    # for a general election since the reform of loi n° 2016-1048, in force in 2019).
    registration_deadline = models.DateField(_("date limite d'inscription"))
    areas = models.ManyToManyField(AREA, blank=True, related_name="+")
    published = models.BooleanField(_("publiée"), default=False)
    notes = models.TextField(_("précisions"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["registration_deadline", "pk"]

    def __str__(self) -> str:
        return self.name


class Round(models.Model):
    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveSmallIntegerField(_("tour"))
    date = models.DateField(_("date du scrutin"))
    opens_at = models.TimeField(_("ouverture des bureaux"), default=datetime.time(8, 0))
    closes_at = models.TimeField(_("fermeture des bureaux"), default=datetime.time(18, 0))

    class Meta:
        ordering = ["date", "number"]
        constraints = [
            models.UniqueConstraint(fields=["election", "number"], name="one_round_number"),
            models.CheckConstraint(condition=Q(number__gte=1, number__lte=2), name="round_1_or_2"),
            models.CheckConstraint(condition=Q(closes_at__gt=models.F("opens_at")),
                                   name="round_closes_after_opening"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.election} — tour {self.number}"


class Registered(models.TextChoices):
    YES = "yes", _("inscrit·e sur les listes électorales")
    NO = "no", _("pas inscrit·e")
    UNSURE = "unsure", _("je ne sais pas")


class VotingSituation(models.Model):
    """What a member chose to say about their vote; every field optional. Deleted with the
    member, or when they withdraw the ``electoral`` consent it rests on."""

    member = models.OneToOneField(MEMBER, on_delete=models.CASCADE, related_name="voting")
    # The data rests on this consent: should its record go (the member's erasure), so does it.
    consent = models.ForeignKey("network.Consent", on_delete=models.CASCADE, related_name="+")
    registered = models.CharField(max_length=10, choices=Registered.choices, blank=True)
    commune = models.ForeignKey(
        AREA, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    polling_station = models.CharField(_("bureau de vote"), max_length=200, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"voting situation of member #{self.member_id}"


class RegistrationAnswer(models.Model):
    """A registration drive's reminder to one member for one election, and their answer."""

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(MEMBER, on_delete=models.CASCADE, related_name="+")
    reminded_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["election", "member"], name="one_registration_answer")
        ]

    def __str__(self) -> str:
        return f"registration of member #{self.member_id} for election #{self.election_id}"


class RequestStatus(models.TextChoices):
    REQUESTED = "requested", _("en attente d'un mandataire")
    MATCHED = "matched", _("mandataire proposé")
    ACCEPTED = "accepted", _("acceptée des deux côtés")
    DECLARED = "declared", _("procuration établie")
    VOTED = "voted", _("vote fait")
    CANCELLED = "cancelled", _("annulée")


class ProxyRequest(models.Model):
    """A member who will be absent on a round asks for someone to vote for them."""

    member = models.ForeignKey(MEMBER, on_delete=models.CASCADE, related_name="proxy_requests")
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="proxy_requests")
    # Where the member votes: the holder must go to that commune's polling station.
    commune = models.ForeignKey(AREA, on_delete=models.PROTECT, related_name="+")
    # A proxy established abroad (at a consulate) does not count toward the holder's one
    # French proxy.
    established_abroad = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=RequestStatus.choices, default=RequestStatus.REQUESTED
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    cancel_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "round"],
                condition=~Q(status="cancelled"),
                name="one_current_request_per_round",
            )
        ]
        indexes = [models.Index(fields=["round", "status"], name="proxy_request_by_status")]

    def __str__(self) -> str:
        return f"proxy request #{self.pk}"


class ProxyOffer(models.Model):
    """A member who can carry a proxy on a round, in the communes they can go to."""

    member = models.ForeignKey(MEMBER, on_delete=models.CASCADE, related_name="proxy_offers")
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="proxy_offers")
    communes = models.ManyToManyField(AREA, related_name="+")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "round"], condition=Q(active=True), name="one_offer_per_round"
            )
        ]

    def __str__(self) -> str:
        return f"proxy offer #{self.pk}"


class MatchStatus(models.TextChoices):
    PROPOSED = "proposed", _("proposée")
    ACCEPTED = "accepted", _("acceptée des deux côtés")
    DECLARED = "declared", _("procuration établie")
    VOTED = "voted", _("vote fait")
    CANCELLED = "cancelled", _("annulée")


CURRENT = ~Q(status="cancelled")


class ProxyMatch(models.Model):
    """A requester and a holder paired for a round. Contact details are shown to each other
    only once both accepted."""

    request = models.ForeignKey(ProxyRequest, on_delete=models.CASCADE, related_name="matches")
    offer = models.ForeignKey(ProxyOffer, on_delete=models.CASCADE, related_name="matches")
    # Copies of the request's and offer's, for the constraints below.
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="+")
    holder = models.ForeignKey(MEMBER, on_delete=models.CASCADE, related_name="proxies_held")
    abroad = models.BooleanField(default=False)
    slot = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(
        max_length=10, choices=MatchStatus.choices, default=MatchStatus.PROPOSED
    )
    distance_km = models.FloatField(default=0.0)
    proposed_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requester_accepted_at = models.DateTimeField(null=True, blank=True)
    holder_accepted_at = models.DateTimeField(null=True, blank=True)
    # The reminders of the steps (``notices.nudge_steps``), once each.
    nudged_answer_at = models.DateTimeField(null=True, blank=True)
    nudged_declare_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    cancel_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(slot__in=[1, 2]), name="two_proxy_slots"),
            # Code électoral, art. L73: at most two proxies, at most one established in France.
            models.UniqueConstraint(
                fields=["round", "holder", "slot"], condition=CURRENT, name="holder_slot_taken"
            ),
            models.UniqueConstraint(
                fields=["round", "holder"],
                condition=CURRENT & Q(abroad=False),
                name="one_french_proxy_per_holder",
            ),
            models.UniqueConstraint(
                fields=["request"], condition=CURRENT, name="one_holder_per_request"
            ),
        ]

    def __str__(self) -> str:
        return f"proxy match #{self.pk}"


class Turnout(models.Model):
    """A polling-day reminder to one member for one round, and their optional "I voted"."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="turnout")
    member = models.ForeignKey(MEMBER, on_delete=models.CASCADE, related_name="+")
    reminded_at = models.DateTimeField(null=True, blank=True)
    channel = models.CharField(max_length=10, blank=True)
    voted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "member"], name="one_turnout_per_round")
        ]

    def __str__(self) -> str:
        return f"turnout of member #{self.member_id} on round #{self.round_id}"


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("en attente")
    RUNNING = "running", _("en cours")
    DONE = "done", _("terminé")
    FAILED = "failed", _("échoué")


class MatchRun(models.Model):
    """A coordinator's automatic matching of a round, done by the worker: across a department
    or the country it proposes thousands of pairs, each told by email, far more than a web
    request should wait for. ``result`` holds the figures of ``services.match_run``."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="+")
    by = models.ForeignKey(MEMBER, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")  # fmt: skip
    radius_km = models.FloatField(default=20.0)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    result = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["by", "-created_at"], name="match_run_by_recent")]

    def __str__(self) -> str:
        return f"matching run #{self.pk}"
