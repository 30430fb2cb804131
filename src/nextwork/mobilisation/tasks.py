"""Background work of electoral mobilisation (run by ``nextwork worker``): the registration
drive every morning, the polling-day reminders on the eve and the morning of each round, and
the automatic proxy matchings coordinators ask for.

Each task runs the same functions as ``nextwork manage mobilisation`` and plans its next run;
running one twice sends nothing twice (``reminders``).
"""

from __future__ import annotations

import datetime

from django_tasks import task

from nextwork.common import schedule

REGISTRATION_AT = datetime.time(10, 0)  # local time
POLLING_EVE_AT = datetime.time(18, 0)  # the day before a round
POLLING_MORNING_AT = datetime.time(7, 0)  # the round's day, before most people go and vote
PROXY_STEPS_AT = datetime.time(11, 0)


def _summary(outcomes) -> str:
    sent = sum(o.sent for o in outcomes)
    return f"{sent} reminders sent ({len(outcomes)} elections or rounds open)"


@task()
def registration_reminders() -> str:
    """Remind the members concerned by each open registration drive (once per election)."""
    from nextwork.mobilisation.reminders import remind_registration_all

    outcomes = remind_registration_all()
    schedule.plan_next(registration_reminders)
    return _summary(outcomes)


@task()
def polling_eve_reminders() -> str:
    """The eve of a round: remind the members concerned (once per round)."""
    from nextwork.mobilisation.reminders import remind_polling_all

    outcomes = remind_polling_all()
    schedule.plan_next(polling_eve_reminders)
    return _summary(outcomes)


@task()
def polling_morning_reminders() -> str:
    """The morning of a round: remind those not reminded on the eve (once per round)."""
    from nextwork.mobilisation.reminders import remind_polling_all

    outcomes = remind_polling_all()
    schedule.plan_next(polling_morning_reminders)
    return _summary(outcomes)


@task()
def proxy_step_reminders() -> str:
    """Remind the side that has not answered a proxy proposal, and requesters whose accepted
    proxy is not established a week before the round (once each)."""
    from nextwork.mobilisation.notices import nudge_steps

    sent = nudge_steps()
    schedule.plan_next(proxy_step_reminders)
    return f"{sent['answer']} answer reminders, {sent['declare']} reminders to establish"


@task()
def match_run_task(run_id: int) -> str:
    """A coordinator's automatic matching (``services.match_run_queue``)."""
    from nextwork.mobilisation.services import match_run_do

    run = match_run_do(run_id)
    return f"matching run #{run.pk}: {run.status} {run.result or run.error}"


schedule.register(registration_reminders, REGISTRATION_AT)
schedule.register(proxy_step_reminders, PROXY_STEPS_AT)
schedule.register(polling_eve_reminders, POLLING_EVE_AT)
schedule.register(polling_morning_reminders, POLLING_MORNING_AT)
