"""Twilio's calls to us: replies (STOP) and delivery reports. Server to server, so no CSRF;
each request is authenticated by its X-Twilio-Signature instead.

The signature covers the public URL Twilio called — ``NEXTWORK_SITE_URL`` plus the path and
query string — and the POST parameters (see ``twilio.signature``). A missing or wrong
signature answers 403 with a JSON error and changes nothing; a body over 64 KiB answers 413.
Accepted requests answer an empty TwiML document (no reply SMS is sent from here).
"""

from __future__ import annotations

import functools
import logging
import re

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from nextwork.common.errors import DomainError, Forbidden, PayloadTooLarge
from nextwork.messaging.models import Delivery, DeliveryStatus
from nextwork.messaging.sms import twilio
from nextwork.messaging.sms.stop import handle_stop, is_stop

logger = logging.getLogger("nextwork.messaging.sms")

MAX_BODY = 64 * 1024
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _public_url(request: HttpRequest) -> str:
    # Behind a proxy the request's own host and scheme may differ from what Twilio called.
    return (settings.NEXTWORK_SITE_URL or "").rstrip("/") + request.get_full_path()


def _params(request: HttpRequest) -> QueryDict:
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_BODY:
        raise PayloadTooLarge(f"The request body is over {MAX_BODY} bytes.", field="body")
    body = request.body
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"The request body is over {MAX_BODY} bytes.", field="body")
    return QueryDict(body, encoding="utf-8")


def twilio_webhook(view):
    """Size limit, signature check and error answers, in one place for every Twilio hook."""

    @csrf_exempt
    @require_POST
    @functools.wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        try:
            params = _params(request)
            pairs = [(name, value) for name, values in params.lists() for value in values]
            token = settings.TWILIO_AUTH_TOKEN or ""
            given = request.headers.get("X-Twilio-Signature")
            if not token:
                raise Forbidden(
                    "Twilio webhooks are off: TWILIO_AUTH_TOKEN is not set.", field="signature"
                )
            if not given:
                raise Forbidden("The X-Twilio-Signature header is missing.", field="signature")
            if not twilio.signature_valid(token, _public_url(request), pairs, given):
                raise Forbidden(
                    "The X-Twilio-Signature does not match this request "
                    "(wrong auth token, or NEXTWORK_SITE_URL differs from the URL Twilio "
                    "called).",
                    field="signature",
                )
            account = params.get("AccountSid")
            if account and settings.TWILIO_ACCOUNT_SID and account != settings.TWILIO_ACCOUNT_SID:
                raise Forbidden("This request is for another Twilio account.", field="AccountSid")
            view(request, params)
        except DomainError as error:
            if error.status == 403:
                logger.warning("Twilio webhook refused: %s", error.code)
            return JsonResponse(error.as_dict(), status=error.status)
        return HttpResponse(EMPTY_TWIML, content_type="text/xml; charset=utf-8")

    return wrapper


@twilio_webhook
def inbound(request: HttpRequest, params: QueryDict) -> None:
    """A reply to one of our numbers: STOP-like replies withdraw SMS consent; others are
    ignored (replies are not kept: they may say anything about the person)."""
    sender = params.get("From", "")
    # A Messaging Service with Advanced Opt-Out says itself that its keywords matched.
    opted_out = params.get("OptOutType", "").upper() == "STOP"
    if sender and (opted_out or is_stop(params.get("Body", ""))):
        handle_stop(phone=sender, source="twilio")


# MessageStatus values that end a message's journey; the others (queued, sending, sent,
# accepted, scheduled) say nothing the sender has not recorded already.
DELIVERED = {"delivered", "read"}
FAILED = {"undelivered", "failed"}


@twilio_webhook
def status(request: HttpRequest, params: QueryDict) -> None:
    """A delivery report: delivered, or failed with Twilio's error code. A delivered
    delivery stays delivered, whatever arrives after (reports may come out of order)."""
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    state = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    if not sid or state not in DELIVERED | FAILED:
        return
    # One UPDATE each: a delivered row is never matched, so never downgraded. The reference
    # in our callback URL (nw.MESSAGE.DELIVERY, covered by the signature) finds a delivery
    # whose hand-over is not recorded yet.
    match = Q(provider_id=sid)
    ref = re.fullmatch(r"nw\.(\d+)\.(\d+)", request.GET.get("ref", ""))
    if ref:
        match |= Q(pk=int(ref.group(2)), message_id=int(ref.group(1)), provider_id="")
    rows = Delivery.objects.filter(match).exclude(status=DeliveryStatus.DELIVERED)
    if ref:
        rows.filter(provider_id="").update(provider_id=sid[:120])
        rows = Delivery.objects.filter(provider_id=sid).exclude(status=DeliveryStatus.DELIVERED)
    if state in DELIVERED:
        updated = rows.update(status=DeliveryStatus.DELIVERED, delivered_at=timezone.now())
    else:
        code = (params.get("ErrorCode") or "").strip()
        reason = twilio.ERRORS.get(int(code), "") if code.isdigit() else ""
        error = f"twilio-{code or state} {reason or state}".strip()[:200]
        updated = rows.update(status=DeliveryStatus.FAILED, error=error)
    if not updated and not Delivery.objects.filter(provider_id=sid).exists():
        logger.info("Twilio status %s for an unknown message %s", state, sid)
