from django.core.management.base import BaseCommand

from nextwork.common.output import dumps
from nextwork.network.selectors import coverage
from nextwork.network.services import coverage_snapshot_take


class Command(BaseCommand):
    help = "Show the relay coverage of the 577 seats, or record today's snapshot (for cron)."

    def add_arguments(self, parser):
        parser.add_argument(
            "action",
            nargs="?",
            choices=["show", "snapshot"],
            default="show",
            help="show (default) or snapshot: record today's figures for the progress curve.",
        )
        parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")

    def handle(self, *args, action: str, json: bool, **options):
        if action == "snapshot":
            snapshot = coverage_snapshot_take()
            self.stdout.write(
                f"Snapshot of {snapshot.day}: {snapshot.covered}/{snapshot.total} seats covered."
            )
            return
        figures = coverage()
        if json:
            self.stdout.write(dumps(figures))
            return
        self.stdout.write(
            f"{figures['covered']}/{figures['total']} seats with a titular relay "
            f"({figures['ratio']:.0%}); {figures['substitute_only']} substitute only, "
            f"{figures['pending']} pending, {figures['uncovered']} uncovered. Senate: "
            f"{figures['senate']['departments_covered']}/{figures['senate']['departments_total']}"
            " departments."
        )
