"""Full-text search over proposals, one entry point for both databases.

SQLite answers from the FTS5 table kept by triggers (accents folded, ``unicode61``);
PostgreSQL from the GIN index on the French text-search vector, accents folded too
(``nextwork_french``: unaccent then the French stemmer, so "ecoles" finds "école"). The
member's words are reduced to letters and digits before they reach either engine, so no
query syntax can be injected; each word matches as a prefix and all must match.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from nextwork.common.errors import InvalidInput

MAX_WORDS = 12
MAX_QUERY = 200


def words(query: str) -> list[str]:
    if len(query) > MAX_QUERY:
        raise InvalidInput(f"Search for at most {MAX_QUERY} characters.", field="q")
    found = re.findall(r"\w+", query.lower())
    if not found:
        raise InvalidInput("Search for at least one word.", field="q")
    return found[:MAX_WORDS]


def matching(proposals: QuerySet, query: str) -> QuerySet:
    """``proposals`` narrowed to those whose title or text holds every word of ``query``."""
    terms = words(query)
    if connection.vendor == "postgresql":
        tsquery = " & ".join(f"{term}:*" for term in terms)
        condition = RawSQL(
            "to_tsvector('nextwork_french'::regconfig, "
            '"participation_proposal"."title" || \' \' || "participation_proposal"."body") '
            "@@ to_tsquery('nextwork_french'::regconfig, %s)",
            [tsquery],
            output_field=BooleanField(),
        )
        return proposals.alias(_fts=condition).filter(_fts=True)
    fts = " ".join(f'"{term}"*' for term in terms)
    ids = RawSQL(
        "SELECT rowid FROM participation_proposal_fts WHERE participation_proposal_fts MATCH %s",
        [fts],
    )
    return proposals.filter(pk__in=ids)
