"""Bluesky: posts written to the account's repository on its PDS (``https://bsky.social``
unless the account names another) with a session opened by the handle and an app password.

Counting as Bluesky does: 300 grapheme clusters. Addresses are shown short, as the Bluesky app
shows them (``example.org/tribune-ret…``), and linked whole by a facet; hashtags are tag
facets. Facets locate their text in UTF-8 bytes (``byteStart`` inclusive, ``byteEnd``
exclusive), so "é" before a link moves it by two.

Exactly once: the record key is a TID computed from the target (its publication's creation
time in microseconds, its id as the clock identifier), the same at every attempt. A retry of
a post that went through conflicts instead of duplicating: "already exists" is success, and
the record is read back (``com.atproto.repo.getRecord``) for its address.

429, 5xx, a timeout: ``TryLater`` (``Retry-After`` or ``RateLimit-Reset`` obeyed); a refused
session (401: wrong handle or app password), a refused record (400): ``Refused``.
"""

from __future__ import annotations

import datetime
import re
import time
from urllib.parse import urlsplit

import httpx

from nextwork.monitoring.publishers import (
    ELLIPSIS,
    TIMEOUT,
    USER_AGENT,
    Adapted,
    Published,
    Publisher,
    Refused,
    TryLater,
    graphemes,
    register,
    url_spans,
)
from nextwork.monitoring.sources import retry_after

DEFAULT_ENDPOINT = "https://bsky.social"
COLLECTION = "app.bsky.feed.post"
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
HASHTAG = re.compile(r"(?:^|(?<=\s))[#＃]([^\s#＃]{1,64})")
TAG_TRAILING = ".,;:!?)]}…»\"'"
LINK = "app.bsky.richtext.facet#link"
TAG = "app.bsky.richtext.facet#tag"


def tid(micros: int, clock: int) -> str:
    """An atproto TID: 53 bits of microseconds since 1970 then 10 bits of clock identifier,
    written in base32-sortable on 13 characters."""
    value = ((micros & ((1 << 53) - 1)) << 10) | (clock & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def record_key(target) -> str:
    created = target.publication.created_at
    return tid(int(created.timestamp() * 1_000_000), target.pk)


def short_url(url: str) -> str:
    """The address as the Bluesky app shows it: no scheme nor www., the path cut after 13
    characters."""
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    if parts.port:
        host = f"{host}:{parts.port}"
    rest = parts.path + (f"?{parts.query}" if parts.query else "") + (
        f"#{parts.fragment}" if parts.fragment else "")  # fmt: skip
    if rest == "/":
        rest = ""
    if len(rest) > 15:
        rest = rest[:13] + ELLIPSIS
    return host + rest


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


@register
class BlueskyPublisher(Publisher):
    kind, label, has_api, limit, unit = "bluesky", "Bluesky", True, 300, "graphèmes"

    def length(self, text: str) -> int:
        return len(graphemes(text))

    def render(self, text: str) -> Adapted:
        shown, facets, last = "", [], 0
        for start, end in url_spans(text):
            shown += text[last:start]
            display = short_url(text[start:end])
            begin = _nbytes(shown)
            shown += display
            facets.append({"index": {"byteStart": begin, "byteEnd": _nbytes(shown)},
                           "features": [{"$type": LINK, "uri": text[start:end]}]})  # fmt: skip
            last = end
        shown += text[last:]
        linked = [(f["index"]["byteStart"], f["index"]["byteEnd"]) for f in facets]
        for match in HASHTAG.finditer(shown):
            tag = match.group(1).rstrip(TAG_TRAILING)
            if not tag or tag.isdigit():
                continue
            begin = _nbytes(shown[: match.start()])
            end = begin + _nbytes(shown[match.start() : match.start(1)] + tag)
            if any(s < end and begin < e for s, e in linked):
                continue
            facets.append({"index": {"byteStart": begin, "byteEnd": end},
                           "features": [{"$type": TAG, "tag": tag}]})  # fmt: skip
        facets.sort(key=lambda f: f["index"]["byteStart"])
        return Adapted(text=shown, facets=facets)

    def publish(self, target, account, credentials: dict) -> Published:
        endpoint = (account.endpoint or DEFAULT_ENDPOINT).rstrip("/")
        rkey = record_key(target)
        headers = {"User-Agent": USER_AGENT}
        with httpx.Client(timeout=TIMEOUT, headers=headers) as http:
            session = _call(http, "POST", f"{endpoint}/xrpc/com.atproto.server.createSession",
                            json={"identifier": account.handle,
                                  "password": credentials["password"]},
                            what="l'ouverture de session")  # fmt: skip
            did, jwt = session.get("did"), session.get("accessJwt")
            if not isinstance(did, str) or not isinstance(jwt, str):
                raise TryLater(f"{endpoint} a ouvert une session sans identifiant de compte.")
            auth = {"Authorization": f"Bearer {jwt}"}
            record = {
                "$type": COLLECTION, "text": target.text, "langs": [target.publication.language],
                "createdAt": datetime.datetime.now(datetime.UTC).isoformat(
                    timespec="milliseconds").replace("+00:00", "Z"),
            }  # fmt: skip
            if target.facets:
                record["facets"] = target.facets
            try:
                created = _call(http, "POST", f"{endpoint}/xrpc/com.atproto.repo.createRecord",
                                json={"repo": did, "collection": COLLECTION, "rkey": rkey,
                                      "record": record},
                                headers=auth, what="la publication")  # fmt: skip
            except _AlreadyExists:  # an earlier attempt went through: read it back
                created = _call(http, "GET", f"{endpoint}/xrpc/com.atproto.repo.getRecord",
                                params={"repo": did, "collection": COLLECTION, "rkey": rkey},
                                headers=auth, what="la relecture de la publication")  # fmt: skip
        uri = created.get("uri")
        if not isinstance(uri, str) or not uri.startswith("at://"):
            raise TryLater(f"{endpoint} a répondu sans l'adresse at:// de la publication.")
        profile = session.get("handle") if isinstance(session.get("handle"), str) else did
        return Published(remote_id=uri, remote_url=f"https://bsky.app/profile/{profile}/post/"
                         f"{uri.rsplit('/', 1)[-1]}")  # fmt: skip


class _AlreadyExists(Exception):
    pass


def _call(http: httpx.Client, method: str, url: str, *, what: str, **kwargs) -> dict:
    host = urlsplit(url).netloc
    try:
        answer = http.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise TryLater(f"{host} n'a pas répondu à temps ({what}).") from None
    except httpx.HTTPError:
        raise TryLater(f"{host} est injoignable ({what}).") from None
    try:
        body = answer.json()
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    status = answer.status_code
    if status < 300 and body:
        return body
    error = str(body.get("error") or "")[:80]
    message = str(body.get("message") or "")[:160]
    reason = f" : {error}{f' ({message})' if message else ''}" if error else ""
    if status == 429 or status >= 500 or status < 300:
        wait = None
        if answer.headers.get("Retry-After"):
            wait = retry_after(answer.headers["Retry-After"])
        elif status == 429 and (answer.headers.get("RateLimit-Reset") or "").isdigit():
            wait = max(0.0, float(answer.headers["RateLimit-Reset"]) - time.time())
        return _later(status, host, what, reason, wait)
    if status == 400 and ("already exist" in f"{error} {message}".lower()
                          or error == "RecordAlreadyExists"):  # fmt: skip
        raise _AlreadyExists()
    if status == 401:
        raise Refused(f"HTTP 401 : {host} refuse l'identifiant ou le mot de passe "
                      f"d'application ({what}) ; enregistrez-les de nouveau.")  # fmt: skip
    raise Refused(f"HTTP {status} : {host} refuse {what}{reason or '.'}")


def _later(status: int, host: str, what: str, reason: str, wait: float | None):
    if status < 300:
        raise TryLater(f"{host} a répondu sans JSON ({what}).")
    busy = "limite le nombre de requêtes" if status == 429 else "est en difficulté"
    raise TryLater(f"HTTP {status} : {host} {busy} ({what}){reason}.", retry_after=wait)
