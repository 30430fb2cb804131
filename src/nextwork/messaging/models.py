"""Messaging: consents, audiences (segments, communities), messages and their deliveries.

Nothing is sent to a member without a current consent for the channel and the message type
(``ConsentState``, kept in step with the append-only ledger ``ConsentEvent``). Each
(message, member) pair has exactly one ``Delivery`` row: the unique constraint is the
idempotency key that keeps a restarted or duplicated worker from writing twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from nextwork.network.models import ConsentText
from nextwork.territories.models import Area

MEMBER = settings.AUTH_USER_MODEL


class Channel(models.TextChoices):
    EMAIL = "email", _("courriel")
    SMS = "sms", _("SMS")


class MessageType(models.TextChoices):
    NEWSLETTER = "newsletter", _("lettre d'information")
    CAMPAIGN = "campaign", _("appels à l'action")
    ALERT = "alert", _("alertes")
    COMMUNITY = "community", _("nouvelles des communautés")
    PARTICIPATION = "participation", _("suivi des propositions")


# Sent by the platform itself (answers, new comments of followed threads), never written by
# staff to a segment: the consent covers news of one's own contributions only.
PLATFORM_TYPES = (MessageType.PARTICIPATION,)


class ConsentHow(models.TextChoices):
    SIGNUP = "signup", _("inscription")
    SITE = "site", _("préférences sur le site")
    API = "api", _("API")
    IMPORT = "import", _("import")
    UNSUBSCRIBE = "unsubscribe", _("lien de désinscription")
    SMS_STOP = "sms_stop", _("réponse STOP")
    COMPLAINT = "complaint", _("signalement comme indésirable")
    COMMUNITY = "community", _("adhésion à une communauté")
    STAFF = "staff", _("équipe")


class ConsentEvent(models.Model):
    """One line of the consent ledger: given or withdrawn, when, how, under which text."""

    member = models.ForeignKey(MEMBER, on_delete=models.CASCADE, related_name="consent_events")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    message_type = models.CharField(max_length=20, choices=MessageType.choices)
    given = models.BooleanField()
    at = models.DateTimeField(default=timezone.now)
    how = models.CharField(max_length=20, choices=ConsentHow.choices)
    text = models.ForeignKey(
        ConsentText, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["member", "at"])]

    def __str__(self) -> str:
        verb = "given" if self.given else "withdrawn"
        return f"{self.channel}/{self.message_type} {verb} by member #{self.member_id}"


class ConsentState(models.Model):
    """The current answer per member, channel and type: what sending reads."""

    member = models.ForeignKey(MEMBER, on_delete=models.CASCADE, related_name="consent_states")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    message_type = models.CharField(max_length=20, choices=MessageType.choices)
    given = models.BooleanField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "channel", "message_type"], name="one_consent_state"
            )
        ]
        indexes = [models.Index(fields=["channel", "message_type", "given", "member"])]

    def __str__(self) -> str:
        return f"{self.channel}/{self.message_type}={self.given} for member #{self.member_id}"


class Preferences(models.Model):
    """How a member wants to hear from the organisation, beyond the consents."""

    member = models.OneToOneField(MEMBER, on_delete=models.CASCADE, related_name="preferences")
    # Non-urgent messages gathered in one weekly email instead of one email each.
    weekly_digest = models.BooleanField(default=False)
    # Opens and clicks are recorded only when the member allowed it: off by default.
    tracking = models.BooleanField(default=False)
    language = models.CharField(max_length=8, default="fr")
    last_opened_at = models.DateTimeField(null=True, blank=True)
    last_clicked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"preferences of member #{self.member_id}"


class SuppressionReason(models.TextChoices):
    BOUNCE = "bounce", _("adresse en échec permanent")
    COMPLAINT = "complaint", _("signalé comme indésirable")
    STOP = "stop", _("STOP reçu")
    MANUAL = "manual", _("ajout par l'équipe")


class Suppression(models.Model):
    """An address never written to again, kept as a hash only (it outlives erasure)."""

    channel = models.CharField(max_length=10, choices=Channel.choices)
    address_hash = models.CharField(max_length=64)
    reason = models.CharField(max_length=20, choices=SuppressionReason.choices)
    at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=40, blank=True, help_text="Provider or page.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "address_hash"], name="one_suppression")
        ]

    def __str__(self) -> str:
        return f"{self.channel} suppression ({self.reason})"


class Community(models.Model):
    """A niche network members join and leave, with its own coordinators."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(_("nom"), max_length=120)
    description = models.TextField(_("présentation"), blank=True)
    public = models.BooleanField(default=True, help_text=_("Visible et ouverte à tous."))
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("communauté")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CommunityMembership(models.Model):
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="memberships")
    member = models.ForeignKey(MEMBER, on_delete=models.CASCADE, related_name="communities")
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["community", "member"],
                condition=Q(left_at__isnull=True),
                name="one_current_membership",
            )
        ]
        indexes = [models.Index(fields=["community", "left_at", "member"])]

    def __str__(self) -> str:
        return f"member #{self.member_id} in {self.community_id}"


class CommunityCoordinator(models.Model):
    """A member who writes to one community's members (and only them)."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="coordinators")
    member = models.ForeignKey(MEMBER, on_delete=models.CASCADE, related_name="+")
    valid_from = models.DateTimeField(default=timezone.now)
    valid_to = models.DateTimeField(null=True, blank=True)
    granted_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["community", "member"],
                condition=Q(valid_to__isnull=True),
                name="one_current_community_coordinator",
            )
        ]

    def __str__(self) -> str:
        return f"coordinator #{self.member_id} of {self.community_id}"


class Segment(models.Model):
    """A saved audience: a filter tree (see ``segments.py``), evaluated again at each send."""

    name = models.CharField(max_length=120)
    definition = models.JSONField()
    created_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class MessageStatus(models.TextChoices):
    DRAFT = "draft", _("brouillon")
    QUEUED = "queued", _("en file")
    SENDING = "sending", _("envoi en cours")
    SENT = "sent", _("envoyé")
    CANCELLED = "cancelled", _("annulé")


class Message(models.Model):
    """One message to an audience, on one channel, of one type."""

    channel = models.CharField(max_length=10, choices=Channel.choices)
    message_type = models.CharField(max_length=20, choices=MessageType.choices)
    subject = models.CharField(max_length=200, blank=True)
    body_html = models.TextField(blank=True)
    body_text = models.TextField(blank=True)
    segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    # The filter tree when no saved segment is used (alerts written in one step).
    definition = models.JSONField(null=True, blank=True)
    # The sender's authority: a department's coordinator writes under that area, a community's
    # coordinator under that community; staff under neither (national).
    scope_area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    scope_community = models.ForeignKey(
        Community, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.DRAFT
    )
    priority = models.SmallIntegerField(default=0, help_text=_("Les alertes passent devant."))
    is_alert = models.BooleanField(default=False)
    # Internal alerts with the same key are sent once per cool-down.
    dedupe_key = models.CharField(max_length=120, blank=True, db_index=True)
    created_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    recipients = models.PositiveIntegerField(default=0)
    # Consecutive runs stopped by an unreachable server: the next try waits longer each time.
    outages = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"message #{self.pk} ({self.channel}/{self.message_type}, {self.status})"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", _("en file")
    CLAIMED = "claimed", _("pris par un envoyeur")
    HANDING = "handing", _("en cours de remise")
    SENT = "sent", _("envoyé")
    DELIVERED = "delivered", _("remis")
    BOUNCED = "bounced", _("rejeté")
    COMPLAINED = "complained", _("signalé comme indésirable")
    FAILED = "failed", _("échec définitif")
    SKIPPED = "skipped", _("non envoyé (consentement retiré ou adresse bloquée)")
    DIGEST = "digest", _("gardé pour le résumé hebdomadaire")


class Delivery(models.Model):
    """One message to one member: the unique pair is the idempotency key of the send."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries")
    member = models.ForeignKey(MEMBER, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A claim belongs to one sender until its lease ends; an expired claim is taken over.
    claimed_by = models.CharField(max_length=40, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # True when a hand-over was interrupted (the sender died between handing the message to
    # the server and recording it) and the message was handed over again, same Message-ID.
    handed_twice = models.BooleanField(default=False)
    provider_id = models.CharField(max_length=120, blank=True, db_index=True)
    error = models.CharField(max_length=200, blank=True, help_text="Code and reason, no address.")
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "member"], name="one_delivery_per_member")
        ]
        indexes = [models.Index(fields=["message", "status", "id"])]

    def __str__(self) -> str:
        return f"delivery #{self.pk} of message #{self.message_id} ({self.status})"
