from django.core.management.base import BaseCommand, CommandError

from nextwork.common.errors import DomainError
from nextwork.network.demo import DOMAIN, seed_demo


class Command(BaseCommand):
    help = (
        "Seed a clearly labelled demonstration network (generated people, relays in about a "
        "third of the seats, pending applications, a coverage curve); refuses real data."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--members", type=int, default=3000, help="Generated members (default 3000)."
        )
        parser.add_argument(
            "--coverage", type=float, default=0.34, help="Share of seats with a relay (0.34)."
        )

    def handle(self, *args, members: int, coverage: float, **options):
        if not 0 < members <= 1_000_000:
            raise CommandError("--members: between 1 and 1,000,000.")
        if not 0 <= coverage <= 1:
            raise CommandError("--coverage: between 0 and 1.")
        try:
            figures = seed_demo(members=members, coverage=coverage)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Demo network seeded: {figures['members']} members (@{DOMAIN}), "
            f"{figures['relays']} titular relays, {figures['pending']} pending applications."
        )
        self.stdout.write(
            f"Staff login: {figures['staff_login']} / {figures['staff_password']} (shown once)"
        )
