"""The disk fills up during a members CSV import (SQLite on a small tmpfs mounted for the test):
the import fails with a clear error naming the disk, the members stored before are untouched
(the import writes all or nothing, in one transaction), the database is not corrupted, and
once space is freed the same file imports without duplicates.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.faults.conftest import load

pytestmark = pytest.mark.faults

MB = 1024 * 1024
FREE = 3 * MB  # what is left on the disk after the database: less than the big import needs


def _csv(path: Path, count: int) -> Path:
    lines = ["email,prenom,nom,code postal"]
    lines += [f"import{i}@example.org,Prénom{i},Nom{i},48000" for i in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _mount(where: Path, size: int) -> None:
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not root'})")


def _members(db: Path) -> tuple[int, int, str]:
    with sqlite3.connect(db) as con:
        count, distinct = con.execute(
            "SELECT COUNT(*), COUNT(DISTINCT email) FROM network_member "
            "WHERE email LIKE 'import%@example.org'"
        ).fetchone()
        (integrity,) = con.execute("PRAGMA integrity_check").fetchone()
    return count, distinct, integrity


def _import(site, csv: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*load.nextwork_command(), "members", "import", str(csv)],
        env=site.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_disk_full_during_import(sqlite_home, scratch):
    used = (sqlite_home / "nextwork.sqlite3").stat().st_size
    disk = scratch / "disk"
    _mount(disk, used + FREE)
    site = None
    try:
        home = disk / "home"
        home.mkdir()
        for name in ("nextwork.sqlite3", "secret_key"):
            shutil.copy2(sqlite_home / name, home / name)
        site = load.Site(None, env={"NEXTWORK_HOME": str(home)})
        db = home / "nextwork.sqlite3"

        small = _import(site, _csv(scratch / "small.csv", 200))
        assert small.returncode == 0, small.stderr[-2000:]
        assert _members(db) == (200, 200, "ok")

        big = _csv(scratch / "big.csv", 20_000)  # the first 200 again, and 19,800 new
        full = _import(site, big)
        assert full.returncode != 0, "the import should not fit"
        assert "Traceback" not in full.stderr, full.stderr[-3000:]
        assert f"the disk holding {home} is full" in full.stderr, full.stderr[-2000:]
        assert "Nothing of this import was written" in full.stderr
        assert _members(db) == (200, 200, "ok"), "the members stored before are intact"

        # Space freed (the tmpfs grows): the same file goes in, once.
        subprocess.run(
            ["mount", "-o", f"remount,size={used + 200 * MB}", str(disk)], check=True, timeout=30
        )
        again = _import(site, big)
        assert again.returncode == 0, again.stderr[-2000:]
        assert "19800 members were created, 200 updated" in again.stdout, again.stdout
        assert _members(db) == (20_000, 20_000, "ok")
    finally:
        if site is not None:
            site.close()  # its own temporary folder; the database lives on the tmpfs
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, check=False)
