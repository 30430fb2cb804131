import json as jsonlib
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from nextwork.common.backup import BackupError, checked_archive, member_count, restore


class Command(BaseCommand):
    help = (
        "Restore a backup made by `nextwork backup`: check it, replace the database and "
        "uploaded files, migrate, compare the counts. Stop the site and workers first."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The backup (.tar.gz) to restore.")
        parser.add_argument(
            "--yes",
            action="store_true",
            help="Replace a database that holds members (without it, the restore refuses).",
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, file: Path, yes: bool, json: bool, **options):
        console = Console(file=self.stdout, highlight=False, soft_wrap=True)
        try:
            with checked_archive(file) as checked:
                manifest = checked.manifest
                members = member_count()
                if members and not yes:
                    raise CommandError(
                        f"This database holds {members:,} member(s). --yes replaces all of its "
                        f"data with the backup of {manifest.created_at} "
                        f"({sum(manifest.counts.values()):,} rows in {len(manifest.counts)} "
                        "tables); anything written since that backup is lost."
                    )
                if not json:
                    console.print(
                        f"Backup of {manifest.created_at} (nextwork {manifest.nextwork_version}, "
                        f"{manifest.vendor}): every SHA-256 is right."
                    )
                    if checked.pending:
                        console.print(
                            f"It is older than the code: {len(checked.pending)} migrations "
                            "will be applied after the restore."
                        )
                result = restore(
                    checked,
                    migrate=lambda: call_command("migrate", interactive=False, verbosity=0),
                )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        if json:
            self.stdout.write(
                jsonlib.dumps(
                    {
                        "created_at": result.manifest.created_at,
                        "replaced_members": result.replaced_members,
                        "counts_match": result.counts_match,
                        "counts": [c.__dict__ for c in result.counts],
                        "steps": result.steps,
                    },
                    indent=2,
                )
            )
            return
        table = Table("table", "in backup", "now", "")
        for c in result.counts:
            table.add_row(
                c.table,
                "—" if c.expected is None else f"{c.expected:,}",
                "—" if c.actual is None else f"{c.actual:,}",
                "" if c.same else "[yellow]differs[/yellow]",
            )
        console.print(table)
        for line in result.steps:
            console.print(line)
        if result.counts_match:
            console.print("[green]Restored: every table has the backup's row count.[/green]")
        else:
            differ = sum(1 for c in result.counts if not c.same)
            console.print(
                f"[yellow]Restored; {differ} tables differ from the backup's counts "
                "(expected when migrations ran after the restore).[/yellow]"
            )
