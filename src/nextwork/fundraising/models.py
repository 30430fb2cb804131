"""Small-donor fundraising under French rules.

Amounts are integers in euro cents, never floats. A donation is a row whose ``status`` follows
the payment (``pending`` → ``succeeded``, or ``failed``/``cancelled``; ``succeeded`` →
``refunded``); nothing is deleted, because accounts are audited.

Caps (``rules``): what a person may give is tracked in ``CapLedger`` rows, one per donor and
cap scope (all parties in a calendar year; one election), whose ``committed_cents`` may never
exceed ``cap_cents``: a CHECK constraint in the database. A donation reserves its amount in the
same transaction that creates it and releases it when it fails or is refunded, so two
donations at the same moment cannot pass a cap together: the second one's update waits for the
first and then breaks the constraint.

Receipts are numbered per beneficiary and year without gaps (``ReceiptSequence``, a counter row
locked while a number is taken); a cancelled receipt stays, and its replacement points to it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MEMBER = settings.AUTH_USER_MODEL


class BeneficiaryKind(models.TextChoices):
    PARTY = "party", _("parti politique (association de financement)")
    CAMPAIGN = "campaign", _("campagne électorale (mandataire financier)")
    ASSOCIATION = "association", _("association d'intérêt général")


class Beneficiary(models.Model):
    """Who receives the money: the legal entity named on receipts."""

    name = models.CharField(_("nom du bénéficiaire"), max_length=200)
    kind = models.CharField(max_length=20, choices=BeneficiaryKind.choices)
    legal_name = models.CharField(_("dénomination légale"), max_length=300)
    address = models.TextField(_("adresse"))
    # An association's purpose as in its statutes: the "Objet" line of its tax receipts.
    purpose = models.TextField(_("objet"), blank=True)
    # Association: RNA or SIREN; party: the financing association's approval by the CNCCFP;
    # campaign: the mandataire's declaration at the prefecture.
    registration = models.CharField(_("identification"), max_length=200, blank=True)
    # For a campaign: the election its cap applies to (e.g. "legislatives-2027").
    election = models.CharField(_("élection"), max_length=100, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="campaign") | ~Q(election=""),
                name="campaign_names_its_election",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Method(models.TextChoices):
    CARD = "card", _("carte bancaire")
    SEPA = "sepa", _("prélèvement SEPA")
    TRANSFER = "transfer", _("virement")
    CHEQUE = "cheque", _("chèque")
    CASH = "cash", _("espèces")


class Frequency(models.TextChoices):
    ONCE = "once", _("ponctuel")
    MONTHLY = "monthly", _("mensuel")


class DonationStatus(models.TextChoices):
    PENDING = "pending", _("en attente")
    SUCCEEDED = "succeeded", _("reçu")
    FAILED = "failed", _("échoué")
    CANCELLED = "cancelled", _("annulé")
    REFUNDED = "refunded", _("remboursé")


# The statuses whose amount counts against a cap: a pending donation holds its place.
COUNTING = (DonationStatus.PENDING, DonationStatus.SUCCEEDED)


class DonorPerson(models.Model):
    """One person who gave, whatever the number of their ``Donor`` rows: the analytics count
    persons by this integer rather than by the 64-character key (the same SHA-256 of the
    email as ``Donor.key``)."""

    key = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return f"person #{self.pk}"


class Donor(models.Model):
    """The person (or, refused for parties, the company) a donation comes from, as declared.

    Kept apart from members: most donors are not members, and accounting law keeps a donor's
    identity for years after a member is erased (``docs/fundraising.md`` lists each field)."""

    member = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="donor_records"
    )
    # The key caps are counted by: a SHA-256 of the normalised email address.
    key = models.CharField(max_length=64, db_index=True)
    person = models.ForeignKey(DonorPerson, on_delete=models.PROTECT, related_name="records")
    natural_person = models.BooleanField(default=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField()
    address = models.CharField(max_length=300)
    postcode = models.CharField(max_length=10)
    city = models.CharField(max_length=100)
    country = models.CharField(max_length=2, default="FR")
    # French nationality or residence in France (required to give to a party).
    french_or_resident = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    erased_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"donor #{self.pk}"


class FundraisingPage(models.Model):
    """A member's own page collecting for the organisation or a campaign."""

    owner = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="fundraising_pages"
    )
    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="pages")
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(_("titre"), max_length=200)
    text = models.TextField(_("texte"), blank=True)
    goal_cents = models.PositiveBigIntegerField(_("objectif"))
    photo = models.FileField(upload_to="pages/%Y/%m/", blank=True)
    hidden_reason = models.TextField(blank=True)
    hidden_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(goal_cents__gt=0), name="page_goal_positive")
        ]

    def __str__(self) -> str:
        return self.slug


class Recurring(models.Model):
    """A monthly donation: each month's payment is a ``Donation`` checked against the rules
    again."""

    class Status(models.TextChoices):
        PENDING = "pending", _("en attente")
        ACTIVE = "active", _("actif")
        CANCELLED = "cancelled", _("arrêté")
        FAILED = "failed", _("en échec")

    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="recurring")
    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="+")
    amount_cents = models.PositiveBigIntegerField()
    provider = models.CharField(max_length=30)
    provider_ref = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    failures = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="recurring_positive"),
            models.UniqueConstraint(
                fields=["provider", "provider_ref"],
                condition=~Q(provider_ref=""),
                name="one_recurring_per_provider_ref",
            ),
        ]

    def __str__(self) -> str:
        return f"recurring #{self.pk}"


class Donation(models.Model):
    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="donations")
    # The donor's person, copied here so that the analytics group donations without a join.
    person = models.ForeignKey(DonorPerson, on_delete=models.PROTECT, related_name="donations")
    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="donations")
    amount_cents = models.PositiveBigIntegerField()
    method = models.CharField(max_length=10, choices=Method.choices)
    provider = models.CharField(max_length=30)
    # The provider's identifier of the payment (checkout session, payment intent, cheque
    # number): one donation per provider reference.
    provider_ref = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=10, choices=DonationStatus.choices, default=DonationStatus.PENDING
    )
    recurring = models.ForeignKey(
        Recurring, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    page = models.ForeignKey(
        FundraisingPage, null=True, blank=True, on_delete=models.SET_NULL, related_name="donations"
    )
    # Attribution: the link's parameters (utm_source, …), as given.
    source = models.CharField(max_length=200, blank=True)
    # Where the donor lives, kept for the analytics by department after an erasure.
    department = models.CharField(max_length=3, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    succeeded_at = models.DateTimeField(null=True, blank=True, db_index=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    # The cap scopes this donation reserved its amount in (released on failure or refund).
    cap_scopes = models.JSONField(default=list, blank=True)
    thanked_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        MEMBER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="donation_positive"),
            models.UniqueConstraint(
                fields=["provider", "provider_ref"],
                condition=~Q(provider_ref=""),
                name="one_donation_per_provider_ref",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "succeeded_at"], name="donation_by_success"),
            models.Index(fields=["beneficiary", "status"], name="donation_by_beneficiary"),
            models.Index(fields=["page", "status"], name="donation_by_page"),
        ]

    def __str__(self) -> str:
        return f"donation #{self.pk}"


class CapLedger(models.Model):
    """What one donor has committed within one cap scope; the database refuses more than the
    cap (the CHECK constraint), whatever the concurrency."""

    donor_key = models.CharField(max_length=64)
    scope = models.CharField(max_length=150, help_text="parties:2026, campaign:legislatives-2027")
    cap_cents = models.PositiveBigIntegerField()
    committed_cents = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["donor_key", "scope"], name="one_ledger_per_scope"),
            models.CheckConstraint(
                condition=Q(committed_cents__lte=F("cap_cents")) & Q(committed_cents__gte=0),
                name="cap_never_exceeded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope}: {self.committed_cents}/{self.cap_cents}"


class ReceiptSequence(models.Model):
    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["beneficiary", "year"], name="one_sequence_per_year")
        ]

    def __str__(self) -> str:
        return f"receipts {self.year} of beneficiary #{self.beneficiary_id}"


class Receipt(models.Model):
    """A tax receipt (reçu fiscal). Its content is frozen in ``snapshot`` when issued, so the
    PDF is the same whenever it is downloaded; a correction cancels it and issues another."""

    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="receipts")
    year = models.PositiveIntegerField()
    number = models.PositiveIntegerField()
    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="receipts")
    donations = models.ManyToManyField(Donation, related_name="receipts")
    amount_cents = models.PositiveBigIntegerField()
    consolidated = models.BooleanField(default=False, help_text="Annual receipt of a year's gifts.")
    snapshot = models.JSONField()
    issued_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["beneficiary", "year", "number"], name="receipt_number_unique"
            )
        ]

    def __str__(self) -> str:
        return f"receipt {self.year}-{self.number:06d}"


class ProviderEvent(models.Model):
    """A provider's webhook event, stored once by its id: the same event delivered again is
    acknowledged and changes nothing."""

    provider = models.CharField(max_length=30)
    event_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=100)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="one_event_per_id")
        ]

    def __str__(self) -> str:
        return f"{self.provider} event {self.event_id}"


# -- monthly roll-ups of succeeded donations, for the analytics (``fundraising.rollups``) --------
# ``month`` is a calendar month of the site's time zone as one integer: year × 12 + month − 1.
# Kept up to date in the transaction that makes a donation succeed or be refunded; rebuilt from
# the donations by ``nextwork manage fundraising_rollups`` (after a change of time zone, or
# donations loaded into the database directly).


class MonthAmount(models.Model):
    """How many succeeded gifts of one amount in one month."""

    month = models.IntegerField()
    amount_cents = models.PositiveBigIntegerField()
    gifts = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["month", "amount_cents"], name="one_month_amount")
        ]

    def __str__(self) -> str:
        return f"{self.month}: {self.gifts} × {self.amount_cents}"


class MonthPerson(models.Model):
    """What one person gave in one month: total, largest gift, count, and the part of the
    monthly donations."""

    month = models.IntegerField()
    person = models.ForeignKey(DonorPerson, on_delete=models.PROTECT, related_name="+")
    total_cents = models.BigIntegerField(default=0)
    largest_cents = models.BigIntegerField(default=0)
    gifts = models.IntegerField(default=0)
    monthly_cents = models.BigIntegerField(default=0)
    monthly_gifts = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["month", "person"], name="one_month_person")]

    def __str__(self) -> str:
        return f"{self.month}: person #{self.person_id}"


class MonthPlace(models.Model):
    """The succeeded gifts of one month by the donor's department and the gift's source."""

    month = models.IntegerField()
    department = models.CharField(max_length=3, blank=True)
    source = models.CharField(max_length=200, blank=True)
    total_cents = models.BigIntegerField(default=0)
    gifts = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["month", "department", "source"], name="one_month_place"
            )
        ]

    def __str__(self) -> str:
        return f"{self.month}: {self.department or '-'} {self.source or '-'}"
