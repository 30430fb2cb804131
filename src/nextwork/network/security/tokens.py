"""Personal API tokens: made, recognised, revoked. The secret is shown once and never kept."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets

from django.db import transaction
from django.utils import timezone

from nextwork.common.errors import DomainError, NotFound, Unauthenticated
from nextwork.network.models import ApiToken, Member, TokenScope

SECRET_BYTES = 32
# last_used_at is written at most once a minute per token, not on every call.
TOUCH_EVERY = datetime.timedelta(minutes=1)
MAX_TOKENS = 50


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def token_create(
    *,
    member: Member,
    name: str,
    scope: str,
    expires_at: datetime.datetime | None = None,
    two_factor: bool = False,
) -> tuple[ApiToken, str]:
    """Make a token; return it and its full text ``nw_<prefix>_<secret>`` (shown once)."""
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the token a name (what it is for).", field="name")
    if scope not in TokenScope.values:
        raise DomainError("The scope is read or write.", field="scope")
    if expires_at is not None and timezone.is_naive(expires_at):
        expires_at = timezone.make_aware(expires_at)
    if expires_at is not None and expires_at <= timezone.now():
        raise DomainError("The expiry date must be in the future.", field="expires_at")
    if ApiToken.objects.filter(member=member, revoked_at__isnull=True).count() >= MAX_TOKENS:
        raise DomainError(f"At most {MAX_TOKENS} tokens: revoke one first.", field=None)
    prefix = secrets.token_hex(4)  # hex: never an underscore
    secret = secrets.token_urlsafe(SECRET_BYTES)
    token = ApiToken(
        member=member,
        name=name,
        prefix=prefix,
        secret_hash=_hash(secret),
        scope=scope,
        expires_at=expires_at,
        two_factor=two_factor,
    )
    token.full_clean()
    token.save()
    return token, f"nw_{prefix}_{secret}"


class UnknownToken(Unauthenticated):
    """Not a token of this site (malformed, or no such prefix and secret)."""


def looks_like_token(text: str) -> bool:
    """Shaped as ours, nw_<8 hex>_<secret>, whether or not it exists."""
    parts = (text or "").strip().split("_", 2)
    return len(parts) == 3 and parts[0] == "nw" and bool(parts[1]) and bool(parts[2])


def token_for(text: str) -> ApiToken:
    """The active token whose full text is ``text``; ``Unauthenticated`` otherwise."""
    if not looks_like_token(text):
        raise UnknownToken("Not a nextwork token: expected nw_<prefix>_<secret>.")
    parts = text.strip().split("_", 2)
    token = ApiToken.objects.select_related("member").filter(prefix=parts[1]).first()
    if token is None or not hmac.compare_digest(token.secret_hash, _hash(parts[2])):
        raise UnknownToken("Unknown token.")
    if token.revoked_at is not None:
        raise Unauthenticated("This token was revoked.")
    if token.expires_at is not None and token.expires_at <= timezone.now():
        raise Unauthenticated("This token has expired.")
    if not token.member.is_active:
        raise Unauthenticated("The token's member can no longer log in.")
    _touch(token)
    return token


def _touch(token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def tokens_of(member: Member):
    return ApiToken.objects.filter(member=member)


@transaction.atomic
def token_revoke(*, member: Member, token_id: int) -> ApiToken:
    """Revoke one of the member's own tokens (another's is not found)."""
    token = ApiToken.objects.select_for_update().filter(pk=token_id, member=member).first()
    if token is None:
        raise NotFound("No such token among yours.", field="id")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
