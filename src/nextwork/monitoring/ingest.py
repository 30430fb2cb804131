"""The generic ingestion endpoint's format: JSON lines, one post per line.

Each line is an object::

    {"id": "123", "text": "…", "url": "https://…", "author": "…", "handle": "@…",
     "lang": "fr", "published_at": "2026-11-27T10:00:00Z", "network": "forum"}

``text`` is required, with ``id`` or ``url`` (the post's identity); the others are optional
(``network`` defaults to the source's kind, ``published_at`` to the time of receipt). A line
that is not valid JSON or misses what is required is reported by its number, with the reason,
and the other lines are stored: one bad line never loses the rest. Blank lines are skipped.
Limits: 2 MB and 10,000 lines per request (``PayloadTooLarge``, nothing stored).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import orjson

from nextwork.common.errors import InvalidInput, PayloadTooLarge
from nextwork.monitoring.services import PostIn, Stored, store_posts

MAX_BYTES = 2 * 1024 * 1024
MAX_LINES = 10_000
MAX_ERRORS = 100  # reported; the count says how many in all
TEXTS = {"id": 500, "text": 20_000, "url": 1000, "author": 200, "handle": 200, "lang": 12,
         "network": 30, "published_at": 40}  # fmt: skip


@dataclass
class Outcome:
    lines: int = 0
    accepted: int = 0
    stored: Stored = field(default_factory=Stored)
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0

    def refuse(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"line": line, "message": message})


def _moment(value: str) -> datetime.datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("published_at: give the time zone (2026-11-27T10:00:00Z).")
    return moment


def parse_line(raw: bytes, *, network: str) -> PostIn:
    """One line as a post, or ``ValueError`` saying what is wrong with it."""
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({str(exc).split(':')[0]}).") from None
    if not isinstance(item, dict):
        raise ValueError('each line is a JSON object: {"id": …, "text": …}.')
    for name, limit in TEXTS.items():
        value = item.get(name)
        if value is None:
            continue
        if isinstance(value, int | float) and not isinstance(value, bool) and name == "id":
            value = item[name] = str(value)
        if not isinstance(value, str):
            raise ValueError(f"{name}: a string.")
        if len(value) > limit:
            raise ValueError(f"{name}: {limit:,} characters at most.")
        if "\x00" in value:
            raise ValueError(f"{name}: holds a NUL character.")
    text = (item.get("text") or "").strip()
    if not text:
        raise ValueError("text: required, the words of the post.")
    ident, url = (item.get("id") or "").strip(), (item.get("url") or "").strip()
    if not ident and not url:
        raise ValueError("id or url: required, the post's identity.")
    if url and not url.startswith(("http://", "https://")):
        raise ValueError("url: an http:// or https:// address.")
    moment = None
    if item.get("published_at"):
        try:
            moment = _moment(item["published_at"])
        except ValueError as exc:
            message = str(exc)
            raise ValueError(
                message if message.startswith("published_at")
                else "published_at: an ISO 8601 time (2026-11-27T10:00:00Z)."
            ) from None  # fmt: skip
    return PostIn(
        network=(item.get("network") or network).strip()[:30] or network,
        external_id=ident or url, text=text, url=url, author=(item.get("author") or "").strip(),
        author_handle=(item.get("handle") or "").strip(), lang=(item.get("lang") or "").strip(),
        published_at=moment,
    )  # fmt: skip


def ingest(*, source, body: bytes) -> Outcome:
    """Store the valid lines of ``body`` for ``source``; report the others by line number."""
    if len(body) > MAX_BYTES:
        raise PayloadTooLarge(f"The body is over {MAX_BYTES:,} bytes: send it in parts.",
                              field="body")  # fmt: skip
    lines = body.split(b"\n")
    if len(lines) > MAX_LINES + 1 or (len(lines) == MAX_LINES + 1 and lines[-1].strip()):
        raise PayloadTooLarge(f"Over {MAX_LINES:,} lines: send them in parts.", field="body")
    outcome = Outcome()
    posts: list[PostIn] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        outcome.lines += 1
        try:
            posts.append(parse_line(raw, network=source.kind))
        except ValueError as exc:
            outcome.refuse(number, str(exc))
    if not outcome.lines:
        raise InvalidInput("The body is empty: send one JSON object per line.", field="body")
    outcome.accepted = len(posts)
    outcome.stored = store_posts(source=source, posts=posts)
    return outcome
