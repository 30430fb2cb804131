"""/api/v1 of publishing: compose once, publish where an API allows, prepare the rest; the log
of what was published where; the publishing accounts of channels (docs/presence.md,
"Publishing").

``POST /posts`` only composes: the worker's next minute tick publishes what is due (within a
minute for an immediate publication), so the request never waits on a network. Reads are
scoped as channels are: staff see everything, relays and coordinators the publications with a
target on their areas' channels, and only those targets. Credentials are write-only: an account
shows whether it is set and its handle. Errors in the project's format
(``network.apis.ErrorOut``).
"""

from __future__ import annotations

import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from nextwork.api.auth import member_auth
from nextwork.monitoring import publishing
from nextwork.monitoring.models import Publication, PublicationTarget
from nextwork.network.apis import ErrorOut

router = Router(tags=["publishing"])

READ_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}
WRITE_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}
Status_ = Literal["scheduled", "publishing", "done", "partial", "failed"]


class ProblemOut(Schema):
    code: str = Field(description="Stable: too_long, link_not_clickable, no_account.")
    severity: Literal["error", "warning"]
    message: str = Field(description="The channel, what is wrong, what to change (French).")


class TargetOut(Schema):
    channel: int
    kind: str
    handle: str
    area: str | None = Field(description="The channel's area; null: the organisation's.")
    status: Literal["pending", "published", "failed", "prepared"] = Field(
        description="pending: to be published by the worker; prepared: no API here, the text "
        "is ready to copy; published, failed: see remote_url and error."
    )
    text: str = Field(description="The text adapted for this channel: what is (or is to be) "
                      "published.")  # fmt: skip
    problems: list[ProblemOut] = Field(description="Warnings found when composing.")
    attempts: int
    next_attempt_at: datetime.datetime | None = Field(description="When a pending target is "
                                                      "tried (again).")  # fmt: skip
    error: str = Field(description="Why the last attempt failed (French).")
    remote_id: str
    remote_url: str
    published_at: datetime.datetime | None


class PublicationOut(Schema):
    id: int
    text: str
    link: str
    language: str
    status: Status_ = Field(description="scheduled, publishing, done (every channel with an "
                            "API published), partial, failed.")  # fmt: skip
    scheduled_at: datetime.datetime | None = Field(
        description="null: published at the next tick of the worker (within a minute)."
    )
    created_at: datetime.datetime
    created_by: int | None
    targets: list[TargetOut] = Field(description="The channels you manage, in the order given.")


def _target_out(target: PublicationTarget) -> dict:
    channel = target.channel
    return {
        "channel": channel.pk, "kind": channel.kind, "handle": channel.handle,
        "area": channel.area.code if channel.area_id else None, "status": target.status,
        "text": target.text, "problems": target.problems, "attempts": target.attempts,
        "next_attempt_at": target.next_attempt_at, "error": target.error,
        "remote_id": target.remote_id, "remote_url": target.remote_url,
        "published_at": target.published_at,
    }  # fmt: skip


def _publication_out(caller, publication: Publication) -> dict:
    return {
        "id": publication.pk, "text": publication.text, "link": publication.link,
        "language": publication.language, "status": publication.status,
        "scheduled_at": publication.scheduled_at, "created_at": publication.created_at,
        "created_by": publication.created_by_id,
        "targets": [_target_out(t) for t in publishing.visible_targets(caller, publication)],
    }  # fmt: skip


class PostIn(Schema):
    text: str = Field(max_length=publishing.MAX_TEXT, description="Written once; adapted to "
                      "each channel's rules.")  # fmt: skip
    link: str = Field("", max_length=1000, description="http(s); added on a line of its own "
                      "unless the text holds it.")  # fmt: skip
    channels: list[int] = Field(
        min_length=1,
        max_length=publishing.MAX_CHANNELS,
        description="Ids of channels you manage (GET /channels).",
    )
    scheduled_at: datetime.datetime | None = Field(None, description="With its time zone; "
                                                   "empty: now.")  # fmt: skip
    language: str = Field("fr", max_length=12, description="The text's language (fr, en…).")


@router.post(
    "/posts",
    response={201: PublicationOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Compose a publication for several channels (published by the worker when due)",
)
def post_create(request: HttpRequest, payload: PostIn):
    created = publishing.publication_create(
        by=request.user, text=payload.text, link=payload.link, channel_ids=payload.channels,
        scheduled_at=payload.scheduled_at, language=payload.language,
    )  # fmt: skip
    return Status(201, _publication_out(request.user, created))


class PostPage(Schema):
    items: list[PublicationOut]
    total: int
    limit: int
    offset: int


class PostQuery(Schema):
    status: Status_ | None = None
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000)


@router.get(
    "/posts",
    response={200: PostPage, **READ_ERRORS},
    auth=member_auth,
    summary="The log of publications on the channels you manage, newest first",
)
def post_list(request: HttpRequest, query: Query[PostQuery]):
    found = publishing.publications(request.user, status=query.status)
    page = found[query.offset : query.offset + query.limit]
    return {"items": [_publication_out(request.user, p) for p in page], "total": found.count(),
            "limit": query.limit, "offset": query.offset}  # fmt: skip


@router.get(
    "/posts/{publication_id}",
    response={200: PublicationOut, **READ_ERRORS},
    auth=member_auth,
    summary="One publication: what was published where, and what is prepared to copy",
)
def post_detail(request: HttpRequest, publication_id: int):
    found = publishing.publication(request.user, publication_id)
    return _publication_out(request.user, found)


class AccountIn(Schema):
    token: str = Field("", max_length=500, description="Mastodon: an access token with the "
                       "write:statuses scope.")  # fmt: skip
    handle: str = Field("", max_length=200, description="Bluesky: the account's handle.")
    app_password: str = Field("", max_length=100, description="Bluesky: an app password "
                              "(xxxx-xxxx-xxxx-xxxx), never the account's password.")  # fmt: skip
    endpoint: str = Field("", max_length=300, description="Bluesky: the PDS holding the "
                          "account; empty: https://bsky.social.")  # fmt: skip
    max_length: int | None = Field(None, description="Mastodon: the instance's limit when it "
                                   "allows more than 500 characters.")  # fmt: skip


class AccountOut(Schema):
    channel: int
    kind: str
    set: bool = Field(description="Credentials are stored (they are never shown).")
    handle: str
    endpoint: str
    max_length: int | None
    set_at: datetime.datetime | None


def _account_out(channel, account) -> dict:
    return {
        "channel": channel.pk, "kind": channel.kind, "set": account is not None,
        "handle": account.handle if account else "",
        "endpoint": account.endpoint if account else "",
        "max_length": account.max_length if account else None,
        "set_at": account.set_at if account else None,
    }  # fmt: skip


@router.put(
    "/channels/{channel_id}/publishing-account",
    response={200: AccountOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Store the credentials to publish on a Mastodon or Bluesky channel (write-only)",
)
def account_set(request: HttpRequest, channel_id: int, payload: AccountIn):
    account = publishing.account_set(by=request.user, channel_id=channel_id, **payload.dict())
    return _account_out(account.channel, account)


@router.get(
    "/channels/{channel_id}/publishing-account",
    response={200: AccountOut, **READ_ERRORS},
    auth=member_auth,
    summary="Whether a channel has a publishing account, and its handle",
)
def account_get(request: HttpRequest, channel_id: int):
    return _account_out(*publishing.account_of(request.user, channel_id))
