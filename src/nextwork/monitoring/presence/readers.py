"""The built-in readers: a website's HTML, a Mastodon and a Bluesky public profile.

Facebook, Instagram, X, LinkedIn, TikTok and YouTube have no reader: their pages are not
scraped (their terms forbid it, they answer robots with a login wall or a consent page, and
what a scraper sees changes without notice); staff type what the profile shows
(``services.snapshot_enter``). docs/presence.md says what each reader reads.
"""

from __future__ import annotations

import datetime
import json
import re
from urllib.parse import urlsplit

import httpx
import lxml.html
from lxml import etree

from nextwork.monitoring.presence import (
    PAGE_MAX_BYTES,
    ChannelReader,
    Deadline,
    ReadError,
    Reading,
    fetch,
    register,
)

# The public AppView of Bluesky: profiles and feeds without an account. Tests point it at
# their recorded server.
BLUESKY_APPVIEW = "https://public.api.bsky.app"
JSON_MAX_BYTES = 512 * 1024
MAX_LINKS = 500  # links kept per snapshot (a footer rarely has more than a few dozen)
# Links written out in a bio: full URLs, and bare domains ("nextwork.example/agir").
URL_IN_TEXT = re.compile(
    r"(?:https?://[^\s<>\"']+|\b(?:[a-z0-9-]+\.)+[a-z]{2,12}(?:/[^\s<>\"']*)?)", re.I
)


def _text(fragment: str) -> str:
    """Plain text of an HTML fragment (a Mastodon bio), links kept as their text."""
    if not fragment or not fragment.strip():
        return ""
    try:
        return " ".join(
            lxml.html.fragment_fromstring(fragment, create_parent="div").text_content().split()
        )
    except (etree.ParserError, ValueError):
        return " ".join(fragment.split())


def _hrefs(fragment: str) -> list[str]:
    if not fragment or not fragment.strip():
        return []
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return []
    return [a.get("href", "").strip() for a in root.iter("a") if a.get("href", "").strip()]


def urls_in_text(text: str) -> list[str]:
    found = []
    for match in URL_IN_TEXT.findall(text or ""):
        url = match.rstrip(".,;:!?)»")
        found.append(url if "://" in url else f"https://{url}")
    return found


def _unique(urls) -> list[str]:
    seen: dict[str, None] = {}
    for url in urls:
        if url and url.startswith(("http://", "https://")) and len(url) <= 1000:
            seen.setdefault(url, None)
    return list(seen)[:MAX_LINKS]


def _json(client, url, deadline, *, params=None, what: str) -> dict:
    fetched = fetch(client, url, deadline, limit=JSON_MAX_BYTES, what=what,
                    accept="application/json", params=params)  # fmt: skip
    try:
        data = json.loads(fetched.body)
    except ValueError:
        raise ReadError(f"{what} ne répond pas en JSON") from None
    if not isinstance(data, dict):
        raise ReadError(f"{what} répond un JSON inattendu")
    return data


def _moment(value) -> datetime.datetime | None:
    """An ISO 8601 date or time from an API ("2026-11-20", "2026-11-20T08:00:00.000Z")."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment


@register
class Website(ChannelReader):
    """The page at the channel's URL: its name (og:site_name, else application-name, else
    <title>), description (meta description, else og:description), avatar (the largest
    <link rel="icon"> or apple-touch-icon that is not an SVG, else og:image), canonical
    address, every <a href> and every rel="me" link."""

    kind = "website"

    def read(self, channel, client: httpx.Client, deadline: Deadline) -> Reading:
        page = fetch(client, channel.url, deadline, limit=PAGE_MAX_BYTES, what="la page",
                     accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.1")  # fmt: skip
        if "html" not in page.content_type and page.content_type:
            raise ReadError(f"la page n'est pas du HTML ({page.content_type.split(';')[0]})")
        try:
            doc = lxml.html.document_fromstring(page.body)
        except (etree.ParserError, ValueError):
            raise ReadError("la page est vide ou illisible") from None
        doc.make_links_absolute(page.url, resolve_base_href=True, handle_failures="discard")

        def meta(*keys: str) -> str:
            for key in keys:
                for node in doc.xpath("//meta[@property=$k or @name=$k]", k=key):
                    value = " ".join((node.get("content") or "").split())
                    if value:
                        return value
            return ""

        title = " ".join((doc.findtext(".//title") or "").split())
        links = [a.get("href", "").strip() for a in doc.iter("a")]
        me_links = [
            node.get("href", "").strip()
            for node in doc.xpath("//a[@rel]|//link[@rel]")
            if "me" in (node.get("rel") or "").lower().split()
        ]
        canonical = next(
            (n.get("href") for n in doc.xpath("//link[@rel='canonical']") if n.get("href")), ""
        )
        return Reading(
            name=meta("og:site_name", "application-name") or title or meta("og:title"),
            description=meta("description", "og:description"),
            avatar_url=self._icon(doc) or meta("og:image"),
            website=canonical or meta("og:url") or page.url,
            links=_unique(links),
            me_links=_unique(me_links),
        )

    @staticmethod
    def _icon(doc) -> str:
        best, best_size = "", -1
        for node in doc.xpath("//link[@rel and @href]"):
            rel = (node.get("rel") or "").lower().split()
            href = node.get("href", "")
            if not ({"icon", "apple-touch-icon"} & set(rel)) or href.lower().endswith(".svg"):
                continue
            if (node.get("type") or "").lower() == "image/svg+xml":
                continue
            sizes = re.findall(r"(\d+)x\d+", node.get("sizes") or "")
            size = max(map(int, sizes)) if sizes else (180 if "apple-touch-icon" in rel else 0)
            if size > best_size:
                best, best_size = href, size
        return best


@register
class Mastodon(ChannelReader):
    """``GET /api/v1/accounts/lookup?acct=name`` on the account's instance: display_name,
    note (bio, as text), avatar_static, the profile fields' links with ``verified_at`` (the
    instance found a rel="me" link back on that page), last_status_at."""

    kind = "mastodon"

    def read(self, channel, client: httpx.Client, deadline: Deadline) -> Reading:
        parts = urlsplit(channel.url)
        name = parts.path.strip("/").lstrip("@").split("@")[0]
        base = f"{parts.scheme}://{parts.netloc}"
        data = _json(client, f"{base}/api/v1/accounts/lookup", deadline,
                     params={"acct": name}, what="le profil Mastodon")  # fmt: skip
        links, verified = [], []
        for item in data.get("fields") or []:
            if not isinstance(item, dict):
                continue
            hrefs = _hrefs(str(item.get("value") or ""))
            links += hrefs
            if item.get("verified_at"):
                verified += hrefs
        note = str(data.get("note") or "")
        links += _hrefs(note)
        avatar = str(data.get("avatar_static") or data.get("avatar") or "")
        if avatar.endswith("/missing.png"):  # Mastodon's placeholder: no avatar chosen
            avatar = ""
        return Reading(
            name=str(data.get("display_name") or data.get("username") or ""),
            description=_text(note),
            avatar_url=avatar,
            website=(verified or links or [""])[0],
            links=_unique(links),
            me_links=_unique(verified),
            last_post_at=_moment(data.get("last_status_at")),
        )


@register
class Bluesky(ChannelReader):
    """The public AppView: ``app.bsky.actor.getProfile`` (displayName, description, avatar)
    and ``app.bsky.feed.getAuthorFeed`` (the date of the latest post, reposts aside). Links
    are those written in the description."""

    kind = "bluesky"

    def read(self, channel, client: httpx.Client, deadline: Deadline) -> Reading:
        actor = channel.handle.lstrip("@")
        profile = _json(client, f"{BLUESKY_APPVIEW}/xrpc/app.bsky.actor.getProfile", deadline,
                        params={"actor": actor}, what="le profil Bluesky")  # fmt: skip
        feed = _json(
            client, f"{BLUESKY_APPVIEW}/xrpc/app.bsky.feed.getAuthorFeed", deadline,
            params={"actor": actor, "limit": 10, "filter": "posts_no_replies"},
            what="le fil Bluesky",
        )  # fmt: skip
        latest = None
        for item in feed.get("feed") or []:
            if not isinstance(item, dict) or item.get("reason"):  # a repost is not a post
                continue
            post = item.get("post") or {}
            moment = _moment((post.get("record") or {}).get("createdAt")) or _moment(
                post.get("indexedAt")
            )
            if moment and (latest is None or moment > latest):
                latest = moment
        description = " ".join(str(profile.get("description") or "").split())
        links = urls_in_text(description)
        return Reading(
            name=str(profile.get("displayName") or profile.get("handle") or ""),
            description=description,
            avatar_url=str(profile.get("avatar") or ""),
            website=(links or [""])[0],
            links=_unique(links),
            last_post_at=latest,
        )
