"""Presence audit: is the organisation's presence consistent everywhere (docs/presence.md)?

A small plugin interface and its registry, like ``monitoring.sources``: a reader turns one
channel into a ``Reading`` (what its public profile shows: name, description, avatar, website,
links, date of the last post). Readers only talk HTTP and never touch the database, so an
audit can read its channels side by side and write everything afterwards in one transaction.

Built-ins (``presence.readers``): the website's HTML, the Mastodon and Bluesky public profile
APIs. The other kinds have no reader: their profile is typed by hand (``snapshot_enter``).

Every fetch is bounded: a timeout per request, a deadline for the whole audit, a size cap (a
page of 2 MB, an avatar of 1 MB), and no private address (a channel's URL is typed by people,
the server must not be made to read its own network). A reader never raises for what went
wrong at the other end: the ``Reading`` carries ``ok=False`` and the reason, in French, for
the report.
"""

from __future__ import annotations

import datetime
import io
import ipaddress
import socket
import time
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlsplit

import httpx

from nextwork.monitoring.sources import USER_AGENT

PAGE_MAX_BYTES = 2 * 1024 * 1024
AVATAR_MAX_BYTES = 1024 * 1024
REQUEST_TIMEOUT = 10.0  # seconds, per request (connect, each read)
# Two avatars are "the same" image when the Hamming distance of their 64-bit perceptual hashes
# (imagehash.phash) is at most this: the same logo resized or recompressed stays within 0–4,
# unrelated images land around 32 (docs/presence.md).
SAME_AVATAR_DISTANCE = 8
# Tests serve recorded answers on 127.0.0.1 and switch this on; never in production.
ALLOW_PRIVATE_ADDRESSES = False


class ReadError(Exception):
    """The channel could not be read; the message (French) says why, for the report."""


@dataclass
class Reading:
    """What one read (or one hand entry) of a channel found."""

    ok: bool = True
    error: str = ""
    name: str = ""
    description: str = ""
    avatar_url: str = ""
    avatar_hash: str = ""
    website: str = ""
    links: list[str] = field(default_factory=list)
    me_links: list[str] = field(default_factory=list)
    last_post_at: datetime.datetime | None = None
    entered_by_hand: bool = False
    avatar_error: str = ""


class Deadline:
    """The time left to the whole audit; each request gets at most that."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds

    def left(self) -> float:
        return self.ends - time.monotonic()

    def timeout(self) -> httpx.Timeout:
        left = self.left()
        if left <= 0:
            raise ReadError("temps d'audit épuisé avant la lecture")
        return httpx.Timeout(min(REQUEST_TIMEOUT, left))


class ChannelReader:
    kind: ClassVar[str] = ""

    def read(self, channel, client: httpx.Client, deadline: Deadline) -> Reading:
        raise NotImplementedError  # pragma: no cover - interface


REGISTRY: dict[str, ChannelReader] = {}


def register(reader: type[ChannelReader]) -> type[ChannelReader]:
    REGISTRY[reader.kind] = reader()
    return reader


def reader_for(kind: str) -> ChannelReader | None:
    """The kind's reader, or None when its profile is entered by hand."""
    from nextwork.monitoring.presence import readers  # noqa: F401  (the built-ins register)

    return REGISTRY.get(kind)


# -- bounded fetching -----------------------------------------------------------------------


def _check_address(request: httpx.Request) -> None:
    """Refuse a host that resolves to a private, loopback or link-local address (redirects
    included: httpx calls this for each request it sends)."""
    if ALLOW_PRIVATE_ADDRESSES:
        return
    host = request.url.host
    try:
        infos = socket.getaddrinfo(host, request.url.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        raise ReadError(f"le nom {host} ne se résout pas") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise ReadError(f"{host} est une adresse privée : non lue")


# The same check for other outgoing calls to addresses people typed (spike webhooks).
check_address = _check_address


def make_client() -> httpx.Client:
    return httpx.Client(
        headers={"User-Agent": USER_AGENT},
        follow_redirects=True,
        max_redirects=5,
        timeout=REQUEST_TIMEOUT,
        event_hooks={"request": [_check_address]},
    )


@dataclass
class Fetched:
    url: str  # after redirects
    content_type: str
    body: bytes


def fetch(
    client: httpx.Client,
    url: str,
    deadline: Deadline,
    *,
    limit: int,
    what: str,
    accept: str = "*/*",
    params: dict | None = None,
) -> Fetched:
    """GET ``url``, at most ``limit`` bytes before the deadline, or ``ReadError`` saying why
    (``what`` names the thing in French: "la page", "l'image de profil")."""
    megabytes = f"{limit / 1024 / 1024:g} Mo"
    try:
        with client.stream(
            "GET", url, params=params, headers={"Accept": accept}, timeout=deadline.timeout()
        ) as response:
            if response.status_code >= 400:
                raise ReadError(f"{what} répond HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise ReadError(f"{what} dépasse {megabytes} : non lue")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise ReadError(f"{what} dépasse {megabytes} : non lue")
                if deadline.left() <= 0:
                    raise ReadError(f"{what} : temps d'audit épuisé pendant la lecture")
            return Fetched(
                str(response.url), response.headers.get("content-type", "").lower(), bytes(body)
            )
    except httpx.TimeoutException:
        raise ReadError(f"{what} n'a pas répondu à temps") from None
    except httpx.TooManyRedirects:
        raise ReadError(f"{what} redirige trop de fois") from None
    except httpx.HTTPError as exc:
        raise ReadError(f"{what} est injoignable ({type(exc).__name__})") from None


def avatar_hash(client: httpx.Client, url: str, deadline: Deadline) -> str:
    """The hex perceptual hash of the image at ``url``; ``ReadError`` for what is not a
    raster image (an HTML page, an SVG) or is larger than 1 MB."""
    import imagehash
    from PIL import Image, UnidentifiedImageError

    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise ReadError("l'image de profil n'a pas d'adresse http(s)")
    fetched = fetch(
        client, url, deadline, limit=AVATAR_MAX_BYTES, what="l'image de profil", accept="image/*"
    )
    kind = fetched.content_type.split(";")[0].strip()
    if not kind.startswith("image/") or kind == "image/svg+xml":
        raise ReadError(f"l'image de profil n'est pas une image ({kind or 'type inconnu'})")
    try:
        with Image.open(io.BytesIO(fetched.body)) as image:
            if image.width * image.height > 16_000_000:  # a decompression bomb
                raise ReadError("l'image de profil est trop grande")
            image.load()
            return str(imagehash.phash(image.convert("RGB")))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ReadError("l'image de profil ne se décode pas") from None


def same_avatar(a: str, b: str) -> bool:
    import imagehash

    return imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b) <= SAME_AVATAR_DISTANCE
