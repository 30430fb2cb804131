"""Members who signed up before messaging existed agreed to the sign-up text, which says the
organisation will write to them about its action: give them the sign-up email consents
(newsletter, calls to action, alerts), dated when they agreed, under that same text.

Only current (not revoked) sign-up consents count; a member who already has an answer for a
type keeps it. An import's consent is recorded as how=import. SMS is never given here: it
needs an opt-in of its own. Running it twice adds nothing.
"""

from django.db import migrations

# Frozen here: a migration must not follow later changes of consent.SIGNUP_EMAIL_TYPES.
SIGNUP_EMAIL_TYPES = ("newsletter", "campaign", "alert")
BATCH = 2000


def give_signup_consents(apps, schema_editor):
    Consent = apps.get_model("network", "Consent")
    ConsentEvent = apps.get_model("messaging", "ConsentEvent")
    ConsentState = apps.get_model("messaging", "ConsentState")

    signup = (
        Consent.objects.filter(revoked_at__isnull=True, text__kind="signup")
        .order_by("member_id", "given_at", "pk")
        .values_list("member_id", "given_at", "text_id", "source")
    )
    last_member = None
    batch: list[tuple] = []

    def flush():
        members = [row[0] for row in batch]
        answered = set(
            ConsentState.objects.filter(
                member_id__in=members, channel="email", message_type__in=SIGNUP_EMAIL_TYPES
            ).values_list("member_id", "message_type")
        )
        events, states = [], []
        for member_id, given_at, text_id, source in batch:
            how = "import" if source == "import" else "signup"
            for message_type in SIGNUP_EMAIL_TYPES:
                if (member_id, message_type) in answered:
                    continue
                events.append(
                    ConsentEvent(
                        member_id=member_id,
                        channel="email",
                        message_type=message_type,
                        given=True,
                        at=given_at,
                        how=how,
                        text_id=text_id,
                    )
                )
                states.append(
                    ConsentState(
                        member_id=member_id,
                        channel="email",
                        message_type=message_type,
                        given=True,
                        updated_at=given_at,
                    )
                )
        ConsentEvent.objects.bulk_create(events, batch_size=BATCH)
        ConsentState.objects.bulk_create(states, batch_size=BATCH)
        batch.clear()

    for row in signup.iterator(chunk_size=BATCH):
        if row[0] == last_member:  # ordered by member: the earliest current consent counts
            continue
        last_member = row[0]
        batch.append(row)
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0001_initial"),
        ("network", "0004_location_department"),
    ]

    operations = [migrations.RunPython(give_signup_consents, migrations.RunPython.noop)]
