"""Local events (meetups, debriefs, public meetings) and the members who say they will come.

An event is placed through the lookup service, like a member's home: the address as typed, and
the constituency, commune and department it resolves to, with the lookup's precision. Times are
stored in UTC with the name of the zone they are shown in (an event in Nouméa shows Nouméa's
time, wherever the reader is).

A member's answer is one ``Rsvp`` row per event: ``going`` while there are seats, ``waiting``
once the capacity is reached, ``cancelled`` when they withdraw; the first waiting person is
promoted when a seat frees up (``services.rsvp_set``).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from nextwork.network.models import Member, Precision
from nextwork.territories.models import Area


class EventKind(models.TextChoices):
    MEETUP = "meetup", _("rencontre")
    DEBRIEF = "debrief", _("débriefing")
    PUBLIC_MEETING = "public_meeting", _("réunion publique")


class EventStatus(models.TextChoices):
    PUBLISHED = "published", _("publié")
    CANCELLED = "cancelled", _("annulé")


class Event(models.Model):
    title = models.CharField(_("titre"), max_length=200)
    # Plain text: escaped on every page, never rendered as HTML or Markdown.
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(max_length=20, choices=EventKind.choices, default=EventKind.MEETUP)
    starts_at = models.DateTimeField(_("début"))
    ends_at = models.DateTimeField(_("fin"))
    # The IANA zone the times are shown in; by default the one of the event's department.
    time_zone = models.CharField(max_length=64, default="Europe/Paris")
    # The place as the organiser wrote it (shown to people), and what the lookup made of it.
    address = models.CharField(_("lieu"), max_length=500)
    constituency = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    # The seat's department (or collectivity, or 99 abroad): what grants and filters use.
    department = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    commune = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    precision = models.CharField(max_length=10, choices=Precision.choices)
    # Only when the geocoder found the address itself (precision "address").
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    # Empty: no limit.
    capacity = models.PositiveIntegerField(_("places"), null=True, blank=True)
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    # Kept when the creator's account is erased: the event belongs to the network.
    created_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=EventStatus.choices, default=EventStatus.PUBLISHED
    )
    # Public events are on the public list, map and feed; the others only for logged-in members.
    public = models.BooleanField(_("public"), default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # iCalendar's SEQUENCE: raised when the time or the place changes or the event is
    # cancelled, so subscribed calendars replace their copy.
    sequence = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="event_ends_after"
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gte=1),
                name="event_capacity_positive",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "ends_at"]),
            models.Index(fields=["department", "ends_at"]),
        ]

    def __str__(self) -> str:
        return f"event #{self.pk}"

    @property
    def cancelled(self) -> bool:
        return self.status == EventStatus.CANCELLED


class RsvpStatus(models.TextChoices):
    GOING = "going", _("inscrit·e")
    WAITING = "waiting", _("sur liste d'attente")
    CANCELLED = "cancelled", _("désinscrit·e")


class Rsvp(models.Model):
    """A member's answer to an event; one row per event and member, its status changes."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="rsvps")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="event_rsvps")
    status = models.CharField(max_length=10, choices=RsvpStatus.choices)
    created_at = models.DateTimeField(default=timezone.now)
    # When the member last asked for a seat: the order of the waiting list.
    queued_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "member"], name="one_rsvp_per_member")
        ]
        indexes = [models.Index(fields=["event", "status", "queued_at"])]

    def __str__(self) -> str:
        return f"rsvp of member #{self.member_id} to event #{self.event_id} ({self.status})"
