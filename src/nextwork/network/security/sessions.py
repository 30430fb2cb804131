"""Sessions: idle expiry and "log out everywhere".

Sessions are rows of Django's database session store (the default); a member's sessions are
found by reading the live rows, which is linear in the number of open sessions but runs only
when a member asks for it or changes their password.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from nextwork.network.models import Member

LAST_SEEN_KEY = "nextwork_last_seen"
STRICT_KEY = "nextwork_strict_idle"
# Staff and coordinators hold more than their own data: their sessions end sooner.
STRICT_IDLE_MINUTES = 30
# The last-seen stamp is written at most this often, not on every request.
TOUCH_SECONDS = 60


def idle_limit(strict: bool) -> int:
    minutes = settings.NEXTWORK_SESSION_IDLE_MINUTES
    if strict:
        minutes = min(minutes, STRICT_IDLE_MINUTES)
    return minutes * 60


def end_sessions(member: Member, *, keep: str | None = None) -> int:
    """Delete every session row of ``member`` (but ``keep``, a session key); return how many."""
    ended = []
    live = Session.objects.filter(expire_date__gt=timezone.now())
    for session in live.iterator(chunk_size=500):
        if session.session_key == keep:
            continue
        if session.get_decoded().get("_auth_user_id") == str(member.pk):
            ended.append(session.session_key)
    Session.objects.filter(session_key__in=ended).delete()
    return len(ended)


def now() -> int:
    return int(time.time())
