import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console

from nextwork.common.backup import BackupError, create_backup


class Command(BaseCommand):
    help = (
        "Back up the database and uploaded files into one .tar.gz (mode 0600, it holds "
        "personal data); safe while the site runs. See docs/backup.md."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            type=Path,
            help="File to write (default: "
            "NEXTWORK_HOME/backups/nextwork-backup-<UTC time>.tar.gz).",
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, output: Path | None, json: bool, **options):
        try:
            result = create_backup(output=output)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = result.manifest
        if json:
            self.stdout.write(_json(result))
            return
        console = Console(file=self.stdout, highlight=False, soft_wrap=True)
        rows = sum(manifest.counts.values())
        media = sum(1 for name in manifest.files if name.startswith("media/"))
        console.print(f"Backup written: [bold]{result.path}[/bold]")
        console.print(f"  size     {result.size:,} bytes")
        console.print(f"  sha256   {result.sha256}")
        console.print(
            f"  holds    {manifest.vendor} database, {len(manifest.counts)} tables, "
            f"{rows:,} rows, {media} uploaded files"
        )
        console.print("Keep it as safe as the database: it holds members' personal data.")


def _json(result) -> str:
    return json.dumps(
        {
            "path": str(result.path),
            "size": result.size,
            "sha256": result.sha256,
            "manifest": result.manifest.__dict__,
        },
        indent=2,
    )
