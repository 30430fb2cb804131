"""Twilio Programmable Messaging, through its REST API (``httpx``, no SDK).

Sending is one form-encoded POST per SMS to
``{TWILIO_API_URL}/2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP basic auth
(account SID, auth token): ``To``, ``From`` or ``MessagingServiceSid``, ``Body`` and a
``StatusCallback`` pointing at our status webhook. Twilio answers 201 with the Message
resource, whose ``sid`` (``SM…``) is the id we keep.

How answers become failures:

- 201/200 with a ``sid``: sent.
- 429, 5xx, timeouts, connection errors, and the 400 "queue full" (21611): temporary, with
  ``retry_after`` from ``Retry-After`` when Twilio gives it.
- 401/403 (wrong account SID or token, 20003): temporary too, on purpose: the recipients are
  not at fault and must not be marked failed for good by a configuration mistake; the error
  is logged so the operator fixes it, and the sender retries later.
- other 4xx: permanent, coded ``twilio-<Twilio error code>`` (21211 invalid number, 21610 the
  recipient replied STOP to this sender, 21614 not a mobile, …).

Twilio's own error ``message`` is never copied: it quotes the phone number.

A timeout may hide a message Twilio did accept: retrying it may send it twice. The REST API
has no idempotency key for Messages, so the sender's retry policy decides.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import logging
import time
from collections.abc import Iterable
from urllib.parse import urlencode

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from nextwork.messaging.errors import PermanentFailure, TemporaryFailure
from nextwork.messaging.sms.base import SmsProvider, e164, redact, register

logger = logging.getLogger("nextwork.messaging.sms")

API_VERSION = "2010-04-01"
DEFAULT_API_URL = "https://api.twilio.com"

# Reasons we may show, by Twilio error code (Twilio's own text quotes the number).
ERRORS = {
    20003: "authentication refused: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN",
    20429: "too many requests",
    21211: "invalid 'To' number",
    21408: "no permission to send to this region",
    21606: "the 'From' number cannot send SMS",
    21610: "the recipient replied STOP to this sender",
    21611: "the sender's queue is full",
    21612: "Twilio cannot route to this number",
    21614: "the number is not a mobile number",
    21617: "the text is longer than 1600 characters",
    30003: "unreachable handset",
    30004: "message blocked",
    30005: "unknown destination handset",
    30006: "landline or unreachable carrier",
    30007: "filtered by the carrier",
    30008: "unknown error",
}
TEMPORARY_CODES = {21611}


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_code(response: httpx.Response) -> int | None:
    try:
        data = response.json()
    except ValueError:
        return None
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, int) else None


@register
class TwilioProvider(SmsProvider):
    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_: str = "",
        messaging_service_sid: str = "",
        api_url: str = DEFAULT_API_URL,
        status_callback: str = "",
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ):
        if not account_sid or not auth_token:
            raise ImproperlyConfigured(
                "The twilio SMS provider needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN."
            )
        if not from_ and not messaging_service_sid:
            raise ImproperlyConfigured(
                "The twilio SMS provider needs TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID."
            )
        self.account_sid = account_sid
        self.from_ = from_
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback
        self.url = (
            f"{(api_url or DEFAULT_API_URL).rstrip('/')}/{API_VERSION}/Accounts/"
            f"{account_sid}/Messages.json"
        )
        self._client_options = {
            "auth": (account_sid, auth_token),
            "timeout": timeout,
            "transport": transport,
            "headers": {"Accept": "application/json", "User-Agent": "nextwork-sms"},
        }
        self._client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        # One client for every send: connections (and TLS sessions) are reused. The sender
        # closes the provider after each message; the next send opens a new client.
        if self._client is None or self._client.is_closed:
            self._client = httpx.Client(**self._client_options)
        return self._client

    @classmethod
    def from_settings(cls) -> TwilioProvider:
        site = (getattr(settings, "NEXTWORK_SITE_URL", "") or "").rstrip("/")
        callback = f"{site}{reverse('messaging:sms-twilio-status')}" if site else ""
        return cls(
            account_sid=settings.TWILIO_ACCOUNT_SID or "",
            auth_token=settings.TWILIO_AUTH_TOKEN or "",
            from_=settings.TWILIO_FROM or "",
            messaging_service_sid=settings.TWILIO_MESSAGING_SERVICE_SID or "",
            api_url=settings.TWILIO_API_URL or DEFAULT_API_URL,
            status_callback=callback,
            timeout=settings.NEXTWORK_SMS_TIMEOUT,
        )

    def send(self, *, to: str, body: str, reference: str) -> str:
        number = e164(to)
        if not body or not body.strip():
            raise PermanentFailure("empty-body", "the text is empty")
        form = {"To": number, "Body": body}
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        else:
            form["From"] = self.from_
        if self.status_callback:
            # Our reference rides in the (signed) callback URL: a report that arrives before
            # the sender recorded Twilio's id still finds its delivery.
            form["StatusCallback"] = f"{self.status_callback}?{urlencode({'ref': reference})}"
        try:
            response = self.client.post(self.url, data=form)
        except httpx.TimeoutException as exc:
            logger.warning("Twilio timed out (ref %s, to %s)", reference, redact(number))
            raise TemporaryFailure("twilio-timeout", "Twilio did not answer in time") from exc
        except httpx.TransportError as exc:
            logger.warning("Twilio unreachable (ref %s): %s", reference, type(exc).__name__)
            raise TemporaryFailure("twilio-connection", "Twilio could not be reached") from exc
        return self._answer(response, reference, number)

    def _answer(self, response: httpx.Response, reference: str, number: str) -> str:
        status = response.status_code
        if status in (200, 201):
            try:
                sid = response.json().get("sid")
            except (ValueError, AttributeError):
                sid = None
            if not sid:
                raise TemporaryFailure("twilio-bad-answer", f"HTTP {status} without a message sid")
            return str(sid)
        code = _error_code(response)
        label = f"twilio-{code or status}"
        reason = ERRORS.get(code, "") if code else ""
        reason = reason or f"HTTP {status}"
        retry_after = _retry_after(response.headers.get("Retry-After"))
        if status == 429 or status >= 500 or code in TEMPORARY_CODES:
            logger.warning("Twilio asks to retry (ref %s): %s", reference, label)
            raise TemporaryFailure(label, reason, retry_after=retry_after)
        if status in (401, 403):
            logger.error("Twilio refused our credentials (ref %s): %s", reference, label)
            raise TemporaryFailure(label, reason, retry_after=retry_after or 300.0)
        logger.info("Twilio refused an SMS (ref %s, to %s): %s", reference, redact(number), label)
        raise PermanentFailure(label, reason)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


# -- webhook signatures -------------------------------------------------------------------------


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's X-Twilio-Signature of a request: base64 of HMAC-SHA1, keyed by the auth
    token, over the full URL followed by every POST parameter, sorted by name (then value),
    each written name then value with no separator."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_valid(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], given: str | None
) -> bool:
    if not auth_token or not given:
        return False
    expected = signature(auth_token, url, params)
    return hmac.compare_digest(expected.encode(), given.strip().encode())
