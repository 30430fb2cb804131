"""A rule's burst of posts, for the spike and webhook tests (``busy_rule`` in conftest)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from nextwork.monitoring.services import PostIn

# Posts are never dated in the future (services._when), so the tests' "now" is the real one,
# a little in the past; the history's rhythm is the same at every hour.
NOW = timezone.now().replace(second=20, microsecond=0) - datetime.timedelta(minutes=40)


def burst(n, at, first=0):
    return [PostIn(network="t", external_id=f"b{first + i}", author_handle=f"@user{i}",
                   text=f"Grève contre la réforme des retraites ! #{i}", published_at=at,
                   url=f"https://social.example/@user{i}/{first + i}")
            for i in range(n)]  # fmt: skip
