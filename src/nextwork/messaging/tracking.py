"""Opens and clicks: signed links and an open pixel, recorded only for members who allow it.

Tracking is off unless the member turned it on (``Preferences.tracking``). The engine
instruments the HTML of those members' messages only; the views and the provider's webhooks
check the preference again when the open or click arrives, because it may have changed since
the message left.

Tokens are ``django.core.signing`` values: a click token carries the delivery id and the target
URL, so the redirect only ever goes where the message pointed (no open redirect); an open token
carries the delivery id. They do not expire: a link in a message read months later still works.
"""

from __future__ import annotations

import functools
import html as html_lib
from datetime import datetime
from html.parser import HTMLParser
from typing import Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from nextwork.messaging.models import Delivery, Preferences

CLICK_SALT = "nextwork.messaging.tracking.click"
OPEN_SALT = "nextwork.messaging.tracking.open"
# Links that must reach the site untouched: leaving and choosing what to receive never depend
# on the tracking redirect, and a tracked link is not wrapped twice.
KEPT_PATHS = ("/desinscription/", "/espace/preferences", "/m/")


class HasPk(Protocol):
    pk: int


# -- tokens -------------------------------------------------------------------------------------


def click_token(delivery_id: int, url: str) -> str:
    return signing.dumps([delivery_id, url], salt=CLICK_SALT, compress=True)


def open_token(delivery_id: int) -> str:
    return signing.dumps(delivery_id, salt=OPEN_SALT)


def read_click_token(token: str) -> tuple[int, str]:
    """The delivery id and target of a click token; ``signing.BadSignature`` if forged."""
    value = signing.loads(token, salt=CLICK_SALT)
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or not isinstance(value[1], str)
        or not _is_web_url(value[1])
    ):
        raise signing.BadSignature("Unexpected click token content.")
    return value[0], value[1]


def read_open_token(token: str) -> int:
    value = signing.loads(token, salt=OPEN_SALT)
    if not isinstance(value, int):
        raise signing.BadSignature("Unexpected open token content.")
    return value


def click_url(delivery_id: int, url: str) -> str:
    return settings.NEXTWORK_SITE_URL + _route(
        "messaging:track_click", click_token(delivery_id, url)
    )


def open_url(delivery_id: int) -> str:
    return settings.NEXTWORK_SITE_URL + _route("messaging:track_open", open_token(delivery_id))


_MARK = "TOKEN0"


@functools.cache
def _pattern(name: str) -> tuple[str, str]:
    # Reversed once per process (senders make these links for every tracked email); signed
    # tokens are URL-safe, so putting one in place of the mark gives what reverse() gives.
    before, _mark, after = reverse(name, args=[_MARK]).partition(_MARK)
    return before, after


def _route(name: str, token: str) -> str:
    before, after = _pattern(name)
    return f"{before}{token}{after}"


# -- instrumenting a message --------------------------------------------------------------------


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _is_kept(url: str) -> bool:
    site = urlsplit(settings.NEXTWORK_SITE_URL)
    parts = urlsplit(url)
    return (
        parts.scheme.lower() == site.scheme.lower()
        and parts.netloc.lower() == site.netloc.lower()
        and parts.path.startswith(tuple(site.path.rstrip("/") + p for p in KEPT_PATHS))
    )


class _Links(HTMLParser):
    """Finds the link tags and the end of the body, by their offsets in the source, so that
    everything else is given back byte for byte (conditional comments of Outlook included)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[int, int], str, list[tuple[str, str | None]]]] = []
        self.body_end: tuple[int, int] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("a", "area"):
            self.tags.append((tag, self.getpos(), self.get_starttag_text() or "", attrs))

    def handle_endtag(self, tag):
        if tag == "body":
            self.body_end = self.getpos()


def _rebuilt(tag: str, raw: str, attrs: list[tuple[str, str | None]]) -> str:
    parts = [f"<{tag}"]
    for name, value in attrs:
        parts.append(f" {name}" if value is None else f' {name}="{html_lib.escape(value)}"')
    parts.append(" />" if raw.rstrip().endswith("/>") else ">")
    return "".join(parts)


def instrument_html(html: str, delivery: HasPk) -> str:
    """Rewrite every http(s) link of ``html`` to a signed redirect through the site, and add
    a 1×1 open pixel. Links to the unsubscribe and preferences pages stay as they are;
    ``mailto:``, ``tel:``, anchors and relative links are not touched."""
    parser = _Links()
    parser.feed(html)
    parser.close()
    line_starts = [0]
    for index, char in enumerate(html):
        if char == "\n":
            line_starts.append(index + 1)

    def offset(pos: tuple[int, int]) -> int:
        return line_starts[pos[0] - 1] + pos[1]

    edits: list[tuple[int, int, str]] = []
    for tag, pos, raw, attrs in parser.tags:
        new_attrs, changed = [], False
        for name, value in attrs:
            target = (value or "").strip()
            if name == "href" and _is_web_url(target) and not _is_kept(target):
                value, changed = click_url(delivery.pk, target), True
            new_attrs.append((name, value))
        if changed:
            start = offset(pos)
            edits.append((start, start + len(raw), _rebuilt(tag, raw, new_attrs)))
    pixel = (
        f'<img src="{html_lib.escape(open_url(delivery.pk))}" width="1" height="1" alt="" '
        'style="display:block;border:0;width:1px;height:1px" />'
    )
    end = offset(parser.body_end) if parser.body_end else len(html)
    edits.append((end, end, pixel))
    out, last = [], 0
    for start, stop, text in sorted(edits):
        out.append(html[last:start])
        out.append(text)
        last = stop
    out.append(html[last:])
    return "".join(out)


# -- recording ----------------------------------------------------------------------------------


def _tracked(delivery_id: int) -> tuple[Delivery, Preferences] | None:
    """The delivery and its member's preferences, locked, when the member allows tracking."""
    delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None:
        return None
    prefs = Preferences.objects.select_for_update().filter(member_id=delivery.member_id).first()
    if prefs is None or not prefs.tracking:
        return None
    return delivery, prefs


def _stamp(obj, field: str, at: datetime, *, first_only: bool) -> bool:
    current = getattr(obj, field)
    if current is not None and (first_only or current >= at):
        return False
    setattr(obj, field, at)
    return True


@transaction.atomic
def record_open(*, delivery_id: int, at: datetime | None = None) -> bool:
    """Record an open if the member allows tracking: the delivery's first open, the member's
    latest. False when nothing is recorded (tracking off, unknown delivery)."""
    found = _tracked(delivery_id)
    if found is None:
        return False
    delivery, prefs = found
    at = at or timezone.now()
    if _stamp(delivery, "opened_at", at, first_only=True):
        delivery.save(update_fields=["opened_at"])
    if _stamp(prefs, "last_opened_at", at, first_only=False):
        prefs.save(update_fields=["last_opened_at"])
    return True


@transaction.atomic
def record_click(*, delivery_id: int, at: datetime | None = None) -> bool:
    """Record a click if the member allows tracking. A click also counts as the open when no
    open was seen (the mail client did not load images)."""
    found = _tracked(delivery_id)
    if found is None:
        return False
    delivery, prefs = found
    at = at or timezone.now()
    opened_now = _stamp(delivery, "opened_at", at, first_only=True)
    fields = ["clicked_at"] if _stamp(delivery, "clicked_at", at, first_only=True) else []
    if fields or opened_now:
        delivery.save(update_fields=[*fields, *(["opened_at"] if opened_now else [])])
    fields = ["last_clicked_at"] if _stamp(prefs, "last_clicked_at", at, first_only=False) else []
    if opened_now and _stamp(prefs, "last_opened_at", at, first_only=False):
        fields.append("last_opened_at")
    if fields:
        prefs.save(update_fields=fields)
    return True
