"""The pages' French for the services' English refusals.

Services speak English (the API shows their messages as they are); each app's pages keep a
table of ``(field or None, regular expression on the message, French text)`` and find the
sentence for an error here, the same way everywhere.
"""

from __future__ import annotations

import re

from nextwork.common.errors import DomainError


def lookup(exc: DomainError, table) -> tuple[str, dict[str, str]] | None:
    """The first entry of ``table`` for ``exc``'s field whose pattern is in its message:
    its text and the pattern's named groups (those that matched), or ``None``."""
    for field, pattern, text in table:
        if field is not None and field != exc.field:
            continue
        found = re.search(pattern, exc.message)
        if found:
            return str(text), {k: v for k, v in found.groupdict().items() if v is not None}
    return None


def sentence(exc: DomainError, table, adjust=None) -> str:
    """The page's sentence for ``exc``: the table's text filled with the message's values
    (``adjust`` may reshape them first), or the service's own message when no entry fits."""
    found = lookup(exc, table)
    if found is None:
        return exc.message
    text, values = found
    if adjust is not None:
        values = adjust(values)
    return text % values if values else text
