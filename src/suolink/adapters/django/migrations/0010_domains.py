# Short domains (issue 16): the domain table, and the domain a visit came in on.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("suolink", "0007_visit_geo_arm"),
    ]

    operations = [
        migrations.CreateModel(
            name="Domain",
            fields=[
                ("name", models.CharField(max_length=300, primary_key=True, serialize=False)),
                ("added_us", models.BigIntegerField()),
                ("data", models.TextField()),
            ],
            options={
                "verbose_name": "short domain",
                "db_table": "suolink_domain",
            },
        ),
        migrations.AddField(
            model_name="visit",
            name="domain",
            field=models.TextField(blank=True, null=True),
        ),
    ]
