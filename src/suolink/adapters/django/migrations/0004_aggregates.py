"""Counts kept at write time and interned user agents (the tables; 0005 fills them).

Schema only: PostgreSQL refuses to alter a table with row changes pending in the same
transaction, so the backfill (0005) and dropping ``suolink_visit.user_agent`` (0006)
are migrations of their own.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("suolink", "0003_tombstones"),
    ]

    operations = [
        migrations.CreateModel(
            name="UserAgent",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("digest", models.CharField(max_length=32, unique=True)),
                ("text", models.TextField()),
            ],
            options={
                "verbose_name": "user agent",
                "db_table": "suolink_user_agent",
            },
        ),
        migrations.AddField(
            model_name="visit",
            name="ua",
            field=models.ForeignKey(
                db_column="ua_id",
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="suolink.useragent",
            ),
        ),
        migrations.AddIndex(
            model_name="visit",
            index=models.Index(fields=["at_us"], name="suolink_visit_by_time"),
        ),
        migrations.CreateModel(
            name="VisitCount",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("dimension", models.CharField(max_length=16)),
                ("day", models.CharField(max_length=10)),
                ("value", models.TextField()),
                ("value_digest", models.CharField(max_length=32)),
                ("n", models.BigIntegerField()),
                (
                    "link",
                    models.ForeignKey(
                        db_column="code",
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="suolink.link",
                    ),
                ),
            ],
            options={
                "db_table": "suolink_visit_count",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("link", "dimension", "day", "value_digest"),
                        name="suolink_visit_count_cell",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="VisitorCount",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("visitor", models.TextField()),
                ("visitor_digest", models.CharField(max_length=32)),
                ("n", models.BigIntegerField()),
                (
                    "link",
                    models.ForeignKey(
                        db_column="code",
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="suolink.link",
                    ),
                ),
            ],
            options={
                "db_table": "suolink_visitor_count",
                "indexes": [models.Index(fields=["link", "-n"], name="suolink_visitor_count_by_n")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("link", "visitor_digest"), name="suolink_visitor_count_person"
                    )
                ],
            },
        ),
    ]
