"""Live spike detection and alerts, every minute (the worker's monitoring tick).

For each active rule whose last window holds at least its ``min_count`` posts (one aggregate
query finds them; a quiet rule costs nothing), the rule's minute counts of the last
``history_days + 2`` days are read and ``spikes.latest`` judges the window ending at the last
complete minute (docs/monitoring-spikes.md). A spiking window opens a ``Spike`` or, within
``merge_gap`` minutes of the rule's last one, extends it (its peak kept); a new spike alerts the
rule's followers through messaging (``notify``: email, and SMS to those who opted in), at most
once per the rule's cool-down, with the top posts of the window, and is POSTed to the rule's
webhook if it has one (``webhooks``). Running the check twice for
the same minute changes nothing.
"""

from __future__ import annotations

import datetime
import logging

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from nextwork.monitoring import spikes, webhooks
from nextwork.monitoring.models import Mention, MinuteCount, Spike, WatchRule

logger = logging.getLogger(__name__)

PARAMS = spikes.Params()
TOP = 3


def _minute(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.UTC).replace(second=0, microsecond=0)


def candidates(last: datetime.datetime, params: spikes.Params = PARAMS) -> list[WatchRule]:
    """Active rules whose window ending at ``last`` (a minute, included) reaches min_count."""
    since = last - datetime.timedelta(minutes=params.window - 1)
    busy = (
        MinuteCount.objects.filter(minute__gte=since, minute__lte=last, rule__active=True)
        .values("rule")
        .annotate(total=Sum("count"))
    )
    ids = [row["rule"] for row in busy]
    found = WatchRule.objects.filter(pk__in=ids).prefetch_related("followers")
    totals = {row["rule"]: row["total"] for row in busy}
    return [r for r in found if totals[r.pk] >= r.min_count]


def history(rule: WatchRule, last: datetime.datetime, params: spikes.Params = PARAMS):
    """The rule's per-minute counts up to ``last`` included, over what ``latest`` reads."""
    n = (params.history_days + 2) * spikes.DAY + params.window
    start = last - datetime.timedelta(minutes=n - 1)
    counts = np.zeros(n, dtype=np.int64)
    rows = MinuteCount.objects.filter(rule=rule, minute__gte=start, minute__lte=last)
    for minute, count in rows.values_list("minute", "count"):
        counts[int((minute - start).total_seconds() // 60)] = count
    return counts, start


def check(now: datetime.datetime | None = None) -> dict:
    """Judge the last complete minute for every busy rule; record and alert. Returns counts."""
    last = _minute(now or timezone.now()) - datetime.timedelta(minutes=1)
    found = {"checked": 0, "spiking": 0, "opened": 0, "alerted": 0}
    for rule in candidates(last):
        found["checked"] += 1
        params = spikes.Params(min_count=rule.min_count)
        counts, start = history(rule, last, params)
        judged = spikes.latest(counts, start, params, tz=settings.TIME_ZONE)
        if judged is None:
            continue
        found["spiking"] += 1
        spike, opened = _record(rule, last, judged, params)
        found["opened"] += opened
        if opened and _alert(rule, spike):
            found["alerted"] += 1
    return found


@transaction.atomic
def _record(rule: WatchRule, last: datetime.datetime, judged: spikes.Spike, params) -> tuple:
    gap = datetime.timedelta(minutes=params.merge_gap + 1)
    current = (
        Spike.objects.select_for_update()
        .filter(rule=rule, end__gte=last - gap)
        .order_by("-start")
        .first()
    )
    end = last + datetime.timedelta(minutes=1)
    if current is not None:
        if current.end >= end:  # this minute was judged already
            return current, False
        current.end = end
        if judged.count > current.count:
            current.peak, current.count = last, judged.count
            current.expected, current.score = judged.expected, judged.score
        current.save(update_fields=["end", "peak", "count", "expected", "score"])
        return current, False
    spike = Spike.objects.create(
        rule=rule, start=last, peak=last, end=end, count=judged.count,
        expected=judged.expected, score=judged.score,
    )  # fmt: skip
    webhooks.queue(spike)  # sent after commit, whatever the followers' cool-down
    return spike, True


def top_posts(spike: Spike, limit: int = TOP, window: int = PARAMS.window):
    """The posts of the spike's window (around its peak), most recent first."""
    since = spike.peak - datetime.timedelta(minutes=window - 1)
    until = spike.end or spike.peak + datetime.timedelta(minutes=1)
    return [
        m.post for m in Mention.objects.filter(
            rule_id=spike.rule_id, published_at__gte=since, published_at__lt=until
        ).select_related("post").order_by("-published_at")[:limit]
    ]  # fmt: skip


def _alert(rule: WatchRule, spike: Spike) -> bool:
    from nextwork.messaging.models import Channel, MessageType
    from nextwork.messaging.services import notify

    followers = [m.pk for m in rule.followers.all() if m.is_active]
    if not followers:
        return False
    site = getattr(settings, "NEXTWORK_SITE_URL", "").rstrip("/")
    local = timezone.localtime(spike.start)
    lines = [
        f"« {rule.name} » s'emballe : {spike.count} messages en {PARAMS.window} minutes "
        f"(environ {spike.expected:.0f} attendus à cette heure), depuis {local:%H:%M}.",
        "",
    ]
    for post in top_posts(spike):
        author = post.author_handle or post.author or post.network
        lines.append(f"- {author} : {post.text[:200]}")
        if post.url:
            lines.append(f"  {post.url}")
    lines += ["", f"Le détail : {site}/espace/veille/regles/{rule.pk}/"]
    subject = f"Veille : pic sur « {rule.name[:80]} »"
    sent = False
    cooldown = datetime.timedelta(minutes=rule.cooldown_minutes)
    for channel in (Channel.EMAIL, Channel.SMS):
        body = "\n".join(lines) if channel == Channel.EMAIL else lines[0]
        message = notify(
            key=f"monitoring.spike.{rule.pk}.{channel}", members=followers, subject=subject,
            body=body, cooldown=cooldown, channel=channel, message_type=MessageType.ALERT,
        )  # fmt: skip
        sent = sent or message is not None
    if sent:
        Spike.objects.filter(pk=spike.pk).update(alerted_at=timezone.now())
    return sent
