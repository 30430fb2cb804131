"""The hash chain of the audit log: sealing events into it, and verifying it.

``audit_record`` stays cheap (one INSERT, no lock) because it runs inside busy transactions;
the chain is built afterwards by ``seal`` (the worker runs it every minute): under one lock,
the events created more than ``SEAL_DELAY`` ago that are not sealed yet get the next sequence
numbers, in (at, id) order, and each the hash of its content and of the event before it::

    hash = sha256(prev_hash + canonical JSON of {seq, at, actor_ref, action, area_code, details})

An event whose transaction commits late is sealed by a later run: the chain's order is the order
of sealing, not of ids. ``verify`` walks the chain in ``seq`` order and recomputes every hash.
"""

from __future__ import annotations

import datetime
import hashlib
import zlib
from dataclasses import asdict, dataclass, field

import orjson
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from nextwork.privacy.models import AuditEvent

SEAL_DELAY = datetime.timedelta(seconds=5)
# Unsealed for longer than this: the sealer is not running.
STALE_AFTER = datetime.timedelta(minutes=10)
BATCH = 2000
# The key of the PostgreSQL advisory lock held while sealing (any fixed 32-bit number).
LOCK_KEY = zlib.crc32(b"nextwork.privacy.seal")

FIELDS = ["id", "seq", "at", "actor_ref", "action", "area_code", "details", "prev_hash", "hash"]


def canonical(*, seq: int, at: datetime.datetime, actor_ref, action: str, area_code: str,
              details) -> bytes:  # fmt: skip
    """The bytes that an event's hash covers: sorted keys, no spaces, UTF-8 as it is."""
    return orjson.dumps(
        {
            "seq": seq,
            "at": at.astimezone(datetime.UTC).isoformat(),
            "actor_ref": actor_ref,
            "action": action,
            "area_code": area_code,
            "details": details,
        },
        option=orjson.OPT_SORT_KEYS,
    )


def event_hash(prev_hash: str, **content) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(**content)).hexdigest()


def _lock() -> None:
    """Serialise the sealers. SQLite's write transactions already are (IMMEDIATE mode)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


def seal(now: datetime.datetime | None = None) -> int:
    """Seal the events created more than ``SEAL_DELAY`` before ``now`` and not sealed yet, in
    (at, id) order, after the last sealed event; return how many were sealed. Safe to run from
    several workers at once: the lock makes them take turns, and ``seq`` is unique."""
    cutoff = (now or timezone.now()) - SEAL_DELAY
    sealed = 0
    while True:
        with transaction.atomic():
            _lock()
            last = (
                AuditEvent.objects.filter(seq__isnull=False)
                .order_by("-seq")
                .values_list("seq", "hash")
                .first()
            )
            seq, prev_hash = last if last else (0, "")
            batch = list(
                AuditEvent.objects.filter(seq__isnull=True, at__lte=cutoff)
                .order_by("at", "id")
                .only(*FIELDS)[:BATCH]
            )
            for event in batch:
                seq += 1
                event.seq = seq
                event.prev_hash = prev_hash
                event.hash = prev_hash = event_hash(prev_hash, **_content(event))
            AuditEvent.objects.bulk_update(batch, ["seq", "prev_hash", "hash"])
        sealed += len(batch)
        if len(batch) < BATCH:
            return sealed


def _content(event) -> dict:
    return {
        "seq": event.seq,
        "at": event.at,
        "actor_ref": event.actor_ref,
        "action": event.action,
        "area_code": event.area_code,
        "details": event.details,
    }


@dataclass
class Report:
    """What ``verify`` found. ``intact`` is False from the first broken link, whose sequence
    number is ``broken_seq``; ``problem`` says how (changed, removed, reordered)."""

    intact: bool = True
    sealed: int = 0
    # The chain's oldest events up to this seq were removed by the retention policy.
    pruned_through: int | None = None
    unsealed: int = 0
    stale: int = 0
    head_seq: int | None = None
    head_hash: str = ""
    broken_seq: int | None = None
    problem: str = ""
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    # When every event was last walked (``verify_for_viewer``); None for a full walk just now.
    full_at: datetime.datetime | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def verify(now: datetime.datetime | None = None, *, after: tuple[int, str] | None = None) -> Report:
    """Walk the chain in ``seq`` order, recomputing every hash; stop at the first break.

    - a gap in the sequence numbers: an event was removed (``removed``);
    - an event whose ``prev_hash`` is not the hash of the event before it: it was moved, or the
      one before it was replaced (``reordered``);
    - an event whose content no longer gives its hash: it was changed (``changed``).

    When the retention policy removed the oldest events (``prune``), the walk starts at the
    first remaining event, whose ``prev_hash`` must be the hash the prune recorded in the chain.

    Removing the last events of the chain leaves no gap: compare ``head_seq`` and ``head_hash``
    with a copy kept elsewhere (the backups' log) to see it.

    ``after`` (a seq and its hash, verified earlier) walks only the events sealed since: the
    caller vouches for the events up to it (``verify_for_viewer``)."""
    now = now or timezone.now()
    report = Report()
    if after is None:
        expected_seq, prev_hash = _start()
        if expected_seq > 1:
            report.pruned_through = expected_seq - 1
    else:
        expected_seq, prev_hash = after[0] + 1, after[1]
    events = (
        AuditEvent.objects.filter(seq__gte=expected_seq)
        .order_by("seq")
        .only(*FIELDS)
        .iterator(BATCH)
    )
    for event in events:
        report.sealed += 1
        if report.intact:
            broken = _check(event, expected_seq, prev_hash)
            if broken:
                report.intact = False
                report.broken_seq, report.problem, report.message = broken
        expected_seq, prev_hash = event.seq + 1, event.hash
        report.head_seq, report.head_hash = event.seq, event.hash
    unsealed = AuditEvent.objects.filter(seq__isnull=True)
    report.unsealed = unsealed.count()
    report.stale = unsealed.filter(at__lt=now - STALE_AFTER).count()
    if report.stale:
        report.warnings.append(
            f"{report.stale} events unsealed for more than {STALE_AFTER.seconds // 60} minutes: "
            "is the worker running (`nextwork worker`)? `nextwork audit seal` seals them now."
        )
    return report


def _check(event, expected_seq: int, prev_hash: str) -> tuple[int, str, str] | None:
    if event.seq != expected_seq:
        missing = (
            f"seq {expected_seq}"
            if event.seq == expected_seq + 1
            else f"seq {expected_seq} to {event.seq - 1}"
        )
        return expected_seq, "removed", f"{missing} missing: events were removed from the chain."
    if event.prev_hash != prev_hash:
        return (
            event.seq,
            "reordered",
            f"seq {event.seq} (id {event.id}) does not follow the event before it: events were "
            "reordered, or the one before it was replaced.",
        )
    if event.hash != event_hash(prev_hash, **_content(event)):
        return (
            event.seq,
            "changed",
            f"seq {event.seq} (id {event.id}, {event.action}) was changed after it was sealed.",
        )
    return None


# -- the viewer's check: the whole chain now and then, the new events at every page -----------

CHECKPOINT_KEY = "privacy:chain:checkpoint"
FULL_EVERY = datetime.timedelta(minutes=15)


def verify_for_viewer(now: datetime.datetime | None = None) -> Report:
    """``verify`` for a page that is loaded often: the whole chain at most every ``FULL_EVERY``
    (and whenever the last walk found it broken), in between only the events sealed since the
    last intact walk, from its checkpoint (a seq and its hash, kept in the cache, shared by the
    web processes at scale). The checkpoint event must still be there with the same hash, or
    the walk is whole again. ``full_at`` says when every event was last walked; the command
    ``nextwork audit verify`` always walks every event."""
    now = now or timezone.now()
    point = cache.get(CHECKPOINT_KEY)
    fresh = (
        point is not None
        and now - point["full_at"] < FULL_EVERY
        and AuditEvent.objects.filter(
            seq=point["seq"], hash=point["hash"], prev_hash=point["prev_hash"]
        ).exists()
    )
    if fresh:
        # From the checkpoint event itself: its content is hashed again, so a change to it
        # is seen even when nothing was sealed since.
        report = verify(now, after=(point["seq"] - 1, point["prev_hash"]))
        report.sealed += point["sealed"] - 1
        report.pruned_through = point["pruned_through"]
        report.full_at = point["full_at"]
    else:
        report = verify(now)
    if report.intact and report.head_seq is not None:
        head = AuditEvent.objects.filter(seq=report.head_seq).values_list("prev_hash").first()
        checkpoint = {
            "seq": report.head_seq,
            "hash": report.head_hash,
            "prev_hash": head[0] if head else "",
            "sealed": report.sealed,
            "pruned_through": report.pruned_through,
            "full_at": report.full_at or now,
        }
        cache.set(CHECKPOINT_KEY, checkpoint, int(FULL_EVERY.total_seconds()))
    else:
        cache.delete(CHECKPOINT_KEY)
    return report


# -- pruning (the retention policy of the audit log) ------------------------------------------

PRUNE_ACTION = "privacy.retention"


def _start() -> tuple[int, str]:
    """Where the walk starts: seq 1 and an empty hash, or, when the oldest events were pruned,
    the seq after the prune and the hash it recorded. The record is an event sealed into the
    chain, so a forged or changed one breaks the chain like any other event; a prefix removed
    without a record (or up to another seq than recorded) is still a removal."""
    first = AuditEvent.objects.filter(seq__isnull=False).order_by("seq").values_list("seq").first()
    if first is None or first[0] == 1:
        return 1, ""
    records = AuditEvent.objects.filter(action=PRUNE_ACTION, seq__gte=first[0]).values_list(
        "details", flat=True
    )
    for details in records:
        if isinstance(details, dict) and details.get("pruned_through_seq") == first[0] - 1:
            return first[0], str(details.get("pruned_through_hash", ""))
    return 1, ""


@dataclass
class Prune:
    """What ``prune`` removed (or would remove): the events up to ``through_seq``."""

    events: int = 0
    through_seq: int | None = None
    through_hash: str = ""
    record_seq: int | None = None


def prune(before: datetime.datetime, *, dry_run: bool = False) -> Prune:
    """Remove the oldest sealed events created before ``before``: only a prefix of the chain
    (oldest seq first, up to the first event that is younger), never an unsealed event.

    Under the sealers' lock, in one transaction: the prune is recorded as an event
    (``privacy.retention``, with the last removed seq and its hash), sealed at once at the head
    of the chain, then the prefix is deleted; ``verify`` starts from the first remaining event
    and checks its ``prev_hash`` against the recorded hash."""
    result = Prune()
    with transaction.atomic():
        _lock()
        sealed = AuditEvent.objects.filter(seq__isnull=False)
        young = sealed.filter(at__gte=before).order_by("seq").values_list("seq", flat=True).first()
        prefix = sealed.filter(seq__lt=young) if young is not None else sealed
        last = prefix.order_by("-seq").values_list("seq", "hash").first()
        if last is None:
            return result
        result.events = prefix.count()
        result.through_seq, result.through_hash = last
        if dry_run:
            return result
        record = AuditEvent.objects.create(
            actor=None,
            actor_ref=None,
            action=PRUNE_ACTION,
            details={
                "policy": "audit",
                "events": result.events,
                "pruned_through_seq": result.through_seq,
                "pruned_through_hash": result.through_hash,
            },
        )
        head_seq, head_hash = sealed.order_by("-seq").values_list("seq", "hash").first()
        record.seq = head_seq + 1
        record.prev_hash = head_hash
        record.hash = event_hash(head_hash, **_content(record))
        record.save(update_fields=["seq", "prev_hash", "hash"])
        result.record_seq = record.seq
        prefix.filter(seq__lte=result.through_seq).delete()
    cache.delete(CHECKPOINT_KEY)  # the viewer's counts start again from a whole walk
    return result
