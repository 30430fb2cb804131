"""Passwords (Argon2, common ones refused), lockout after failed logins, sessions (rotated at
login, idle expiry, gone at logout, log out everywhere)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client

from nextwork.network.security import sessions
from nextwork.privacy.models import AuditEvent

PASSWORD = "correct horse battery staple"


# -- passwords ---------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["base", "production"])
def test_new_passwords_are_hashed_with_argon2(tmp_path, module):
    code = (
        "import django; django.setup()\n"
        "from django.contrib.auth.hashers import make_password\n"
        "print(make_password('correct horse battery staple'))\n"
    )
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DJANGO_SETTINGS_MODULE=f"nextwork.settings.{module}",
        NEXTWORK_HOME=str(tmp_path),
        SECRET_KEY="t3st-" + "x7Qp!aZ9" * 8,
        ALLOWED_HOSTS="example.org",
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("argon2$argon2id$")


def _reset_form(client, member):
    client.post("/connexion/mot-de-passe/", {"email": member.email})
    link = re.search(r"https?://[^/]+(/connexion/mot-de-passe/\S+/)", mail.outbox[-1].body)
    return client.get(link.group(1), follow=True).redirect_chain[-1][0]


def test_password_reset_refuses_a_common_password_in_french(client, make_member):
    member = make_member("Ana")
    form = _reset_form(client, member)
    response = client.post(form, {"new_password1": "password123", "new_password2": "password123"})
    assert response.status_code == 200
    assert "Ce mot de passe est trop courant" in response.content.decode()
    member.refresh_from_db()
    assert member.check_password(PASSWORD)  # the old one still works: nothing lost


def test_password_change_refuses_a_common_password_and_keeps_the_old(client, make_member):
    member = make_member("Ana")
    client.force_login(member)
    response = client.post(
        "/espace/securite/mot-de-passe/",
        {"old_password": PASSWORD, "new_password1": "azertyuiop", "new_password2": "azertyuiop"},
    )
    assert response.status_code == 400
    assert "Ce mot de passe est trop courant" in response.content.decode()
    member.refresh_from_db()
    assert member.check_password(PASSWORD)


def test_sign_up_asks_for_no_password_so_none_can_be_common(client, db):
    # Sign-up asks for no password (an emailed link confirms the address): a member chooses
    # one only through the reset or change forms above, which apply the validators.
    page = client.get("/inscription/").content.decode()
    assert 'type="password"' not in page


# -- lockout -----------------------------------------------------------------------------------


def _login(client, email, password):
    return client.post("/connexion/", {"username": email, "password": password})


def test_an_account_is_locked_after_repeated_failures_even_for_the_right_password(
    client, make_member, settings
):
    settings.NEXTWORK_LOGIN_MAX_FAILURES = 3
    member = make_member("Ana")
    for _ in range(3):
        assert _login(client, member.email, "wrong password").status_code == 200
    response = _login(client, member.email, PASSWORD)
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    body = response.content.decode()
    assert "Trop de tentatives de connexion ont échoué : réessayez dans 15 minutes." in body
    event = AuditEvent.objects.get(action="auth.lockout")
    assert event.details == {"scope": "account", "failures": 3}
    assert member.email not in str(event.details) and event.actor is None


def test_the_lock_lifts_after_the_lockout_period(client, make_member, settings, monkeypatch):
    import time

    from django.core.cache.backends import locmem

    settings.NEXTWORK_LOGIN_MAX_FAILURES = 2
    member = make_member("Ana")
    for _ in range(2):
        _login(client, member.email, "wrong password")
    _login(client, member.email, PASSWORD)
    assert "_auth_user_id" not in client.session
    # Fifteen minutes and a second later, as the cache's clock sees it.
    later = time.time() + 15 * 60 + 1
    monkeypatch.setattr(locmem.time, "time", lambda: later)
    assert _login(client, member.email, PASSWORD).status_code == 302


def test_a_success_resets_the_account_counter(client, make_member, settings):
    settings.NEXTWORK_LOGIN_MAX_FAILURES = 3
    member = make_member("Ana")
    for _ in range(2):
        _login(client, member.email, "wrong password")
    assert _login(client, member.email, PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        _login(client, member.email, "wrong password")
    assert _login(client, member.email, PASSWORD).status_code == 302  # 2 + 2 never reached 3


def test_one_address_failing_on_many_accounts_is_locked(client, make_member, settings):
    settings.NEXTWORK_LOGIN_MAX_FAILURES = 2  # an address gets four times as many: 8
    victims = [make_member(f"V{i}") for i in range(8)]
    for victim in victims:
        _login(client, victim.email, "wrong password")
    fresh = make_member("Ana")
    response = _login(client, fresh.email, PASSWORD)
    assert "_auth_user_id" not in client.session
    assert "Trop de tentatives" in response.content.decode()
    assert AuditEvent.objects.filter(action="auth.lockout", details__scope="ip").count() == 1
    other = Client(REMOTE_ADDR="10.0.0.9")  # another address is not affected
    assert _login(other, fresh.email, PASSWORD).status_code == 302


def test_the_cache_never_holds_the_email(client, make_member, settings):
    from django.core.cache import cache

    member = make_member("Ana")
    _login(client, member.email, "wrong password")
    keys = " ".join(cache._cache.keys())
    assert "lockout:fail:account:" in keys and member.email not in keys


def test_the_admin_login_locks_out_too(client, make_member, settings):
    settings.NEXTWORK_LOGIN_MAX_FAILURES = 2
    admin = make_member("Admin")
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    form = {"username": admin.email, "password": "wrong password", "next": "/admin/"}
    for _ in range(2):
        assert client.post("/admin/login/", form).status_code == 200
    response = client.post("/admin/login/", {**form, "password": PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert "Trop de tentatives de connexion" in response.content.decode()


def test_login_link_requests_are_rate_limited(client, make_member):
    member = make_member("Ana")
    for _ in range(3):
        assert client.post("/connexion/lien/", {"email": member.email}).status_code == 200
    assert client.post("/connexion/lien/", {"email": member.email}).status_code == 429
    assert len(mail.outbox) == 3


# -- sessions ----------------------------------------------------------------------------------


def test_the_session_key_changes_at_login(client, make_member):
    member = make_member("Ana")
    client.get("/connexion/")
    session = client.session
    session["before"] = "login"
    session.save()
    before = session.session_key
    assert _login(client, member.email, PASSWORD).status_code == 302
    after = client.session.session_key
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()


def test_logout_deletes_the_session_row(client, make_member):
    member = make_member("Ana")
    _login(client, member.email, PASSWORD)
    key = client.session.session_key
    assert Session.objects.filter(session_key=key).exists()
    client.post("/deconnexion/")
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get("/espace/").status_code == 302


def _age(client, seconds):
    session = client.session
    session[sessions.LAST_SEEN_KEY] = sessions.now() - seconds
    session.save()


def test_an_idle_session_ends(client, make_member, settings):
    settings.NEXTWORK_SESSION_IDLE_MINUTES = 120
    member = make_member("Ana")
    _login(client, member.email, PASSWORD)
    assert client.get("/espace/").status_code == 200
    _age(client, 119 * 60)
    assert client.get("/espace/").status_code == 200  # still within the limit: and touched
    _age(client, 121 * 60)
    key = client.session.session_key
    response = client.get("/espace/")
    assert response.status_code == 302 and response["Location"].startswith("/connexion/")
    assert not Session.objects.filter(session_key=key).exists()


def test_staff_sessions_end_after_thirty_idle_minutes(client, people, settings):
    client.force_login(people["coord75"])
    assert client.get("/espace/").status_code == 200
    _age(client, 29 * 60)
    assert client.get("/espace/").status_code == 200
    _age(client, 31 * 60)
    assert client.get("/espace/").status_code == 302


def test_log_out_everywhere_ends_every_session_of_the_member_only(make_member):
    ana, lou = make_member("Ana"), make_member("Lou")
    phone, laptop, other = Client(), Client(), Client()
    for c, m in ((phone, ana), (laptop, ana), (other, lou)):
        assert _login(c, m.email, PASSWORD).status_code == 302
    assert laptop.post("/espace/securite/deconnexion-partout/").status_code == 302
    assert phone.get("/espace/").status_code == 302
    assert laptop.get("/espace/").status_code == 302
    assert other.get("/espace/").status_code == 200
    left = [s.get_decoded().get("_auth_user_id") for s in Session.objects.all()]
    assert str(ana.pk) not in left and str(lou.pk) in left


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(make_member):
    ana = make_member("Ana")
    phone, laptop = Client(), Client()
    for c in (phone, laptop):
        _login(c, ana.email, PASSWORD)
    new = "une phrase de passe toute neuve 2026"
    response = laptop.post(
        "/espace/securite/mot-de-passe/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert laptop.get("/espace/").status_code == 200
    assert phone.get("/espace/").status_code == 302
    ana.refresh_from_db()
    assert ana.check_password(new)
    mine = [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(ana.pk)]
    assert len(mine) == 1
