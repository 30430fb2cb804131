"""What the fault tests do inside the site's own settings (another database than the test
run's): ``python tests/faults/children.py ACTION ...``, answering JSON on standard output."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

SLUG = "fault-send"


def seed_send(size: int) -> dict:
    """``size`` members who agreed to the newsletter, and a message to them, queued."""
    from django.utils import timezone

    from nextwork.messaging import services
    from nextwork.messaging.models import Community, CommunityMembership, ConsentState
    from nextwork.network.models import Grant, Member, Role

    now = timezone.now()
    members = Member.objects.bulk_create(
        Member(
            email=f"fault{i}@example.org",
            first_name=f"N{i}",
            is_active=True,
            confirmed_at=now,
            password="!",
        )
        for i in range(size)
    )
    community = Community.objects.create(slug=SLUG, name="Panne d'envoi")
    CommunityMembership.objects.bulk_create(
        CommunityMembership(community=community, member=m) for m in members
    )
    ConsentState.objects.bulk_create(
        ConsentState(member=m, channel="email", message_type="newsletter", given=True)
        for m in members
    )
    staff = Member.objects.create_user("fault-staff@example.org", is_active=True, confirmed_at=now)
    Grant.objects.create(member=staff, role=Role.STAFF)
    message = services.message_create(
        data=services.MessageIn(
            channel="email",
            message_type="newsletter",
            subject="Bonjour {{ first_name }}",
            body_text="Un message pour {{ first_name }}.",
            definition={"community": [SLUG]},
        ),
        by=staff,
    )
    services.message_send(message=message, by=staff)  # enqueues the send task
    return {"message": message.pk, "emails": [m.email for m in members]}


def send_state(message_id: int) -> dict:
    from django.db.models import Count

    from nextwork.messaging.models import Delivery, Message

    rows = Delivery.objects.filter(message_id=message_id)
    twice = rows.filter(handed_twice=True).values_list("member__email", flat=True)
    return {
        "status": Message.objects.get(pk=message_id).status,
        "deliveries": dict(rows.values_list("status").annotate(n=Count("id"))),
        "handed_twice": sorted(twice),
    }


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nextwork.settings.base")
    import django

    django.setup()
    action, value = argv[0], int(argv[1])
    answer = seed_send(value) if action == "seed-send" else send_state(value)
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main(sys.argv[1:])
