"""Mastodon: hashtag timelines and the public or local timeline of one instance, polled.

Config: ``{"instance": "https://mastodon.social", "hashtags": ["retraites", "greve"],
"timeline": "" | "public" | "local"}`` — at least one hashtag (without ``#``, 20 at most) or a
timeline. Public timelines need no account, so no token is kept; an instance that shows them
to logged-in users only answers with an error that the page of sources shows.

Each poll reads every stream (each hashtag, then the timeline) through Mastodon.py, from where
the last poll stopped: the position of each stream is the id of the newest status read, kept
in ``Source.cursor`` as compact JSON (``{"#retraites": "1135…", "@local": "1135…"}``), and the
next poll asks for what is *immediately newer* (``min_id``), oldest page first. Asking forward
this way (rather than ``since_id``, which gives the newest page and leaves a hole behind it
when there is more than one page) means that a busy hashtag read for at most 5 pages of 40
statuses per poll picks up where it stopped next time: nothing is skipped, only delayed. The
first poll of a stream reads its newest page only (no back-filling of history).

When the positions of many hashtags do not fit the cursor's 200 characters, one position
``{"*": id}`` is kept for all streams: the newest id read if every stream was read to its
end, else the oldest position of the streams cut short (they must resume there; the others
read again a little, which the store absorbs). Status ids being time-ordered on an
instance, this loses nothing except a status federated late with an id older than the
position (a limit of polling by id on Mastodon anyway).

Each status becomes one post: its ``uri`` (the same everywhere it federates) as id, its web
address (``url``, else ``uri``) — so the same status seen from two hashtags or two instances
is stored once —, the author's display name and ``@acct@host`` handle, the text of its HTML
(content warning first, tags dropped, entities decoded, hashtags kept as ``#Tag`` words), its
language and time. A boost is stored as the status it boosts. A status that cannot be read
(a field missing) is skipped and logged; an answer with nothing readable is an error.

A 429 (rate limit) or 503 is ``SourceBusy`` until the time the instance gives
(``Retry-After`` or ``X-RateLimit-Reset``); any other failure (HTTP error, an answer that is
not JSON or not a list of statuses, an unreachable instance) is a ``SourceError`` naming it.
Mastodon.py asks the instance once per poll what it shows without an account
(``/api/v2/instance``) before reading a timeline. The streaming API is not used: polling with
the interval of the source (60 s at least) is enough for spikes measured per minute.
"""

from __future__ import annotations

import datetime
import html
import json
import logging
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import nh3
import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServiceUnavailableError,
    MastodonUnauthorizedError,
)

from nextwork.common.errors import InvalidInput
from nextwork.monitoring.services import PostIn
from nextwork.monitoring.sources import (
    USER_AGENT,
    PollResult,
    SourceBusy,
    SourceError,
    SourcePlugin,
    register,
    retry_after,
)

logger = logging.getLogger(__name__)

MAX_HASHTAGS = 20
PAGE_SIZE = 40  # Mastodon's largest page of statuses
MAX_PAGES = 5  # per stream and poll: a busy hashtag resumes next time
TIMEOUT = 20.0  # seconds per request
CURSOR_LENGTH = 200  # Source.cursor
TIMELINES = ("", "public", "local")
HASHTAG = re.compile(r"^[\w\u00b7\u200c]{1,100}$")  # Mastodon's tag characters, roughly
BREAKS = re.compile(r"<br\s*/?>|</p>|</li>|</blockquote>", re.IGNORECASE)


def _order(status_id: str) -> tuple[int, str]:
    """Ids compared as Mastodon orders them: numbers written as text (a longer one is newer)."""
    return (len(status_id), status_id)


def text_of(content: str) -> str:
    """Plain text of a status's HTML: a line per paragraph or break, tags dropped (a hashtag
    link keeps its ``#Tag`` text), entities decoded."""
    spaced = BREAKS.sub("\n", content or "")
    plain = html.unescape(nh3.clean(spaced, tags=set()))
    lines = (" ".join(line.split()) for line in plain.splitlines())
    return "\n".join(line for line in lines if line)


@dataclass
class _Stream:
    key: str  # in the cursor: "#tag", "@public" or "@local"
    path: str  # Mastodon.py's timeline name
    local: bool = False
    statuses: list = field(default_factory=list)
    position: str | None = None
    complete: bool = True


@register
class MastodonTimelines(SourcePlugin):
    kind = "mastodon"
    min_interval = 60

    def check_config(self, config: dict) -> dict:
        if not isinstance(config, dict):
            raise InvalidInput("config: an object with instance, hashtags, timeline.",
                               field="config")  # fmt: skip
        unknown = sorted(set(config) - {"instance", "hashtags", "timeline"})
        if unknown:
            raise InvalidInput(f"config: unknown setting {unknown[0]!r} (instance, hashtags, "
                               "timeline).", field="config")  # fmt: skip
        instance = str(config.get("instance") or "").strip().rstrip("/")
        parts = urlsplit(instance)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
            raise InvalidInput(
                "config.instance: the instance's address, such as https://mastodon.social "
                "(no path).", field="config",
            )  # fmt: skip
        hashtags = config.get("hashtags") or []
        if isinstance(hashtags, str) or not isinstance(hashtags, list):
            raise InvalidInput("config.hashtags: a list of hashtags.", field="config")
        kept: list[str] = []
        for i, raw in enumerate(hashtags):
            tag = raw.strip() if isinstance(raw, str) else ""
            if tag.startswith("#"):
                raise InvalidInput(f"config.hashtags[{i}]: without the #, as {tag[1:]!r}.",
                                   field="config")  # fmt: skip
            if not HASHTAG.match(tag):
                raise InvalidInput(
                    f"config.hashtags[{i}]: letters, digits and _ only, 100 at most.",
                    field="config",
                )
            if tag.lower() not in (k.lower() for k in kept):
                kept.append(tag)
        if len(kept) > MAX_HASHTAGS:
            raise InvalidInput(f"config.hashtags: {MAX_HASHTAGS} hashtags at most per source.",
                               field="config")  # fmt: skip
        timeline = config.get("timeline") or ""
        if timeline not in TIMELINES:
            raise InvalidInput("config.timeline: empty, public or local.", field="config")
        if not kept and not timeline:
            raise InvalidInput("config: give at least one hashtag or a timeline (public or "
                               "local).", field="config")  # fmt: skip
        return {"instance": instance, "hashtags": kept, "timeline": timeline}

    def poll(self, source, client=None) -> PollResult:
        config = source.config
        instance = config["instance"]
        session = requests.Session()
        answers: list[requests.Response] = []  # the last answer explains an error
        session.hooks["response"].append(lambda response, *a, **k: answers.append(response))
        api = Mastodon(
            api_base_url=instance, request_timeout=TIMEOUT, ratelimit_method="throw",
            user_agent=USER_AGENT, session=session, version_check_mode="none",
        )  # fmt: skip
        streams = [_Stream(key=f"#{tag.lower()}", path=f"tag/{tag}") for tag in config["hashtags"]]
        if config.get("timeline"):
            streams.append(_Stream(key=f"@{config['timeline']}", path="public",
                                   local=config["timeline"] == "local"))  # fmt: skip
        positions = _positions(source.cursor)
        try:
            for stream in streams:
                self._read(api, stream, positions.get(stream.key, positions.get("*")))
        except MastodonError as exc:
            raise _explain(exc, answers[-1] if answers else None, instance) from None
        finally:
            session.close()
        host = urlsplit(instance).netloc
        posts, newest, unreadable = [], None, 0
        for stream in streams:
            for status in stream.statuses:
                post = _post(status, host)
                if post is None:  # one odd status must not block the stream forever
                    unreadable += 1
                    continue
                posts.append(post)
                if newest is None or post.published_at > newest:
                    newest = post.published_at
        if unreadable and not posts:
            raise SourceError(f"{instance} answered with something that is not a list of "
                              "statuses.")  # fmt: skip
        if unreadable:
            logger.warning("mastodon source #%s: %s unreadable statuses skipped", source.pk,
                           unreadable)  # fmt: skip
        return PollResult(posts=posts, cursor=_cursor(streams), newest=newest)

    @staticmethod
    def _read(api: Mastodon, stream: _Stream, after: str | None) -> None:
        def page(**since) -> list:
            found = api.timeline(stream.path, limit=PAGE_SIZE, local=stream.local, **since)
            if not isinstance(found, list):
                raise MastodonAPIError("not a list")
            return list(found)

        if after is None:  # first reading: the newest page, no history
            stream.statuses = page()
            ids = [str(s.get("id", "")) for s in stream.statuses if isinstance(s, dict)]
            stream.position = max(ids, key=_order) if ids else None
            return
        stream.position = after
        for _ in range(MAX_PAGES):
            found = page(min_id=after)
            stream.statuses += found
            ids = [str(s.get("id", "")) for s in found if isinstance(s, dict)]
            if ids:
                after = stream.position = max([*ids, after], key=_order)
            if len(found) < PAGE_SIZE:
                return
        stream.complete = False  # more to read: the next poll resumes at stream.position


def _positions(cursor: str) -> dict[str, str]:
    try:
        positions = json.loads(cursor) if cursor else {}
    except ValueError:
        return {}
    if not isinstance(positions, dict):
        return {}
    return {str(k): str(v) for k, v in positions.items() if isinstance(v, str | int)}


def _cursor(streams: list[_Stream]) -> str:
    positions = {s.key: s.position for s in streams if s.position}
    if not positions:
        return ""
    compact = json.dumps(positions, separators=(",", ":"))
    if len(compact) <= CURSOR_LENGTH:
        return compact
    behind = [s.position for s in streams if s.position and not s.complete]
    single = min(behind, key=_order) if behind else max(positions.values(), key=_order)
    return json.dumps({"*": single}, separators=(",", ":"))


def _post(status, host: str) -> PostIn | None:
    try:
        if status.get("reblog"):
            status = status["reblog"]
        account = status["account"]
        acct = str(account["acct"])
        handle = f"@{acct}" if "@" in acct else f"@{acct}@{host}"
        spoiler = text_of(status.get("spoiler_text") or "")
        body = text_of(status.get("content") or "")
        moment = status["created_at"]
        if isinstance(moment, str):
            moment = datetime.datetime.fromisoformat(moment.replace("Z", "+00:00"))
        if not isinstance(moment, datetime.datetime):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        uri = str(status["uri"])
        return PostIn(
            network="mastodon", external_id=uri[:500], url=str(status.get("url") or uri)[:1000],
            author=str(account.get("display_name") or account.get("username") or "")[:200],
            author_handle=handle[:200], text="\n".join(t for t in (spoiler, body) if t),
            lang=str(status.get("language") or "")[:12], published_at=moment,
        )  # fmt: skip
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def _explain(exc: MastodonError, answer, instance: str) -> SourceError:
    """What went wrong, for the page of sources (Mastodon.py's messages quote whole bodies)."""
    status = answer.status_code if answer is not None else None
    headers = answer.headers if answer is not None else {}
    if isinstance(exc, MastodonRatelimitError | MastodonServiceUnavailableError) or status in (
        429, 503,
    ):  # fmt: skip
        wait = None
        if headers.get("Retry-After"):
            wait = retry_after(headers.get("Retry-After"))
        elif headers.get("X-RateLimit-Reset"):
            wait = _until(headers["X-RateLimit-Reset"])
        wait = 300.0 if wait is None else wait
        return SourceBusy(f"HTTP {status or 429}: {instance} asks to wait {wait:.0f} s.",
                          retry_after=wait)  # fmt: skip
    if isinstance(exc, MastodonNetworkError):
        reason = "did not answer in time" if "timed out" in str(exc).lower() else "unreachable"
        return SourceError(f"{instance} {reason}.")
    if isinstance(exc, MastodonNotFoundError):
        return SourceError(f"HTTP 404: {instance} has no such timeline (is it a Mastodon "
                           "instance?).")  # fmt: skip
    if isinstance(exc, MastodonUnauthorizedError) or status in (401, 403, 422):
        return SourceError(f"HTTP {status}: {instance} shows this timeline to logged-in "
                           "accounts only.")  # fmt: skip
    if status is not None and status >= 400:
        return SourceError(f"HTTP {status} from {instance}.")
    return SourceError(f"{instance} answered with something that is not a list of statuses "
                       f"(HTTP {status}).")  # fmt: skip


def _until(reset: str) -> float | None:
    """Seconds until an ``X-RateLimit-Reset`` time (ISO 8601, or a Unix time)."""
    try:
        if reset.strip().isdigit():
            return max(0.0, float(reset) - time.time())
        when = datetime.datetime.fromisoformat(reset.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())
