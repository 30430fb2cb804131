"""RSS and Atom feeds, read with feedparser.

Polite by design: every poll sends the validators of the last answer (``If-None-Match`` with
the ETag, ``If-Modified-Since`` with Last-Modified), so an unchanged feed costs its server a
304 and us nothing; a feed is read every 15 minutes by default and never more often than every
5 (``min_interval``); a 429 or 503 is obeyed (``Retry-After``). A feed larger than 5 MB, an
answer that is not a feed, or an HTTP error is a ``SourceError`` whose message the page of
sources shows. A feed that parses with a recoverable error (feedparser's "bozo" with entries)
is read for what it holds.

Config: ``{"url": "https://example.org/feed.xml"}``.
"""

from __future__ import annotations

import calendar
import datetime
import hashlib
import html

import feedparser
import httpx
import nh3

from nextwork.common.errors import InvalidInput
from nextwork.monitoring.services import PostIn
from nextwork.monitoring.sources import (
    MAX_BYTES,
    USER_AGENT,
    PollResult,
    SourceBusy,
    SourceError,
    SourcePlugin,
    register,
    retry_after,
)


def _text(fragment: str) -> str:
    """Plain text of an entry's HTML (tags dropped, entities decoded)."""
    return " ".join(html.unescape(nh3.clean(fragment or "", tags=set())).split())


def _moment(entry) -> datetime.datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return datetime.datetime.fromtimestamp(calendar.timegm(parsed), tz=datetime.UTC)


@register
class Feed(SourcePlugin):
    kind = "rss"
    min_interval = 300

    def check_config(self, config: dict) -> dict:
        url = str(config.get("url", "")).strip() if isinstance(config, dict) else ""
        if not url.startswith(("http://", "https://")) or len(url) > 1000:
            raise InvalidInput(
                "config.url: the feed's address, http:// or https://, 1,000 characters at most.",
                field="config",
            )
        return {"url": url}

    def poll(self, source, client: httpx.Client) -> PollResult:
        url = source.config["url"]
        headers = {"User-Agent": USER_AGENT, "Accept": "application/rss+xml, application/atom+"
                   "xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"}  # fmt: skip
        if source.etag:
            headers["If-None-Match"] = source.etag
        if source.last_modified:
            headers["If-Modified-Since"] = source.last_modified
        try:
            with client.stream("GET", url, headers=headers, follow_redirects=True) as response:
                if response.status_code == 304:
                    return PollResult(not_modified=True, etag=source.etag,
                                      last_modified=source.last_modified)  # fmt: skip
                if response.status_code in (429, 503):
                    wait = retry_after(response.headers.get("retry-after"))
                    raise SourceBusy(
                        f"HTTP {response.status_code}: the server asks to wait {wait:.0f} s.",
                        retry_after=wait,
                    )
                if response.status_code >= 400:
                    raise SourceError(f"HTTP {response.status_code} from the feed's server.")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise SourceError("The feed is larger than 5 MB: not read.")
                etag = response.headers.get("etag", "")[:300]
                modified = response.headers.get("last-modified", "")[:100]
                content_type = response.headers.get("content-type", "")
        except httpx.TimeoutException:
            raise SourceError("The feed's server did not answer in time.") from None
        except httpx.HTTPError as exc:
            raise SourceError(f"The feed could not be fetched ({type(exc).__name__}).") from None
        parsed = feedparser.parse(
            bytes(body), response_headers={"content-type": content_type, "content-location": url}
        )
        if not parsed.entries and (parsed.bozo or not parsed.version):
            reason = type(parsed.get("bozo_exception")).__name__ if parsed.bozo else "no feed"
            raise SourceError(f"Not a readable RSS or Atom feed ({reason}).")
        language = (parsed.feed.get("language") or "")[:12]
        # An entry with neither title nor text (the tail of a truncated feed) says nothing.
        posts = [p for p in (self._post(e, language) for e in parsed.entries) if p.text]
        moments = [p.published_at for p in posts if p.published_at]
        return PollResult(posts=posts, etag=etag, last_modified=modified,
                          newest=max(moments) if moments else None)  # fmt: skip

    @staticmethod
    def _post(entry, language: str) -> PostIn:
        title = _text(entry.get("title", ""))
        summary = _text(entry.get("summary", ""))
        link = entry.get("link", "")
        ident = entry.get("id") or link
        if not ident:  # neither id nor link: the content is its identity
            ident = hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()
        return PostIn(
            network="rss", external_id=str(ident)[:500], url=str(link)[:1000],
            text=f"{title}\n{summary}".strip(), author=_text(entry.get("author", ""))[:200],
            lang=(entry.get("language") or language)[:12], published_at=_moment(entry),
        )  # fmt: skip
