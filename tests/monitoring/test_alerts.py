"""Live spikes: a rule's usual rhythm does not alert, a burst does, once per cool-down, to the
rule's followers who accepted alerts, with the top posts; the same minute judged twice changes
nothing, and a burst that goes on extends its spike."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from nextwork.messaging import consent
from nextwork.monitoring import alerts, services
from nextwork.monitoring.models import MinuteCount, Spike
from nextwork.monitoring.services import PostIn

# Posts are never dated in the future (services._when), so the test's "now" is the real one,
# a little in the past; the history's rhythm is the same at every hour.
NOW = timezone.now().replace(second=20, microsecond=0) - datetime.timedelta(minutes=40)


def deliver():
    from nextwork.messaging.delivery import send_message
    from nextwork.messaging.models import Message

    for pk in Message.objects.filter(status="queued").values_list("pk", flat=True):
        send_message(pk)


@pytest.fixture
def busy_rule(rule, people):
    """A rule with 16 days of history: one post every other minute, every day."""
    watched = rule("Retraites", ["retraites"], min_count=10, cooldown_minutes=60)
    consent.consent_set(member=people["staff"], channel="email", message_type="alert",
                        given=True, how="site")  # fmt: skip
    start = NOW.replace(second=0) - datetime.timedelta(days=16)
    MinuteCount.objects.bulk_create(
        MinuteCount(rule=watched, minute=start + datetime.timedelta(minutes=m), count=1)
        for m in range(0, 16 * 1440, 2)
    )
    return watched


def burst(n, at, first=0):
    return [PostIn(network="t", external_id=f"b{first + i}", author_handle=f"@user{i}",
                   text=f"Grève contre la réforme des retraites ! #{i}", published_at=at,
                   url=f"https://social.example/@user{i}/{first + i}")
            for i in range(n)]  # fmt: skip


def test_the_usual_rhythm_does_not_alert(busy_rule):
    found = alerts.check(NOW)
    assert found["spiking"] == 0 and not Spike.objects.exists()


def test_a_burst_alerts_the_followers_once_with_its_top_posts(
    busy_rule, django_capture_on_commit_callbacks
):
    minute = NOW.replace(second=0) - datetime.timedelta(minutes=1)
    services.store_posts(source=None, posts=burst(40, minute))
    with django_capture_on_commit_callbacks(execute=True):
        found = alerts.check(NOW)
    assert (found["spiking"], found["opened"], found["alerted"]) == (1, 1, 1)
    spike = Spike.objects.get()
    assert spike.start == minute and spike.count >= 40 and spike.expected < 10
    assert spike.alerted_at is not None
    deliver()
    (sent,) = mail.outbox
    assert "Retraites" in sent.subject and "s'emballe" in sent.body
    assert "https://social.example/@user" in sent.body and sent.body.count("- @user") == 3
    # The same minute again: nothing new. The next minute, still high: the spike goes on.
    with django_capture_on_commit_callbacks(execute=True):
        assert alerts.check(NOW)["opened"] == 0
    services.store_posts(source=None, posts=burst(60, minute + datetime.timedelta(minutes=1), 100))
    with django_capture_on_commit_callbacks(execute=True):
        later = alerts.check(NOW + datetime.timedelta(minutes=1))
    assert later["opened"] == 0
    spike.refresh_from_db()
    assert spike.end == minute + datetime.timedelta(minutes=2) and spike.count >= 100
    deliver()
    assert len(mail.outbox) == 1


def test_a_new_burst_within_the_cool_down_is_recorded_but_not_alerted(
    busy_rule, django_capture_on_commit_callbacks
):
    first = NOW.replace(second=0) - datetime.timedelta(minutes=1)
    services.store_posts(source=None, posts=burst(40, first))
    with django_capture_on_commit_callbacks(execute=True):
        alerts.check(NOW)
    later = NOW + datetime.timedelta(minutes=30)
    at = later.replace(second=0) - datetime.timedelta(minutes=1)
    services.store_posts(source=None, posts=burst(40, at, 500))
    with django_capture_on_commit_callbacks(execute=True):
        found = alerts.check(later)
    assert (found["opened"], found["alerted"]) == (1, 0)
    assert Spike.objects.count() == 2
    deliver()
    assert len(mail.outbox) == 1


def test_a_quiet_rule_stays_quiet(rule, people):
    rule("Calme", ["calme"], min_count=10)
    services.store_posts(source=None, posts=[
        PostIn(network="t", external_id=str(i), text="calme", published_at=NOW) for i in range(3)
    ])  # fmt: skip
    assert alerts.check(NOW + datetime.timedelta(minutes=1))["checked"] == 0


def test_the_spikes_api_lists_them_with_their_top_posts_for_staff(busy_rule, client, people):
    minute = NOW.replace(second=0) - datetime.timedelta(minutes=1)
    services.store_posts(source=None, posts=burst(40, minute))
    alerts.check(NOW)
    client.force_login(people["staff"])
    listed = client.get("/api/v1/spikes", {"rule": busy_rule.pk}).json()
    assert listed["total"] == 1
    (spike,) = listed["items"]
    assert spike["rule_name"] == "Retraites" and spike["count"] >= 40
    assert len(spike["top_posts"]) == 3 and spike["top_posts"][0]["author"].startswith("@user")
    client.force_login(people["coord75"])
    assert client.get("/api/v1/spikes").status_code == 403
