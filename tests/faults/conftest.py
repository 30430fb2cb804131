"""Fault tests: real processes (PostgreSQL, ``nextwork serve``, ``nextwork worker``) broken on
purpose. They reuse bench/load.py's throwaway cluster, site and clients.

Preparing costs once per run, not per test: a PostgreSQL template database with the registry
imported and a set-up SQLite home (``nextwork setup``: two to three minutes each on two busy
CPUs). Each test then copies what it needs and stays within about a minute. Every process and
folder is removed at the end, failed or not.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "load.py"


def _load_module():
    spec = importlib.util.spec_from_file_location("nextwork_bench_load", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


load = _load_module()


def need_postgres() -> None:
    if load.postgres_bin() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: PostgreSQL cannot be started as postgres")


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway cluster and a template database set up with the registry."""
    need_postgres()
    cluster = load.Cluster()
    try:
        cluster.start()
        url = cluster.createdb("nw_template")
        site = load.Site(url)
        try:
            site.setup()
        finally:
            site.close()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_site(pg_cluster, request):
    """A fresh database copied from the template, and a site on it (not served yet)."""
    name = f"nw_{request.node.name[:40].lower()}".replace("-", "_").replace("[", "_").strip("]")
    url = pg_cluster.createdb(name, template="nw_template")
    site = load.Site(url)
    try:
        yield site
    finally:
        site.close()
        if pg_cluster.running:
            pg_cluster._run(
                str(pg_cluster.bin / "dropdb"), "-h", "127.0.0.1", "-p", str(pg_cluster.port),
                "-U", "nextwork", "--force", name, check=False,
            )  # fmt: skip


@pytest.fixture(scope="session")
def sqlite_home():
    """A NEXTWORK_HOME on SQLite, set up with the registry, its WAL folded into the file."""
    import sqlite3

    site = load.Site(None)
    try:
        site.setup()
        with sqlite3.connect(site.home / "nextwork.sqlite3") as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        yield site.home
    finally:
        site.close()


@pytest.fixture
def scratch():
    path = Path(tempfile.mkdtemp(prefix="nextwork-fault-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
