"""EMAIL_URL selects an anymail backend; the webhook secrets come from the environment."""

from __future__ import annotations

import pytest

from nextwork.settings import base, env


def test_an_anymail_url_selects_the_provider_and_its_options(monkeypatch):
    monkeypatch.setenv(
        "EMAIL_URL",
        "anymail+mailgun://key-%2Fabc@api.eu.mailgun.net/v3?sender_domain=mg.example.org",
    )
    assert base._email() == {
        "EMAIL_BACKEND": "anymail.backends.mailgun.EmailBackend",
        "ANYMAIL": {
            "MAILGUN_API_KEY": "key-/abc",
            "MAILGUN_API_URL": "https://api.eu.mailgun.net/v3",
            "MAILGUN_SENDER_DOMAIN": "mg.example.org",
        },
    }


def test_an_anymail_url_without_host_keeps_the_provider_default(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "anymail+postmark://?server_token=abc")
    assert base._email() == {
        "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
        "ANYMAIL": {"POSTMARK_SERVER_TOKEN": "abc"},
    }


@pytest.mark.parametrize(
    "scheme", ["anymail+nosuchesp", "anymail+base", "anymail+mail-gun", "anymail+"]
)
def test_an_unknown_provider_is_refused_with_its_name(monkeypatch, scheme):
    monkeypatch.setenv("EMAIL_URL", f"{scheme}://key@host")
    with pytest.raises(env.ConfigurationError, match="django-anymail has no"):
        base._email()


def test_smtp_urls_are_unchanged(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "smtp+tls://u:p@mail.example.org:587")
    got = base._email()
    assert got["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert "ANYMAIL" not in got


def test_the_webhook_settings_are_documented():
    assert "ANYMAIL_WEBHOOK_SECRET" in env.SETTINGS
    assert "MAILGUN_WEBHOOK_SIGNING_KEY" in env.SETTINGS
