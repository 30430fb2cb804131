"""Message templates: ``{{ variable }}`` placeholders, checked when saved, filled per recipient.

Templates are compiled once per message (``Compiled``) and filled for each recipient with a
plain substitution: no template language runs on what staff or coordinators write, and values
are HTML-escaped in the HTML part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

import nh3
from django.utils.translation import gettext as _
from inscriptis import get_text

from nextwork.common.errors import InvalidInput

VARIABLES = {
    "first_name": "the member's first name",
    "last_name": "the member's last name",
    "constituency": "the member's constituency, e.g. 75-02",
    "department": "the member's department, e.g. Paris",
    "deputy": "the member's deputy (first and last name), or empty for a vacant seat",
    "unsubscribe_url": "the one-click unsubscribe link of this message",
    "preferences_url": "the link to the member's preferences page",
}


def literal(text: str) -> str:
    """Text put into a message template as is (a title a member wrote): no accidental
    ``{{ variable }}``."""
    return text.replace("{{", "{ {").replace("}}", "} }")


_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# A variable at the start of an HTML address could become javascript: or another site; the
# unsubscribe and preferences links are whole addresses made by the platform, allowed there.
_IN_URL = re.compile(
    r"""(?:href|src)\s*=\s*["']?\s*\{\{(?!\s*(?:unsubscribe_url|preferences_url)\s*\}\})""",
    re.IGNORECASE,
)

# What an email's HTML may contain: formatting, links, images, simple tables.
HTML_TAGS = {
    "a", "b", "blockquote", "br", "div", "em", "h1", "h2", "h3", "h4", "hr", "i", "img", "li",
    "ol", "p", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
HTML_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align"},
    "*": {"style"},
}


def check(text: str, *, field: str) -> None:
    """Every ``{{ name }}`` is a known variable; a stray ``{{`` is an error, not silence."""
    names = _PLACEHOLDER.findall(text or "")
    unknown = sorted({n for n in names if n not in VARIABLES})
    if unknown:
        raise InvalidInput(
            f"Unknown variable {{{{ {unknown[0]} }}}}; the variables are "
            + ", ".join(f"{{{{ {v} }}}}" for v in VARIABLES)
            + ".",
            field=field,
            code="unknown_variable",
        )
    if _IN_URL.search(text or ""):
        raise InvalidInput(
            "A variable cannot start a link or an image address (href, src): the sanitiser "
            "checks addresses before the variables are filled.",
            field=field,
            code="unknown_variable",
        )
    rest = _PLACEHOLDER.sub("", text or "")
    if "{{" in rest or "}}" in rest:
        raise InvalidInput(
            "A variable is written {{ first_name }}: a '{{' or '}}' is left unclosed.",
            field=field,
            code="unknown_variable",
        )


def clean_html(html: str) -> str:
    """The HTML part, sanitised: no script, no form, no event handler, no javascript: link."""
    return nh3.clean(
        html or "",
        tags=HTML_TAGS,
        attributes=HTML_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
    )


def text_from_html(html: str) -> str:
    """The plain-text part written from the HTML one when the author gave none."""
    return get_text(html or "").strip() + "\n"


@dataclass(frozen=True)
class Compiled:
    """A template split once into literal parts and variable names, for fast filling."""

    parts: tuple[str, ...]
    names: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> Compiled:
        pieces = _PLACEHOLDER.split(text or "")
        return cls(parts=tuple(pieces[0::2]), names=tuple(pieces[1::2]))

    def fill(self, values: dict[str, str], *, html: bool = False) -> str:
        out = [self.parts[0]]
        for name, literal in zip(self.names, self.parts[1:], strict=True):
            value = values.get(name, "")
            out.append(escape(value) if html else value)
            out.append(literal)
        return "".join(out)


def footer_text(*, unsubscribe_url: str, preferences_url: str, organisation: str) -> str:
    return "\n-- \n" + _(
        "Vous recevez ce message de %(org)s parce que vous l'avez accepté.\n"
        "Se désinscrire en un clic : %(unsub)s\n"
        "Choisir ce que vous recevez : %(prefs)s\n"
    ) % {"org": organisation, "unsub": unsubscribe_url, "prefs": preferences_url}


def footer_html(*, unsubscribe_url: str, preferences_url: str, organisation: str) -> str:
    return (
        '<hr><p style="font-size:12px;color:#555">'
        + escape(
            _("Vous recevez ce message de %(org)s parce que vous l'avez accepté.")
            % {"org": organisation}
        )
        + f'<br><a href="{escape(unsubscribe_url)}">'
        + escape(_("Se désinscrire en un clic"))
        + f'</a> · <a href="{escape(preferences_url)}">'
        + escape(_("Choisir ce que vous recevez"))
        + "</a></p>"
    )
