"""`nextwork setup`: idempotent, admin only when asked, never a default password."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from nextwork.territories.models import BoundarySet


def run_setup(*args: str) -> str:
    out = StringIO()
    call_command("setup", *args, stdout=out)
    return out.getvalue()


def test_setup_is_idempotent_and_creates_no_admin_by_default(registry):
    first = run_setup()
    second = run_setup()
    assert "Territories already imported" in first and "Territories already imported" in second
    assert BoundarySet.objects.count() == 1
    assert not get_user_model().objects.exists()


def test_admin_gets_a_random_password_shown_once(registry, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    out = run_setup("--skip-territories", "--admin-email", "admin@example.org")
    password = out.split("shown once: ")[1].split()[0]
    admin = get_user_model().objects.get(email="admin@example.org")
    assert admin.is_superuser and admin.check_password(password)
    assert len(password) >= 20
    again = run_setup("--skip-territories", "--admin-email", "admin@example.org")
    assert "already exists" in again and "shown once" not in again
    admin.refresh_from_db()
    assert admin.check_password(password)


def test_bad_admin_email_is_refused_before_anything(db):
    with pytest.raises(CommandError, match="--admin-email"):
        run_setup("--admin-email", "not-an-email")
    assert not get_user_model().objects.exists()
