"""France's territories and elected representatives, versioned by boundary set.

Geometries are stored as WKB (lon/lat, WGS84) in plain binary columns: the same schema runs on
SQLite and PostgreSQL, and shapely reads them at run time (see ``lookup.py``).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class BoundarySet(models.Model):
    """One generation of territories, imported together and activated at once."""

    name = models.CharField(max_length=200)
    source = models.CharField(max_length=200, help_text=_("Where the data comes from."))
    source_version = models.CharField(max_length=100)
    licence = models.CharField(max_length=200)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=False)
    imported_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Statistics of the derived commune → constituency table, shown by `territories status`.
    stats = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=Q(active=True), name="one_active_boundary_set"
            ),
            models.UniqueConstraint(fields=["source", "source_version"], name="one_set_per_source"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({'active' if self.active else 'inactive'})"


class AreaKind(models.TextChoices):
    REGION = "region", _("région")
    DEPARTMENT = "department", _("département")
    # Overseas collectivities (975, 977, 978, 986, 987, 988): senators and deputies, no department.
    COLLECTIVITY = "collectivity", _("collectivité d'outre-mer")
    # French residents abroad: 11 constituencies, 12 senators.
    ABROAD = "abroad", _("Français établis hors de France")
    CONSTITUENCY = "constituency", _("circonscription législative")
    COMMUNE = "commune", _("commune")
    ARRONDISSEMENT = "arrondissement", _("arrondissement municipal")
    CONSULAR = "consular", _("circonscription consulaire")
    COUNTRY = "country", _("pays")


# Kinds whose senators are elected together ("the department's senators").
SENATE_KINDS = (AreaKind.DEPARTMENT, AreaKind.COLLECTIVITY, AreaKind.ABROAD)


class Area(models.Model):
    boundary_set = models.ForeignKey(BoundarySet, on_delete=models.CASCADE, related_name="areas")
    kind = models.CharField(max_length=20, choices=AreaKind.choices)
    code = models.CharField(max_length=20, help_text=_("Official code: 75-02, 2A, 75107, DE…"))
    name = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    population = models.PositiveIntegerField(null=True, blank=True)
    geometry = models.BinaryField(null=True, blank=True, help_text=_("WKB, lon/lat WGS84."))
    # Town hall for communes: a point known to be inside, used to cross-check the table.
    point = models.BinaryField(null=True, blank=True)
    # Consular constituencies list the countries they cover.
    countries = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="consular_constituencies"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["boundary_set", "kind", "code"], name="area_code"),
        ]
        indexes = [models.Index(fields=["boundary_set", "kind", "code"])]

    def __str__(self) -> str:
        return f"{self.display_name} [{self.code}]"

    @property
    def display_name(self) -> str:
        # The importer stores seats already labelled ("Ain (1re circonscription)").
        if self.kind == AreaKind.CONSTITUENCY and not self.name.endswith("circonscription)"):
            return constituency_label(self.name, self.code)
        return self.name


def ordinal_fr(n: int) -> str:
    return "1re" if n == 1 else f"{n}e"


def constituency_label(department_name: str, code: str) -> str:
    """'Lozère (1re circonscription)' from the department's name and the seat's code."""
    number = int(code.rsplit("-", 1)[1])
    return f"{department_name} ({ordinal_fr(number)} circonscription)"


class CommuneConstituency(models.Model):
    """Which constituency a commune (or municipal arrondissement) belongs to.

    Derived at import from area shares (see docs/territories.md). ``share`` is the part of the
    commune's area in that constituency; a commune is ``split`` when more than one row is real.
    """

    commune = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="constituency_links")
    constituency = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="commune_links")
    share = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["commune", "constituency"], name="commune_constituency")
        ]

    def __str__(self) -> str:
        return f"{self.commune_id} → {self.constituency_id} ({self.share:.0%})"


class Postcode(models.Model):
    boundary_set = models.ForeignKey(
        BoundarySet, on_delete=models.CASCADE, related_name="postcodes"
    )
    code = models.CharField(max_length=5)
    communes = models.ManyToManyField(Area, related_name="postcodes")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["boundary_set", "code"], name="postcode_code"),
        ]

    def __str__(self) -> str:
        return self.code


class Chamber(models.TextChoices):
    ASSEMBLY = "assembly", _("Assemblée nationale")
    SENATE = "senate", _("Sénat")


class Mandate(models.Model):
    """A seat held by a person. An ended mandate with no successor leaves the seat vacant."""

    boundary_set = models.ForeignKey(BoundarySet, on_delete=models.CASCADE, related_name="mandates")
    chamber = models.CharField(max_length=10, choices=Chamber.choices)
    person_id = models.CharField(max_length=30, help_text=_("Official identifier (AN or Sénat)."))
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    sex = models.CharField(max_length=1, blank=True)
    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="mandates")
    start = models.DateField(null=True, blank=True)
    end = models.DateField(null=True, blank=True)
    group = models.CharField(max_length=200, blank=True)
    party = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    address = models.TextField(blank=True)
    source = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["boundary_set", "chamber", "person_id"], name="mandate_person"
            ),
        ]
        indexes = [models.Index(fields=["boundary_set", "chamber", "end"])]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def title(self) -> str:
        if self.chamber == Chamber.SENATE:
            return "Sénatrice" if self.sex == "F" else "Sénateur"
        return "Députée" if self.sex == "F" else "Député"
