"""Reads of monitoring. Staff only: what is said about the organisation and its representatives
is the national team's tool (DESIGN.md §2); every read goes through ``require_staff``."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet
from django.utils import timezone

from nextwork.common.errors import Forbidden, InvalidInput, NotFound
from nextwork.monitoring.models import MinuteCount, Source, Spike, WatchRule
from nextwork.network.permissions import is_staff

BUCKETS = {"minute": datetime.timedelta(minutes=1), "hour": datetime.timedelta(hours=1)}
# The longest series one call returns, per bucket (a week of minutes, a year of hours).
SPANS = {"minute": datetime.timedelta(days=7), "hour": datetime.timedelta(days=366)}
DEFAULT_SPANS = {"minute": datetime.timedelta(hours=24), "hour": datetime.timedelta(days=7)}


def require_staff(member) -> None:
    if not (member and member.is_authenticated and is_staff(member)):
        raise Forbidden("Only staff read monitoring.")


def rules(caller) -> QuerySet[WatchRule]:
    require_staff(caller)
    return WatchRule.objects.order_by("kind", "name", "pk")


def rule(caller, rule_id: int) -> WatchRule:
    found = rules(caller).filter(pk=rule_id).first()
    if found is None:
        raise NotFound(f"No watch rule {rule_id}.", field="rule_id")
    return found


def sources(caller) -> QuerySet[Source]:
    require_staff(caller)
    return Source.objects.order_by("kind", "name")


def _floor(moment: datetime.datetime, step: datetime.timedelta) -> datetime.datetime:
    moment = moment.astimezone(datetime.UTC).replace(second=0, microsecond=0)
    if step == BUCKETS["hour"]:
        moment = moment.replace(minute=0)
    return moment


def series(
    caller,
    rule_id: int,
    *,
    bucket: str = "minute",
    start: datetime.datetime | None = None,
    end: datetime.datetime | None = None,
) -> dict:
    """A rule's counts per bucket over [start, end), zeros included, in UTC."""
    found = rule(caller, rule_id)
    for name, moment in (("from", start), ("to", end)):
        if moment is not None and timezone.is_naive(moment):
            raise InvalidInput(f"{name}: give the time zone (2026-11-27T10:00:00Z).", field=name)
    if bucket not in BUCKETS:
        raise InvalidInput("bucket: minute or hour.", field="bucket")
    step = BUCKETS[bucket]
    end = _floor(end or timezone.now(), step) + (step if end is None else datetime.timedelta())
    start = _floor(start or end - DEFAULT_SPANS[bucket], step)
    if start >= end:
        raise InvalidInput("from must be before to.", field="from")
    if end - start > SPANS[bucket]:
        raise InvalidInput(
            f"At most {SPANS[bucket].days} days of {bucket}s per call.", field="from"
        )
    size = int((end - start) / step)
    counts = [0] * size
    rows = MinuteCount.objects.filter(rule=found, minute__gte=start, minute__lt=end)
    for minute, n in rows.values_list("minute", "count"):
        counts[int((minute - start) / step)] += n
    return {
        "rule": found.pk, "bucket": bucket, "start": start, "end": end,
        "points": [{"t": start + i * step, "count": n} for i, n in enumerate(counts)],
    }  # fmt: skip


def spikes(caller, *, rule_id: int | None = None) -> QuerySet[Spike]:
    require_staff(caller)
    found = Spike.objects.select_related("rule").order_by("-start", "-pk")
    return found.filter(rule_id=rule_id) if rule_id else found
