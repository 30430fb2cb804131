from django.core.management.base import BaseCommand, CommandError

from nextwork.common.errors import DomainError
from nextwork.common.output import dumps
from nextwork.territories.lookup import locate


class Command(BaseCommand):
    help = (
        "Find the constituency, deputy and senators of a point, postcode, commune, country "
        "or address."
    )

    def add_arguments(self, parser):
        parser.add_argument("--lat", help="Latitude (WGS84), with --lon.")
        parser.add_argument("--lon", help="Longitude (WGS84), with --lat.")
        parser.add_argument("--postcode", help="French postcode, such as 48000.")
        parser.add_argument("--commune", help="INSEE commune code, such as 31555.")
        parser.add_argument(
            "--country", help="Country of a French resident abroad: ISO code (DE) or French name."
        )
        parser.add_argument("--address", help="Free-text postal address.")
        parser.add_argument("--json", action="store_true", help="Print the lookup result as JSON.")

    def handle(self, *args, lat, lon, postcode, commune, country, address, json: bool, **o):
        try:
            result = locate(
                lat=lat, lon=lon, postcode=postcode, commune=commune, country=country, q=address
            )
        except DomainError as exc:
            name = {"q": "address"}.get(exc.field or "", exc.field or "query")
            raise CommandError(f"--{name}: {exc.message}") from exc
        if json:
            self.stdout.write(dumps(result))
            return
        flag = " (ambiguous: several candidates)" if result["ambiguous"] else ""
        self.stdout.write(f"Precision: {result['precision']}{flag}")
        for warning in result["warnings"]:
            self.stdout.write(f"Warning: {warning}")
        for c in result["candidates"]:
            share = f" — {c['share']:.0%}" if c.get("share") is not None else ""
            self.stdout.write(f"{c['code']}  {c['name']}{share}")
            deputy = c["deputy"]
            self.stdout.write(
                f"    {deputy['title']} : {deputy['name']} ({deputy['group'] or 'sans groupe'})"
                if deputy
                else "    Siège vacant"
            )
            for s in c["senators"]:
                self.stdout.write(f"    {s['title']} : {s['name']}")
