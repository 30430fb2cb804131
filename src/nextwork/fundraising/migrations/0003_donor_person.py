"""Persons as integers, for the analytics: ``DonorPerson`` gets one row per distinct
``Donor.key``, and every donor row and donation points to it (made required in 0004)."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def persons(apps, schema_editor):
    DonorPerson = apps.get_model("fundraising", "DonorPerson")
    Donor = apps.get_model("fundraising", "Donor")
    Donation = apps.get_model("fundraising", "Donation")
    keys = Donor.objects.order_by().values_list("key", flat=True).distinct()
    DonorPerson.objects.bulk_create(
        [DonorPerson(key=key) for key in keys.iterator()], batch_size=5000
    )
    Donor.objects.update(
        person=Subquery(DonorPerson.objects.filter(key=OuterRef("key")).values("pk")[:1])
    )
    Donation.objects.update(
        person=Subquery(Donor.objects.filter(pk=OuterRef("donor_id")).values("person_id")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("fundraising", "0002_beneficiary_purpose"),
    ]

    operations = [
        migrations.CreateModel(
            name="DonorPerson",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=64, unique=True)),
            ],
        ),  # fmt: skip
        migrations.AddField(
            model_name="donor",
            name="person",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="records",
                to="fundraising.donorperson",
            ),
        ),
        migrations.AddField(
            model_name="donation",
            name="person",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="donations",
                to="fundraising.donorperson",
            ),
        ),
        migrations.RunPython(persons, migrations.RunPython.noop),
    ]
