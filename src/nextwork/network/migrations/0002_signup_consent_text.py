from django.db import migrations

from nextwork.network.consent_texts import SIGNUP_V1_FR


def create_text(apps, schema_editor):
    ConsentText = apps.get_model("network", "ConsentText")
    ConsentText.objects.get_or_create(
        kind="signup", version=1, language="fr", defaults={"body": SIGNUP_V1_FR}
    )


class Migration(migrations.Migration):
    dependencies = [("network", "0001_initial")]

    operations = [migrations.RunPython(create_text, migrations.RunPython.noop)]
