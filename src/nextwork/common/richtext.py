"""Markdown written by staff or members, rendered to HTML that is safe to show.

markdown-it-py renders CommonMark with raw HTML switched off; nh3 (the Ammonia sanitiser)
then keeps a short list of tags and attributes, so nothing in the text can run a script or
reach outside the page.
"""

from __future__ import annotations

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
TAGS = {
    "p", "br", "strong", "em", "ul", "ol", "li", "blockquote", "h2", "h3", "h4", "a", "code",
    "pre", "hr",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}}


def render(text: str) -> SafeString:
    html = _markdown.render(text or "")
    clean = nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308 (sanitised just above)
