"""Where publications go: a small plugin interface per network and its registry (DESIGN.md §3).

A ``Publisher`` knows one network's rules: ``check(text, link)`` lists the problems of a text
there (too long, a link that will not be clickable), each with a stable code for the API and a
French message that names the network and says what to change; ``adapt(text, link)`` gives
the text as it is to be published there (the link added when the text does not hold it, cut
to the limit for the networks that are prepared by hand). A publisher with an API
(``has_api``: Mastodon, Bluesky) also ``publish``es a target with the account's credentials;
for the others the adapted text is *prepared*, ready to copy.

``publish`` returns a ``Published`` (the remote id and address), or raises ``TryLater``
(HTTP 429, 5xx, a timeout: the target stays pending and is tried again with back-off) or
``Refused`` (any other refusal: the target fails with the reason). Messages of both are shown
in the log of publications: they name the problem, never a credential.

Lengths are counted as each network counts them: Mastodon and X count characters (code
points) with every address as 23; Bluesky counts grapheme clusters (what a reader sees as one
character: "é" written e + accent, a family emoji, a flag), with ``regex``'s ``\\X`` when the
package is installed, else ``graphemes``' approximation of the Unicode rules (UAX #29).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import ClassVar

from nextwork.common.errors import InvalidInput

USER_AGENT = "nextwork-publishing/1 (+https://github.com/nextwork)"
TIMEOUT = 15.0  # seconds per request to a network's API
# An address in a text: http(s), up to a space; a final punctuation mark is the sentence's.
URL = re.compile(r"https?://[^\s<>\"'«»]+", re.IGNORECASE)
TRAILING = ".,;:!?)]}…"
ELLIPSIS = "…"


class PublishError(Exception):
    """The network did not take the post; the message says why (French, no secret)."""


class TryLater(PublishError):
    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Refused(PublishError):
    """Final: trying again would not help (bad credentials, text refused)."""


@dataclass(frozen=True)
class Problem:
    code: str  # stable: too_long, link_not_clickable, no_account
    severity: str  # "error": refused before anything is published; "warning": shown
    message: str  # French: the network, what is wrong, what to change

    def as_dict(self) -> dict:
        return {"code": self.code, "severity": self.severity, "message": self.message}


@dataclass
class Published:
    remote_id: str
    remote_url: str = ""


@dataclass
class Adapted:
    text: str
    facets: list  # Bluesky's rich-text facets; empty elsewhere


def url_spans(text: str) -> list[tuple[int, int]]:
    """Where the addresses of ``text`` are (character offsets), a final punctuation mark
    left to the sentence."""
    spans = []
    for match in URL.finditer(text):
        end = match.end()
        while end > match.start() and text[end - 1] in TRAILING:
            end -= 1
        spans.append((match.start(), end))
    return spans


def with_link(text: str, link: str) -> str:
    """The text and, when it does not already hold it, the link on a line of its own."""
    if not link or link in text:
        return text
    return f"{text}\n\n{link}"


# -- grapheme clusters ----------------------------------------------------------------------

try:  # pragma: no cover - depends on what is installed
    import regex as _regex

    _CLUSTER = _regex.compile(r"\X")
except ImportError:  # pragma: no cover
    _regex = None
    _CLUSTER = None

ZWJ = "\u200d"


def _extends(ch: str) -> bool:
    """Does ``ch`` continue the cluster before it (UAX #29's Extend, SpacingMark, ZWJ)?"""
    code = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or ch == ZWJ
        or 0xFE00 <= code <= 0xFE0F  # variation selectors (emoji or text presentation)
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
    )


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _hangul(ch: str) -> str:
    """Hangul syllable type: L, V, T, LV, LVT or ""."""
    code = ord(ch)
    if 0x1100 <= code <= 0x115F or 0xA960 <= code <= 0xA97C:
        return "L"
    if 0x1160 <= code <= 0x11A7 or 0xD7B0 <= code <= 0xD7C6:
        return "V"
    if 0x11A8 <= code <= 0x11FF or 0xD7CB <= code <= 0xD7FB:
        return "T"
    if 0xAC00 <= code <= 0xD7A3:
        return "LV" if (code - 0xAC00) % 28 == 0 else "LVT"
    return ""


def graphemes(text: str) -> list[str]:
    """``text`` cut into grapheme clusters. With ``regex`` installed, its ``\\X``; without it,
    an approximation of UAX #29 that handles what social posts hold: combining accents,
    variation selectors, skin tones, emoji joined by ZWJ (families, professions), flags (pairs
    of regional indicators, subdivision tags), CR LF, Hangul syllables. It does not know
    Indic conjuncts (UAX #29's GB9c) nor prepended marks, which Bluesky counts per cluster."""
    if _CLUSTER is not None:
        return _CLUSTER.findall(text)
    clusters: list[str] = []
    regional_run = 0
    for ch in text:
        if not clusters:
            clusters.append(ch)
            regional_run = 1 if _regional(ch) else 0
            continue
        last = clusters[-1]
        prev = last[-1]
        joined = (
            (prev == "\r" and ch == "\n")
            or (_extends(ch) and prev not in "\r\n")
            or (prev == ZWJ and unicodedata.category(ch) == "So")
            or (_regional(ch) and regional_run % 2 == 1)
            or (_hangul(prev) == "L" and _hangul(ch) in ("L", "V", "LV", "LVT"))
            or (_hangul(prev) in ("LV", "V") and _hangul(ch) in ("V", "T"))
            or (_hangul(prev) in ("LVT", "T") and _hangul(ch) == "T")
        )
        if _regional(ch):
            regional_run = regional_run + 1 if _regional(prev) else 1
        else:
            regional_run = 0
        if joined:
            clusters[-1] = last + ch
        else:
            clusters.append(ch)
    return clusters


def cut(text: str, limit: int, length) -> str:
    """``text`` cut at a word, with "…", so that ``length`` of the result is at most
    ``limit``."""
    if length(text) <= limit:
        return text
    words = text.split(" ")
    while len(words) > 1:
        words.pop()
        candidate = " ".join(words).rstrip() + ELLIPSIS
        if length(candidate) <= limit:
            return candidate
    shown = graphemes(text)
    while shown and length("".join(shown) + ELLIPSIS) > limit:
        shown.pop()
    return "".join(shown) + ELLIPSIS


# -- the interface and its registry ---------------------------------------------------------


class Publisher:
    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""  # as the French messages name the network
    has_api: ClassVar[bool] = False
    limit: ClassVar[int | None] = None  # None: no limit worth checking
    unit: ClassVar[str] = "caractères"
    url_weight: ClassVar[int | None] = None  # an address counts as this many; None: its length

    def length(self, text: str) -> int:
        if self.url_weight is None:
            return len(text)
        total, last = 0, 0
        for start, end in url_spans(text):
            total += len(text[last:start]) + self.url_weight
            last = end
        return total + len(text[last:])

    def limit_for(self, account=None) -> int | None:
        return self.limit

    def check(self, text: str, link: str, *, account=None, where: str = "") -> list[Problem]:
        """What is wrong with this text on this network (empty: nothing)."""
        limit = self.limit_for(account)
        if limit is None:
            return []
        full = with_link(text, link)
        size = self.length(self.render(full).text if self.has_api else full)
        if size <= limit:
            return []
        over = size - limit
        name = f"{self.label}{f' ({where})' if where else ''}"
        if self.has_api:
            return [Problem("too_long", "error", (
                f"Trop long pour {name} : {size} {self.unit} pour {limit} au plus. "
                f"Raccourcissez le texte de {over} {self.unit} ou retirez ce canal."
            ))]  # fmt: skip
        return [Problem("too_long", "warning", (
            f"Trop long pour {name} : {size} {self.unit} pour {limit} au plus. Le texte préparé "
            f"est coupé ; raccourcissez-le de {over} {self.unit} pour le publier en entier."
        ))]  # fmt: skip

    def render(self, text: str) -> Adapted:
        return Adapted(text=text, facets=[])

    def adapt(self, text: str, link: str, *, account=None) -> Adapted:
        """The text as it is to be published on this network."""
        full = with_link(text, link)
        limit = self.limit_for(account)
        if limit is not None and not self.has_api and self.length(full) > limit:
            # Prepared by hand: cut the text, keep the link whole.
            room = limit - (self.length(f"\n\n{link}") if link and link not in text else 0)
            full = with_link(cut(text, max(room, 1), self.length), link)
        return self.render(full)

    def publish(self, target, account, credentials: dict) -> Published:  # pragma: no cover
        raise Refused(f"{self.label} n'a pas d'API de publication : le texte est à copier.")


REGISTRY: dict[str, Publisher] = {}


def register(plugin: type[Publisher]) -> type[Publisher]:
    REGISTRY[plugin.kind] = plugin()
    return plugin


def publisher_for(kind: str) -> Publisher:
    from nextwork.monitoring.publishers import bluesky, mastodon, prepared  # noqa: F401

    try:
        return REGISTRY[kind]
    except KeyError:
        raise InvalidInput(f"No publisher for {kind!r} channels.", field="channels") from None
