"""The Twilio provider against a real HTTP server on 127.0.0.1 replaying Twilio's documented
answers (tests/fixtures/twilio/): what is sent (form fields, basic auth), and how each answer
becomes a message id, a temporary failure or a permanent one — never quoting the number."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from django.core.exceptions import ImproperlyConfigured

from nextwork.messaging.errors import PermanentFailure, TemporaryFailure
from nextwork.messaging.sms import get_provider
from nextwork.messaging.sms.twilio import TwilioProvider

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "twilio"
SID = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
TOKEN = "test-auth-token"
NUMBER = "+33612345678"

# name -> (HTTP status, fixture, extra headers)
ANSWERS = {
    "created": (201, "message_created.json", {}),
    "invalid": (400, "invalid_number.json", {}),
    "busy": (429, "too_many_requests.json", {"Retry-After": "7"}),
    "broken": (500, "server_error.json", {}),
    "unauthorised": (401, "authenticate.json", {}),
    "html": (502, None, {}),
}


class Twilio(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Twilio's API does
    answer = "created"
    delay = 0.0
    requests: list[dict] = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        type(self).requests.append(
            {
                "path": self.path,
                "headers": dict(self.headers),
                "form": {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()},
                "port": self.client_address[1],
            }
        )
        if type(self).delay:
            time.sleep(type(self).delay)
        status, fixture, headers = ANSWERS[type(self).answer]
        if fixture:
            body, content_type = (FIXTURES / fixture).read_bytes(), "application/json"
        else:
            body, content_type = b"<html>Bad Gateway</html>", "text/html"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Twilio)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def twilio(server, settings):
    """The configured provider, talking to the local server."""
    Twilio.requests.clear()
    Twilio.answer, Twilio.delay = "created", 0.0
    settings.NEXTWORK_SMS_PROVIDER = "twilio"
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_FROM = "+33757000000"
    settings.TWILIO_MESSAGING_SERVICE_SID = None
    settings.TWILIO_API_URL = server
    settings.NEXTWORK_SITE_URL = "https://reseau.example.org"
    settings.NEXTWORK_SMS_TIMEOUT = 5.0
    return get_provider()


def test_a_message_is_posted_as_twilio_documents_it(twilio):
    body = "Rendez-vous samedi 10 h devant la mairie. Venez nombreux ! 🎉"
    message_id = twilio.send(to="06 12 34 56 78", body=body, reference="delivery-41")
    assert message_id == "SM1f0e8ae6ade43cb3c0ce4525424e404f"
    (request,) = Twilio.requests
    assert request["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert (
        request["headers"]["Authorization"]
        == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    )
    assert request["form"] == {
        "To": NUMBER,  # normalised to E.164
        "From": "+33757000000",
        "Body": body,
        "StatusCallback": "https://reseau.example.org/sms/twilio/status/?ref=delivery-41",
    }


def test_a_messaging_service_replaces_the_sender(twilio, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MGbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
    get_provider().send(to=NUMBER, body="Bonjour", reference="d-1")
    form = Twilio.requests[-1]["form"]
    assert form["MessagingServiceSid"] == "MGbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
    assert "From" not in form


def test_one_connection_serves_many_messages(twilio):
    for n in range(3):
        twilio.send(to=NUMBER, body=f"Message {n}", reference=f"d-{n}")
    assert len({r["port"] for r in Twilio.requests}) == 1
    assert get_provider() is twilio


def test_a_closed_provider_opens_a_new_connection_on_the_next_send(twilio):
    # The delivery engine closes the provider after each message; get_provider() keeps it.
    twilio.send(to=NUMBER, body="Premier", reference="d-1")
    twilio.close()
    assert get_provider() is twilio
    twilio.send(to=NUMBER, body="Second", reference="d-2")
    assert [r["form"]["Body"] for r in Twilio.requests] == ["Premier", "Second"]
    assert Twilio.requests[0]["port"] != Twilio.requests[1]["port"]


def test_an_invalid_number_is_permanent_and_never_quoted(twilio, caplog):
    Twilio.answer = "invalid"
    caplog.set_level(logging.DEBUG, logger="nextwork")
    with pytest.raises(PermanentFailure) as error:
        twilio.send(to=NUMBER, body="Texte confidentiel", reference="d-7")
    assert error.value.code == "twilio-21211"
    assert "invalid" in error.value.reason
    for text in (str(error.value), error.value.reason, caplog.text):
        assert "612345678" not in text and "confidentiel" not in text
    assert "d-7" in caplog.text  # the reference is what the logs follow


def test_too_many_requests_is_retried_when_twilio_says(twilio):
    Twilio.answer = "busy"
    with pytest.raises(TemporaryFailure) as error:
        twilio.send(to=NUMBER, body="Bonjour", reference="d-1")
    assert error.value.code == "twilio-20429"
    assert error.value.retry_after == 7


@pytest.mark.parametrize(("answer", "code"), [("broken", "twilio-20500"), ("html", "twilio-502")])
def test_server_errors_are_temporary(twilio, answer, code):
    Twilio.answer = answer
    with pytest.raises(TemporaryFailure) as error:
        twilio.send(to=NUMBER, body="Bonjour", reference="d-1")
    assert error.value.code == code
    assert error.value.retry_after is None


def test_wrong_credentials_do_not_fail_the_recipients_for_good(twilio, caplog):
    Twilio.answer = "unauthorised"
    with pytest.raises(TemporaryFailure) as error:
        twilio.send(to=NUMBER, body="Bonjour", reference="d-1")
    assert error.value.code == "twilio-20003"
    assert "TWILIO_AUTH_TOKEN" in error.value.reason
    assert error.value.retry_after == 300
    assert any(r.levelno == logging.ERROR for r in caplog.records)


def test_a_slow_twilio_is_a_timeout(twilio, settings):
    settings.NEXTWORK_SMS_TIMEOUT = 0.2
    Twilio.delay = 1.0
    with pytest.raises(TemporaryFailure) as error:
        get_provider().send(to=NUMBER, body="Bonjour", reference="d-1")
    assert error.value.code == "twilio-timeout"


def test_an_unreachable_twilio_is_temporary(twilio, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.TWILIO_API_URL = f"http://127.0.0.1:{port}"
    with pytest.raises(TemporaryFailure) as error:
        get_provider().send(to=NUMBER, body="Bonjour", reference="d-1")
    assert error.value.code == "twilio-connection"


@pytest.mark.parametrize("number", ["12", "not a number", "", "+33 1"])
def test_an_invalid_number_is_refused_before_any_request(twilio, number):
    with pytest.raises(PermanentFailure) as error:
        twilio.send(to=number, body="Bonjour", reference="d-1")
    assert error.value.code == "invalid-number"
    assert Twilio.requests == []


def test_an_empty_text_is_refused_before_any_request(twilio):
    with pytest.raises(PermanentFailure) as error:
        twilio.send(to=NUMBER, body="  ", reference="d-1")
    assert error.value.code == "empty-body"
    assert Twilio.requests == []


@pytest.mark.parametrize(
    ("missing", "named"),
    [("TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN"), ("TWILIO_FROM", "TWILIO_FROM")],
)
def test_a_missing_setting_is_named(settings, missing, named):
    settings.NEXTWORK_SMS_PROVIDER = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = SID, TOKEN
    settings.TWILIO_FROM, settings.TWILIO_MESSAGING_SERVICE_SID = "+33757000000", None
    setattr(settings, missing, None)
    with pytest.raises(ImproperlyConfigured, match=named):
        get_provider()


def test_the_recorded_answers_are_twilio_shaped():
    created = json.loads((FIXTURES / "message_created.json").read_text())
    assert created["sid"].startswith("SM") and created["status"] == "queued"
    assert isinstance(TwilioProvider, type)
