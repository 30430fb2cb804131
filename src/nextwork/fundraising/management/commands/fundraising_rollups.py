from django.core.management.base import BaseCommand
from django.db import transaction

from nextwork.fundraising import rollups


class Rollback(Exception):
    pass


class Command(BaseCommand):
    help = (
        "Rebuild the monthly roll-ups of the donation analytics from the donations (after a "
        "change of TIME_ZONE, or donations loaded into the database directly), or --check them."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="Compare the roll-ups with a rebuild, change nothing; exit status 1 if they "
            "differ.",
        )

    def handle(self, *args, check: bool, **options):
        if not check:
            counts = rollups.rebuild()
            self.stdout.write(
                f"Rebuilt: {counts['amounts']} month × amount rows, {counts['persons']} "
                f"month × person rows, {counts['places']} month × place rows."
            )
            return
        before = rollups.snapshot()
        try:
            with transaction.atomic():
                rollups.rebuild()
                after = rollups.snapshot()
                raise Rollback
        except Rollback:
            pass
        differ = {name for name in before if before[name] != after[name]}
        if differ:
            self.stderr.write(
                f"The roll-ups differ from the donations: {', '.join(sorted(differ))}."
            )
            raise SystemExit(1)
        self.stdout.write("The roll-ups match the donations.")
