"""Co-creation: consultations opened from the top, proposals, comments and supports from the
bottom, moderation, answers, and the programme that traces each measure back to members.

Visibility of members' contributions is one field, ``state``: ``pending`` (held for moderation
before anyone else sees it), ``published``, ``hidden`` (a moderator hid it: the reason shows in
its place). A merged proposal stays ``published`` with ``merged_into`` set, so its link still
leads somewhere. Every read for other people filters on ``state`` in ``selectors``.

Counters (supports, comments, followers) are denormalised on the proposal for sorting at scale
and moved only with ``F()`` expressions inside the transaction that adds or removes the row
they count, so they never drift from the rows (``services``; tested under concurrency).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from nextwork.territories.models import Area

MEMBER = settings.AUTH_USER_MODEL


class ConsultationStatus(models.TextChoices):
    DRAFT = "draft", _("brouillon")
    PUBLISHED = "published", _("publiée")


class Phase(models.TextChoices):
    """Where a consultation is, read from its dates (``Consultation.phase``)."""

    UPCOMING = "upcoming", _("à venir")
    PROPOSALS = "proposals", _("propositions")
    SUPPORT = "support", _("soutiens")
    ANSWERS = "answers", _("réponses")


class Consultation(models.Model):
    """A question asked to members for a period, nationally or in one area.

    Phases follow the dates: proposals (and supports) from ``opens_at`` to
    ``proposals_close_at``, supports only until ``closes_at``, then the answers.
    """

    title = models.CharField(_("question ou thème"), max_length=200)
    text = models.TextField(_("texte"), blank=True, help_text=_("Markdown."))
    area = models.ForeignKey(
        Area,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Vide : consultation nationale."),
    )
    opens_at = models.DateTimeField(_("ouverture"))
    proposals_close_at = models.DateTimeField(_("fin des propositions"))
    closes_at = models.DateTimeField(_("clôture"))
    supports_per_member = models.PositiveIntegerField(
        _("soutiens par membre"), null=True, blank=True, help_text=_("Vide : sans limite.")
    )
    status = models.CharField(
        max_length=10, choices=ConsultationStatus.choices, default=ConsultationStatus.DRAFT
    )
    created_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-opens_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(proposals_close_at__gte=models.F("opens_at"))
                & Q(closes_at__gte=models.F("proposals_close_at")),
                name="consultation_dates_in_order",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def phase_at(self, moment) -> str:
        if moment < self.opens_at:
            return Phase.UPCOMING
        if moment < self.proposals_close_at:
            return Phase.PROPOSALS
        if moment < self.closes_at:
            return Phase.SUPPORT
        return Phase.ANSWERS

    @property
    def phase(self) -> str:
        return self.phase_at(timezone.now())


class State(models.TextChoices):
    PENDING = "pending", _("en attente de modération")
    PUBLISHED = "published", _("publié")
    HIDDEN = "hidden", _("masqué")


class Moderated(models.Model):
    """What moderation needs on any member contribution."""

    state = models.CharField(max_length=10, choices=State.choices, default=State.PUBLISHED)
    # Why the spam heuristic held it (codes such as "links", "repeat", "new_account").
    held_for = models.JSONField(default=list, blank=True)
    hidden_reason = models.TextField(blank=True)
    moderated_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    moderated_at = models.DateTimeField(null=True, blank=True)
    # The author may ask once for a second look at a hidden contribution.
    review_requested_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)
    review_decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class AnswerStatus(models.TextChoices):
    UNDER_REVIEW = "under_review", _("à l'étude")
    ACCEPTED = "accepted", _("retenue")
    PARTIALLY_ACCEPTED = "partially_accepted", _("retenue en partie")
    REJECTED = "rejected", _("non retenue")
    ALREADY_IN_PROGRAMME = "already_in_programme", _("déjà dans le programme")


class Proposal(Moderated):
    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="proposals"
    )
    author = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="proposals"
    )
    title = models.CharField(_("titre"), max_length=200)
    body = models.TextField(_("texte"), help_text=_("Markdown (sous-ensemble sûr)."))
    area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged"
    )
    answer_status = models.CharField(max_length=25, choices=AnswerStatus.choices, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    support_count = models.PositiveIntegerField(default=0)
    comment_count = models.PositiveIntegerField(default=0)
    follower_count = models.PositiveIntegerField(default=0)
    # SHA-256 of the normalised body: the spam heuristic's "same text again".
    body_digest = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["consultation", "state", "-support_count", "-id"], name="prop_by_support"
            ),
            models.Index(
                fields=["consultation", "state", "-created_at", "-id"], name="prop_by_recent"
            ),
            models.Index(
                fields=["consultation", "state", "-comment_count", "-id"],
                name="prop_by_discussed",
            ),
            models.Index(fields=["author", "-created_at"], name="prop_by_author"),
            # What lists count: an index-only count instead of a scan of the consultation.
            models.Index(
                fields=["consultation"],
                condition=Q(state="published", merged_into__isnull=True),
                name="prop_listed",
            ),
        ]

    def __str__(self) -> str:
        return f"proposal #{self.pk}"


class ProposalVersion(models.Model):
    """A proposal as it was before an edit made after the edit window."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    written_at = models.DateTimeField()

    class Meta:
        ordering = ["version"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "version"], name="one_row_per_version")
        ]

    def __str__(self) -> str:
        return f"version {self.version} of proposal #{self.proposal_id}"


class ProposalAttachment(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="proposals/%Y/%m/")
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"attachment #{self.pk} of proposal #{self.proposal_id}"


class Comment(Moderated):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="comments")
    # One level of replies: a reply's parent is never itself a reply (checked by the service).
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    author = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="comments"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    # Deleted by its author: the text is emptied, the place in the thread kept.
    deleted_at = models.DateTimeField(null=True, blank=True)
    body_digest = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["author", "-created_at"], name="comment_by_author")]

    def __str__(self) -> str:
        return f"comment #{self.pk}"


class Support(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="supports")
    member = models.ForeignKey(MEMBER, on_delete=models.CASCADE, related_name="supports")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["proposal", "member"], name="one_support_per_member")
        ]
        indexes = [models.Index(fields=["member", "proposal"], name="support_by_member")]

    def __str__(self) -> str:
        return f"support of member #{self.member_id} for proposal #{self.proposal_id}"


class Follow(models.Model):
    """A member who wants to hear of new comments and answers on a proposal."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="follows")
    member = models.ForeignKey(MEMBER, on_delete=models.CASCADE, related_name="follows")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["proposal", "member"], name="one_follow_per_member")
        ]

    def __str__(self) -> str:
        return f"member #{self.member_id} follows proposal #{self.proposal_id}"


class Answer(models.Model):
    """The organisation's answer to a proposal; the latest is the proposal's fate, the earlier
    ones stay as its history."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="answers")
    status = models.CharField(max_length=25, choices=AnswerStatus.choices)
    text = models.TextField()
    answered_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["answered_at", "id"]

    def __str__(self) -> str:
        return f"{self.status} for proposal #{self.proposal_id}"


class ReportReason(models.TextChoices):
    SPAM = "spam", _("publicité ou spam")
    ABUSE = "abuse", _("propos injurieux ou haineux")
    PERSONAL_DATA = "personal_data", _("données personnelles d'autrui")
    OFF_TOPIC = "off_topic", _("hors sujet")
    ILLEGAL = "illegal", _("contenu illégal")
    OTHER = "other", _("autre")


class Report(models.Model):
    """A member's report of a proposal or a comment; open until a moderator decides."""

    proposal = models.ForeignKey(
        Proposal, null=True, blank=True, on_delete=models.CASCADE, related_name="reports"
    )
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="reports"
    )
    reporter = models.ForeignKey(MEMBER, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=20, choices=ReportReason.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(proposal__isnull=False, comment__isnull=True)
                | Q(proposal__isnull=True, comment__isnull=False),
                name="report_targets_one_thing",
            ),
            models.UniqueConstraint(
                fields=["reporter", "proposal"],
                condition=Q(resolved_at__isnull=True, proposal__isnull=False),
                name="one_open_report_per_proposal",
            ),
            models.UniqueConstraint(
                fields=["reporter", "comment"],
                condition=Q(resolved_at__isnull=True, comment__isnull=False),
                name="one_open_report_per_comment",
            ),
        ]
        indexes = [models.Index(fields=["resolved_at", "created_at"], name="report_open")]

    def __str__(self) -> str:
        return f"report #{self.pk} ({self.reason})"


class MeetingProposal(models.Model):
    """A local proposal a relay brings to a meeting with their representative (action day)."""

    assignment = models.ForeignKey(
        "campaigns.Assignment", on_delete=models.CASCADE, related_name="proposals"
    )
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="meetings")
    attached_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attached_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "proposal"], name="proposal_once_per_meeting"
            )
        ]

    def __str__(self) -> str:
        return f"proposal #{self.proposal_id} at assignment #{self.assignment_id}"


# -- the programme ------------------------------------------------------------------------------


class Chapter(models.Model):
    """The working draft of the programme: chapters of measures, edited by staff. Readers
    see only published versions (``ProgrammeVersion``)."""

    position = models.PositiveIntegerField(default=0)
    title = models.CharField(_("titre"), max_length=200)
    intro = models.TextField(_("introduction"), blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title


class Measure(models.Model):
    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="measures")
    position = models.PositiveIntegerField(default=0)
    title = models.CharField(_("titre"), max_length=200)
    body = models.TextField(_("texte"), blank=True)
    # Traceability: the members' proposals this measure came from.
    proposals = models.ManyToManyField(Proposal, blank=True, related_name="measures")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title


class ProgrammeVersion(models.Model):
    """A published state of the programme, frozen as a snapshot (chapters, measures and the
    proposals each one links to) so that later edits never rewrite what was published."""

    number = models.PositiveIntegerField(unique=True)
    note = models.CharField(_("note de version"), max_length=300, blank=True)
    snapshot = models.JSONField()
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"programme version {self.number}"


class NewsItem(models.Model):
    """The organisation's news, shown on the site and in its Atom feed."""

    title = models.CharField(_("titre"), max_length=200)
    body = models.TextField(_("texte"), help_text=_("Markdown."))
    published_at = models.DateTimeField(_("publication"), default=timezone.now)
    author = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-published_at", "-id"]

    def __str__(self) -> str:
        return self.title
