"""Intern the user agents of the visits already recorded and count those visits.

The same cells ``record_visit`` now bumps (see ``DjangoStorage``), so stats of old and
new visits alike come from the counts. Reversing gives each visit its user agent text
back and empties the count tables.
"""

from typing import Any

from django.db import migrations


def forwards(apps: Any, schema_editor: Any) -> None:
    from suolink.adapters.django.storage import backfill_aggregates

    backfill_aggregates(apps, schema_editor.connection.alias)


def backwards(apps: Any, schema_editor: Any) -> None:
    from suolink.adapters.django.storage import restore_user_agents

    restore_user_agents(apps, schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("suolink", "0004_aggregates"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
