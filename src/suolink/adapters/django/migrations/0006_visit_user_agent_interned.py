"""Visits hold their user agent only as ``ua_id`` (filled by 0005)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("suolink", "0005_backfill_aggregates"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="visit",
            name="user_agent",
        ),
        migrations.AlterField(
            model_name="visit",
            name="ua",
            field=models.ForeignKey(
                db_column="ua_id",
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="suolink.useragent",
            ),
        ),
    ]
