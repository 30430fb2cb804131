from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Run background tasks (messages to send, reminders, daily coverage snapshot) "
        "from the database queue; run one beside `nextwork serve`."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch",
            action="store_true",
            help="Run the tasks that are due, then exit (for cron or a one-off catch-up).",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="Seconds to wait when the queue is empty before looking again (default: 1).",
        )

    def handle(self, *args, batch: bool, interval: float, **options):
        if not 0 < interval <= 3600:
            raise CommandError("--interval must be between 0 and 3600 seconds.")
        from nextwork.common.schedule import ensure_planned
        from nextwork.messaging.tasks import plan_sweep, resume_stalled

        for path in ensure_planned():
            self.stdout.write(f"planned now: {path}")
        for message_id in resume_stalled():  # a worker died while sending: take over
            self.stdout.write(f"resuming message #{message_id}")
        plan_sweep()  # and look again regularly (NEXTWORK_SEND_SWEEP)
        if not batch:
            self.stdout.write("nextwork worker is running (Ctrl+C stops it)")
            self.stdout.flush()
        call_command(
            "db_worker",
            "--queue-name",
            "default",
            "--interval",
            str(interval),
            "--no-startup-delay",
            *(["--batch"] if batch else []),
        )
