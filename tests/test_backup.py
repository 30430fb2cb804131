"""The backup drill: back up, change, restore, and the counts and rows are the backup's.

The commands run in subprocesses against a throwaway NEXTWORK_HOME with its own SQLite file (and,
when DATABASE_URL points at PostgreSQL, against a scratch database created on that server and
dropped afterwards, never DATABASE_URL's own), as an operator runs them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

NEXTWORK = str(Path(sys.executable).with_name("nextwork"))
PG_URL = os.environ.get("DATABASE_URL", "")

MEMBERS = (
    "import json; from nextwork.network.models import Member; "
    "print(json.dumps(sorted(Member.objects.values_list('email', flat=True))))"
)


def run(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [NEXTWORK, "manage", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def shell(env: dict, code: str) -> str:
    return run(env, "shell", "-c", code).stdout


def members(env: dict) -> list[str]:
    return json.loads(shell(env, MEMBERS).strip().splitlines()[-1])


def prepare(tmp: Path, database_url: str | None) -> dict:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env["NEXTWORK_HOME"] = str(tmp)
    if database_url:
        env["DATABASE_URL"] = database_url
    run(env, "migrate", "--no-input", "-v", "0")
    shell(
        env,
        "from nextwork.network.models import Member\n"
        "for n in ('camille', 'dominique', 'eden'):\n"
        "    Member.objects.create_user(f'{n}@example.org')\n"
        "import pathlib; from django.conf import settings\n"
        "p = pathlib.Path(settings.MEDIA_ROOT) / 'kits' / 'tract.pdf'\n"
        "p.parent.mkdir(parents=True, exist_ok=True); p.write_bytes(b'%PDF kit')",
    )
    return env


@pytest.fixture(scope="module")
def sqlite_env(tmp_path_factory) -> dict:
    return prepare(tmp_path_factory.mktemp("home"), None)


def drill(env: dict, tmp: Path) -> None:
    before = members(env)
    out = json.loads(run(env, "backup", "--output", str(tmp / "b.tar.gz"), "--json").stdout)
    archive = Path(out["path"])
    assert archive.stat().st_mode & 0o777 == 0o600
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == out["sha256"]
    manifest = out["manifest"]
    assert manifest["counts"]["network_member"] == len(before)
    assert "media/kits/tract.pdf" in manifest["files"]
    assert manifest["migrations"]["network"]

    shell(
        env,
        "from nextwork.network.models import Member\n"
        "Member.objects.create_user('added@example.org')\n"
        "Member.objects.filter(email='dominique@example.org').delete()",
    )
    changed = members(env)
    assert "added@example.org" in changed and "dominique@example.org" not in changed

    refused = run(env, "restore", str(archive), check=False)
    assert refused.returncode != 0
    assert f"holds {len(changed)} member(s)" in refused.stderr and "--yes" in refused.stderr
    assert members(env) == changed

    report = json.loads(run(env, "restore", str(archive), "--yes", "--json").stdout)
    assert report["counts_match"], [c for c in report["counts"] if c["expected"] != c["actual"]]
    assert {c["table"]: c["actual"] for c in report["counts"]} == manifest["counts"]
    assert report["steps"] == ["0 erasures re-applied"]  # privacy.ledger.reapply: none after it
    assert members(env) == before


def test_sqlite_drill(sqlite_env, tmp_path):
    drill(sqlite_env, tmp_path)


@pytest.fixture
def scratch_database():
    """A database of its own on DATABASE_URL's server, dropped afterwards: the drill restores
    over its database, which must never be the developer's nor the test run's."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    parts = urlsplit(PG_URL)
    name = f"nextwork_backup_drill_{os.getpid()}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        pytest.skip(f"cannot create a scratch database for the drill: {type(exc).__name__}")
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.mark.skipif(
    not PG_URL.startswith("postgres"),
    reason="DATABASE_URL does not point at PostgreSQL: the drill runs on a scratch database of "
    "that server",
)
def test_postgresql_drill(tmp_path, scratch_database):
    env = prepare(tmp_path / "home", scratch_database)
    drill(env, tmp_path)


def _database_digest(env: dict) -> str:
    return hashlib.sha256(
        (Path(env["NEXTWORK_HOME"]) / "nextwork.sqlite3").read_bytes()
    ).hexdigest()


def _repack(archive: Path, target: Path, change) -> None:
    """Copy ``archive`` to ``target`` through ``change(name, data) -> data``, gzip made anew."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(target, "w:gz") as dst:
        for info in src:
            data = change(info.name, src.extractfile(info).read())
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def sqlite_archive(sqlite_env, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("archives") / "good.tar.gz"
    run(sqlite_env, "backup", "--output", str(path))
    return path


def _refused(env: dict, archive: Path, *needles: str) -> None:
    digest, people = _database_digest(env), members(env)
    result = run(env, "restore", str(archive), "--yes", check=False)
    assert result.returncode != 0
    for needle in needles:
        assert needle in result.stderr, result.stderr
    assert _database_digest(env) == digest and members(env) == people


def test_one_byte_changed_is_refused_and_nothing_changes(sqlite_env, sqlite_archive, tmp_path):
    data = bytearray(sqlite_archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    (tmp_path / "t.tar.gz").write_bytes(bytes(data))
    # Caught by gzip's or tar's own checks, or else by the member's SHA-256.
    _refused(sqlite_env, tmp_path / "t.tar.gz", "damaged")


def test_truncated_archive_is_refused(sqlite_env, sqlite_archive, tmp_path):
    data = sqlite_archive.read_bytes()
    (tmp_path / "t.tar.gz").write_bytes(data[: len(data) * 2 // 3])
    _refused(sqlite_env, tmp_path / "t.tar.gz", "damaged or truncated")


def test_member_altered_inside_a_valid_gzip_fails_its_sha256(sqlite_env, sqlite_archive, tmp_path):
    def change(name, data):
        return data.replace(b"camille", b"camilla") if name == "database.sqlite3" else data

    _repack(sqlite_archive, tmp_path / "t.tar.gz", change)
    _refused(sqlite_env, tmp_path / "t.tar.gz", "database.sqlite3 does not match the SHA-256")


def test_wrong_vendor_and_newer_code_are_refused(sqlite_env, sqlite_archive, tmp_path):
    def vendor(name, data):
        if name != "manifest.json":
            return data
        return data.replace(b'"vendor": "sqlite"', b'"vendor": "postgresql"')

    def newer(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["migrations"]["network"] = "9999_from_the_future"
        return json.dumps(manifest).encode()

    _repack(sqlite_archive, tmp_path / "v.tar.gz", vendor)
    _refused(sqlite_env, tmp_path / "v.tar.gz", "is of a postgresql database")
    _repack(sqlite_archive, tmp_path / "n.tar.gz", newer)
    _refused(sqlite_env, tmp_path / "n.tar.gz", "made by newer code", "9999_from_the_future")


def test_not_a_backup_is_refused(sqlite_env, tmp_path):
    (tmp_path / "x.tar.gz").write_bytes(gzip.compress(b"hello"))
    _refused(sqlite_env, tmp_path / "x.tar.gz", "damaged or truncated")
