"""Lockout after repeated failed logins, per account and per IP address.

Counters live in Django's cache: LocMem in the embedded setup (one process, which is all it
runs), Redis at scale, so that every web process sees the same counts. A lost counter (a cache
restart) only gives an attacker a few more tries; the database is not written on each failure,
which keeps a password-guessing flood from turning into a write load. Keys hold a SHA-256 of the
email or address, never the value itself.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

from nextwork.common.errors import DomainError

# An address may fail for several accounts (a shared office, a NAT) before it is locked out:
# this many times the per-account limit.
IP_FACTOR = 4


class LockedOut(DomainError):
    code = "locked_out"
    status = 429


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:40]


def _keys(scope: str, who: str) -> tuple[str, str]:
    digest = _digest(who)
    return f"lockout:fail:{scope}:{digest}", f"lockout:lock:{scope}:{digest}"


def _seconds() -> int:
    return settings.NEXTWORK_LOGIN_LOCKOUT_MINUTES * 60


def _limits() -> dict[str, int]:
    limit = settings.NEXTWORK_LOGIN_MAX_FAILURES
    return {"account": limit, "ip": limit * IP_FACTOR}


def check(*, email: str, ip: str) -> None:
    """Raise ``LockedOut`` while the account or the address is locked, whatever the password."""
    for scope, who in (("account", email), ("ip", ip)):
        if who and cache.get(_keys(scope, who)[1]):
            minutes = settings.NEXTWORK_LOGIN_LOCKOUT_MINUTES
            raise LockedOut(f"Too many failed logins: try again in {minutes} minutes.", field=None)


def _count(key: str) -> int:
    if cache.add(key, 1, timeout=_seconds()):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=_seconds())
        return 1


def record_failure(*, email: str, ip: str) -> None:
    """Count one failed login; lock the account or address once it reaches its limit."""
    from nextwork.privacy.services import audit_record

    limits = _limits()
    for scope, who in (("account", email), ("ip", ip)):
        if not who:
            continue
        failures_key, lock_key = _keys(scope, who)
        failures = _count(failures_key)
        if failures >= limits[scope] and cache.add(lock_key, 1, timeout=_seconds()):
            cache.delete(failures_key)
            # Counts only: neither the email nor the address is written.
            audit_record(
                actor=None,
                action="auth.lockout",
                details={"scope": scope, "failures": failures},
            )


def record_success(*, email: str) -> None:
    """A right password clears the account's failures (not the address's)."""
    cache.delete(_keys("account", email)[0])
