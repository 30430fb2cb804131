"""Fixed-window rate limits kept in Django's cache (Redis at scale, so all processes share it)."""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache

from nextwork.common.errors import DomainError


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429


def check(scope: str, who: str, *, limit: int, window: int) -> None:
    """Count one hit of ``who`` on ``scope``; raise ``RateLimited`` past ``limit`` per window.

    ``who`` (an IP address, an email) is hashed: the cache never holds it in clear.
    """
    bucket = int(time.time() // window)
    digest = hashlib.sha256(who.encode()).hexdigest()[:32]
    key = f"rl:{scope}:{digest}:{bucket}"
    if cache.add(key, 1, timeout=window):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window)
            count = 1
    if count > limit:
        raise RateLimited("Too many attempts: try again later.", field=None)
