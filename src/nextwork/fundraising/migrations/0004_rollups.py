"""The person made required, and the monthly roll-ups of the analytics, computed from the
donations by the same code as ``nextwork manage fundraising_rollups``."""

import django.db.models.deletion
from django.db import migrations, models


def rollups(apps, schema_editor):
    from nextwork.fundraising import rollups as live

    live.rebuild()


class Migration(migrations.Migration):
    dependencies = [
        ("fundraising", "0003_donor_person"),
    ]

    operations = [
        migrations.AlterField(
            model_name="donor",
            name="person",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="records",
                to="fundraising.donorperson",
            ),
        ),
        migrations.AlterField(
            model_name="donation",
            name="person",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="donations",
                to="fundraising.donorperson",
            ),
        ),
        migrations.AlterField(
            model_name="beneficiary",
            name="name",
            field=models.CharField(max_length=200, verbose_name="nom du bénéficiaire"),
        ),
        migrations.CreateModel(
            name="MonthAmount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("month", models.IntegerField()),
                ("amount_cents", models.PositiveBigIntegerField()),
                ("gifts", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("month", "amount_cents"), name="one_month_amount"
                    )
                ],
            },
        ),  # fmt: skip
        migrations.CreateModel(
            name="MonthPerson",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("month", models.IntegerField()),
                ("total_cents", models.BigIntegerField(default=0)),
                ("largest_cents", models.BigIntegerField(default=0)),
                ("gifts", models.IntegerField(default=0)),
                ("monthly_cents", models.BigIntegerField(default=0)),
                ("monthly_gifts", models.IntegerField(default=0)),
                (
                    "person",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="fundraising.donorperson",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("month", "person"), name="one_month_person")
                ],
            },
        ),  # fmt: skip
        migrations.CreateModel(
            name="MonthPlace",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("month", models.IntegerField()),
                ("department", models.CharField(blank=True, max_length=3)),
                ("source", models.CharField(blank=True, max_length=200)),
                ("total_cents", models.BigIntegerField(default=0)),
                ("gifts", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("month", "department", "source"), name="one_month_place"
                    )
                ],
            },
        ),  # fmt: skip
        migrations.RunPython(rollups, migrations.RunPython.noop),
    ]
