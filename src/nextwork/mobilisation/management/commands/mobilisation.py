"""``nextwork manage mobilisation``: the reminders of electoral mobilisation, for cron."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from nextwork.common.output import dumps

EPILOG = (
    "The worker (`nextwork worker`) runs the same reminders every day; this command is for "
    "sites that prefer cron, or to see what a run would send (--dry-run). Running it twice "
    "sends nothing twice."
)


class Command(BaseCommand):
    help = (
        "Send the reminders of electoral mobilisation: the registration drive before an "
        "election's deadline (remind-registration) and the polling-day reminders of each round "
        "(remind-polling)."
    )

    def add_arguments(self, parser):
        parser.epilog = EPILOG
        actions = parser.add_subparsers(
            dest="action",
            required=True,
            metavar="ACTION",
            help="remind-registration or remind-polling (each has --help)",
        )
        for name, text in (
            (
                "remind-registration",
                "Remind the members concerned by each published election whose registration "
                "drive is open (NEXTWORK_REGISTRATION_REMINDER_DAYS before the deadline, until "
                "the deadline) who are not registered, unsure or silent: once per election.",
            ),
            (
                "remind-polling",
                "Remind the members concerned by a round held tomorrow (from noon) or today "
                "(until the polling stations close), as NEXTWORK_POLLING_REMINDERS says: "
                "once per round.",
            ),
        ):
            sub = actions.add_parser(name, help=text, description=text)
            sub.add_argument("--election", metavar="SLUG", help="Only this election (its slug).")
            sub.add_argument(
                "--dry-run",
                action="store_true",
                help="Count who would be reminded, by channel; send and record nothing.",
            )
            sub.add_argument("--json", action="store_true", help="Print the counts as JSON.")

    def handle(self, *args, action: str, election: str | None, dry_run: bool, json: bool,
               **options):  # fmt: skip
        from nextwork.mobilisation import reminders
        from nextwork.mobilisation.models import Election

        if election and not Election.objects.filter(slug=election).exists():
            raise CommandError(f"No election {election!r}.")
        if action == "remind-registration":
            outcomes = [
                reminders.registration_drive(e, dry_run=dry_run)
                for e in reminders.drives_open()
                if not election or e.slug == election
            ]
        else:
            outcomes = [
                reminders.polling_day(r, dry_run=dry_run)
                for r in reminders.rounds_open()
                if not election or r.election.slug == election
            ]
        if json:
            self.stdout.write(dumps([o.as_dict() for o in outcomes]))
            return
        if not outcomes:
            self.stdout.write("No election or round is open for these reminders today.")
            return
        verb = "would send" if dry_run else "sent"
        for o in outcomes:
            line = (
                f"{o.name}: {o.status}"
                + (f" ({o.detail})" if o.detail else "")
                + f"; {verb} {o.email} emails, {o.sms} SMS; {o.unreachable} without consent; "
                f"{o.already} reminded before"
            )
            self.stdout.write(line)
