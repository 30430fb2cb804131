"""The SMS provider registry and the providers that send nothing (console, file)."""

from __future__ import annotations

import json
import stat

import pytest
from django.core.exceptions import ImproperlyConfigured

from nextwork.messaging.errors import PermanentFailure
from nextwork.messaging.sms import SmsProvider, get_provider, register
from nextwork.messaging.sms.base import providers, redact
from nextwork.messaging.sms.local import ConsoleProvider, FileProvider


class Pigeon(SmsProvider):
    """A provider an organisation would plug in by its dotted path."""

    name = "pigeon"
    sent: list[tuple[str, str, str]] = []

    def send(self, *, to, body, reference):
        type(self).sent.append((to, body, reference))
        return f"pigeon-{len(self.sent)}"


def test_console_is_the_default_and_prints_no_number_nor_text(settings, capsys, caplog):
    settings.NEXTWORK_SMS_PROVIDER = None
    provider = get_provider()
    assert isinstance(provider, ConsoleProvider)
    message_id = provider.send(to="06 12 34 56 78", body="Manif samedi", reference="d-3")
    assert message_id.startswith("console-")
    out = capsys.readouterr().out
    assert "…78" in out and "d-3" in out and "1 segment" in out
    for text in (out, caplog.text):
        assert "612345678" not in text and "12 34 56" not in text and "Manif" not in text


def test_the_file_outbox_keeps_what_would_have_been_sent(settings, tmp_path):
    outbox = tmp_path / "dev" / "outbox.jsonl"
    settings.NEXTWORK_SMS_PROVIDER = "file"
    settings.NEXTWORK_SMS_FILE = str(outbox)
    provider = get_provider()
    assert isinstance(provider, FileProvider)
    first = provider.send(to="0612345678", body="Fête ce soir 🎉", reference="d-1")
    provider.send(to="+33 7 57 00 00 01", body="a" * 161, reference="d-2")
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert [(r["to"], r["reference"], r["encoding"], r["segments"]) for r in lines] == [
        ("+33612345678", "d-1", "ucs2", 1),
        ("+33757000001", "d-2", "gsm7", 2),
    ]
    assert lines[0]["id"] == first and lines[0]["body"] == "Fête ce soir 🎉"
    assert provider.read() == lines
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o600  # it holds numbers


def test_a_provider_by_dotted_path(settings):
    settings.NEXTWORK_SMS_PROVIDER = f"{__name__}.Pigeon"
    provider = get_provider()
    assert isinstance(provider, Pigeon)
    assert provider.send(to="+33612345678", body="Coucou", reference="d-9") == "pigeon-1"


def test_a_registered_provider_by_name(settings):
    register(Pigeon)
    settings.NEXTWORK_SMS_PROVIDER = "pigeon"
    assert isinstance(get_provider(), Pigeon)
    assert {"console", "file", "twilio", "pigeon"} <= set(providers())


def test_the_provider_is_built_again_when_the_settings_change(settings, tmp_path):
    settings.NEXTWORK_SMS_PROVIDER = "file"
    settings.NEXTWORK_SMS_FILE = str(tmp_path / "a.jsonl")
    first = get_provider()
    assert get_provider() is first
    settings.NEXTWORK_SMS_FILE = str(tmp_path / "b.jsonl")
    assert get_provider() is not first and get_provider().path.name == "b.jsonl"


@pytest.mark.parametrize("name", ["carrier-pigeon", "nextwork.nowhere.Provider", "json.dumps"])
def test_an_unknown_provider_is_a_clear_configuration_error(settings, name):
    settings.NEXTWORK_SMS_PROVIDER = name
    with pytest.raises(ImproperlyConfigured, match="NEXTWORK_SMS_PROVIDER"):
        get_provider()


def test_register_refuses_what_is_not_a_provider():
    with pytest.raises(TypeError):
        register(dict)


def test_an_invalid_number_is_permanent_for_every_provider(tmp_path):
    for provider in (ConsoleProvider(), FileProvider(tmp_path / "o.jsonl")):
        with pytest.raises(PermanentFailure) as error:
            provider.send(to="123", body="Bonjour", reference="d-1")
        assert error.value.code == "invalid-number" and "123" not in str(error.value)


@pytest.mark.parametrize(
    ("number", "shown"), [("+33612345678", "…78"), ("", "…"), ("7", "…"), ("06 12 34 56 09", "…09")]
)
def test_redact_keeps_the_last_two_digits(number, shown):
    assert redact(number) == shown
