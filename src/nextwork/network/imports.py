"""Importing members from a spreadsheet export: every row checked first, then all or nothing.

Files come from spreadsheets: UTF-8 (with or without BOM) or Windows-1252, comma, semicolon or
tab separated, French or English headers. Rows are matched to members by email: a known address
is updated, never duplicated. Imported members are not confirmed until they opt in themselves.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from nextwork.common.errors import DomainError, InvalidInput
from nextwork.network.models import Member, MemberLocation, Precision, normalise_email
from nextwork.network.signup import clean_phone
from nextwork.territories.lookup import get_engine
from nextwork.territories.models import Area, AreaKind

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
    engine = get_engine()
    cleaned: dict[str, dict] = {}
    for number, row in rows:
        report.rows += 1
        if progress and report.rows % 1000 == 0:
            progress(report.rows)
        try:
            member = _clean_row(engine, row)
        except DomainError as exc:
            report.errors.append(RowError(number, exc.field or "row", exc.message))
            continue
        if member["email"] in cleaned:
            report.duplicates_in_file += 1
        cleaned[member["email"]] = member
    if report.errors or dry_run:
        _count(report, cleaned)
        return report
    with transaction.atomic():
        _write(engine, cleaned, report)
    return report


def _clean_row(engine, row: dict) -> dict:
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
        "precision": None,
        "commune": None,
        "country": None,
    }
    for name, locate in (
        ("commune", engine.locate_commune),
        ("postcode", engine.locate_postcode),
        ("country", engine.locate_country),
    ):
        value = row.get(name)
        if value:
            result = locate(value)
            if len(result["candidates"]) == 1:
                member["seat"] = result["candidates"][0]["code"]
                member["precision"] = result["precision"]
                member["commune"] = (result.get("commune") or {}).get("code")
                member["country"] = (result.get("country") or {}).get("code")
                member["postcode"] = value if name == "postcode" else ""
            break
    return member


def _count(report: ImportReport, cleaned: dict[str, dict]) -> None:
    existing = {
        email
        for chunk in _chunks(list(cleaned))
        for email in Member.objects.filter(email__in=chunk).values_list("email", flat=True)
    }
    report.updated = len(existing)
    report.created = len(cleaned) - len(existing)
    report.without_constituency = sum(1 for m in cleaned.values() if m["seat"] is None)


def _write(engine, cleaned: dict[str, dict], report: ImportReport) -> None:
    _count(report, cleaned)
    areas = Area.objects.filter(boundary_set_id=engine.boundary_set_id)
    seat_ids = dict(areas.filter(kind=AreaKind.CONSTITUENCY).values_list("code", "pk"))
    unit_ids = dict(
        areas.filter(kind__in=[AreaKind.COMMUNE, AreaKind.ARRONDISSEMENT]).values_list("code", "pk")
    )
    country_ids = dict(areas.filter(kind=AreaKind.COUNTRY).values_list("code", "pk"))
    existing = {
        m.email: m
        for chunk in _chunks(list(cleaned))
        for m in Member.objects.filter(email__in=chunk)
    }
    unusable = make_password(None)  # one unusable hash serves every imported member
    new = [
        Member(
            email=e,
            first_name=m["first_name"],
            last_name=m["last_name"],
            phone=m["phone"],
            password=unusable,
        )
        for e, m in cleaned.items()
        if e not in existing
    ]
    Member.objects.bulk_create(new, batch_size=2000)
    changed = []
    for email, member in existing.items():
        row = cleaned[email]
        for name in ("first_name", "last_name", "phone"):
            if row[name]:
                setattr(member, name, row[name])
        changed.append(member)
    Member.objects.bulk_update(changed, ["first_name", "last_name", "phone"], batch_size=2000)

    ids = {
        email: pk
        for chunk in _chunks(list(cleaned))
        for email, pk in Member.objects.filter(email__in=chunk).values_list("email", "pk")
    }
    placed = {ids[e]: m for e, m in cleaned.items() if m["seat"]}
    now = timezone.now()
    for chunk in _chunks(list(placed)):
        MemberLocation.objects.filter(member_id__in=chunk, valid_to__isnull=True).update(
            valid_to=now
        )
    MemberLocation.objects.bulk_create(
        [
            MemberLocation(
                member_id=pk,
                constituency_id=seat_ids[m["seat"]],
                commune_id=unit_ids.get(m["commune"]) if m["commune"] else None,
                country_id=country_ids.get(m["country"]) if m["country"] else None,
                postcode=m.get("postcode", ""),
                precision=m["precision"] or Precision.POSTCODE,
                valid_from=now,
            )
            for pk, m in placed.items()
        ],
        batch_size=2000,
    )


# SQLite builds cap the parameters of one statement (32,766 by default): large files are
# looked up in slices.
CHUNK = 5000


def _chunks(values: list) -> list[list]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]
