"""ORM models behind the ``django://`` backend: links, their tags, visits, a counter, tombstones.

They mirror the SQLite backend's tables, so the same contract holds: ``created_us``
(microseconds since the epoch) keeps listing order and cursors exact in every database
(``*_offset`` keeps the UTC offset each time was given in; the DateTimeFields are for
the admin),
``LinkTag`` makes the tag filter an indexed lookup, and ``visits`` is only ever
changed with ``F()`` expressions.
"""

from __future__ import annotations

from django.db import models

from ...models import AntiBlockMode

__all__ = ["Counter", "Link", "LinkTag", "Tombstone", "Visit"]


class Link(models.Model):
    """One short link (a row per :class:`suolink.models.Link`)."""

    code = models.TextField(primary_key=True)
    url = models.TextField()
    created_at = models.DateTimeField(db_index=True)
    created_us = models.BigIntegerField(editable=False)
    created_offset = models.IntegerField(default=0, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    expires_us = models.BigIntegerField(null=True, blank=True, editable=False)
    expires_offset = models.IntegerField(null=True, blank=True, editable=False)
    max_visits = models.BigIntegerField(null=True, blank=True)
    password_hash = models.TextField(null=True, blank=True, editable=False)
    anti_block = models.JSONField(null=True, blank=True)
    anti_block_mode = models.CharField(
        max_length=16,
        choices=[(m.value, m.value) for m in AntiBlockMode],
        default=AntiBlockMode.AUTO.value,
    )
    allow = models.JSONField(null=True, blank=True)
    deny = models.JSONField(default=list, blank=True)
    targets = models.JSONField(default=list, blank=True)
    title = models.TextField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
    disabled = models.BooleanField(default=False)
    visits = models.BigIntegerField(default=0, editable=False)
    language = models.CharField(max_length=35, null=True, blank=True)
    #: Every field of :data:`suolink.fields.EXTRA_FIELDS` (those without a column of
    #: their own), so a new setting needs no migration.
    extra = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        db_table = "suolink_link"
        verbose_name = "short link"
        indexes = (models.Index(fields=["created_us", "code"], name="suolink_link_created"),)

    def __str__(self) -> str:
        return f"{self.code} → {self.url}"


class LinkTag(models.Model):
    """One tag of one link, with the link's ``created_us`` for newest-first tag listing."""

    id = models.BigAutoField(primary_key=True)
    link = models.ForeignKey(
        Link, on_delete=models.CASCADE, related_name="tag_rows", db_column="code"
    )
    tag = models.TextField()
    created_us = models.BigIntegerField()

    class Meta:
        db_table = "suolink_link_tag"
        constraints = (
            models.UniqueConstraint(fields=["link", "tag"], name="suolink_link_tag_unique"),
        )
        indexes = (
            models.Index(fields=["tag", "created_us", "link"], name="suolink_link_tag_by_tag"),
        )

    def __str__(self) -> str:
        return str(self.tag)


class Visit(models.Model):
    """One recorded click (a row per :class:`suolink.models.Visit`)."""

    id = models.BigAutoField(primary_key=True)
    link = models.ForeignKey(
        Link, on_delete=models.CASCADE, related_name="visit_rows", db_column="code"
    )
    at = models.DateTimeField()
    at_us = models.BigIntegerField()
    at_offset = models.IntegerField(default=0)
    ip = models.TextField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    referer = models.TextField(null=True, blank=True)
    app = models.TextField(null=True, blank=True)
    os = models.TextField(null=True, blank=True)
    device = models.TextField(null=True, blank=True)
    is_bot = models.BooleanField(default=False)
    language = models.TextField(null=True, blank=True)
    visitor_id = models.TextField(null=True, blank=True)
    browser = models.TextField(null=True, blank=True)
    outcome = models.CharField(max_length=16, default="redirect")
    # integrations: GeoIP and weighted targets
    country = models.TextField(null=True, blank=True)
    region = models.TextField(null=True, blank=True)
    city = models.TextField(null=True, blank=True)
    arm = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "suolink_visit"
        verbose_name = "visit"
        indexes = (models.Index(fields=["link", "at_us", "id"], name="suolink_visit_by_code"),)

    def __str__(self) -> str:
        return f"{self.link_id} @ {self.at:%Y-%m-%d %H:%M:%S}"


class Counter(models.Model):
    """Named counters (``links``: the id behind hashids codes), bumped with ``F()``."""

    name = models.CharField(max_length=32, primary_key=True)
    value = models.BigIntegerField(default=0)

    class Meta:
        db_table = "suolink_counter"

    def __str__(self) -> str:
        return f"{self.name} = {self.value}"


class Tombstone(models.Model):
    """A deleted code that is never handed out again (old posters keep leading nowhere)."""

    code = models.TextField(primary_key=True)
    deleted_at = models.DateTimeField()

    class Meta:
        db_table = "suolink_tombstone"
        verbose_name = "deleted code"

    def __str__(self) -> str:
        return str(self.code)
