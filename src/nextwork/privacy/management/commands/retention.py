"""``nextwork retention``: apply the retention policies now, or see what they would purge."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from nextwork.common.output import dumps

EPILOG = (
    "The worker (`nextwork worker`) applies them every night at 03:40. Each policy's setting "
    "is a number of days (0 disables it); docs/processing-register.md says what each purges "
    "and why its default."
)


class Command(BaseCommand):
    help = (
        "Apply the retention policies (unconfirmed sign-ups, inactive members, donors, monitored "
        "posts, message deliveries, logs, audit log): print what each purged, or with --dry-run "
        "would."
    )

    def add_arguments(self, parser):
        parser.epilog = EPILOG
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be purged; change nothing."
        )
        parser.add_argument("--json", action="store_true", help="Print the results as JSON.")

    def handle(self, *args, dry_run: bool, json: bool, **options):
        from nextwork.privacy import retention

        results = retention.apply_all(dry_run=dry_run)
        if json:
            self.stdout.write(
                dumps({"dry_run": dry_run, "policies": [r.as_dict() for r in results]})
            )
            return
        verb = "would purge" if dry_run else "purged"
        for r in results:
            if not r.enabled:
                self.stdout.write(f"{r.name}: disabled ({r.setting}=0)")
                continue
            rows = ", ".join(f"{n} {label}" for label, n in r.rows.items()) or "nothing"
            line = f"{r.name} ({r.setting}={r.days} days): {verb} {rows}"
            self.stdout.write(line + (f"; {r.note}" if r.note else ""))
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
