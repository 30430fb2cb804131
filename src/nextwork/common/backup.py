"""Backups of one instance, and their restore.

A backup is one gzip-compressed tar file:

- ``manifest.json``: format version, nextwork version, database vendor, migration state (the
  last applied migration of each app), rows per table, creation time, SHA-256 of every other
  member;
- ``database.sqlite3`` (SQLite: a copy made with the online backup API, consistent while the site
  runs) or ``database.pgdump`` (PostgreSQL: ``pg_dump --format=custom`` of one snapshot);
- ``media/…``: the uploaded files under ``MEDIA_ROOT``, when there are any.

The manifest's counts and migration state are read from the same snapshot as the data. A restore
checks everything before it changes anything; then it replaces the database, migrates it, runs the
steps of ``AFTER_RESTORE`` (the erasure ledger's re-application, ``privacy.ledger``), and
compares the counts with the manifest's. Documented in docs/backup.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
PG_MEMBER = "database.pgdump"
MEDIA_PREFIX = "media/"
_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup cannot be made, or a file cannot be restored; nothing was changed."""


@dataclass
class Manifest:
    format: int
    nextwork_version: str
    vendor: str
    migrations: dict[str, str]
    counts: dict[str, int]
    created_at: str
    files: dict[str, str] = field(default_factory=dict)  # member name -> SHA-256

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            return cls(
                format=int(data["format"]),
                nextwork_version=str(data["nextwork_version"]),
                vendor=str(data["vendor"]),
                migrations={str(k): str(v) for k, v in data["migrations"].items()},
                counts={str(k): int(v) for k, v in data["counts"].items()},
                created_at=str(data["created_at"]),
                files={str(k): str(v) for k, v in data["files"].items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"The manifest of this backup is not readable: {exc}.") from exc


@dataclass
class BackupResult:
    path: Path
    size: int
    sha256: str
    manifest: Manifest


@dataclass
class TableCount:
    table: str
    expected: int | None  # None: the table is not in the backup (made by a later migration)
    actual: int | None  # None: the table no longer exists after migrate

    @property
    def same(self) -> bool:
        return self.expected == self.actual


@dataclass
class RestoreResult:
    manifest: Manifest
    replaced_members: int
    counts: list[TableCount]
    steps: list[str]  # what each AFTER_RESTORE step reported

    @property
    def counts_match(self) -> bool:
        return all(c.same for c in self.counts)


# Steps run after the restored database has been migrated, in order, each given the backup's
# manifest (its ``created_at`` says when the backup was taken). The erasure ledger registers here
# the re-application of the erasures made after the backup (privacy/apps.py). Each returns a line
# for the report.
AFTER_RESTORE: list[Callable[[Manifest], str]] = []


# --- reading the state of a database -----------------------------------------------------------


def vendor() -> str:
    return connection.vendor  # "sqlite" or "postgresql"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _state(cursor, tables: list[str]) -> tuple[dict[str, str], dict[str, int]]:
    """Last applied migration of each app, and rows per table, read through one DB-API cursor."""
    counts = {}
    for table in sorted(tables):
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(table)}")  # noqa: S608 (a quoted table name)
        counts[table] = int(cursor.fetchone()[0])
    migrations: dict[str, str] = {}
    if "django_migrations" in tables:
        cursor.execute("SELECT app, name FROM django_migrations")
        for app, name in cursor.fetchall():
            # Migration names start with their number: the greatest is the last applied.
            if name > migrations.get(app, ""):
                migrations[app] = name
    return migrations, counts


def _sqlite_tables(con: sqlite3.Connection) -> list[str]:
    rows = con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return [r[0] for r in rows]


def current_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        return _state(cursor, tables)[1]


def member_count() -> int:
    """Members in the target database (0 when it has no schema yet)."""
    from django.contrib.auth import get_user_model

    table = get_user_model()._meta.db_table
    with connection.cursor() as cursor:
        if table not in connection.introspection.table_names(cursor):
            return 0
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(table)}")  # noqa: S608 (a quoted table name)
        return int(cursor.fetchone()[0])


# --- PostgreSQL client tools -------------------------------------------------------------------


def _pg_env() -> dict[str, str]:
    """libpq's environment for the default database: the password never reaches a command line."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    for key, var in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("NAME", "PGDATABASE"),
        ("PASSWORD", "PGPASSWORD"),
    ):
        if db.get(key):
            env[var] = str(db[key])
    sslmode = (db.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    return env


def _pg_tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/lib/postgresql/15/bin")
    if not found:
        raise BackupError(
            f"{name} was not found on PATH: install the PostgreSQL client tools "
            "(Debian: apt install postgresql-client), of the server's major version or newer."
        )
    return found


def _run_pg(args: list[str]) -> None:
    result = subprocess.run(args, env=_pg_env(), capture_output=True, text=True)
    if result.returncode != 0:
        tool = Path(args[0]).name
        detail = (result.stderr or result.stdout).strip()[-2000:]
        raise BackupError(f"{tool} failed (exit {result.returncode}): {detail}")


# --- backup ------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _media_files() -> Iterator[tuple[str, Path]]:
    root = Path(settings.MEDIA_ROOT)
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield MEDIA_PREFIX + path.relative_to(root).as_posix(), path


def _snapshot_sqlite(work: Path) -> tuple[Path, dict[str, str], dict[str, int]]:
    target = work / SQLITE_MEMBER
    source = sqlite3.connect(settings.DATABASES["default"]["NAME"])
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # reads through SQLite, so what is still in the WAL is included
        copy.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file
        migrations, counts = _state(copy.cursor(), _sqlite_tables(copy))
    finally:
        copy.close()
        source.close()
    return target, migrations, counts


def _snapshot_postgresql(work: Path) -> tuple[Path, dict[str, str], dict[str, int]]:
    target = work / PG_MEMBER
    pg_dump = _pg_tool("pg_dump")
    # The counts and pg_dump read the same exported snapshot: the manifest describes the dump.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        migrations, counts = _state(cursor, connection.introspection.table_names(cursor))
        _run_pg([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={target}"])
    return target, migrations, counts


def default_output() -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(settings.HOME) / "backups" / f"nextwork-backup-{stamp}.tar.gz"


def create_backup(*, output: Path | None = None) -> BackupResult:
    """Write a backup of the database and uploaded files to ``output`` (mode 0600).

    The file appears complete or not at all: it is written beside its final name, then renamed.
    """
    from nextwork import __version__

    output = Path(output) if output else default_output()
    if output.exists():
        raise BackupError(f"{output} already exists; choose another --output.")
    if output.parent == Path(settings.HOME) / "backups":
        output.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not output.parent.is_dir():
        raise BackupError(f"The folder {output.parent} does not exist.")
    kind = vendor()
    created_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="nextwork-backup-") as tmp:
        work = Path(tmp)
        if kind == "sqlite":
            data, migrations, counts = _snapshot_sqlite(work)
        elif kind == "postgresql":
            data, migrations, counts = _snapshot_postgresql(work)
        else:
            raise BackupError(f"Backups of a {kind} database are not supported.")
        members = [(data.name, data), *_media_files()]
        manifest = Manifest(
            format=FORMAT_VERSION,
            nextwork_version=__version__,
            vendor=kind,
            migrations=migrations,
            counts=counts,
            created_at=created_at,
            files={name: _sha256(path) for name, path in members},
        )
        partial = output.with_name(f".{output.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as raw:
                with tarfile.open(fileobj=raw, mode="w:gz") as tar:
                    raw_manifest = manifest.to_json()
                    info = tarfile.TarInfo(MANIFEST)
                    info.size, info.mode = len(raw_manifest), 0o600
                    info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
                    tar.addfile(info, io.BytesIO(raw_manifest))
                    for name, path in members:
                        info = tar.gettarinfo(str(path), arcname=name)
                        info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
                        with path.open("rb") as fh:
                            tar.addfile(info, fh)
                raw.flush()
                os.fsync(raw.fileno())
            os.chmod(partial, 0o600)
            os.replace(partial, output)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return BackupResult(output, output.stat().st_size, _sha256(output), manifest)


# --- restore -----------------------------------------------------------------------------------


@dataclass
class Checked:
    """An archive whose members were all extracted to ``folder`` and their SHA-256 checked."""

    manifest: Manifest
    folder: Path
    pending: list[tuple[str, str]]  # migrations of the code not in the backup: applied after


def _extract(archive: Path, folder: Path) -> Manifest:
    """Extract ``archive`` into ``folder``, checking every member against the manifest."""
    if not archive.is_file():
        raise BackupError(f"{archive} is not a file.")
    seen: dict[str, str] = {}
    manifest_raw = None
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for info in tar:
                name = info.name
                if info.isdir():
                    continue
                if not info.isfile() or name.startswith("/") or ".." in Path(name).parts:
                    raise BackupError(f"This archive holds an unexpected member {name!r}.")
                source = tar.extractfile(info)
                assert source is not None
                if name == MANIFEST:
                    manifest_raw = source.read()
                    continue
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with target.open("wb") as out:
                    while chunk := source.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                seen[name] = digest.hexdigest()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise BackupError(
            f"{archive} is damaged or truncated ({exc}); it cannot be restored."
        ) from exc
    if manifest_raw is None:
        raise BackupError(f"{archive} has no {MANIFEST}: it is not a nextwork backup.")
    manifest = Manifest.from_json(manifest_raw)
    if manifest.format > FORMAT_VERSION:
        raise BackupError(
            f"This backup has format {manifest.format}; this version of nextwork reads up to "
            f"{FORMAT_VERSION}. Restore it with the version that made it "
            f"({manifest.nextwork_version}) or newer."
        )
    for name, expected in sorted(manifest.files.items()):
        if name not in seen:
            raise BackupError(f"{name} is listed in the manifest but missing from the archive.")
        if seen[name] != expected:
            raise BackupError(
                f"{name} does not match the SHA-256 in the manifest: the archive was altered "
                "or damaged."
            )
    extra = sorted(set(seen) - set(manifest.files))
    if extra:
        raise BackupError(f"The archive holds members the manifest does not list: {extra[:5]}.")
    return manifest


def _pending_migrations(manifest: Manifest) -> list[tuple[str, str]]:
    """Refuse a backup made by newer code; list what migrate will apply after the restore."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    graph = loader.graph
    applied: set[tuple[str, str]] = set()
    for app, name in sorted(manifest.migrations.items()):
        if (app, name) not in graph.nodes:
            raise BackupError(
                f"This backup was made by newer code (nextwork {manifest.nextwork_version}): "
                f"migration {app}.{name} is unknown here. Upgrade nextwork, then restore."
            )
        applied.update(graph.forwards_plan((app, name)))
    pending = [
        node
        for leaf in graph.leaf_nodes()
        for node in graph.forwards_plan(leaf)
        if node not in applied
    ]
    return list(dict.fromkeys(pending))


@contextlib.contextmanager
def checked_archive(archive: Path) -> Iterator[Checked]:
    """Check ``archive`` against this instance without changing anything."""
    kind = vendor()
    # Extract beside the SQLite database, so the final rename stays on one file system.
    base = (
        Path(settings.DATABASES["default"]["NAME"]).parent
        if kind == "sqlite"
        else Path(settings.HOME)
    )
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".nextwork-restore-", dir=base) as tmp:
        folder = Path(tmp)
        manifest = _extract(Path(archive), folder)
        if manifest.vendor != kind:
            raise BackupError(
                f"This backup is of a {manifest.vendor} database; this instance uses {kind}. "
                "A backup restores only into the same kind of database."
            )
        member = SQLITE_MEMBER if kind == "sqlite" else PG_MEMBER
        if member not in manifest.files:
            raise BackupError(f"This backup has no {member}.")
        pending = _pending_migrations(manifest)
        if kind == "postgresql":
            _pg_tool("pg_restore")  # missing tools are found before anything changes
        yield Checked(manifest, folder, pending)


def _replace_sqlite(copy: Path) -> None:
    db = Path(settings.DATABASES["default"]["NAME"])
    connection.close()
    mode = db.stat().st_mode & 0o777 if db.exists() else 0o600
    staged = db.with_name(f".{db.name}.restoring")
    shutil.copyfile(copy, staged)
    os.chmod(staged, mode)
    with staged.open("rb+") as fh:
        os.fsync(fh.fileno())
    if db.exists():
        # Fold the WAL into the old file first: a -wal left beside the new file would be
        # replayed into it. Then remove -wal/-shm, then rename: at every instant, the database
        # on disk is either the old one, whole, or the new one, whole.
        old = sqlite3.connect(db)
        try:
            old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            old.close()
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    os.replace(staged, db)
    dir_fd = os.open(db.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _replace_postgresql(dump: Path, manifest: Manifest) -> None:
    # Tables the backup does not know (made by migrations newer than it) would stop `migrate`
    # from recreating them: they go first, in one transaction.
    with transaction.atomic(), connection.cursor() as cursor:
        extra = [
            t for t in connection.introspection.table_names(cursor) if t not in manifest.counts
        ]
        for table in extra:
            cursor.execute(f"DROP TABLE IF EXISTS {_quote(table)} CASCADE")
    connection.close()
    _run_pg(
        [
            _pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={settings.DATABASES['default']['NAME']}",
            str(dump),
        ]
    )


def _restore_media(folder: Path) -> None:
    source = folder / MEDIA_PREFIX.rstrip("/")
    if not source.is_dir():
        return
    root = Path(settings.MEDIA_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.rglob("*")):
        if path.is_file():
            target = root / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def restore(checked: Checked, *, migrate: Callable[[], None]) -> RestoreResult:
    """Replace this instance's database (and uploaded files) with the checked backup.

    Then ``migrate`` brings an older backup up to the code, the ``AFTER_RESTORE`` steps run, and
    the counts are compared with the manifest's.
    """
    replaced = member_count()
    if vendor() == "sqlite":
        _replace_sqlite(checked.folder / SQLITE_MEMBER)
    else:
        _replace_postgresql(checked.folder / PG_MEMBER, checked.manifest)
    _restore_media(checked.folder)
    connection.close()
    migrate()
    steps = [step(checked.manifest) for step in AFTER_RESTORE]
    actual = current_counts()
    tables = sorted(set(actual) | set(checked.manifest.counts))
    counts = [TableCount(t, checked.manifest.counts.get(t), actual.get(t)) for t in tables]
    return RestoreResult(checked.manifest, replaced, counts, steps)
