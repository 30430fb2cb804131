import getpass
import secrets
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from nextwork.network.models import normalise_email
from nextwork.territories.models import BoundarySet


class Command(BaseCommand):
    help = (
        "Prepare this instance (idempotent): create the data folder, apply migrations, "
        "import the territories, collect static files, and create an admin when asked."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--admin-email",
            help="Create (or keep) a staff superuser with this email. The password is asked "
            "for on a terminal, otherwise a random one is printed once.",
        )
        parser.add_argument(
            "--skip-territories",
            action="store_true",
            help="Do not import the territory registry (for a quick start on an empty base).",
        )

    def handle(self, *args, admin_email=None, skip_territories=False, **options):
        if admin_email:  # refuse bad input before doing anything
            try:
                validate_email(admin_email)
            except ValidationError as exc:
                raise CommandError(
                    f"--admin-email: {admin_email!r} is not a valid email address."
                ) from exc
        settings.HOME.mkdir(parents=True, exist_ok=True)
        self.stdout.write(f"Data folder: {settings.HOME}")
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database schema is up to date.")
        if not skip_territories:
            if BoundarySet.objects.filter(active=True).exists():
                self.stdout.write(
                    "Territories already imported (`nextwork territories import` refreshes them)."
                )
            else:
                call_command("territories", "import", stdout=self.stdout, stderr=self.stderr)
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write("Static files collected.")
        if admin_email:
            self._admin(admin_email)

    def _admin(self, email: str) -> None:
        User = get_user_model()
        if User.objects.filter(email=normalise_email(email)).exists():
            self.stdout.write(f"Admin {email} already exists; its password is unchanged.")
            return
        if sys.stdin.isatty():
            password = getpass.getpass("Admin password: ")
            if password != getpass.getpass("Again: "):
                raise CommandError("The two passwords differ.")
            shown = False
        else:
            password = secrets.token_urlsafe(18)
            shown = True
        from django.contrib.auth.password_validation import validate_password

        try:
            validate_password(password)
        except ValidationError as exc:
            raise CommandError("Password refused: " + " ".join(exc.messages)) from exc
        User.objects.create_superuser(email, password)
        self.stdout.write(f"Admin {email} created.")
        if shown:
            self.stdout.write(f"Its password, shown once: {password}")
