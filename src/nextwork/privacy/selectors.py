"""Reads of the audit log, for staff (the viewer checks the grant before calling them)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from nextwork.privacy.models import AuditEvent


def actor_lookup(text: str) -> int | None:
    """The member id that ``text`` names (an id, or an email); None when none matches. An id
    is kept even when its member was erased: the log still holds their events."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    member = get_user_model().objects.filter(email__iexact=text).only("pk").first()
    return member.pk if member else None


def audit_events(*, actor_id: int | None = None, action: str = "",
                 area_prefix: str = "") -> QuerySet[AuditEvent]:  # fmt: skip
    """The events, newest first, filtered by actor (their id at the time), exact action and
    area code prefix."""
    events = AuditEvent.objects.order_by("-at", "-id")
    if actor_id is not None:
        events = events.filter(actor_ref=actor_id)
    if action:
        events = events.filter(action=action)
    if area_prefix:
        events = events.filter(area_code__startswith=area_prefix)
    return events


def audit_actions() -> list[str]:
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct())
