"""Documentation that must follow the code."""

from pathlib import Path

from nextwork.settings import env

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented():
    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = [name for name in env.SETTINGS if f"`{name}`" not in text]
    assert not missing, f"document these settings in docs/configuration.md: {missing}"


def test_every_setting_has_help():
    assert all(s.help.strip() for s in env.SETTINGS.values())


def test_readme_opens_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("## ")[0]
    assert "make run" in head and "make test" in head


def test_every_cli_command_is_in_the_readme():
    from nextwork.cli import COMMANDS

    readme = (ROOT / "README.md").read_text()
    assert all(f"nextwork {name}" in readme for name in COMMANDS)
