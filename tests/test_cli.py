"""The ``nextwork`` command line: help texts, exit codes, JSON output."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError
from django.db import connections

from nextwork import cli

NEXTWORK = Path(sys.executable).with_name("nextwork")


@pytest.fixture
def keep_connection(monkeypatch):
    """``run_from_argv`` closes every connection when a command ends; in a test that would
    drop the test transaction. Keep it open (Django's own test client does the same)."""
    monkeypatch.setattr(connections, "close_all", lambda: None)


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------------------------
# Help
# --------------------------------------------------------------------------------------------


def test_help_lists_the_commands(capsys):
    code, out, _err = run_main(capsys, "--help")
    assert code == 0
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert {
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
        "manage",
    } == set(listed)
    for line in out.splitlines():
        if line.startswith("  "):
            assert len(line.split()) > 1, f"no help text for {line.strip()!r}"


def test_console_script_help(tmp_path):
    env = {**os.environ, "NEXTWORK_HOME": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [str(NEXTWORK), "--help"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    for name in cli.COMMANDS:
        assert f"  {name} " in done.stdout


def test_unknown_command(capsys):
    code, _out, err = run_main(capsys, "frobnicate")
    assert code == 2
    assert "frobnicate" in err


def test_version(capsys):
    code, out, _err = run_main(capsys, "--version")
    assert code == 0
    assert out.startswith("nextwork ")


# Options every Django command inherits from BaseCommand; Django documents them itself.
DJANGO_BASE_OPTIONS = {
    "--version",
    "--verbosity",
    "--settings",
    "--pythonpath",
    "--traceback",
    "--no-color",
    "--force-color",
    "--skip-checks",
}


def _undocumented(parser: argparse.ArgumentParser, where: str) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if set(action.option_strings) & DJANGO_BASE_OPTIONS:
            continue
        name = "/".join(action.option_strings) or action.dest
        if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
            missing.append(f"{where} {name}")
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for sub_name, sub_parser in action.choices.items():
                if not (helps.get(sub_name) or "").strip():
                    missing.append(f"{where} {sub_name} (subcommand)")
                missing += _undocumented(sub_parser, f"{where} {sub_name}")
    return missing


@pytest.mark.parametrize("name", cli.COMMANDS)
def test_every_command_and_argument_has_help(name):
    app = get_commands()[name]
    command = load_command_class(app, name)
    assert (command.help or "").strip(), f"{name} has no help text"
    if not app.startswith("nextwork"):
        return  # Django's own command (check): its arguments are Django's business
    parser = command.create_parser("nextwork", name)
    assert _undocumented(parser, name) == []


def test_territories_subcommands_are_introspected():
    """The help check above really descends into `territories import` and `status`."""
    command = load_command_class(get_commands()["territories"], "territories")
    parser = command.create_parser("nextwork", "territories")
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {"import", "status"} <= set(subparsers.choices)
    options = {o for a in subparsers.choices["import"]._actions for o in a.option_strings}
    assert {"--source", "--constituencies", "--dry-run", "--json"} <= options


def test_help_check_catches_a_missing_help():
    parser = argparse.ArgumentParser()
    parser.add_argument("--documented", help="Yes.")
    parser.add_argument("--bare")
    sub = parser.add_subparsers(dest="action")
    child = sub.add_parser("child")
    child.add_argument("--deep", help="")
    assert _undocumented(parser, "x") == [
        "x --bare",
        "x action",
        "x child (subcommand)",
        "x child --deep",
    ]


# --------------------------------------------------------------------------------------------
# locate
# --------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("registry", "keep_connection")
@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--lat", "91", "--lon", "2"], "--lat"),
        (["--lat", "45", "--lon", "west"], "--lon"),
        (["--lat", "45"], "--lon"),
        (["--postcode", "4800"], "--postcode"),
        (["--postcode", "00000"], "--postcode"),
        (["--commune", "99999"], "--commune"),
        (["--country", "Atlantide"], "--country"),
        (["--address", ""], "--address"),
    ],
)
def test_locate_errors_exit_non_zero_naming_the_option(capsys, argv, named):
    code, out, err = run_main(capsys, "locate", *argv)
    assert code != 0
    assert named in err
    assert out == ""


@pytest.mark.usefixtures("registry")
def test_locate_error_through_call_command():
    with pytest.raises(CommandError, match=r"^--lat: .*90"):
        call_command("locate", "--lat", "91", "--lon", "2")


@pytest.mark.usefixtures("registry", "keep_connection")
def test_locate_json(capsys):
    code, out, _err = run_main(capsys, "locate", "--postcode", "31000", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["precision"] == "postcode"
    assert result["ambiguous"] is True
    assert len(result["candidates"]) >= 2
    assert all(c["code"].startswith("31-") for c in result["candidates"])
    assert "Haute-Garonne" in out  # not escaped: ensure_ascii is off


@pytest.mark.usefixtures("registry", "keep_connection")
def test_locate_text(capsys):
    code, out, _err = run_main(capsys, "locate", "--lat", "44.518", "--lon", "3.501")
    assert code == 0
    assert out.splitlines()[0] == "Precision: point"
    assert "48-01  Lozère (1re circonscription)" in out


@pytest.mark.usefixtures("registry", "keep_connection")
def test_locate_vacant_seat_text(capsys):
    code, out, _err = run_main(capsys, "locate", "--country", "CH")
    assert code == 0
    assert "99-06" in out
    assert "Siège vacant" in out


def _test_database_url() -> str:
    """The URL of the test database, whichever engine the suite runs on."""
    db = connections["default"].settings_dict
    if connections["default"].vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.usefixtures("registry")
def test_console_script_exit_code(tmp_path, django_db_blocker):
    """The installed entry point, in a subprocess reading the (committed) test database."""
    env = {
        **os.environ,
        "NEXTWORK_HOME": str(tmp_path),
        "DATABASE_URL": _test_database_url(),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [str(NEXTWORK), "locate", "--lat", "91", "--lon", "2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode != 0
    assert "--lat" in done.stderr
    assert done.stdout == ""


# --------------------------------------------------------------------------------------------
# territories
# --------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("registry", "keep_connection")
def test_territories_status_json(capsys):
    code, out, _err = run_main(capsys, "territories", "status", "--json")
    assert code == 0
    sets = json.loads(out)
    active = [s for s in sets if s["active"]]
    assert len(active) == 1
    assert active[0]["counts"]["constituency"] == 577
    assert 50 <= active[0]["split_communes"] <= 500


@pytest.mark.usefixtures("registry", "keep_connection")
def test_territories_import_bad_geojson_exits_non_zero(capsys, tmp_path):
    path = tmp_path / "seats.geojson"
    path.write_text("not json")
    code, _out, err = run_main(
        capsys, "territories", "import", "--constituencies", str(path), "--json"
    )
    assert code != 0
    assert "constituencies" in err
    assert "not valid JSON" in err


def test_territories_without_action_is_refused(capsys):
    code, _out, err = run_main(capsys, "territories")
    assert code != 0
    assert "ACTION" in err or "required" in err
