"""Mastodon: statuses posted through Mastodon.py with the account's access token (scope
``write:statuses``), on the instance of the channel's address.

Counting as Mastodon does: 500 characters unless the account says the instance allows more;
every address counts as 23, a mention ``@name@instance`` as ``@name``.

Exactly once: each status is sent with an ``Idempotency-Key`` made of the target's id and
creation time, the same at every attempt; the instance answers a repeated key with the status
it already created (Mastodon keeps the keys for an hour), so a retry after a timeout whose
status did go through never posts twice. Visibility public, language the publication's.

429 (and 503, 5xx, a timeout, an unreachable instance): ``TryLater``, with the instance's
``Retry-After`` or ``X-RateLimit-Reset``; 401/403 (a token revoked or without
``write:statuses``), 422 (the instance refused the text): ``Refused`` with the reason.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import requests
from mastodon import Mastodon
from mastodon.errors import MastodonError, MastodonNetworkError

from nextwork.monitoring.publishers import (
    TIMEOUT,
    USER_AGENT,
    Published,
    Publisher,
    Refused,
    TryLater,
    register,
)
from nextwork.monitoring.sources import retry_after
from nextwork.monitoring.sources.mastodon import _until

MENTION = re.compile(r"(?<![\w/])@(\w+)@[\w.-]+\w", re.UNICODE)


def instance_of(channel) -> str:
    parts = urlsplit(channel.url)
    return f"{parts.scheme}://{parts.netloc}"


def idempotency_key(target) -> str:
    return f"nextwork-{target.pk}-{int(target.publication.created_at.timestamp() * 1e6)}"


@register
class MastodonPublisher(Publisher):
    kind, label, has_api, limit, url_weight = "mastodon", "Mastodon", True, 500, 23

    def limit_for(self, account=None) -> int:
        return (account.max_length if account is not None else None) or self.limit

    def length(self, text: str) -> int:
        return super().length(MENTION.sub(r"@\1", text))

    def publish(self, target, account, credentials: dict) -> Published:
        instance = instance_of(target.channel)
        session = requests.Session()
        answers: list[requests.Response] = []
        session.hooks["response"].append(lambda response, *a, **k: answers.append(response))
        api = Mastodon(
            api_base_url=instance, access_token=credentials["token"], request_timeout=TIMEOUT,
            ratelimit_method="throw", user_agent=USER_AGENT, session=session,
            version_check_mode="none",
        )  # fmt: skip
        try:
            status = api.status_post(
                target.text, visibility="public", language=target.publication.language or None,
                idempotency_key=idempotency_key(target),
            )  # fmt: skip
        except MastodonError as exc:
            raise _explain(exc, answers[-1] if answers else None, instance) from None
        finally:
            session.close()
        try:
            return Published(remote_id=str(status["id"]), remote_url=str(status.get("url") or ""))
        except (KeyError, TypeError):
            raise TryLater(f"{instance} a répondu sans l'identifiant du statut.") from None


def _reason(answer) -> str:
    try:
        found = json.loads(answer.text).get("error", "")
    except (ValueError, AttributeError):
        return ""
    return str(found)[:200] if isinstance(found, str) else ""


def _explain(exc: MastodonError, answer, instance: str) -> Exception:
    """What went wrong, in French and without the token (Mastodon.py's messages quote
    bodies)."""
    status = answer.status_code if answer is not None else None
    if isinstance(exc, MastodonNetworkError) or status is None:
        timed_out = "timed out" in str(exc).lower() or "timeout" in str(exc).lower()
        return TryLater(f"{instance} n'a pas répondu à temps." if timed_out
                        else f"{instance} est injoignable.")  # fmt: skip
    if status == 429 or status >= 500:
        wait = None
        if answer.headers.get("Retry-After"):
            wait = retry_after(answer.headers["Retry-After"])
        elif status == 429 and answer.headers.get("X-RateLimit-Reset"):
            wait = _until(answer.headers["X-RateLimit-Reset"])
        busy = "limite le nombre de publications" if status == 429 else "est en difficulté"
        return TryLater(f"HTTP {status} : {instance} {busy}, nouvel essai plus tard.",
                        retry_after=wait)  # fmt: skip
    reason = _reason(answer)
    if status in (401, 403):
        return Refused(f"HTTP {status} : {instance} refuse le jeton d'accès (révoqué, ou sans "
                       "le droit write:statuses) ; enregistrez-en un nouveau.")  # fmt: skip
    return Refused(f"HTTP {status} : {instance} refuse la publication"
                   + (f" : {reason}" if reason else "."))  # fmt: skip
