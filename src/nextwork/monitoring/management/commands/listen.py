"""``nextwork manage listen``: read the streamed monitoring sources (Bluesky's Jetstream), one
thread each, until SIGTERM or SIGINT (Ctrl+C) or ``--max-seconds``; on stopping, each source's
last batch is stored and its cursor saved (``monitoring.streams``)."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from nextwork.monitoring import streams
from nextwork.monitoring.models import Source


class Command(BaseCommand):
    help = (
        "Listen to the active streamed monitoring sources (Bluesky's Jetstream) until stopped "
        "(SIGTERM or Ctrl+C); posts are stored every 200 events or 2 seconds and a dropped "
        "connection resumes where it stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--source",
            type=int,
            action="append",
            dest="sources",
            metavar="ID",
            help="Listen to this source only (its id; repeat for several). Default: every "
            "active streamed source.",
        )
        parser.add_argument(
            "--max-seconds",
            type=float,
            default=None,
            metavar="N",
            help="Stop cleanly after N seconds (for a trial run or a scheduled window). "
            "Default: until stopped.",
        )

    def handle(self, *args, sources: list[int] | None, max_seconds: float | None, **options):
        if max_seconds is not None and max_seconds <= 0:
            raise CommandError("--max-seconds must be more than 0.")
        found = Source.objects.filter(active=True, kind__in=streams.streamed_kinds())
        if sources:
            missing = sorted(set(sources) - set(found.filter(pk__in=sources).values_list(
                "pk", flat=True)))  # fmt: skip
            if missing:
                raise CommandError(f"No active streamed source with id {missing[0]} "
                                   "(polled sources are read by the worker).")  # fmt: skip
        elif not found.exists():
            self.stdout.write("No active streamed source to listen to.")
            return
        stop = threading.Event()
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, lambda *_: stop.set())
        self.stdout.write("nextwork listen is running (Ctrl+C stops it)")
        self.stdout.flush()
        try:
            results = streams.listen(sources or None, stop=stop, max_seconds=max_seconds)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        for pk, stats in sorted(results.items()):
            self.stdout.write(f"source #{pk}: {stats if stats else 'stopped by an error'}")
