"""Members, where they live, and the grants that make some of them relays or coordinators.

A member is the site's user (login by email). Roles are never booleans on the member: they are
grants on an area, current while ``valid_to`` is empty (DESIGN.md §2).
"""

from __future__ import annotations

import functools
import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from nextwork.territories.models import Area


def normalise_email(email: str) -> str:
    """One spelling per address: trimmed, lower case (the dedup key of sign-ups and imports)."""
    return (email or "").strip().lower()


class MemberManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields):
        member = self.model(email=normalise_email(email), **fields)
        member.set_password(password) if password else member.set_unusable_password()
        member.save(using=self._db)
        return member

    def create_superuser(self, email: str, password: str | None = None, **fields):
        fields.update(is_staff=True, is_superuser=True, is_active=True)
        fields.setdefault("confirmed_at", timezone.now())
        return self.create_user(email, password, **fields)


class Member(AbstractBaseUser, PermissionsMixin):
    # The identifier shown outside (API answers, links): never the sequential key.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(_("email"), unique=True)
    first_name = models.CharField(_("prénom"), max_length=100, blank=True)
    last_name = models.CharField(_("nom"), max_length=100, blank=True)
    phone = models.CharField(_("téléphone"), max_length=20, blank=True, help_text="E.164")
    # Login is allowed only once the email is confirmed (double opt-in).
    is_active = models.BooleanField(default=False)
    is_staff = models.BooleanField(default=False, help_text=_("Accès à l'administration."))
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # A relay's name appears on public pages only when they chose so.
    public_relay = models.BooleanField(default=False)

    objects = MemberManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("membre")

    def __str__(self) -> str:
        return f"member #{self.pk}"  # never personal data in logs or reprs

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Precision(models.TextChoices):
    POINT = "point"
    ADDRESS = "address"
    COMMUNE = "commune"
    POSTCODE = "postcode"
    COUNTRY = "country"


class MemberLocation(models.Model):
    """Where a member lives, as resolved by the lookup; moving home closes the current row."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="locations")
    # Empty when the place spans several seats and the member has not chosen yet (an imported
    # postcode of a city split between seats): the department is known, the seat is not.
    constituency = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.PROTECT, related_name="member_locations"
    )
    # The seat's department (or collectivity, or 99 abroad): what coordinators' grants cover.
    department = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    commune = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    country = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    postcode = models.CharField(max_length=5, blank=True)
    # The geocoded point of the address the member gave (precision "address"), kept only to
    # place them again when constituency boundaries change; erased with the member.
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    precision = models.CharField(max_length=10, choices=Precision.choices)
    valid_from = models.DateTimeField(default=timezone.now)
    valid_to = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=Q(valid_to__isnull=True), name="one_current_location"
            )
        ]
        indexes = [models.Index(fields=["constituency", "valid_to"])]

    def __str__(self) -> str:
        return (
            f"location of member #{self.member_id} in {self.constituency_id or self.department_id}"
        )

    def save(self, *args, **kwargs):
        # A seat always lies in one department: keep the two consistent (bulk writers, which
        # bypass save(), set both themselves).
        if self.constituency_id is not None:
            self.department_id = _seat_department(self.constituency_id)
        super().save(*args, **kwargs)


@functools.lru_cache(maxsize=8192)
def _seat_department(seat_id: int) -> int | None:
    """A seat's parent area; an area row never changes parent, so this is safe to remember."""
    return Area.objects.filter(pk=seat_id).values_list("parent_id", flat=True).first()


class Role(models.TextChoices):
    RELAY = "relay", _("relais titulaire")
    SUBSTITUTE = "substitute", _("relais suppléant")
    SENATE_RELAY = "senate_relay", _("relais sénatorial")
    COORDINATOR = "coordinator", _("coordinateur")
    STAFF = "staff", _("équipe nationale")


class Grant(models.Model):
    """A role of a member on an area, current while ``valid_to`` is empty."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="grants")
    role = models.CharField(max_length=20, choices=Role.choices)
    area = models.ForeignKey(
        Area,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="grants",
        help_text=_("Vide pour l'équipe nationale."),
    )
    valid_from = models.DateTimeField(default=timezone.now)
    valid_to = models.DateTimeField(null=True, blank=True)
    granted_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            # The heart of the network: one titular relay per constituency, enforced by the
            # database so that two approvals at once cannot both win.
            models.UniqueConstraint(
                fields=["area"],
                condition=Q(role="relay", valid_to__isnull=True),
                name="one_current_titular_relay",
            ),
            models.UniqueConstraint(
                fields=["member", "role", "area"],
                condition=Q(valid_to__isnull=True),
                name="no_duplicate_current_grant",
            ),
            models.CheckConstraint(
                condition=Q(role="staff", area__isnull=True)
                | (~Q(role="staff") & Q(area__isnull=False)),
                name="staff_is_national_others_have_an_area",
            ),
        ]
        indexes = [models.Index(fields=["role", "valid_to"])]

    def __str__(self) -> str:
        return f"{self.role} of member #{self.member_id} on {self.area_id or 'national'}"


class ApplicationStatus(models.TextChoices):
    PENDING = "pending", _("en attente")
    APPROVED = "approved", _("acceptée")
    DECLINED = "declined", _("refusée")
    WITHDRAWN = "withdrawn", _("retirée")


class RelayApplication(models.Model):
    """A member's application (or a coordinator's invitation) to relay a constituency."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="applications")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="relay_applications")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.RELAY)
    motivation = models.TextField(blank=True)
    invited_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=ApplicationStatus.choices, default=ApplicationStatus.PENDING
    )
    decided_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "area", "role"],
                condition=Q(status="pending"),
                name="one_pending_application",
            )
        ]

    def __str__(self) -> str:
        return f"application #{self.pk} ({self.status})"


class CoverageSnapshot(models.Model):
    """The coverage of one day, kept to draw progress over time."""

    day = models.DateField(unique=True)
    total = models.PositiveIntegerField()
    covered = models.PositiveIntegerField()
    substitute_only = models.PositiveIntegerField()
    pending = models.PositiveIntegerField()
    uncovered = models.PositiveIntegerField()
    senate_total = models.PositiveIntegerField()
    senate_covered = models.PositiveIntegerField()
    taken_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"coverage {self.day}: {self.covered}/{self.total}"


class ConsentText(models.Model):
    """A text shown when data is collected: who collects, why, the rights, what is optional.

    Texts are versioned and never edited once used: a new wording is a new version.
    """

    kind = models.CharField(max_length=40, default="signup")
    version = models.PositiveIntegerField()
    language = models.CharField(max_length=8, default="fr")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "version", "language"], name="consent_version")
        ]

    def __str__(self) -> str:
        return f"{self.kind} v{self.version} ({self.language})"


class ConsentSource(models.TextChoices):
    SITE = "site", _("site")
    API = "api", _("API")
    IMPORT = "import", _("import")


class Consent(models.Model):
    """A consent given: which text, when, how; revoking keeps the record."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="consents")
    text = models.ForeignKey(ConsentText, on_delete=models.PROTECT, related_name="consents")
    source = models.CharField(max_length=10, choices=ConsentSource.choices)
    given_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"consent of member #{self.member_id} to {self.text_id}"


class TokenScope(models.TextChoices):
    READ = "read", _("lecture")
    WRITE = "write", _("lecture et écriture")


class ApiToken(models.Model):
    """A personal API token: ``nw_<prefix>_<secret>``, of which only the prefix (to recognise
    it) and the SHA-256 of the secret are kept. It acts with its member's own grants."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("nom"), max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    secret_hash = models.CharField(max_length=64)
    scope = models.CharField(max_length=10, choices=TokenScope.choices, default=TokenScope.READ)
    # Created in a session that had given its two-factor code: only then do its calls count
    # as verified for a member who needs a second factor.
    two_factor = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"token {self.prefix} of member #{self.member_id}"

    @property
    def active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()
