"""Background work of the privacy app (run by ``nextwork worker``): every minute, the audit
events committed since the last run are sealed into the hash chain (``chain.seal``)."""

from __future__ import annotations

import datetime

from django_tasks import task

from nextwork.common import schedule

EVERY = datetime.timedelta(minutes=1)


@task()
def seal_audit_log() -> str:
    from nextwork.privacy import chain

    # The next run first: if sealing fails, the minute after still tries.
    schedule.plan_next(seal_audit_log)
    return f"{chain.seal()} audit events sealed"


schedule.register_every(seal_audit_log, EVERY)
