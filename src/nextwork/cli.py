"""The ``nextwork`` command: every subcommand is a Django management command of ours.

``nextwork --help`` lists them with their help text; ``nextwork manage ...`` reaches Django's own
commands (``migrate``, ``createsuperuser``…) for operators who need them.
"""

from __future__ import annotations

import os
import sys

# Our subcommands, in the order --help shows them.
COMMANDS = (
    "setup",
    "serve",
    "worker",
    "backup",
    "restore",
    "territories",
    "locate",
    "members",
    "coverage",
    "demo",
    "mobilisation",
    "listen",
    "audit",
    "retention",
    "check",
)


def _django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nextwork.settings.base")
    import django

    django.setup()


def command_help() -> dict[str, str]:
    from django.core.management import load_command_class

    helps = {}
    for name in COMMANDS:
        app = "django.core" if name == "check" else "nextwork.common"
        if name in ("territories", "locate"):
            app = "nextwork.territories"
        if name in ("members", "coverage", "demo"):
            app = "nextwork.network"
        if name == "mobilisation":
            app = "nextwork.mobilisation"
        if name == "listen":
            app = "nextwork.monitoring"
        if name in ("audit", "retention"):
            app = "nextwork.privacy"
        helps[name] = load_command_class(app, name).help.strip().splitlines()[0]
    helps["manage"] = "Run any Django management command (migrate, createsuperuser, shell…)."
    return helps


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _django_setup()
    from django.core.management import ManagementUtility

    if not argv or argv[0] in ("-h", "--help", "help"):
        print("usage: nextwork COMMAND [options]\n")
        print("Self-hosted organizing platform: territories, relays, action days.\n")
        print("commands:")
        for name, text in command_help().items():
            print(f"  {name:<12} {text}")
        print("\n`nextwork COMMAND --help` tells more about each command.")
        return 0
    if argv[0] in ("-V", "--version"):
        from nextwork import __version__

        print(f"nextwork {__version__}")
        return 0
    if argv[0] == "manage":
        argv = argv[1:]
    elif argv[0] not in COMMANDS:
        print(f"nextwork: unknown command {argv[0]!r}; see `nextwork --help`.", file=sys.stderr)
        return 2
    utility = ManagementUtility(["nextwork", *argv])
    utility.prog_name = "nextwork"
    try:
        utility.execute()
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
