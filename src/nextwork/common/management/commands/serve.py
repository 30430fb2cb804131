from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve the site with gunicorn (static files by whitenoise); not Django's runserver."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on.")
        parser.add_argument("--workers", type=int, default=2, help="Worker processes (default: 2).")
        parser.add_argument(
            "--threads", type=int, default=4, help="Threads per worker (default: 4)."
        )

    def handle(self, *args, host, port, workers, threads, **options):
        if not 0 < port < 65536:
            raise CommandError(f"--port: {port} is not a TCP port.")
        if workers < 1 or threads < 1:
            raise CommandError("--workers and --threads must be at least 1.")
        from nextwork.common.server import run

        shown_host = f"[{host}]" if ":" in host else host
        self.stdout.write(f"nextwork is running at http://{shown_host}:{port}/ (Ctrl+C stops it)")
        self.stdout.flush()
        run(host=host, port=port, workers=workers, threads=threads)
