"""The erasure ledger: who was erased, kept in the database and in a file that outlives it.

A restore replaces the database, ledger table included, with an older copy in which members
erased since are alive again. The ledger file (``NEXTWORK_ERASURE_LEDGER``, JSON lines, mode
0600) is the durable copy: every ``ErasureRecord`` is appended to it, with ``fsync``, once the
erasure has committed. A record whose append failed (a full disk) keeps ``filed_at`` empty and
is appended by the next erasure, or by the next restore, which reads it from the restored
database.

After a restore (``reapply``, an ``AFTER_RESTORE`` step): the rows of the file and of the
restored table are joined, each one missing from either side is added to it, and every member
they name who is in the restored database is erased again. Members are matched by
``public_id``, never by their id alone: SQLite may give a deleted member's id to a newcomer.

No line holds an address, a name or a phone number: ids, the date, the reason, and keyed
hashes (``address_hmac``).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.dateparse import parse_datetime

from nextwork.privacy.models import ErasureRecord

log = logging.getLogger(__name__)

HMAC_SALT = "nextwork.privacy.erasure-ledger"


def address_hmac(channel: str, value: str) -> str:
    """The keyed hash of an address as the ledger keeps it; empty for no address.

    The key is derived from ``SECRET_KEY``: the same instance (or a restore on a machine given
    the same ``SECRET_KEY``) finds the same hash; without the key, the hash of a guessed
    address cannot be computed (docs/privacy.md, "the ledger").
    """
    value = (value or "").strip()
    if not value:
        return ""
    if channel == "email":
        value = value.lower()
    return salted_hmac(HMAC_SALT, f"{channel}:{value}", algorithm="sha256").hexdigest()


@dataclass
class Entry:
    """One line of the ledger file."""

    member_id: int
    public_id: str
    erased_at: str
    reason: str
    by_self: bool = False
    by_id: int | None = None
    email_hmac: str = ""
    phone_hmac: str = ""
    suppressed: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, record: ErasureRecord) -> Entry:
        return cls(
            member_id=record.member_ref,
            public_id=str(record.public_id),
            erased_at=record.erased_at.isoformat(),
            reason=record.reason,
            by_self=record.by_self,
            by_id=record.by_ref,
            email_hmac=record.email_hmac,
            phone_hmac=record.phone_hmac,
            suppressed=list(record.suppressed or []),
        )

    @classmethod
    def parse(cls, line: str) -> Entry:
        data = json.loads(line)
        entry = cls(
            member_id=int(data["member_id"]),
            public_id=str(uuid.UUID(str(data["public_id"]))),
            erased_at=str(data["erased_at"]),
            reason=str(data["reason"]),
            by_self=bool(data.get("by_self", False)),
            by_id=int(data["by_id"]) if data.get("by_id") is not None else None,
            email_hmac=str(data.get("email_hmac", "")),
            phone_hmac=str(data.get("phone_hmac", "")),
            suppressed=[str(c) for c in data.get("suppressed", [])],
        )
        if parse_datetime(entry.erased_at) is None:
            raise ValueError("erased_at is not a date")
        return entry

    def record(self) -> ErasureRecord:
        return ErasureRecord(
            member_ref=self.member_id,
            public_id=uuid.UUID(self.public_id),
            erased_at=parse_datetime(self.erased_at),
            reason=self.reason,
            by_self=self.by_self,
            by_ref=self.by_id,
            email_hmac=self.email_hmac,
            phone_hmac=self.phone_hmac,
            suppressed=self.suppressed,
            filed_at=timezone.now(),
        )


def path() -> Path:
    return Path(settings.NEXTWORK_ERASURE_LEDGER)


def append(entries: list[Entry]) -> None:
    """Append ``entries`` to the ledger file and wait until they are on disk."""
    if not entries:
        return
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    created = not target.exists()
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        data = "".join(json.dumps(asdict(e), sort_keys=True) + "\n" for e in entries)
        os.write(fd, data.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        os.chmod(target, 0o600)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@dataclass
class FileRead:
    entries: list[Entry]
    unreadable: int  # lines skipped: a line cut by a crash, or edited by hand


def read() -> FileRead:
    """Every readable line of the ledger file (none when there is no file yet)."""
    target = path()
    if not target.exists():
        return FileRead([], 0)
    entries, unreadable = [], 0
    with target.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                entries.append(Entry.parse(line))
            except (ValueError, KeyError, TypeError):
                unreadable += 1
    return FileRead(entries, unreadable)


def file_pending() -> int:
    """Append every ledger row not yet in the file; how many were appended. Runs after the
    erasure's commit: a failure is logged (no personal data) and retried by the next call."""
    rows = list(ErasureRecord.objects.filter(filed_at__isnull=True).order_by("erased_at", "id"))
    if not rows:
        return 0
    try:
        append([Entry.of(r) for r in rows])
    except OSError as exc:
        log.error(
            "The erasure ledger file %s could not be written (%s): %d erasures wait to be filed.",
            path(),
            exc.strerror or exc,
            len(rows),
        )
        return 0
    ErasureRecord.objects.filter(pk__in=[r.pk for r in rows]).update(filed_at=timezone.now())
    return len(rows)


def reapply(manifest=None) -> str:
    """After a restore: join the ledger file and the restored table, then erase again every
    member they name who is in the restored database. Returns the line of the report."""
    from nextwork.network.models import Member
    from nextwork.privacy.erasure import reerase

    read_back = read()
    known = {e.public_id for e in read_back.entries}
    # Rows of the restored table that the file lacks (their append had failed): filed now.
    missing_in_file = [
        Entry.of(r) for r in ErasureRecord.objects.order_by("erased_at", "id")
        if str(r.public_id) not in known
    ]  # fmt: skip
    append(missing_in_file)
    ErasureRecord.objects.filter(filed_at__isnull=True).update(filed_at=timezone.now())
    entries = {e.public_id: e for e in read_back.entries}
    for e in missing_in_file:
        entries.setdefault(e.public_id, e)
    in_table = {str(p) for p in ErasureRecord.objects.values_list("public_id", flat=True)}
    with transaction.atomic():
        ErasureRecord.objects.bulk_create(
            [e.record() for key, e in entries.items() if key not in in_table]
        )
    present = Member.objects.filter(public_id__in=[uuid.UUID(k) for k in entries])
    erased = 0
    for member in present:
        reerase(member=member, entry=entries[str(member.public_id)])
        erased += 1
    line = f"{erased} erasures re-applied"
    if read_back.unreadable:
        line += f" ({read_back.unreadable} unreadable lines in {path()} skipped)"
    return line
