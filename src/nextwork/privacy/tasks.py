"""Background work of the privacy app (run by ``nextwork worker``): every minute, the audit
events committed since the last run are sealed into the hash chain (``chain.seal``); every
night, the retention policies purge what is kept too long (``retention.apply_all``)."""

from __future__ import annotations

import datetime

from django_tasks import task

from nextwork.common import schedule

EVERY = datetime.timedelta(minutes=1)
RETENTION_AT = datetime.time(3, 40)  # local time: a quiet hour, away from the 00:05 snapshot


@task()
def seal_audit_log() -> str:
    from nextwork.privacy import chain

    # The next run first: if sealing fails, the minute after still tries.
    schedule.plan_next(seal_audit_log)
    return f"{chain.seal()} audit events sealed"


schedule.register_every(seal_audit_log, EVERY)


@task()
def apply_retention() -> str:
    """Apply every retention policy (audited with counts only), then plan tomorrow's run."""
    from nextwork.privacy import retention

    schedule.plan_next(apply_retention)
    results = retention.apply_all()
    return ", ".join(f"{r.name} {r.total}" for r in results if r.enabled) or "all disabled"


schedule.register(apply_retention, RETENTION_AT)
