"""Benchmarks of the relay network's members on SQLite (``bench/run.py --members-bench``).

Run by ``bench/run.py --members-bench`` (after the lookup benchmarks) or ``--members-only``;
``python bench/members.py [options]`` is the same as ``bench/run.py --members-only``. Every
figure comes with a baseline measured in the same run (see docs/benchmarks.md, "Members"):

5. CSV import: ``import_members`` on a generated file (unique emails, French names, real
   postcodes of the registry, some phones), rows/s, against row-by-row ORM saves
   (``Member.objects.create`` + ``MemberLocation.objects.create`` per row, email validated);
6. coverage with a million members: ``coverage()`` in process (against the same call on an
   empty network) and ``GET /api/v1/coverage`` served by ``nextwork serve`` (against
   ``/healthz`` served the same way); the staff dashboard, logged in with a session cookie;
7. re-assigning every member after a boundary change (the database work only): one set-based
   UPDATE per seat against a row-by-row ``save()`` loop on a sample.

These benchmarks write a million members: they work on a scratch copy of the registry database
(a temporary NEXTWORK_HOME, removed at the end), never on ``--home`` nor ./var.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import http.client
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unicodedata
import uuid
from pathlib import Path

import numpy as np
import run as base  # the helpers of bench/run.py (setup, server, load generation, output)

TARGETS = {"import_rows_per_s": 20_000.0, "coverage_server_ms": 50.0}
DOMAINS = ("courriel.invalid", "exemple.invalid", "poste.invalid", "reseau.invalid")
FIRST_NAMES = (
    "Camille Dominique Claude Sacha Alex Lou Noa Louise Jules Inès Léo Chloé Hugo Manon Yanis "
    "Sarah Nathan Léa Adam Emma Karim Fatou Mathis Anaïs Théo Zoé Malik Jeanne Marie "
    "Jean-Pierre Marie-Claire François Françoise Hélène Étienne Gaëlle Maël Noémie Loïc "
    "Céline Jérôme Benoît Aurélie Stéphane Sébastien Élodie Amélie Rémi Cédric Brigitte "
    "Josiane Raphaël Aïcha Mohamed Youssef Nadia Samir Thuy Kévin Océane Enzo Mathéo Agnès"
).split()
LAST_NAMES = [
    name.replace("_", " ")  # "Le_Gall" keeps its space in the file
    for name in (
        "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
        "Lefèvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard Diallo Nguyen "
        "André Mercier Dupont Lambert Bonnet François Martinez Legrand Garnier Faure Rousseau "
        "Blanc Guérin Muller Henry Roussel Nicolas Perrin Morin Mathieu Clément Gauthier "
        "Dumont Lopez Fontaine Chevalier Robin Masson Sanchez Gérard Boyer Denis Lemaire Duval "
        "Joly Gautier Roger Roche Roy Noël Meyer Lucas Meunier Jean Pérez Marchand Dufour "
        "Blanchard Barbier Brun Dumas Brunet Schmitt Leroux Colin Fernandez Le_Gall Le_Goff "
        "N'Diaye Benali Haddad Da_Silva Ferreira Kouassi Tran Hoarau Payet Grondin Éboué"
    ).split()
]


def add_arguments(parser) -> None:
    group = parser.add_argument_group("members benchmarks (5-7)")
    group.add_argument(
        "--members-bench",
        action="store_true",
        help="also run the members benchmarks (import, coverage, re-assignment), ~2 min",
    )
    group.add_argument(
        "--members-only", action="store_true", help="run the members benchmarks only"
    )
    group.add_argument(
        "--members-rows",
        type=int,
        default=None,
        help="CSV rows imported by import_members: 200000 [20000]",
    )
    group.add_argument(
        "--members-chunk",
        type=int,
        default=0,
        help="import the CSV as files of at most this many rows, one import_members call "
        "each (0: one file, the default)",
    )
    group.add_argument(
        "--members-total",
        type=int,
        default=None,
        help="members for the coverage and re-assignment benchmarks (the imported ones, then "
        "rows written directly): 1000000 [100000]",
    )
    group.add_argument(
        "--members-baseline",
        type=int,
        default=None,
        help="rows of each row-by-row baseline: 5000 [1000]",
    )
    group.add_argument(
        "--members-profile",
        action="store_true",
        help="run the import under cProfile and print where the time goes (slower)",
    )


def finish_args(parser, args) -> None:
    if args.members_only:
        args.members_bench = True
    sizes = (
        {"members_rows": 20_000, "members_total": 100_000, "members_baseline": 1_000}
        if args.quick
        else {"members_rows": 200_000, "members_total": 1_000_000, "members_baseline": 5_000}
    )
    for name, value in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if min(args.members_rows, args.members_total, args.members_baseline) < 1:
        parser.error("--members-* sizes must be positive")
    if args.members_chunk < 0:
        parser.error("--members-chunk must be 0 (one file) or positive")


# -- scratch database ----------------------------------------------------------------------------


@contextlib.contextmanager
def scratch_home(home: Path):
    """A copy of ``home`` (registry database, secret key, static files) used in this process."""
    from django.db import connections

    connection = connections["default"]
    if connection.vendor != "sqlite":
        raise SystemExit("the members benchmarks run on SQLite only")
    connections.close_all()
    scratch = Path(tempfile.mkdtemp(prefix="nextwork-bench-members-"))
    started = time.perf_counter()
    try:
        for item in home.iterdir():
            if item.name.startswith("nextwork.sqlite3"):
                continue
            if item.is_dir():
                shutil.copytree(item, scratch / item.name, symlinks=True)
            else:
                shutil.copy2(item, scratch / item.name)
        source = sqlite3.connect(home / "nextwork.sqlite3")
        target = sqlite3.connect(scratch / "nextwork.sqlite3")
        try:
            source.backup(target)  # consistent even with a WAL file beside the database
        finally:
            source.close()
            target.close()
        base.say(f"  scratch copy of the registry database: {time.perf_counter() - started:.1f} s")
        name = connection.settings_dict["NAME"]
        connection.settings_dict["NAME"] = scratch / "nextwork.sqlite3"
        try:
            from django.core.management import call_command

            call_command("migrate", verbosity=0)  # a --home made by an older version
            yield scratch
        finally:
            connections.close_all()
            connection.settings_dict["NAME"] = name
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def sqlite_variable_limit() -> int | None:
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    return raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if hasattr(raw, "getlimit") else None


def database_megabytes(home: Path) -> float:
    return sum(p.stat().st_size for p in home.glob("nextwork.sqlite3*")) / 1e6


# -- data ----------------------------------------------------------------------------------------


def _slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return "".join(c for c in text if c.isalnum() or c == "-")


def postcode_weights(engine) -> tuple[list[str], np.ndarray]:
    """Every postcode of the registry, weighted by the population of its communes."""
    codes = sorted(engine.postcodes)
    weights = np.array(
        [
            sum(max(engine.units.get(c, {}).get("population") or 1, 1) for c in engine.postcodes[p])
            for p in codes
        ],
        dtype=np.float64,
    )
    return codes, weights / weights.sum()


def generate_csv(engine, n: int, rng, *, prefix: str = "", phone_share: float = 0.35) -> bytes:
    """A spreadsheet export of ``n`` people: unique emails, French names, real postcodes.

    Emails take several shapes (some capitalised or padded, as typed by hand) and every one is
    unique; about a third of the rows carry a mobile number, written three ways.
    """
    codes, weights = postcode_weights(engine)
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    shape = rng.integers(0, 5, n)
    domain = rng.integers(0, len(DOMAINS), n)
    postcode = rng.choice(len(codes), n, p=weights)
    has_phone = rng.random(n) < phone_share
    # French mobiles: 06 then a digit other than 3 or 9, or 07 then 3-9 (always valid numbers).
    lead = np.array(["60", "61", "62", "64", "65", "66", "67", "68", "73", "75", "76", "77"])
    phone_lead = rng.integers(0, len(lead), n)
    phone_rest = rng.integers(0, 10_000_000, n)
    phone_style = rng.integers(0, 3, n)
    first_slug = [_slug(f) for f in FIRST_NAMES]
    last_slug = [_slug(name) for name in LAST_NAMES]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "first_name", "last_name", "phone", "postcode"])
    rows = []
    for i in range(n):
        f, s = int(first[i]), int(last[i])
        k = int(shape[i])
        at = DOMAINS[int(domain[i])]
        if k == 0:
            email = f"{first_slug[f]}.{last_slug[s]}{prefix}{i}@{at}"
        elif k == 1:
            email = f"{first_slug[f][0]}{last_slug[s]}{prefix}{i}@{at}"
        elif k == 2:
            email = f"{last_slug[s]}.{first_slug[f]}{prefix}{i}@{at}"
        elif k == 3:
            email = f"{FIRST_NAMES[f][0]}.{last_slug[s].capitalize()}{prefix}{i}@{at}"
            email = _slug_email(email)
        else:
            email = f" {first_slug[f]}_{last_slug[s]}{prefix}{i}@{at.upper()} "
        phone = ""
        if has_phone[i]:
            digits = f"{lead[phone_lead[i]]}{phone_rest[i]:07d}"
            style = int(phone_style[i])
            if style == 0:
                phone = "0" + " ".join([digits[0]] + [digits[j : j + 2] for j in range(1, 9, 2)])
            elif style == 1:
                phone = "0" + digits
            else:
                phone = "+33 " + digits[0] + " " + " ".join(digits[j : j + 2] for j in (1, 3, 5, 7))
        rows.append((email, FIRST_NAMES[f], LAST_NAMES[s], phone, codes[int(postcode[i])]))
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _slug_email(email: str) -> str:
    """Keep the capitals (normalise_email lowers them) but drop accents: valid addresses."""
    text = unicodedata.normalize("NFKD", email)
    return "".join(c for c in text if not unicodedata.combining(c) and c != "'")


def split_csv(data: bytes, chunk: int) -> list[bytes]:
    lines = data.split(b"\n")
    header, body = lines[0], [line for line in lines[1:] if line]
    return [b"\n".join([header, *body[k : k + chunk]]) + b"\n" for k in range(0, len(body), chunk)]


# -- 5. import -----------------------------------------------------------------------------------


@contextlib.contextmanager
def import_phases():
    """Wall-clock time of the import's phases, without a profiler (a few wrappers only).

    ``clean``: ``imports._clean_row`` (validation and lookup of each row); ``write``: the
    ``executemany`` writes (``imports._execute_many``, building the rows included), and within
    it ``write_sql``, the time spent executing SQL; ``lookups``: ``imports._existing_ids``
    (emails to ids, before and after the writes); ``other_sql``: every other query (the
    closing UPDATE of moved members, the area ids); ``commit``: the end of the transaction.
    """
    from django.db import connection

    from nextwork.network import imports

    spent = dict.fromkeys(("clean", "write", "write_sql", "lookups", "other_sql", "commit"), 0.0)
    state = {"phase": None}
    originals = {
        name: getattr(imports, name) for name in ("_clean_row", "_execute_many", "_existing_ids")
    }

    def timed(function, phase):
        def wrapper(*a, **k):
            t0 = time.perf_counter()
            state["phase"] = phase
            try:
                return function(*a, **k)
            finally:
                state["phase"] = None
                spent[phase] += time.perf_counter() - t0

        return wrapper

    def timed_sql(execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if state["phase"] is None:
                spent["other_sql"] += time.perf_counter() - t0
            elif state["phase"] == "write":
                spent["write_sql"] += time.perf_counter() - t0

    commit = connection._commit

    def timed_commit():
        t0 = time.perf_counter()
        try:
            return commit()
        finally:
            spent["commit"] += time.perf_counter() - t0

    imports._clean_row = timed(originals["_clean_row"], "clean")
    imports._execute_many = timed(originals["_execute_many"], "write")
    imports._existing_ids = timed(originals["_existing_ids"], "lookups")
    connection._commit = timed_commit
    try:
        with connection.execute_wrapper(timed_sql):
            yield spent
    finally:
        for name, original in originals.items():
            setattr(imports, name, original)
        del connection._commit


def _row_by_row(engine, data: bytes, *, atomic: bool) -> tuple[int, float]:
    """The naive import: validate, look up, then two ORM saves per row."""
    from django.contrib.auth.hashers import make_password
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email
    from django.db import transaction
    from django.utils import timezone

    from nextwork.network.models import Member, MemberLocation, normalise_email
    from nextwork.network.signup import clean_phone
    from nextwork.territories.models import Area, AreaKind

    seat_ids = dict(
        Area.objects.filter(
            boundary_set_id=engine.boundary_set_id, kind=AreaKind.CONSTITUENCY
        ).values_list("code", "pk")
    )
    unusable = make_password(None)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    context = transaction.atomic() if atomic else contextlib.nullcontext()
    started = time.perf_counter()
    with context:
        for row in rows:
            email = normalise_email(row["email"])
            try:
                validate_email(email)
            except ValidationError:
                continue
            member = Member.objects.create(
                email=email,
                first_name=row["first_name"][:100],
                last_name=row["last_name"][:100],
                phone=clean_phone(row["phone"]),
                password=unusable,
            )
            found = engine.locate_postcode(row["postcode"])
            if len(found["candidates"]) == 1:
                MemberLocation.objects.create(
                    member=member,
                    constituency_id=seat_ids[found["candidates"][0]["code"]],
                    postcode=row["postcode"],
                    precision=found["precision"],
                    valid_from=timezone.now(),
                )
    return len(rows), time.perf_counter() - started


def _delete_members(domain_marker: str) -> None:
    from nextwork.network.models import Member, MemberLocation

    MemberLocation.objects.filter(member__email__contains=domain_marker).delete()
    Member.objects.filter(email__contains=domain_marker).delete()


def bench_import(engine, args, rng, results) -> None:
    from django.db import OperationalError

    from nextwork.network.imports import import_members
    from nextwork.network.models import Member, MemberLocation

    rows = args.members_rows
    base.say(f"\n5. Members CSV import, import_members on {rows:,} rows (SQLite)")
    t0 = time.perf_counter()
    data = generate_csv(engine, rows, rng)
    base.say(
        f"  CSV generated: {rows:,} rows, {len(data) / 1e6:.1f} MB in "
        f"{time.perf_counter() - t0:.1f} s (real postcodes weighted by population, "
        f"~35% with a phone)"
    )
    limit = sqlite_variable_limit()
    out: dict = {"rows": rows, "csv_megabytes": len(data) / 1e6, "sqlite_variable_limit": limit}

    # Baselines first, on an empty member table, then removed.
    n = args.members_baseline
    for atomic in (False, True):
        sample = generate_csv(engine, n, rng, prefix=f"b{int(atomic)}x")
        count, seconds = _row_by_row(engine, sample, atomic=atomic)
        out[f"row_by_row_{'atomic' if atomic else 'autocommit'}"] = {
            "rows": count,
            "seconds": seconds,
            "rows_per_s": count / seconds,
        }
        _delete_members(f"b{int(atomic)}x")
    if Member.objects.exists():
        raise RuntimeError("the baseline members were not removed")

    # Validation alone (dry run: read, check and look up every row, write nothing).
    sample_rows = min(rows, 50_000)
    dry_data = split_csv(data, sample_rows)[0]
    t0 = time.perf_counter()
    dry = import_members(dry_data, dry_run=True)
    dry_s = time.perf_counter() - t0
    out["dry_run"] = {"rows": dry.rows, "seconds": dry_s, "rows_per_s": dry.rows / dry_s}

    chunks = split_csv(data, args.members_chunk) if args.members_chunk else [data]
    del data
    reports, seconds_each = [], []
    error = None
    profiler = None
    if args.members_profile:
        import cProfile

        profiler = cProfile.Profile()
    phases = contextlib.ExitStack()
    spent = phases.enter_context(import_phases())
    t0 = time.perf_counter()
    try:
        for chunk in chunks:
            c0 = time.perf_counter()
            if profiler:
                profiler.enable()
            try:
                reports.append(import_members(chunk))
            finally:
                if profiler:
                    profiler.disable()
            seconds_each.append(time.perf_counter() - c0)
    except OperationalError as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        phases.close()
    seconds = time.perf_counter() - t0
    imported = sum(r.rows for r in reports)
    errors = sum(len(r.errors) for r in reports)
    created = sum(r.created for r in reports)
    located = MemberLocation.objects.filter(
        valid_to__isnull=True, constituency__isnull=False
    ).count()
    out.update(
        {
            "files": len(chunks),
            "seconds": seconds,
            "imported_rows": imported,
            "created": created,
            "without_constituency": sum(r.without_constituency for r in reports),
            "row_errors": errors,
            "locations": located,
            "error": error,
            "seconds_per_file": seconds_each,
            "phases_seconds": spent,
        }
    )
    autocommit = out["row_by_row_autocommit"]["rows_per_s"]
    atomic = out["row_by_row_atomic"]["rows_per_s"]
    base.say(
        f"  row by row, autocommit   {base.fmt(autocommit, 0):>8} rows/s  ({n:,} rows, "
        f"{out['row_by_row_autocommit']['seconds']:.1f} s; Member + MemberLocation "
        f".objects.create, email validated, postcode looked up)"
    )
    base.say(
        f"  row by row, 1 transaction{base.fmt(atomic, 0):>8} rows/s  ({n:,} rows, "
        f"{out['row_by_row_atomic']['seconds']:.1f} s)"
    )
    base.say(
        f"  validation only (dry run){base.fmt(out['dry_run']['rows_per_s'], 0):>8} rows/s  "
        f"({dry.rows:,} rows, {dry_s:.1f} s: read, check, look up; no write)"
    )
    if error or errors or created != rows:
        what = error or f"{errors} row errors, {created:,} created of {rows:,}"
        base.say(f"  import_members FAILED after {seconds:.1f} s: {what}")
        out["rows_per_s"] = imported / seconds if reports else 0.0
        out["target_met"] = False
    else:
        rate = rows / seconds
        out["rows_per_s"] = rate
        out["vs_autocommit"] = rate / autocommit
        out["vs_atomic"] = rate / atomic
        out["target_met"] = rate >= TARGETS["import_rows_per_s"]
        files = f" in {len(chunks)} files" if len(chunks) > 1 else " in one call"
        base.say(
            f"  import_members           {base.fmt(rate, 0):>8} rows/s  ({rows:,} rows{files}, "
            f"{seconds:.1f} s; {created:,} members, {located:,} located, "
            f"{out['without_constituency']:,} whose postcode spans several seats placed in their "
            "department only)"
        )
        if len(chunks) > 1:
            rates = ", ".join(
                f"{r.rows / s:,.0f}" for r, s in zip(reports, seconds_each, strict=True)
            )
            base.say(f"    rows/s of each file, in order: {rates}")
        base.say(
            f"  → {base.ratio_text(rate / autocommit)} than row by row (autocommit), "
            f"{base.ratio_text(rate / atomic)} than row by row in one transaction  "
            f"(target ≥ {TARGETS['import_rows_per_s']:,.0f} rows/s: "
            f"{'met' if out['target_met'] else 'MISSED'})"
        )
    rest = seconds - sum(spent[k] for k in ("clean", "write", "lookups", "other_sql", "commit"))
    base.say("  where the import's time goes (wall clock, no profiler):")
    for label, value in (
        ("validating rows and looking up postcodes (_clean_row)", spent["clean"]),
        ("writes: building the rows for executemany", spent["write"] - spent["write_sql"]),
        ("writes: executing the INSERTs and UPDATEs", spent["write_sql"]),
        ("emails to ids, before and after the writes", spent["lookups"]),
        ("the other queries (area ids, closing moved locations)", spent["other_sql"]),
        ("COMMIT", spent["commit"]),
        ("the rest (reading the CSV, counting)", rest),
    ):
        base.say(f"    {label:<56} {value:6.1f} s  {value / seconds:4.0%}")
    if profiler:
        import pstats

        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(25)
        base.say("  cProfile of the import (cumulative, top 25):")
        for line in stream.getvalue().splitlines():
            if line.strip():
                base.say("    " + line.rstrip()[:150])
    results["members_import"] = out


# -- population ----------------------------------------------------------------------------------


def _placements(engine) -> tuple[list[tuple], np.ndarray]:
    """(postcode, seat id, commune id) of every postcode inside one seat, with its weight."""
    from nextwork.territories.models import Area, AreaKind

    areas = Area.objects.filter(boundary_set_id=engine.boundary_set_id)
    seat_ids = dict(areas.filter(kind=AreaKind.CONSTITUENCY).values_list("code", "pk"))
    unit_ids = dict(
        areas.filter(kind__in=[AreaKind.COMMUNE, AreaKind.ARRONDISSEMENT]).values_list("code", "pk")
    )
    codes, weights = postcode_weights(engine)
    places, kept = [], []
    for code, weight in zip(codes, weights, strict=True):
        found = engine.locate_postcode(code)
        if len(found["candidates"]) == 1:
            commune = (found.get("communes") or [{}])[0].get("code")
            places.append((code, seat_ids[found["candidates"][0]["code"]], unit_ids.get(commune)))
            kept.append(weight)
    kept = np.array(kept)
    return places, kept / kept.sum()


def fill_members(engine, count: int, rng) -> float:
    """``count`` confirmed members with a current location, written directly (executemany)."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone

    from nextwork.network.models import Member, MemberLocation
    from nextwork.territories.models import Area, AreaKind

    if count <= 0:
        return 0.0
    started = time.perf_counter()
    places, weights = _placements(engine)
    seat_parent = dict(
        Area.objects.filter(
            boundary_set_id=engine.boundary_set_id, kind=AreaKind.CONSTITUENCY
        ).values_list("pk", "parent_id")
    )
    now = timezone.now()
    dt = Member._meta.get_field("created_at")
    stamps = [
        dt.get_db_prep_save(now - datetime.timedelta(days=d, seconds=37 * d), connection)
        for d in range(730)
    ]
    unusable = make_password(None)
    member_cols = [f.column for f in Member._meta.concrete_fields if f.column != "id"]
    location_cols = [f.column for f in MemberLocation._meta.concrete_fields if f.column != "id"]
    member_sql = (
        f'INSERT INTO "{Member._meta.db_table}" ({", ".join(member_cols)}) '
        f"VALUES ({', '.join('?' * len(member_cols))})"
    )
    location_sql = (
        f'INSERT INTO "{MemberLocation._meta.db_table}" ({", ".join(location_cols)}) '
        f"VALUES ({', '.join('?' * len(location_cols))})"
    )
    if location_cols != [
        "member_id",
        "constituency_id",
        "department_id",
        "commune_id",
        "country_id",
        "postcode",
        "lat",
        "lon",
        "precision",
        "valid_from",
        "valid_to",
    ]:
        raise RuntimeError(f"MemberLocation changed: update fill_members ({location_cols})")
    table = Member._meta.db_table
    created = member_cols.index("created_at")
    batch = 100_000
    with transaction.atomic():
        cursor = connection.connection  # the raw sqlite3 connection, inside Django's transaction
        for offset in range(0, count, batch):
            n = min(batch, count - offset)
            place = rng.choice(len(places), n, p=weights)
            day = rng.integers(0, len(stamps), n)
            first = rng.integers(0, len(FIRST_NAMES), n)
            last = rng.integers(0, len(LAST_NAMES), n)
            public = os.urandom(16 * n).hex()
            values = {
                "password": unusable,
                "last_login": None,
                "is_superuser": False,
                "is_active": True,
                "is_staff": False,
                "public_relay": False,
                "phone": "",
            }
            members = []
            for k in range(n):
                i = offset + k
                stamp = stamps[int(day[k])]
                values.update(
                    public_id=public[32 * k : 32 * k + 32],
                    email=f"inscrit{i}@{DOMAINS[i % len(DOMAINS)]}",
                    first_name=FIRST_NAMES[int(first[k])],
                    last_name=LAST_NAMES[int(last[k])],
                    confirmed_at=stamp,
                    created_at=stamp,
                )
                members.append(tuple(values[c] for c in member_cols))
            (before,) = cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"').fetchone()
            cursor.executemany(member_sql, members)
            # Ids grow with each insert (one writer, in a transaction): read them back in order.
            ids = [
                row[0]
                for row in cursor.execute(
                    f'SELECT id FROM "{table}" WHERE id > ? ORDER BY id', (before,)
                )
            ]
            if len(ids) != n:
                raise RuntimeError(f"{n} members written, {len(ids)} read back")
            locations = []
            for k, member_id in enumerate(ids):
                postcode, seat, commune = places[int(place[k])]
                stamp = members[k][created]
                locations.append(
                    (
                        member_id,
                        seat,
                        seat_parent[seat],
                        commune,
                        None,
                        postcode,
                        None,
                        None,
                        "postcode",
                        stamp,
                        None,
                    )
                )
            cursor.executemany(location_sql, locations)
    return time.perf_counter() - started


def grant_relays(engine, rng, share: float = 1 / 3) -> dict:
    """Relays in about ``share`` of the seats (one member living there), plus some substitutes,
    pending applications and senate relays, as the product would hold them."""
    from django.db.models import Max, Min

    from nextwork.network.models import (
        ApplicationStatus,
        Grant,
        MemberLocation,
        RelayApplication,
        Role,
    )
    from nextwork.territories.models import SENATE_KINDS, Area

    residents = {
        row["constituency_id"]: (row["first"], row["last"])
        for row in MemberLocation.objects.filter(valid_to__isnull=True, constituency__isnull=False)
        .values("constituency_id")
        .annotate(first=Min("member_id"), last=Max("member_id"))
    }
    grants, applications = [], []
    for seat, (first, last) in sorted(residents.items()):
        draw = rng.random()
        if draw < share:
            grants.append(Grant(member_id=first, role=Role.RELAY, area_id=seat))
            if first != last and rng.random() < 0.3:
                grants.append(Grant(member_id=last, role=Role.SUBSTITUTE, area_id=seat))
        elif draw < share + 0.08:
            applications.append(
                RelayApplication(member_id=first, area_id=seat, status=ApplicationStatus.PENDING)
            )
        elif draw < share + 0.12:
            grants.append(Grant(member_id=first, role=Role.SUBSTITUTE, area_id=seat))
    some = list(residents.values())
    for k, area in enumerate(
        Area.objects.filter(
            boundary_set_id=engine.boundary_set_id, kind__in=SENATE_KINDS
        ).values_list("pk", flat=True)
    ):
        if rng.random() < share:
            grants.append(
                Grant(member_id=some[k % len(some)][1], role=Role.SENATE_RELAY, area_id=area)
            )
    Grant.objects.bulk_create(grants)
    RelayApplication.objects.bulk_create(applications)
    return {
        "seats_with_members": len(residents),
        "relays": sum(g.role == Role.RELAY for g in grants),
        "substitutes": sum(g.role == Role.SUBSTITUTE for g in grants),
        "senate_relays": sum(g.role == Role.SENATE_RELAY for g in grants),
        "pending": len(applications),
    }


# -- 6. coverage ---------------------------------------------------------------------------------


def time_calls(fn, count: int, budget_s: float) -> dict:
    """Milliseconds of up to ``count`` calls, stopping once ``budget_s`` is spent."""
    fn()  # warm up
    times = []
    deadline = time.perf_counter() + budget_s
    while len(times) < count and (not times or time.perf_counter() < deadline):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    ms = np.array(times)
    return {
        "n": len(ms),
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "mean_ms": float(ms.mean()),
    }


@contextlib.contextmanager
def server(home: Path, workers: int):
    """``nextwork serve`` on a free loopback port, in its own process group; always stopped."""
    port = base.free_port()
    workdir = Path(tempfile.mkdtemp(prefix="nextwork-bench-members-http-"))
    log = workdir / "serve.log"
    command = [
        *base.nextwork_command(),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command,
            env=base.child_env(home),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base.wait_ready(proc, port, log)
        yield proc, port, workdir
    finally:
        base.stop_server(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def get_with_cookie(port: int, path: str, cookie: str) -> tuple[int, bytes, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        t0 = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        body = response.read()
        return response.status, body, time.perf_counter() - t0
    finally:
        conn.close()


def staff_cookie() -> str:
    """A logged-in staff session, written to the database the server reads."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from nextwork.network.models import Grant, Member, Role
    from nextwork.network.security.two_factor import VERIFIED_KEY

    staff = Member.objects.create_user(
        "equipe.bench@courriel.invalid", None, is_active=True, confirmed_at=timezone.now()
    )
    Grant.objects.create(member=staff, role=Role.STAFF)
    session = SessionStore()
    session[SESSION_KEY] = str(staff.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = staff.get_session_auth_hash()
    # As after the two-factor step of a staff login: the pages measured are those behind it.
    session[VERIFIED_KEY] = True
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def _load(client, port, paths, seconds, connections, requests, workdir) -> dict:
    if client == "wrk":
        return base.load_wrk(port, paths, seconds, connections, workdir)
    return base.load_python(port, paths, requests, seconds, connections)


def uncached(fn):
    def call():
        from django.core.cache import cache

        cache.clear()
        return fn()

    return call


def paris_coordinator():
    from django.utils import timezone

    from nextwork.network.models import Grant, Member, Role
    from nextwork.territories.models import Area

    member, created = Member.objects.get_or_create(
        email="coordination.paris@courriel.invalid",
        defaults={"is_active": True, "confirmed_at": timezone.now()},
    )
    if created:
        paris = Area.objects.get(boundary_set__active=True, kind="department", code="75")
        Grant.objects.create(member=member, role=Role.COORDINATOR, area=paris)
    return member


def bench_coverage(engine, args, results, home: Path, empty: dict) -> None:
    from django.db import connections

    from nextwork.network.models import Member, MemberLocation
    from nextwork.network.selectors import (
        coverage,
        members_per_seat,
        recruitment_gaps,
        seat_statuses,
    )

    members = Member.objects.count()
    located = MemberLocation.objects.filter(
        valid_to__isnull=True, constituency__isnull=False
    ).count()
    base.say(f"\n6. Coverage with {members:,} members ({located:,} placed in a seat)")
    inproc = {
        "coverage": time_calls(coverage, 200, 10.0),
        "seat_statuses": time_calls(seat_statuses, 200, 5.0),
        # Computed each time (the national count is otherwise cached for a minute).
        "members_per_seat": time_calls(uncached(members_per_seat), 10, 10.0),
        "recruitment_gaps": time_calls(uncached(recruitment_gaps), 10, 10.0),
        "recruitment_gaps (cached)": time_calls(recruitment_gaps, 50, 5.0),
        "gaps of a coordinator of 75": time_calls(
            uncached(lambda: recruitment_gaps(caller=paris_coordinator())), 20, 5.0
        ),
    }
    got = coverage()
    base.say(
        f"  coverage(): {got['covered']} covered, {got['substitute_only']} substitute only, "
        f"{got['pending']} pending, {got['uncovered']} uncovered of {got['total']} seats; "
        f"senate {got['senate']['areas_covered']}/{got['senate']['areas_total']}"
    )
    base.say("  in process                                 p50         p95   (SQLite)")
    for name, s in inproc.items():
        base.say(f"    {name:<32} {s['p50_ms']:>9.2f} ms {s['p95_ms']:>9.2f} ms   [{s['n']} calls]")
    base.say(
        f"    coverage() on the empty network (same run) p50 {empty['p50_ms']:.2f} ms → "
        f"with {members:,} members ×{inproc['coverage']['p50_ms'] / empty['p50_ms']:.2f}"
    )
    out: dict = {
        "members": members,
        "located": located,
        "in_process": inproc,
        "empty_coverage": empty,
        "coverage": got,
    }

    if args.no_http:
        out["target_met"] = inproc["coverage"]["p50_ms"] <= TARGETS["coverage_server_ms"]
        base.say("  HTTP: skipped (--no-http); the target is checked on the in-process call")
        results["members_coverage"] = out
        return
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    cookie = staff_cookie()
    connections.close_all()
    seconds = max(1.0, args.http_seconds / 2 / args.rounds)
    if client == "wrk":
        seconds = max(1, round(seconds))  # wrk counts whole seconds
    requests = max(1, args.requests // 2 // args.rounds)
    runs: dict = {}
    with server(home, args.workers) as (proc, port, workdir):
        status, body = base.get(port, "/api/v1/coverage", timeout=30)
        if status != 200:
            raise RuntimeError(f"/api/v1/coverage answered {status}: {body[:300]!r}")
        for _ in range(100):  # warm up both workers
            base.get(port, "/api/v1/coverage")
            base.get(port, "/healthz")
        pids = base.server_pids(proc.pid)
        for concurrency in sorted({1, args.connections}):
            for _round in range(args.rounds):
                for name in ("/healthz", "/api/v1/coverage"):
                    cpu0 = base.server_cpu(pids)
                    run = _load(client, port, [name], seconds, concurrency, requests, workdir)
                    cpu1 = base.server_cpu(pids)
                    if cpu0 is not None and cpu1 is not None and run["requests"]:
                        run["server_cpu_ms_per_request"] = (cpu1 - cpu0) * 1000 / run["requests"]
                    runs.setdefault(f"{name} c={concurrency}", []).append(run)
        dashboard = []
        deadline = time.perf_counter() + 20
        status, body, _s = get_with_cookie(port, "/espace/tableau/", cookie)
        dashboard_ok = status == 200 and b"<svg" in body
        while dashboard_ok and len(dashboard) < 20 and time.perf_counter() < deadline:
            status, _body, s = get_with_cookie(port, "/espace/tableau/", cookie)
            dashboard.append(s * 1000)
    best = {name: max(rs, key=lambda r: r["rps"]) for name, rs in runs.items()}
    cpu = {
        name: min((r.get("server_cpu_ms_per_request", np.inf) for r in rs), default=np.inf)
        for name, rs in runs.items()
    }
    base.say(
        f"  HTTP: `nextwork serve --workers {args.workers}` on 127.0.0.1, loaded by {client}, "
        f"best of {args.rounds} runs of {seconds:g} s"
    )
    for name, r in best.items():
        errors = sum(x["errors"] for x in runs[name])
        base.say(
            f"    {name:<22} {base.fmt(r['rps'], 0):>7} requests/s  p50 {r['p50_ms']:7.2f} ms  "
            f"p99 {r['p99_ms']:7.2f} ms  server CPU {cpu[name]:.3f} ms/request  "
            f"[{errors} errors]"
        )
    one = best["/api/v1/coverage c=1"]
    floor = best["/healthz c=1"]
    server_ms = cpu["/api/v1/coverage c=1"]
    met = (
        one["p50_ms"] <= TARGETS["coverage_server_ms"]
        and server_ms <= TARGETS["coverage_server_ms"]
    )
    base.say(
        f"  /api/v1/coverage vs /healthz at concurrency 1: p50 "
        f"×{one['p50_ms'] / floor['p50_ms']:.1f}, server CPU "
        f"×{server_ms / cpu['/healthz c=1']:.1f}, throughput "
        f"÷{floor['rps'] / one['rps']:.1f}  (target ≤ {TARGETS['coverage_server_ms']:g} ms server "
        f"time: {'met' if met else 'MISSED'})"
    )
    if dashboard:
        d = np.array(dashboard)
        base.say(
            f"  /espace/tableau/ (staff session cookie, one request at a time): p50 "
            f"{np.percentile(d, 50):.1f} ms, max {d.max():.1f} ms [{len(d)} requests]"
        )
        out["dashboard"] = {
            "n": len(d),
            "p50_ms": float(np.percentile(d, 50)),
            "max_ms": float(d.max()),
        }
    else:
        base.say(f"  /espace/tableau/: not measured (answered {status} without the map)")
    out.update(
        {
            "client": client,
            "runs": runs,
            "best": best,
            "server_cpu_ms_per_request": cpu,
            "target_met": met,
        }
    )
    results["members_coverage"] = out


# -- 7. re-assignment ----------------------------------------------------------------------------


REDRAWN_DEPARTMENTS = ("59", "75", "13", "69", "33", "92", "93", "62", "31", "44")


def copy_registry(old_set: int, redrawn: tuple[str, ...]):
    """A new boundary set: the registry copied in SQL, the seats of ``redrawn`` departments
    redrawn by rotating their codes (the outline of 59-01 becomes 59-02's, and so on).

    Commune links follow the outlines, so the members of those departments really change
    seats, and the seats' outlines really differ from the old set's.
    """
    from django.db import connection, transaction

    from nextwork.territories.models import (
        Area,
        AreaKind,
        BoundarySet,
        CommuneConstituency,
        Postcode,
    )

    area = Area._meta.db_table
    link = CommuneConstituency._meta.db_table
    postcode = Postcode._meta.db_table
    through = Postcode.communes.through._meta.db_table
    with transaction.atomic():
        new = BoundarySet.objects.create(
            name="bench: redrawn registry",
            source="bench",
            source_version=uuid.uuid4().hex,
            licence="-",
            stats=BoundarySet.objects.get(pk=old_set).stats,
        )
        same = "n.kind = o.kind AND n.code = o.code AND n.boundary_set_id = %s"
        statements = [
            (
                f"INSERT INTO {area} (boundary_set_id, kind, code, name, parent_id, population,"
                f" geometry, point) SELECT %s, kind, code, name, NULL, population, geometry,"
                f" point FROM {area} WHERE boundary_set_id = %s",
                [new.pk, old_set],
            ),
            (
                f"UPDATE {area} SET parent_id = (SELECT n.id FROM {area} o JOIN {area} c"
                f" ON c.parent_id = o.id JOIN {area} n ON {same} WHERE c.boundary_set_id = %s"
                f" AND c.kind = {area}.kind AND c.code = {area}.code) WHERE boundary_set_id = %s",
                [new.pk, old_set, new.pk],
            ),
            (
                f"INSERT INTO {link} (commune_id, constituency_id, share)"
                f" SELECT nc.id, ns.id, l.share FROM {link} l"
                f" JOIN {area} oc ON oc.id = l.commune_id JOIN {area} os"
                f" ON os.id = l.constituency_id JOIN {area} nc ON nc.boundary_set_id = %s"
                f" AND nc.kind = oc.kind AND nc.code = oc.code JOIN {area} ns"
                f" ON ns.boundary_set_id = %s AND ns.kind = os.kind AND ns.code = os.code"
                f" WHERE oc.boundary_set_id = %s",
                [new.pk, new.pk, old_set],
            ),
            (
                f"INSERT INTO {postcode} (boundary_set_id, code) SELECT %s, code FROM"
                f" {postcode} WHERE boundary_set_id = %s",
                [new.pk, old_set],
            ),
            (
                f"INSERT INTO {through} (postcode_id, area_id) SELECT np.id, na.id"
                f" FROM {through} t JOIN {postcode} op ON op.id = t.postcode_id"
                f" JOIN {postcode} np ON np.boundary_set_id = %s AND np.code = op.code"
                f" JOIN {area} oa ON oa.id = t.area_id JOIN {area} na"
                f" ON na.boundary_set_id = %s AND na.kind = oa.kind AND na.code = oa.code"
                f" WHERE op.boundary_set_id = %s",
                [new.pk, new.pk, old_set],
            ),
        ]
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
        rotated = 0
        seats = Area.objects.filter(boundary_set=new, kind=AreaKind.CONSTITUENCY)
        for department in redrawn:
            mine = list(seats.filter(parent__code=department).order_by("code"))
            codes = [(a.code, a.name) for a in mine]
            for a in mine:  # free the codes first: (set, kind, code) is unique
                a.code = f"tmp-{a.code}"
                a.save(update_fields=["code"])
            for a, (code, name) in zip(mine, codes[1:] + codes[:1], strict=True):
                a.code, a.name = code, name
                a.save(update_fields=["code", "name"])
            rotated += len(mine)
    return new, rotated


def bench_reassign(engine, args, rng, results) -> None:
    from django.db import transaction
    from django.utils import timezone

    from nextwork.network.models import MemberLocation
    from nextwork.network.reassign import _resolve, reassign_to_active_set
    from nextwork.territories.lookup import build_engine
    from nextwork.territories.models import Area, AreaKind, BoundarySet

    current = MemberLocation.objects.filter(valid_to__isnull=True, constituency__isnull=False)
    total = current.count()
    department_only = MemberLocation.objects.filter(valid_to__isnull=True, constituency=None)
    base.say(
        f"\n7. Re-assigning {total:,} members after a redistricting (the product's service), "
        f"and {department_only.count():,} placed in their department only"
    )
    t0 = time.perf_counter()
    new_set, rotated = copy_registry(engine.boundary_set_id, REDRAWN_DEPARTMENTS)
    redrawn = current.filter(constituency__parent__code__in=REDRAWN_DEPARTMENTS).count()
    base.say(
        f"  new boundary set: the registry copied, {rotated} seats of "
        f"{len(REDRAWN_DEPARTMENTS)} departments redrawn, in {time.perf_counter() - t0:.1f} s; "
        f"{redrawn:,} members live in redrawn seats"
    )

    # Baseline: the naive service, location by location: resolve with the new set's engine,
    # then save(), on a sample of the redrawn seats, in one transaction, rolled back.
    t0 = time.perf_counter()
    new_engine = build_engine(new_set.pk)
    build_s = time.perf_counter() - t0
    seat_ids = dict(
        Area.objects.filter(boundary_set=new_set, kind=AreaKind.CONSTITUENCY).values_list(
            "code", "pk"
        )
    )
    n = min(args.members_baseline, redrawn)
    sample_ids = (
        current.filter(constituency__parent__code__in=REDRAWN_DEPARTMENTS)
        .order_by("?")
        .values_list("pk", flat=True)[:n]
    )
    sample = list(current.filter(pk__in=list(sample_ids)).select_related("commune", "country"))
    t0 = time.perf_counter()
    with transaction.atomic():
        for loc in sample:
            commune = (loc.commune.kind, loc.commune.code) if loc.commune else None
            country = loc.country.code if loc.country else None
            answer = _resolve(new_engine, commune, country, loc.postcode, loc.lat, loc.lon)
            if answer is None:
                loc.valid_to = timezone.now()
                loc.save(update_fields=["valid_to"])
            else:
                loc.constituency_id = seat_ids[answer[0]]
                loc.save(update_fields=["constituency"])
        transaction.set_rollback(True)
    loop_s = time.perf_counter() - t0
    loop_rate = len(sample) / loop_s

    BoundarySet.objects.filter(active=True).update(active=False)
    BoundarySet.objects.filter(pk=new_set.pk).update(active=True)
    t0 = time.perf_counter()
    report = reassign_to_active_set()
    service_s = time.perf_counter() - t0
    service_rate = total / service_s
    left = current.exclude(constituency__boundary_set=new_set).count()
    left += department_only.exclude(department__boundary_set=new_set).count()
    checked = left == 0 and report.locations + report.unplaced == total
    naive_s = build_s + total / loop_rate
    base.say(
        f"  naive: resolve + save() per location {base.fmt(loop_rate, 0):>9} rows/s  "
        f"({len(sample):,} redrawn rows in {loop_s:.2f} s) → {naive_s:.1f} s for {total:,} "
        f"(extrapolated, + {build_s:.1f} s to build the new set's lookup engine)"
    )
    base.say(
        f"  reassign_to_active_set()              {base.fmt(service_rate, 0):>9} rows/s  "
        f"({total:,} rows in {service_s:.2f} s, engine included)  → "
        f"{base.ratio_text(naive_s / service_s)}"
    )
    base.say(
        f"  outcome: {report.kept_seat:,} kept their seat, {report.changed_seat:,} changed seat, "
        f"{report.unplaced:,} to ask again; {report.grants} grants and "
        f"{report.applications} applications carried over; resolved by {report.resolved_by}"
    )
    base.say(f"  check: no current location left on the old set: {'yes' if checked else 'NO'}")
    results["members_reassign"] = {
        "locations": total,
        "redrawn_seats": rotated,
        "in_redrawn_seats": redrawn,
        "engine_build_seconds": build_s,
        "naive": {
            "rows": len(sample),
            "seconds": loop_s,
            "rows_per_s": loop_rate,
            "extrapolated_seconds": naive_s,
        },
        "service": {"rows": total, "seconds": service_s, "rows_per_s": service_rate},
        "ratio": naive_s / service_s,
        "report": report.as_dict(),
        "checked": checked,
    }


# -- the section -----------------------------------------------------------------------------


def bench_members(engine, args, rng, results, home: Path) -> None:
    from nextwork.network.models import Member
    from nextwork.network.selectors import coverage

    started = time.perf_counter()
    base.say(
        f"\nMembers (relay network): {args.members_rows:,} CSV rows, {args.members_total:,} "
        f"members in all, on a scratch copy of the registry"
    )
    with scratch_home(home) as scratch:
        empty = time_calls(coverage, 200, 5.0)
        bench_import(engine, args, rng, results)
        top_up = args.members_total - Member.objects.count()
        fill_s = fill_members(engine, top_up, rng)
        granted = grant_relays(engine, rng)
        base.say(
            f"\n  populated: {max(top_up, 0):,} confirmed members with a location written "
            f"directly in {fill_s:.1f} s; {granted['relays']} relays, "
            f"{granted['substitutes']} substitutes, {granted['pending']} pending applications, "
            f"{granted['senate_relays']} senate relays; database "
            f"{database_megabytes(scratch):,.0f} MB"
        )
        results["members_population"] = {"written_directly": max(top_up, 0), "seconds": fill_s}
        results["members_population"].update(granted)
        bench_coverage(engine, args, results, scratch, empty)
        bench_reassign(engine, args, rng, results)
    results["members_seconds"] = time.perf_counter() - started
    base.say(f"\n  members benchmarks: {results['members_seconds']:.0f} s")


if __name__ == "__main__":
    sys.exit(base.main(["--members-only", *sys.argv[1:]]))
