"""Live spikes: a rule's usual rhythm does not alert, a burst does, once per cool-down, to the
rule's followers who accepted alerts, with the top posts; the same minute judged twice changes
nothing, and a burst that goes on extends its spike."""

from __future__ import annotations

import datetime

from django.core import mail

from nextwork.monitoring import alerts, services
from nextwork.monitoring.models import Spike
from nextwork.monitoring.services import PostIn
from tests.monitoring.bursts import NOW, burst


def deliver():
    from nextwork.messaging.delivery import send_message
    from nextwork.messaging.models import Message

    for pk in Message.objects.filter(status="queued").values_list("pk", flat=True):
        send_message(pk)


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
