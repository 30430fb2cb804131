"""/api/v1 of monitoring: the ingestion endpoint (a source's token), watch rules and their
series (staff). Errors in the project's format (``network.apis.ErrorOut``)."""

from __future__ import annotations

import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.security import HttpBearer
from pydantic import Field

from nextwork.api.auth import member_auth
from nextwork.common.errors import Unauthenticated
from nextwork.monitoring import ingest as ingestion
from nextwork.monitoring import selectors, services
from nextwork.monitoring.models import WatchRule
from nextwork.network.apis import ErrorOut

router = Router(tags=["monitoring"])

READ_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}
WRITE_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


# -- ingestion ------------------------------------------------------------------------------


class IngestToken(HttpBearer):
    """``Authorization: Bearer <token>``, the token given when the source was created."""

    def authenticate(self, request: HttpRequest, token: str):
        source = services.source_for_token(token)
        if source is None:
            raise Unauthenticated("Wrong ingestion token, or its source is switched off.")
        return source

    def __call__(self, request: HttpRequest):
        if not request.headers.get("Authorization", "").lower().startswith("bearer "):
            raise Unauthenticated(
                "Send the source's token: Authorization: Bearer <token>.", field="Authorization"
            )
        return super().__call__(request)


class LineError(Schema):
    line: int = Field(description="Its number in the body, from 1.")
    message: str


class IngestOut(Schema):
    lines: int = Field(description="Non-blank lines received.")
    accepted: int = Field(description="Valid lines.")
    new: int = Field(description="Posts stored for the first time.")
    duplicates: int = Field(description="Posts already stored (the same post seen again).")
    mentions: int = Field(description="Matches with the watch rules among the new posts.")
    errors: list[LineError] = Field(description="The invalid lines (the first 100).")
    error_count: int


@router.post(
    "/ingest",
    response={200: IngestOut, 400: ErrorOut, 401: ErrorOut, 413: ErrorOut},
    auth=IngestToken(),
    summary="Send posts from anywhere, as JSON lines (one object per line)",
    description=ingestion.__doc__,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        }
    },
)
def ingest(request: HttpRequest):
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > ingestion.MAX_BYTES:
        raise ingestion.PayloadTooLarge(
            f"The body is over {ingestion.MAX_BYTES:,} bytes: send it in parts.", field="body"
        )
    outcome = ingestion.ingest(source=request.auth, body=request.body)
    return {
        "lines": outcome.lines, "accepted": outcome.accepted, "new": outcome.stored.new,
        "duplicates": outcome.stored.duplicates, "mentions": outcome.stored.mentions,
        "errors": outcome.errors, "error_count": outcome.error_count,
    }  # fmt: skip


# -- watch rules ----------------------------------------------------------------------------


class RuleOut(Schema):
    id: int
    name: str
    kind: str = Field(description="custom, organisation or representative (generated).")
    terms: list[str]
    exclusions: list[str]
    languages: list[str]
    active: bool
    min_count: int
    cooldown_minutes: int
    followers: int = Field(description="Staff who get its spike alerts.")
    webhook_url: str = Field(description="Where its spikes are POSTed, signed; empty: nowhere.")


def _rule_out(rule: WatchRule) -> dict:
    return {
        "id": rule.pk, "name": rule.name, "kind": rule.kind, "terms": rule.terms,
        "exclusions": rule.exclusions, "languages": rule.languages, "active": rule.active,
        "min_count": rule.min_count, "cooldown_minutes": rule.cooldown_minutes,
        "followers": rule.followers.count(), "webhook_url": rule.webhook_url,
    }  # fmt: skip


class RulePage(Schema):
    items: list[RuleOut]
    total: int
    limit: int
    offset: int


class RulePaging(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000)
    kind: Literal["custom", "organisation", "representative"] | None = None


@router.get(
    "/watch-rules",
    response={200: RulePage, **READ_ERRORS},
    auth=member_auth,
    summary="The watch rules (staff)",
)
def rule_list(request: HttpRequest, paging: Query[RulePaging]):
    found = selectors.rules(request.user)
    if paging.kind:
        found = found.filter(kind=paging.kind)
    page = found.prefetch_related("followers")[paging.offset : paging.offset + paging.limit]
    return {"items": [_rule_out(r) for r in page], "total": found.count(),
            "limit": paging.limit, "offset": paging.offset}  # fmt: skip


class RuleIn(Schema):
    name: str = Field(max_length=200)
    terms: list[str] = Field(
        max_length=50,
        description='Words, phrases ("loi travail"), hashtags (#LoiTravail), handles (@cgt).',
    )
    exclusions: list[str] = Field(default_factory=list, max_length=50)
    languages: list[str] = Field(default_factory=list, max_length=20,
                                 description="ISO codes (fr, en); empty: any.")  # fmt: skip
    kind: Literal["custom", "organisation"] = "custom"
    min_count: int = Field(
        10, ge=1, le=100_000, description="Posts in the detection window below which no spike."
    )
    cooldown_minutes: int = Field(60, ge=1, le=10_080)


@router.post(
    "/watch-rules",
    response={201: RuleOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Add a watch rule (staff); its creator follows it",
)
def rule_create(request: HttpRequest, payload: RuleIn):
    rule = services.rule_create(by=request.user, **payload.dict())
    return Status(201, _rule_out(rule))


class RuleWebhookIn(Schema):
    url: str = Field(max_length=1000, description="https address; empty removes the webhook.")


class RuleWebhookOut(Schema):
    webhook_url: str
    secret: str = Field(
        description="The signing secret, shown this once: X-Nextwork-Signature is "
        "t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<body>'>. Empty when removed."
    )


@router.put(
    "/watch-rules/{rule_id}/webhook",
    response={200: RuleWebhookOut, **WRITE_ERRORS},
    auth=member_auth,
    summary="Set or remove the webhook a rule's spikes are POSTed to (staff)",
)
def rule_webhook(request: HttpRequest, rule_id: int, payload: RuleWebhookIn):
    from nextwork.monitoring.webhooks import rule_webhook_set

    secret = rule_webhook_set(by=request.user, rule_id=rule_id, url=payload.url)
    return {"webhook_url": payload.url.strip(), "secret": secret}


class Point(Schema):
    t: datetime.datetime = Field(description="Start of the bucket (UTC).")
    count: int


class SeriesOut(Schema):
    rule: int
    bucket: Literal["minute", "hour"]
    start: datetime.datetime
    end: datetime.datetime
    points: list[Point]


class SeriesQuery(Schema):
    bucket: Literal["minute", "hour"] = "minute"
    start: datetime.datetime | None = Field(
        None, alias="from", description="Default: 24 hours (minute) or 7 days (hour) before to."
    )
    end: datetime.datetime | None = Field(None, alias="to", description="Default: now.")


@router.get(
    "/watch-rules/{rule_id}/series",
    response={200: SeriesOut, **READ_ERRORS},
    auth=member_auth,
    summary="A rule's mentions per minute or per hour, zeros included (staff)",
)
def rule_series(request: HttpRequest, rule_id: int, query: Query[SeriesQuery]):
    return selectors.series(
        request.user, rule_id, bucket=query.bucket, start=query.start, end=query.end
    )


# -- spikes ---------------------------------------------------------------------------------


class TopPost(Schema):
    url: str
    author: str
    text: str
    published_at: datetime.datetime


class SpikeOut(Schema):
    id: int
    rule: int
    rule_name: str
    start: datetime.datetime = Field(description="The minute the first spiking window ended.")
    peak: datetime.datetime
    end: datetime.datetime | None
    count: int = Field(description="Posts in the window at the peak.")
    expected: float = Field(description="What the rule's usual rhythm expected there.")
    score: float
    alerted_at: datetime.datetime | None
    top_posts: list[TopPost]


class SpikePage(Schema):
    items: list[SpikeOut]
    total: int
    limit: int
    offset: int


class SpikeQuery(Schema):
    rule: int | None = Field(None, ge=1, le=2**63 - 1)
    limit: int = Field(20, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000)


@router.get(
    "/spikes",
    response={200: SpikePage, **READ_ERRORS},
    auth=member_auth,
    summary="Spikes, the latest first, with the top posts of each (staff)",
)
def spike_list(request: HttpRequest, query: Query[SpikeQuery]):
    from nextwork.monitoring.alerts import top_posts

    found = selectors.spikes(request.user, rule_id=query.rule)
    page = found[query.offset : query.offset + query.limit]
    items = [
        {
            "id": s.pk, "rule": s.rule_id, "rule_name": s.rule.name, "start": s.start,
            "peak": s.peak, "end": s.end, "count": s.count, "expected": s.expected,
            "score": s.score, "alerted_at": s.alerted_at,
            "top_posts": [
                {"url": p.url, "author": p.author_handle or p.author, "text": p.text[:500],
                 "published_at": p.published_at}
                for p in top_posts(s)
            ],
        }
        for s in page
    ]  # fmt: skip
    return {"items": items, "total": found.count(), "limit": query.limit,
            "offset": query.offset}  # fmt: skip
