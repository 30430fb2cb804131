import csv
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rich.console import Console
from rich.progress import Progress

from nextwork.common.dberrors import disk_full_refused
from nextwork.common.errors import DomainError
from nextwork.common.output import dumps
from nextwork.network.imports import FIELDS, import_members
from nextwork.network.reassign import reassign_to_active_set
from nextwork.network.selectors import members_for_export
from nextwork.privacy.services import audit_record

EXPORT_COLUMNS = [
    "email",
    "first_name",
    "last_name",
    "phone",
    "constituency",
    "department",
    "confirmed",
]


class Command(BaseCommand):
    help = (
        "Import members from a CSV file, export them (every export is audited), or move them "
        "onto the active boundary set."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(
            dest="action", required=True, metavar="ACTION", help="import, export or reassign"
        )
        imp = sub.add_parser(
            "import",
            help="Import members from CSV: every row checked, then all or nothing.",
            description="Import members from a CSV file (UTF-8, UTF-8 with BOM or Windows-1252; "
            "comma, semicolon or tab). Every row is checked first; one bad row writes nothing. "
            "Known emails are updated, never duplicated. Imported members are not confirmed.",
        )
        imp.add_argument("file", type=Path, help="The CSV file.")
        imp.add_argument("--dry-run", action="store_true", help="Check and count, write nothing.")
        imp.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help=f"Read COLUMN as FIELD (one of {', '.join(FIELDS)}); repeatable.",
        )
        imp.add_argument("--json", action="store_true", help="Print the report as JSON.")
        exp = sub.add_parser("export", help="Export members (to standard output).")
        exp.add_argument(
            "--area",
            help="Only members of this constituency (75-02), department (75) or region (R11).",
        )
        exp.add_argument(
            "--format", choices=["csv", "json"], default="csv", help="Output format (csv)."
        )

        moves = sub.add_parser(
            "reassign",
            help="Move members, grants and applications onto the active boundary set.",
            description="Activating a boundary set (territories import) already does this in "
            "the same transaction; run it by hand to see what it would do (--dry-run) or after "
            "activating a set with an older version of the platform. Seats whose outline did "
            "not change keep their members; the others are placed again from the address "
            "point, commune, postcode or country; members no single seat fits any more are "
            "asked for their address again. Idempotent.",
        )
        moves.add_argument("--dry-run", action="store_true", help="Count, write nothing.")
        moves.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, action, **options):
        if action == "import":
            return self._import(**options)
        if action == "reassign":
            return self._reassign(**options)
        return self._export(**options)

    def _reassign(self, *, dry_run: bool, json: bool, **options):
        try:
            report = reassign_to_active_set(dry_run=dry_run)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if json:
            self.stdout.write(dumps(report.as_dict()))
            return
        verb = "would move" if dry_run else "moved"
        self.stdout.write(
            f"Boundary set #{report.boundary_set_id}: {verb} {report.locations} member "
            f"locations ({report.kept_seat} in the same seat, {report.changed_seat} to another "
            f"seat), {report.unplaced} members to ask for their address again, "
            f"{report.grants} grants ({report.grants_ended} ended: area gone), "
            f"{report.applications} pending applications ({report.applications_withdrawn} "
            "withdrawn: area gone)."
        )

    def _import(self, *, file: Path, dry_run: bool, map: list[str], json: bool, **options):
        mapping = {}
        for item in map:
            column, sep, target = item.partition("=")
            if not sep or not column.strip() or not target.strip():
                raise CommandError(f"--map: {item!r} should read COLUMN=FIELD.")
            mapping[column.strip()] = target.strip()
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"file: cannot read {file}: {exc.strerror}.") from exc
        console = Console(file=sys.stderr)
        try:
            # The import and its audit record are written together, or not at all.
            with (
                disk_full_refused("import"),  # named after the rollback, nothing kept
                transaction.atomic(),
                Progress(console=console, transient=True, disable=json) as bar,
            ):
                task = bar.add_task("Checking rows", total=None)
                report = import_members(
                    data,
                    mapping=mapping,
                    dry_run=dry_run,
                    progress=lambda n: bar.update(task, completed=n),
                )
                if not dry_run and not report.errors:
                    audit_record(
                        actor=None,
                        action="members.import",
                        details={
                            "rows": report.rows,
                            "created": report.created,
                            "updated": report.updated,
                        },
                    )
        except DomainError as exc:
            raise CommandError(f"{exc.field or 'file'}: {exc.message}") from exc
        if json:
            self.stdout.write(dumps(report.as_dict()))
        else:
            for error in report.errors[:200]:
                self.stderr.write(f"row {error.row}, {error.field}: {error.reason}")
            if len(report.errors) > 200:
                self.stderr.write(f"… and {len(report.errors) - 200} more errors")
            verb = "would be" if dry_run or report.errors else "were"
            self.stdout.write(
                f"{report.rows} rows ({report.encoding}, {report.delimiter!r}): "
                f"{report.created} members {verb} created, {report.updated} updated, "
                f"{report.duplicates_in_file} duplicated in the file, "
                f"{report.without_constituency} without a constituency, of which "
                f"{report.department_only} placed in their department (their place spans "
                "several seats: they choose theirs when they log in)."
            )
        if report.errors:
            raise CommandError(f"{len(report.errors)} bad rows: nothing was written.")

    def _export(self, *, area, format: str, **options):
        try:
            locations = members_for_export(area_code=area)
        except DomainError as exc:
            raise CommandError(f"--{exc.field}: {exc.message}") from exc
        rows = [
            {
                "email": loc.member.email,
                "first_name": loc.member.first_name,
                "last_name": loc.member.last_name,
                "phone": loc.member.phone,
                "constituency": loc.constituency.code if loc.constituency else "",
                "department": loc.department.code if loc.department else "",
                "confirmed": loc.member.confirmed_at is not None,
            }
            for loc in locations.iterator(chunk_size=2000)
        ]
        audit_record(
            actor=None,
            action="members.export",
            area_code=area or "",
            details={"count": len(rows), "format": format},
        )
        if format == "json":
            self.stdout.write(dumps(rows))
            return
        writer = csv.DictWriter(self.stdout, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
