"""Background work of action days (run by ``nextwork worker``)."""

from __future__ import annotations

import datetime

from django_tasks import task

from nextwork.common import schedule

REMINDERS_AT = datetime.time(9, 0)  # local time: reminders arrive in the morning


@task()
def daily_campaign_reminders() -> str:
    """Remind the relays who have not acted yet, on each campaign's reminder days."""
    from nextwork.campaigns.services import send_reminders

    sent = send_reminders()
    schedule.plan_next(daily_campaign_reminders)
    return f"{sent} reminders sent"


schedule.register(daily_campaign_reminders, REMINDERS_AT)
