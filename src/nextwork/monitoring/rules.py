"""The matcher of the active watch rules, built once per process and rebuilt when a rule
changes anywhere (``services.rules_version``: one cheap query per batch of posts)."""

from __future__ import annotations

import threading

from nextwork.monitoring.matcher import Matcher, RuleSpec

_lock = threading.Lock()
_cached: tuple[tuple, Matcher] | None = None


def specs() -> list[RuleSpec]:
    from nextwork.monitoring.models import WatchRule

    return [
        RuleSpec(id=pk, terms=tuple(terms), exclusions=tuple(exclusions or ()),
                 languages=tuple(languages or ()))
        for pk, terms, exclusions, languages in WatchRule.objects.filter(active=True)
        .order_by("pk").values_list("pk", "terms", "exclusions", "languages")
    ]  # fmt: skip


def current_matcher() -> Matcher:
    global _cached
    from nextwork.monitoring.services import rules_version

    version = rules_version()
    with _lock:
        if _cached is None or _cached[0] != version:
            _cached = (version, Matcher(specs()))
        return _cached[1]
