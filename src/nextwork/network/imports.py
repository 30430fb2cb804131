"""Importing members from a spreadsheet export: every row checked first, then all or nothing.

Files come from spreadsheets: UTF-8 (with or without BOM) or Windows-1252, comma, semicolon or
tab separated, French or English headers. Rows are matched to members by email: a known address
is updated, never duplicated. Imported members are not confirmed until they opt in themselves.
"""

from __future__ import annotations

import csv
import io
import itertools
import unicodedata
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone

from nextwork.common.dberrors import disk_full_refused
from nextwork.common.errors import DomainError, InvalidInput
from nextwork.network.models import Member, MemberLocation, Precision, normalise_email
from nextwork.network.signals import phone_changed
from nextwork.network.signup import clean_phone
from nextwork.territories.lookup import get_engine
from nextwork.territories.models import SENATE_KINDS, Area, AreaKind

FIELDS = ("email", "first_name", "last_name", "phone", "postcode", "commune", "country")
# Header spellings found in French and English exports, compared without accents or case.
ALIASES = {
    "email": [
        "email",
        "e-mail",
        "mail",
        "courriel",
        "adresse email",
        "adresse e-mail",
        "adresse electronique",
    ],
    "first_name": ["first_name", "first name", "firstname", "prenom"],
    "last_name": ["last_name", "last name", "lastname", "nom", "nom de famille"],
    "phone": ["phone", "telephone", "tel", "mobile", "portable"],
    "postcode": ["postcode", "postal code", "zip", "code postal", "cp"],
    "commune": ["commune", "code insee", "insee", "code commune"],
    "country": ["country", "pays"],
}
MAX_BYTES = 200 * 1024 * 1024


def _key(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in text if not unicodedata.combining(c)).replace("_", " ").strip()


@dataclass
class RowError:
    row: int
    field: str
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    duplicates_in_file: int = 0
    without_constituency: int = 0
    department_only: int = 0  # of which placed in their department, the seat left to choose
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    encoding: str = ""
    delimiter: str = ""

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "duplicates_in_file": self.duplicates_in_file,
            "without_constituency": self.without_constituency,
            "department_only": self.department_only,
            "errors": [e.__dict__ for e in self.errors],
            "dry_run": self.dry_run,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
        }


def decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="strict"), "cp1252"


def read_rows(data: bytes, mapping: dict[str, str] | None = None):
    """Decode, sniff the dialect, map headers to fields; yields (line number, {field: value})."""
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"The file is larger than {MAX_BYTES // 2**20} MB.", field="file")
    try:
        text, encoding = decode(data)
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "The file is neither UTF-8 nor Windows-1252 text.", field="file"
        ) from exc
    sample = text[: 64 * 1024]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("The file is empty.", field="file") from None
    columns = _columns(header, mapping or {})
    if "email" not in columns.values():
        raise InvalidInput(
            "No email column: name it 'email' or 'courriel', or map it with --map COLUMN=email.",
            field="file",
        )

    def rows():
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            yield number, {columns[i]: cells[i].strip() for i in columns if i < len(cells)}

    return rows(), encoding, delimiter


def _columns(header: list[str], mapping: dict[str, str]) -> dict[int, str]:
    explicit = {_key(column): target for column, target in mapping.items()}
    for target in explicit.values():
        if target not in FIELDS:
            raise InvalidInput(
                f"--map: unknown field {target!r}; fields are {', '.join(FIELDS)}.", field="map"
            )
    aliases = {_key(a): f for f, names in ALIASES.items() for a in names}
    columns: dict[int, str] = {}
    for index, name in enumerate(header):
        target = explicit.get(_key(name)) or aliases.get(_key(name))
        if target and target not in columns.values():
            columns[index] = target
    missing = set(explicit) - {_key(h) for h in header}
    if missing:
        raise InvalidInput(
            f"--map: no column named {sorted(missing)[0]!r} in the file.", field="map"
        )
    return columns


def import_members(
    data: bytes,
    *,
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check every row, then write all of them in one transaction, or nothing if one is bad."""
    rows, encoding, delimiter = read_rows(data, mapping)
    report = ImportReport(dry_run=dry_run, encoding=encoding, delimiter=delimiter)
    locate = _Locator(get_engine())
    cleaned: dict[str, dict] = {}
    for number, row in rows:
        report.rows += 1
        if progress and report.rows % 1000 == 0:
            progress(report.rows)
        try:
            member = _clean_row(locate, row)
        except DomainError as exc:
            report.errors.append(RowError(number, exc.field or "row", exc.message))
            continue
        if member["email"] in cleaned:
            report.duplicates_in_file += 1
        cleaned[member["email"]] = member
    existing = _existing_ids(list(cleaned))
    report.updated = len(existing)
    report.created = len(cleaned) - len(existing)
    report.without_constituency = sum(1 for m in cleaned.values() if m["seat"] is None)
    report.department_only = sum(
        1 for m in cleaned.values() if m["seat"] is None and m["department"]
    )
    if report.errors or dry_run:
        return report
    with disk_full_refused("import"), transaction.atomic(), _large_cache():
        _write(locate.engine, cleaned, existing)
    return report


@contextmanager
def _large_cache():
    """SQLite keeps 2 MB of pages by default: the unique indexes of a large import outgrow it."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone()
        cursor.execute("PRAGMA cache_size = -131072")  # 128 MB, for this import only
        try:
            yield
        finally:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


class _Locator:
    """The engine's code look-ups, remembered: a file names a few thousand postcodes at most."""

    def __init__(self, engine):
        self.engine = engine
        self.methods = {
            "commune": engine.locate_commune,
            "postcode": engine.locate_postcode,
            "country": engine.locate_country,
        }
        self.known: dict[tuple[str, str], dict | DomainError] = {}

    def __call__(self, name: str, value: str) -> dict:
        key = (name, value)
        found = self.known.get(key)
        if found is None:
            try:
                found = self.methods[name](value)
            except DomainError as exc:
                found = exc
            self.known[key] = found
        if isinstance(found, DomainError):
            raise found
        return found


def _clean_row(locate: _Locator, row: dict) -> dict:
    email = normalise_email(row.get("email", ""))
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(
            f"{email or 'empty'}: not a valid email address.", field="email"
        ) from None
    member = {
        "email": email,
        "first_name": row.get("first_name", "")[:100],
        "last_name": row.get("last_name", "")[:100],
        "phone": clean_phone(row.get("phone")),
        "seat": None,
        "department": None,
        "precision": None,
        "commune": None,
        "country": None,
        "postcode": "",
    }
    for name in ("commune", "postcode", "country"):
        value = row.get(name)
        if value:
            result = locate(name, value)
            candidates = result["candidates"]
            departments = {_department(c) for c in candidates}
            # Several seats are not guessed between; their common department is still known.
            if len(departments) == 1 and None not in departments:
                member["department"] = departments.pop()
                member["seat"] = candidates[0]["code"] if len(candidates) == 1 else None
                member["precision"] = result["precision"]
                member["commune"] = (result.get("commune") or {}).get("code")
                member["country"] = (result.get("country") or {}).get("code")
                member["postcode"] = value.strip() if name == "postcode" else ""
            break
    return member


def _department(candidate: dict) -> tuple[str, str] | None:
    department = candidate.get("department")
    return (department["kind"], department["code"]) if department else None


def _existing_ids(emails: list[str]) -> dict[str, int]:
    """Member ids by email, read in slices (plain SQL: the ORM's IN compiler is slow)."""
    meta = Member._meta
    quote = connection.ops.quote_name
    email, key = quote(meta.get_field("email").column), quote(meta.pk.column)
    found: dict[str, int] = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(emails):
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"SELECT {email}, {key} FROM {quote(meta.db_table)} WHERE {email} IN ({marks})",  # noqa: S608
                chunk,
            )
            found.update(cursor.fetchall())
    return found


def _write(engine, cleaned: dict[str, dict], existing: dict[str, int]) -> None:
    """Plain INSERT and UPDATE statements, many rows per call.

    The ORM's ``bulk_create`` prepared every value of every instance one by one, which cost
    more than the validation and the database together (docs/benchmarks.md): here the values
    that are the same for every row are prepared once, and the rows go to ``executemany``.
    """
    areas = Area.objects.filter(boundary_set_id=engine.boundary_set_id)
    seat_ids = dict(areas.filter(kind=AreaKind.CONSTITUENCY).values_list("code", "pk"))
    unit_ids = dict(
        areas.filter(kind__in=[AreaKind.COMMUNE, AreaKind.ARRONDISSEMENT]).values_list("code", "pk")
    )
    country_ids = dict(areas.filter(kind=AreaKind.COUNTRY).values_list("code", "pk"))
    department_ids = {
        (kind, code): pk
        for pk, kind, code in areas.filter(kind__in=SENATE_KINDS).values_list("pk", "kind", "code")
    }
    now = timezone.now()
    member_field = Member._meta.get_field
    created_at = member_field("created_at").get_db_prep_save(now, connection)
    # What UUIDField.get_db_prep_value does, without its per-value checks.
    if connection.features.has_native_uuid_field:
        new_id = uuid.uuid4
    else:

        def new_id():
            return uuid.uuid4().hex

    unusable = make_password(None)  # one unusable hash serves every imported member
    _insert(
        Member,
        (
            "public_id", "email", "first_name", "last_name", "phone", "password",
            "is_superuser", "is_active", "is_staff", "public_relay", "created_at",
        ),
        (
            (
                new_id(), email, m["first_name"], m["last_name"],
                m["phone"], unusable, False, False, False, False, created_at,
            )
            for email, m in cleaned.items()
            if email not in existing
        ),
    )  # fmt: skip
    # A known member keeps what the file leaves empty.
    new_numbers = _phones_changing(cleaned, existing)
    _update(
        Member,
        ("first_name", "last_name", "phone"),
        (
            (m["first_name"], m["last_name"], m["phone"], existing[email])
            for email, m in cleaned.items()
            if email in existing
        ),
    )
    # Another number is a new number: SMS consents given for the old one do not follow it.
    for chunk in _chunks(list(new_numbers)):
        for member in Member.objects.filter(pk__in=chunk):
            phone_changed.send(
                sender=Member, member=member, previous=new_numbers[member.pk], by="import"
            )
    ids = {**existing, **_existing_ids([e for e in cleaned if e not in existing])}
    placed = {ids[e]: m for e, m in cleaned.items() if m["department"]}
    moved = [ids[e] for e in existing if cleaned[e]["department"]]
    for chunk in _chunks(moved):
        MemberLocation.objects.filter(member_id__in=chunk, valid_to__isnull=True).update(
            valid_to=now
        )
    valid_from = MemberLocation._meta.get_field("valid_from").get_db_prep_save(now, connection)
    _insert(
        MemberLocation,
        (
            "member", "constituency", "department", "commune", "country", "postcode",
            "precision", "valid_from",
        ),
        (
            (
                pk, seat_ids[m["seat"]] if m["seat"] else None, department_ids[m["department"]],
                unit_ids.get(m["commune"]) if m["commune"] else None,
                country_ids.get(m["country"]) if m["country"] else None, m["postcode"],
                m["precision"] or Precision.POSTCODE, valid_from,
            )
            for pk, m in placed.items()
        ),
    )  # fmt: skip


def _phones_changing(cleaned: dict[str, dict], existing: dict[str, int]) -> dict[int, str]:
    """Known members to whom the file brings a different phone number: {id: previous number}.

    An empty cell keeps the number, so only non-empty cells are compared (both sides E.164).
    """
    numbers = {existing[e]: m["phone"] for e, m in cleaned.items() if e in existing and m["phone"]}
    changing = {}
    for chunk in _chunks(list(numbers)):
        for pk, phone in Member.objects.filter(pk__in=chunk).values_list("pk", "phone"):
            if phone != numbers[pk]:
                changing[pk] = phone
    return changing


def _insert(model, names: tuple[str, ...], rows) -> None:
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in names)
    values = ", ".join(["%s"] * len(names))
    # Names come from the model's metadata, every value is a parameter.
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({values})"  # noqa: S608
    _execute_many(sql, rows)


def _update(model, names: tuple[str, ...], rows) -> None:
    """UPDATE by primary key; an empty value leaves the column as it is."""
    meta = model._meta
    quote = connection.ops.quote_name
    assignments = ", ".join(
        f"{quote(column)} = COALESCE(NULLIF(%s, ''), {quote(column)})"
        for column in (meta.get_field(name).column for name in names)
    )
    table, key = quote(meta.db_table), quote(meta.pk.column)
    sql = f"UPDATE {table} SET {assignments} WHERE {key} = %s"  # noqa: S608
    _execute_many(sql, rows)


def _execute_many(sql: str, rows, batch: int = 10_000) -> None:
    rows = iter(rows)
    with connection.cursor() as cursor:
        while chunk := list(itertools.islice(rows, batch)):
            cursor.executemany(sql, chunk)


# SQLite builds cap the parameters of one statement (32,766 by default): large files are
# looked up in slices.
CHUNK = 5000


def _chunks(values: list) -> list[list]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]
