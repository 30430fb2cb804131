"""``nextwork audit``: verify the hash chain of the audit log, or seal it now."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from nextwork.common.output import dumps

EPILOG = (
    "The worker (`nextwork worker`) seals new events every minute; `seal` does it at once. "
    "`verify` exits with 0 when the chain is intact, 1 when it is broken. Keep the head it "
    "prints (seq and hash) outside the database, with the backups: removing the latest events "
    "or re-sealing the whole chain is only visible against such a copy."
)


class Command(BaseCommand):
    help = (
        "Check the audit log's hash chain for changed, removed or reordered events (verify), "
        "or seal the events not sealed yet (seal)."
    )

    def add_arguments(self, parser):
        parser.epilog = EPILOG
        actions = parser.add_subparsers(
            dest="action",
            required=True,
            metavar="ACTION",
            help="verify or seal (each has --help)",
        )
        text = (
            "Recompute every hash of the chain in order; report the first broken event and why, "
            "and the events still unsealed. Exit status 0 when intact, 1 when broken."
        )
        verify = actions.add_parser("verify", help=text, description=text)
        verify.add_argument("--json", action="store_true", help="Print the report as JSON.")
        text = "Seal the events created more than 5 seconds ago that are not sealed yet."
        seal = actions.add_parser("seal", help=text, description=text)
        seal.add_argument("--json", action="store_true", help="Print the count as JSON.")

    def handle(self, *args, action: str, json: bool, **options):
        from nextwork.privacy import chain

        if action == "seal":
            count = chain.seal()
            self.stdout.write(dumps({"sealed": count}) if json else f"{count} events sealed.")
            return
        report = chain.verify()
        if json:
            self.stdout.write(dumps(report.as_dict()))
        else:
            if report.intact:
                self.stdout.write(f"Audit chain intact: {report.sealed} events sealed.")
            else:
                self.stdout.write(
                    f"Audit chain BROKEN at seq {report.broken_seq} ({report.problem}): "
                    f"{report.message}"
                )
            if report.head_seq is not None:
                self.stdout.write(f"Head: seq {report.head_seq} hash {report.head_hash}")
            self.stdout.write(f"Unsealed: {report.unsealed}.")
            for warning in report.warnings:
                self.stderr.write(f"warning: {warning}")
        if not report.intact:
            sys.exit(1)
