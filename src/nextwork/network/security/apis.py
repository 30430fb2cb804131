"""/api/v1/me/tokens: a member's personal API tokens. Session only: a token cannot make or
revoke tokens (a leaked token must not be able to outlive its revocation)."""

from __future__ import annotations

import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from nextwork.api.auth import session_auth
from nextwork.api.schemas import ErrorOut
from nextwork.network.security import tokens, two_factor

router = Router(tags=["tokens"])


class ApiTokenOut(Schema):
    id: int
    name: str
    prefix: str = Field(description="The start of the token, nw_<prefix>_…, to recognise it.")
    scope: str = Field(description="read (GET and HEAD only) or write.")
    created_at: datetime.datetime
    last_used_at: datetime.datetime | None = Field(description="To the minute.")
    expires_at: datetime.datetime | None
    revoked_at: datetime.datetime | None
    two_factor: bool = Field(description="Made in a session that had given a two-factor code.")


class ApiTokenIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    scope: str = Field("read", pattern="^(read|write)$")
    expires_at: datetime.datetime | None = Field(None, description="Unset: never expires.")


class ApiTokenCreated(ApiTokenOut):
    token: str = Field(description="The full token, nw_<prefix>_<secret>: shown this once only.")


def _out(token) -> dict:
    return {
        field: getattr(token, field)
        for field in (
            "id",
            "name",
            "prefix",
            "scope",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
            "two_factor",
        )
    }


@router.get(
    "/me/tokens",
    response={200: list[ApiTokenOut], 401: ErrorOut, 403: ErrorOut},
    auth=session_auth,
    summary="My personal API tokens (session only)",
)
def my_tokens(request: HttpRequest):
    return [_out(t) for t in tokens.tokens_of(request.user)]


@router.post(
    "/me/tokens",
    response={201: ApiTokenCreated, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut},
    auth=session_auth,
    summary="Make a personal API token; the answer holds it once (session only)",
)
def create_token(request: HttpRequest, body: ApiTokenIn):
    token, text = tokens.token_create(
        member=request.user,
        name=body.name,
        scope=body.scope,
        expires_at=body.expires_at,
        two_factor=two_factor.is_verified(request),
    )
    return Status(201, {**_out(token), "token": text})


@router.delete(
    "/me/tokens/{token_id}",
    response={200: ApiTokenOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    auth=session_auth,
    summary="Revoke one of my tokens (session only)",
)
def revoke_token(request: HttpRequest, token_id: int):
    return _out(tokens.token_revoke(member=request.user, token_id=token_id))
