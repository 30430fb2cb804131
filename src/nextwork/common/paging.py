"""Links of a paged, filtered list (the members page, the audit log): the query strings of the
previous and next pages, keeping the filters; rendered by ``templates/pager.html``."""

from __future__ import annotations

from django.core.paginator import Page
from django.http import QueryDict


def query_string(values: dict, **extra) -> str:
    """``values`` and ``extra`` as a query string, empty values left out."""
    query = QueryDict(mutable=True)
    for key, value in {**values, **extra}.items():
        if value not in ("", None):
            query[key] = value
    return query.urlencode()


def page_links(page: Page, filters: dict) -> dict:
    """``previous_query`` and ``next_query`` for the template, None where there is no page."""
    return {
        "previous_query": query_string(filters, page=page.previous_page_number())
        if page.has_previous()
        else None,
        "next_query": query_string(filters, page=page.next_page_number())
        if page.has_next()
        else None,
    }
