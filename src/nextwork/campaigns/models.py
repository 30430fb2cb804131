"""Action days: on one day, at one hour, every relay meets their representative.

A campaign targets the seats of one or both chambers, nationally or in some departments.
Opening it creates one assignment per targeted representative (a deputy per constituency, each
senator of a department) for the relay who holds that seat; an assignment without a relay is a
recruitment gap. Relays move their assignment through the stages of the funnel and file one
meeting report, with the representative's position on each topic.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from nextwork.network.models import Grant, Member
from nextwork.territories.models import Area, Mandate


class Chambers(models.TextChoices):
    ASSEMBLY = "assembly", _("Assemblée nationale")
    SENATE = "senate", _("Sénat")
    BOTH = "both", _("les deux chambres")


class Status(models.TextChoices):
    DRAFT = "draft", _("brouillon")
    OPEN = "open", _("ouverte")
    CLOSED = "closed", _("close")


class Campaign(models.Model):
    title = models.CharField(_("titre"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    # The moment of the action, stored in UTC; shown in ``time_zone`` and, for overseas seats,
    # in the seat's own local time.
    starts_at = models.DateTimeField(_("date et heure"))
    time_zone = models.CharField(max_length=64, default="Europe/Paris")
    chambers = models.CharField(max_length=10, choices=Chambers.choices, default=Chambers.ASSEMBLY)
    # Empty: national. Otherwise the departments (or collectivities, or 99 abroad) targeted.
    departments = models.ManyToManyField(Area, blank=True, related_name="+")
    # The briefing kit: Markdown, rendered through a sanitiser.
    briefing = models.TextField(_("dossier"), blank=True)
    # What the organisation recommends, written by staff for the summary report.
    recommendations = models.TextField(_("recommandations"), blank=True)
    # Days before the action when relays who have not acted yet get a reminder.
    reminder_days = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return f"campaign #{self.pk}"

    @property
    def targets_assembly(self) -> bool:
        return self.chambers in (Chambers.ASSEMBLY, Chambers.BOTH)

    @property
    def targets_senate(self) -> bool:
        return self.chambers in (Chambers.SENATE, Chambers.BOTH)


class Topic(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="topics")
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(_("sujet"), max_length=200)
    briefing = models.TextField(_("note"), blank=True)
    asks = models.TextField(_("demandes"), blank=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"topic #{self.pk}"


class Attachment(models.Model):
    """A file of the briefing kit; its type is read from its content, not its name."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="campaigns/%Y/%m/")
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"attachment #{self.pk}"


class MessageTemplate(models.Model):
    """The letter a relay adapts: ``{variables}`` are filled per assignment."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="templates")
    chamber = models.CharField(
        max_length=10, choices=[c for c in Chambers.choices if c[0] != "both"]
    )
    subject = models.CharField(max_length=200)
    body = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "chamber"], name="one_template_per_chamber")
        ]

    def __str__(self) -> str:
        return f"template #{self.pk}"

    def clean(self) -> None:
        """The admin's forms refuse unknown variables as the service does."""
        from django.core.exceptions import ValidationError

        from nextwork.campaigns.services import template_check
        from nextwork.common.errors import InvalidInput

        errors = {}
        for name in ("subject", "body"):
            try:
                template_check(getattr(self, name), field_name=name)
            except InvalidInput as exc:
                errors[name] = exc.message
        if errors:
            raise ValidationError(errors)


class Stage(models.TextChoices):
    ASSIGNED = "assigned", _("assignée")
    CONTACTED = "contacted", _("contact pris")
    REQUESTED = "requested", _("rendez-vous demandé")
    SCHEDULED = "scheduled", _("rendez-vous fixé")
    HELD = "held", _("rencontre tenue")
    REPORTED = "reported", _("compte rendu")


# The funnel, in order (a refused or unanswered request stops before "held").
FUNNEL = [Stage.ASSIGNED, Stage.CONTACTED, Stage.SCHEDULED, Stage.HELD, Stage.REPORTED]


class ContactMethod(models.TextChoices):
    EMAIL = "email", _("courriel")
    LETTER = "letter", _("courrier")
    PHONE = "phone", _("téléphone")
    VISIT = "visit", _("passage à la permanence")


class Outcome(models.TextChoices):
    HELD = "held", _("rencontre tenue")
    REFUSED = "refused", _("refusée")
    NO_ANSWER = "no_answer", _("pas de réponse")


class Assignment(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments")
    chamber = models.CharField(max_length=10)
    # The seat: a constituency (assembly) or the area whose senators are met (senate).
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="+")
    # The representative across boundary sets and campaigns (official identifier).
    person_id = models.CharField(max_length=30)
    # Empty: nobody relays this seat (a recruitment gap).
    relay = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="assignments"
    )
    grant = models.ForeignKey(Grant, null=True, blank=True, on_delete=models.SET_NULL)
    stage = models.CharField(max_length=10, choices=Stage.choices, default=Stage.ASSIGNED)
    contact_method = models.CharField(max_length=10, choices=ContactMethod.choices, blank=True)
    contacted_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    meeting_at = models.DateTimeField(null=True, blank=True)
    meeting_place = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    # The relay's own version of the template (empty until they edit it).
    message_subject = models.CharField(max_length=200, blank=True)
    message_body = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "chamber", "person_id"],
                name="one_assignment_per_representative",
            )
        ]
        indexes = [models.Index(fields=["campaign", "stage"])]

    def __str__(self) -> str:
        return f"assignment #{self.pk}"


class Visibility(models.TextChoices):
    INTERNAL = "internal", _("interne")
    PUBLISHABLE = "publishable", _("publiable")


class Report(models.Model):
    """The meeting report of an assignment: one per assignment, versioned after the close."""

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="report")
    held_on = models.DateField(null=True, blank=True)
    attendees = models.TextField(blank=True)
    commitments = models.TextField(blank=True)
    follow_up = models.TextField(blank=True)
    visibility = models.CharField(
        max_length=12, choices=Visibility.choices, default=Visibility.INTERNAL
    )
    version = models.PositiveIntegerField(default=1)
    submitted_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"report #{self.pk}"


class Stance(models.TextChoices):
    SUPPORTS = "supports", _("favorable")
    NEUTRAL = "neutral", _("neutre")
    OPPOSES = "opposes", _("opposé")
    UNKNOWN = "unknown", _("inconnu")


class Position(models.Model):
    """A representative's position on a topic, as the relay heard it, with the evidence."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="positions")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="positions")
    stance = models.CharField(max_length=10, choices=Stance.choices, default=Stance.UNKNOWN)
    quote = models.TextField(blank=True)
    note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "topic"], name="one_position_per_topic")
        ]

    def __str__(self) -> str:
        return f"position #{self.pk}"


class ReportVersion(models.Model):
    """The report as it was before an edit made after the campaign closed."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    data = models.JSONField()
    replaced_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    replaced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["report", "version"], name="report_version")]

    def __str__(self) -> str:
        return f"report #{self.report_id} v{self.version}"


class RepresentativeContact(models.Model):
    """Contact details of a representative, curated by staff with their source and date."""

    chamber = models.CharField(max_length=10)
    person_id = models.CharField(max_length=30)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    office_address = models.TextField(blank=True)
    source = models.CharField(max_length=300)
    checked_on = models.DateField()
    updated_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chamber", "person_id"], name="one_contact_card")
        ]

    def __str__(self) -> str:
        return f"contact of {self.chamber} {self.person_id}"


class ContactLog(models.Model):
    """An email sent to a representative through the platform (logged, rate-limited)."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="emails")
    chamber = models.CharField(max_length=10)
    person_id = models.CharField(max_length=30)
    sent_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject = models.CharField(max_length=200)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["chamber", "person_id", "sent_at"])]

    def __str__(self) -> str:
        return f"email #{self.pk} to {self.chamber} {self.person_id}"


class ReminderSent(models.Model):
    """One reminder per assignment and offset: the task can run twice, relays hear once."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="+")
    days_before = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assignment", "days_before"], name="one_reminder")
        ]

    def __str__(self) -> str:
        return f"reminder J-{self.days_before} of assignment #{self.assignment_id}"
