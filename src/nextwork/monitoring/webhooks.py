"""Spike alerts POSTed to a rule's webhook (a chat bot, an automation platform, a newsroom tool).

A rule may name a webhook address (``rule_webhook_set``: staff; https, or http; a host that
resolves to a private or loopback address is refused, as in the presence audit) and gets a
secret, shown once and stored encrypted (``publishers.credentials``). Each new spike makes one
``WebhookDelivery`` in the transaction that records the spike; a task sends it after commit:

    POST <url>
    Content-Type: application/json
    X-Nextwork-Event: spike
    X-Nextwork-Delivery: <delivery id>        (the same on every retry: receivers de-duplicate)
    X-Nextwork-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>

    {"event": "spike", "delivery": 12, "rule": {"id": 3, "name": "Retraites"},
     "spike": {"id": 40, "start": "…", "peak": "…", "count": 42, "expected": 3.1, "score": 9.2},
     "top_posts": [{"url": "…", "author": "…", "text": "…", "published_at": "…"}],
     "page": "https://…/espace/veille/regles/3/"}

A 2xx answer marks it sent. A 429, a 5xx, a timeout or an unreachable host is tried again after
1, 5, 30 and 120 minutes (five attempts in all), then the delivery is failed; another 4xx fails
it at once. Nothing about the secret or the receiver's answer body is logged.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
import secrets
import time

import httpx
import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from nextwork.common.errors import InvalidInput, NotFound
from nextwork.monitoring.models import DeliveryStatus, Spike, WatchRule, WebhookDelivery

logger = logging.getLogger(__name__)

RETRY_MINUTES = (1, 5, 30, 120)  # after attempts 1 … 4; the fifth failure is final
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _client() -> httpx.Client:
    from nextwork.monitoring.presence import check_address
    from nextwork.monitoring.sources import USER_AGENT

    return httpx.Client(
        timeout=TIMEOUT, follow_redirects=False, headers={"User-Agent": USER_AGENT},
        event_hooks={"request": [check_address]},
    )  # fmt: skip


@transaction.atomic
def rule_webhook_set(*, by, rule_id: int, url: str) -> str:
    """Set (or, with an empty url, remove) a rule's webhook; returns the new secret, once."""
    from nextwork.monitoring.publishers.credentials import encrypt
    from nextwork.monitoring.services import _require_staff
    from nextwork.privacy.services import audit_record

    _require_staff(by)
    rule = WatchRule.objects.select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(f"No watch rule {rule_id}.", field="rule")
    url = (url or "").strip()
    secret = ""
    if url:
        if not url.startswith(("https://", "http://")) or len(url) > 1000:
            raise InvalidInput("webhook_url: an https:// address, 1,000 characters at most.",
                               field="webhook_url")  # fmt: skip
        secret = secrets.token_urlsafe(32)
        rule.webhook_secret = encrypt({"secret": secret})
    else:
        rule.webhook_secret = ""
    rule.webhook_url, rule.updated_at = url, timezone.now()
    rule.save(update_fields=["webhook_url", "webhook_secret", "updated_at"])
    audit_record(actor=by, action="monitoring.rule_webhook", details={"rule": rule.pk,
                 "set": bool(url)})  # fmt: skip
    return secret


def sign(secret: str, body: bytes, moment: int) -> str:
    mac = hmac.new(secret.encode(), f"{moment}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={moment},v1={mac}"


def queue(spike: Spike) -> WebhookDelivery | None:
    """In the transaction that opens the spike: its delivery, sent after commit."""
    rule = spike.rule
    if not rule.webhook_url:
        return None
    delivery = WebhookDelivery.objects.create(spike=spike, url=rule.webhook_url)

    def enqueue() -> None:
        from nextwork.monitoring.tasks import deliver_webhook_task

        deliver_webhook_task.enqueue(delivery.pk)

    transaction.on_commit(enqueue)
    return delivery


def _payload(delivery: WebhookDelivery) -> bytes:
    from nextwork.monitoring.alerts import top_posts

    spike = delivery.spike
    site = getattr(settings, "NEXTWORK_SITE_URL", "").rstrip("/")
    return orjson.dumps({
        "event": "spike", "delivery": delivery.pk,
        "rule": {"id": spike.rule_id, "name": spike.rule.name},
        "spike": {"id": spike.pk, "start": spike.start.isoformat(),
                  "peak": spike.peak.isoformat(), "count": spike.count,
                  "expected": round(spike.expected, 2), "score": round(spike.score, 2)},
        "top_posts": [{"url": p.url, "author": p.author_handle or p.author,
                       "text": p.text[:500], "published_at": p.published_at.isoformat()}
                      for p in top_posts(spike)],
        "page": f"{site}/espace/veille/regles/{spike.rule_id}/",
    })  # fmt: skip


def deliver(delivery_id: int, *, http: httpx.Client | None = None) -> str:
    """One attempt; plans the next one when it may succeed later."""
    from nextwork.monitoring.presence import ReadError
    from nextwork.monitoring.publishers.credentials import Unreadable, decrypt

    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("spike__rule").filter(pk=delivery_id).first()
        )  # fmt: skip
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return f"webhook delivery #{delivery_id}: nothing to do"
        delivery.attempts += 1
        delivery.save(update_fields=["attempts"])
    try:
        secret = decrypt(delivery.spike.rule.webhook_secret)["secret"]
    except (Unreadable, KeyError, TypeError, ValueError):
        return _failed(delivery, None, "The webhook secret cannot be read: set the webhook again.")
    body = _payload(delivery)
    headers = {
        "Content-Type": "application/json", "X-Nextwork-Event": "spike",
        "X-Nextwork-Delivery": str(delivery.pk),
        "X-Nextwork-Signature": sign(secret, body, int(time.time())),
    }  # fmt: skip
    own = http is None
    http = http or _client()
    try:
        answer = http.post(delivery.url, content=body, headers=headers)
    except ReadError as exc:
        return _failed(delivery, None, str(exc))
    except httpx.HTTPError as exc:
        return _retry(delivery, None, f"not reached ({type(exc).__name__})")
    finally:
        if own:
            http.close()
    if 200 <= answer.status_code < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SENT, last_status=answer.status_code, last_error="",
            sent_at=timezone.now(),
        )  # fmt: skip
        return f"webhook delivery #{delivery.pk}: sent ({answer.status_code})"
    if answer.status_code == 429 or answer.status_code >= 500:
        return _retry(delivery, answer.status_code, f"HTTP {answer.status_code}")
    return _failed(delivery, answer.status_code, f"HTTP {answer.status_code}: refused")


def _failed(delivery: WebhookDelivery, status: int | None, error: str) -> str:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED, last_status=status, last_error=error[:300]
    )
    logger.warning("webhook delivery #%s failed: %s", delivery.pk, error)
    return f"webhook delivery #{delivery.pk}: failed ({error})"


def _retry(delivery: WebhookDelivery, status: int | None, error: str) -> str:
    if delivery.attempts > len(RETRY_MINUTES):
        return _failed(delivery, status, f"{error}; {delivery.attempts} attempts")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(last_status=status,
                                                          last_error=error[:300])  # fmt: skip
    wait = datetime.timedelta(minutes=RETRY_MINUTES[delivery.attempts - 1])
    from nextwork.monitoring.tasks import deliver_webhook_task

    deliver_webhook_task.using(run_after=timezone.now() + wait).enqueue(delivery.pk)
    return f"webhook delivery #{delivery.pk}: {error}, again in {wait}"
