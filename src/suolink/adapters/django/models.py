"""ORM models behind ``django://``: links, tags, visits, counts, a counter, tombstones.

They mirror the SQLite backend's tables, so the same contract holds: ``created_us``
(microseconds since the epoch) keeps listing order and cursors exact in every database
(``*_offset`` keeps the UTC offset each time was given in; the DateTimeFields are for
the admin),
``LinkTag`` makes the tag filter an indexed lookup, and ``visits`` is only ever
changed with ``F()`` expressions. ``VisitCount`` and ``VisitorCount`` are the counts
kept at write time (``KeepsAggregates``, migration ``0004_aggregates``) and a visit
points at its ``UserAgent``, stored once.
"""

from __future__ import annotations

from django.db import models

from ...models import AntiBlockMode

__all__ = [
    "Conversion",
    "Counter",
    "Link",
    "LinkTag",
    "PeopleLink",
    "PeopleRecipient",
    "PeopleRecipientLink",
    "PeopleRecipientVisitor",
    "PeopleVisitor",
    "PeopleVisitorLink",
    "Tombstone",
    "UserAgent",
    "Visit",
    "VisitCount",
    "VisitorCount",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookMessage",
]

#: Length of the hex digests (BLAKE2b, 16 bytes) that unique constraints index in place
#: of free text: a PostgreSQL b-tree entry cannot hold a few kilobytes of text.
DIGEST_LENGTH = 32


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


class UserAgent(models.Model):
    """A user agent, stored once: visits share a few hundred of them, ~1 KB each."""

    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(max_length=DIGEST_LENGTH, unique=True)
    text = models.TextField()

    class Meta:
        db_table = "suolink_user_agent"
        verbose_name = "user agent"

    def __str__(self) -> str:
        return str(self.text)


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
    ua = models.ForeignKey(
        UserAgent, on_delete=models.PROTECT, related_name="+", db_column="ua_id", db_index=False
    )
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
    # domains: the short domain the visit came in on
    domain = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "suolink_visit"
        verbose_name = "visit"
        indexes = (
            models.Index(fields=["link", "at_us", "id"], name="suolink_visit_by_code"),
            models.Index(fields=["at_us"], name="suolink_visit_by_time"),  # for retention
        )

    def __str__(self) -> str:
        return f"{self.link_id} @ {self.at:%Y-%m-%d %H:%M:%S}"


class VisitCount(models.Model):
    """Visits of a link per (dimension, UTC day, value), bumped as each visit is recorded.

    ``day`` is an ISO date, or ``""`` for the whole history; see
    :func:`suolink.backends.relational.count_cells` for the cells one visit adds 1 to.
    """

    id = models.BigAutoField(primary_key=True)
    link = models.ForeignKey(
        Link, on_delete=models.CASCADE, related_name="+", db_column="code", db_index=False
    )
    dimension = models.CharField(max_length=16)
    day = models.CharField(max_length=10)
    value = models.TextField()
    value_digest = models.CharField(max_length=DIGEST_LENGTH)
    n = models.BigIntegerField()

    class Meta:
        db_table = "suolink_visit_count"
        constraints = (
            models.UniqueConstraint(
                fields=["link", "dimension", "day", "value_digest"], name="suolink_visit_count_cell"
            ),
        )

    def __str__(self) -> str:
        return f"{self.link_id} {self.dimension} {self.day} {self.value} = {self.n}"


class VisitorCount(models.Model):
    """A person's counted visits of a link over its whole history (top visitors)."""

    id = models.BigAutoField(primary_key=True)
    link = models.ForeignKey(
        Link, on_delete=models.CASCADE, related_name="+", db_column="code", db_index=False
    )
    visitor = models.TextField()
    visitor_digest = models.CharField(max_length=DIGEST_LENGTH)
    n = models.BigIntegerField()

    class Meta:
        db_table = "suolink_visitor_count"
        constraints = (
            models.UniqueConstraint(
                fields=["link", "visitor_digest"], name="suolink_visitor_count_person"
            ),
        )
        indexes = (models.Index(fields=["link", "-n"], name="suolink_visitor_count_by_n"),)

    def __str__(self) -> str:
        return f"{self.link_id} {self.visitor} = {self.n}"


class Conversion(models.Model):
    """A lead, sale, … reported on a click id of a link (``RecordsConversions``).

    One per (link, kind, click id): ``key_digest`` (of kind and click id) carries the
    unique constraint, so a repeated report is refused by the database itself. Times are
    kept as given (ISO text, ``at_us`` to order by); the amount as exact decimal text.
    """

    id = models.BigAutoField(primary_key=True)
    link = models.ForeignKey(
        Link, on_delete=models.CASCADE, related_name="+", db_column="code", db_index=False
    )
    click_id = models.TextField()
    kind = models.TextField()
    key_digest = models.CharField(max_length=DIGEST_LENGTH)
    at = models.TextField()
    at_us = models.BigIntegerField()
    clicked_at = models.TextField()
    visitor_id = models.TextField(null=True, blank=True)
    value = models.TextField(null=True, blank=True)
    currency = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "suolink_conversion"
        constraints = (
            models.UniqueConstraint(fields=["link", "key_digest"], name="suolink_conversion_once"),
        )
        indexes = (models.Index(fields=["link", "at_us"], name="suolink_conversion_by_time"),)

    def __str__(self) -> str:
        return f"{self.link_id} {self.kind} {self.click_id[:16]}"


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


class Domain(models.Model):
    """A short domain (:class:`suolink.domains.Domain`): its name, when it was added (the
    pool's rotation order) and the rest as JSON (pool, default, settings, states)."""

    name = models.CharField(max_length=300, primary_key=True)
    added_us = models.BigIntegerField()
    data = models.TextField()

    class Meta:
        db_table = "suolink_domain"
        verbose_name = "short domain"

    def __str__(self) -> str:
        return str(self.name)


# -- the webhook outbox (suolink.backends.sql_outbox; migration 0011_webhooks) ------------


class WebhookEndpoint(models.Model):
    """A webhook receiver; ``data`` is the endpoint as JSON (secret included)."""

    id = models.CharField(primary_key=True, max_length=64)
    created_us = models.BigIntegerField()
    data = models.TextField()

    class Meta:
        db_table = "suolink_webhook_endpoints"
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return str(self.id)


class WebhookMessage(models.Model):
    """One event waiting for one endpoint (``state`` 0), or dead-lettered (1)."""

    seq = models.BigAutoField(primary_key=True)
    message_id = models.CharField(max_length=64, unique=True, db_column="id")
    endpoint_id = models.CharField(max_length=64)
    event = models.CharField(max_length=64)
    body = models.TextField()
    created_us = models.BigIntegerField()
    attempts = models.IntegerField(default=0)
    next_us = models.BigIntegerField()
    lease_owner = models.CharField(max_length=128, null=True)
    lease_until = models.BigIntegerField(null=True)
    state = models.IntegerField(default=0)

    class Meta:
        db_table = "suolink_webhook_outbox"
        indexes = (
            models.Index(fields=["endpoint_id", "state", "seq"], name="suolink_wh_line"),
            models.Index(fields=["state", "next_us"], name="suolink_wh_due"),
        )

    def __str__(self) -> str:
        return str(self.message_id)


class WebhookDelivery(models.Model):
    """One delivery attempt: a row of the delivery log."""

    seq = models.BigAutoField(primary_key=True)
    message_id = models.CharField(max_length=64)
    endpoint_id = models.CharField(max_length=64)
    event = models.CharField(max_length=64)
    attempt = models.IntegerField()
    at_us = models.BigIntegerField()
    outcome = models.CharField(max_length=16)
    status = models.IntegerField(null=True)
    error = models.TextField(null=True)
    duration_ms = models.IntegerField()

    class Meta:
        db_table = "suolink_webhook_deliveries"
        indexes = (
            models.Index(fields=["at_us"], name="suolink_wh_log_time"),
            models.Index(fields=["endpoint_id", "seq"], name="suolink_wh_log_endpoint"),
        )

    def __str__(self) -> str:
        return f"{self.message_id} #{self.attempt}"


# -- people across links (TracksPeople; migration 0013_people) ----------------------------
# Written with raw SQL shared with the PostgreSQL/MariaDB backend (``INSERT … ON CONFLICT
# DO NOTHING``, then ``UPDATE``). A scope is a campaign, or '' for every link; scopes,
# visitors and recipients are matched by their hex digest (``*_key``) so any length fits.


class PeopleLink(models.Model):
    """A link with a campaign or a recipient (deleted with the link; people's rows stay)."""

    code = models.TextField(primary_key=True)
    campaign = models.TextField(null=True)
    recipient = models.TextField(null=True)
    recipient_key = models.CharField(max_length=DIGEST_LENGTH, null=True)

    class Meta:
        db_table = "suolink_people_links"
        indexes = (models.Index(fields=["recipient_key"], name="suolink_people_link_rcpt"),)

    def __str__(self) -> str:
        return str(self.code)


class PeopleVisitor(models.Model):
    """A visitor's clicks and links in one scope."""

    id = models.BigAutoField(primary_key=True)
    scope_key = models.CharField(max_length=DIGEST_LENGTH)
    visitor_key = models.CharField(max_length=DIGEST_LENGTH)
    scope = models.TextField()
    visitor = models.TextField()
    clicks = models.BigIntegerField()
    links = models.BigIntegerField()
    first_us = models.BigIntegerField(null=True)
    last_us = models.BigIntegerField(null=True)

    class Meta:
        db_table = "suolink_people_visitors"
        constraints = (
            models.UniqueConstraint(
                fields=["scope_key", "visitor_key"], name="suolink_people_visitor_once"
            ),
        )
        indexes = (
            models.Index(fields=["scope_key", "clicks"], name="suolink_people_v_clicks"),
            models.Index(fields=["visitor_key"], name="suolink_people_v_visitor"),
        )

    def __str__(self) -> str:
        return f"{self.scope} {self.visitor}"


class PeopleVisitorLink(models.Model):
    """A link a visitor clicked in a scope (so ``links`` counts each link once)."""

    id = models.BigAutoField(primary_key=True)
    scope_key = models.CharField(max_length=DIGEST_LENGTH)
    visitor_key = models.CharField(max_length=DIGEST_LENGTH)
    code = models.TextField()

    class Meta:
        db_table = "suolink_people_visitor_links"
        constraints = (
            models.UniqueConstraint(
                fields=["scope_key", "visitor_key", "code"], name="suolink_people_vlink_once"
            ),
        )

    def __str__(self) -> str:
        return str(self.code)


class PeopleRecipient(models.Model):
    """A recipient's clicks, links and reach in one scope; ``own`` is their first visitor."""

    id = models.BigAutoField(primary_key=True)
    scope_key = models.CharField(max_length=DIGEST_LENGTH)
    recipient_key = models.CharField(max_length=DIGEST_LENGTH)
    scope = models.TextField()
    recipient = models.TextField()
    clicks = models.BigIntegerField()
    links = models.BigIntegerField()
    first_us = models.BigIntegerField(null=True)
    last_us = models.BigIntegerField(null=True)
    own = models.TextField(null=True)
    reach = models.BigIntegerField()

    class Meta:
        db_table = "suolink_people_recipients"
        constraints = (
            models.UniqueConstraint(
                fields=["scope_key", "recipient_key"], name="suolink_people_recipient_once"
            ),
        )
        indexes = (
            models.Index(fields=["scope_key", "clicks"], name="suolink_people_r_clicks"),
            models.Index(fields=["recipient_key"], name="suolink_people_r_recipient"),
        )

    def __str__(self) -> str:
        return f"{self.scope} {self.recipient}"


class PeopleRecipientLink(models.Model):
    """A recipient's link clicked in a scope."""

    id = models.BigAutoField(primary_key=True)
    scope_key = models.CharField(max_length=DIGEST_LENGTH)
    recipient_key = models.CharField(max_length=DIGEST_LENGTH)
    code = models.TextField()

    class Meta:
        db_table = "suolink_people_recipient_links"
        constraints = (
            models.UniqueConstraint(
                fields=["scope_key", "recipient_key", "code"], name="suolink_people_rlink_once"
            ),
        )

    def __str__(self) -> str:
        return str(self.code)


class PeopleRecipientVisitor(models.Model):
    """A visitor who clicked a recipient's link in a scope (``reach``'s people)."""

    id = models.BigAutoField(primary_key=True)
    scope_key = models.CharField(max_length=DIGEST_LENGTH)
    recipient_key = models.CharField(max_length=DIGEST_LENGTH)
    visitor_key = models.CharField(max_length=DIGEST_LENGTH)

    class Meta:
        db_table = "suolink_people_recipient_visitors"
        constraints = (
            models.UniqueConstraint(
                fields=["scope_key", "recipient_key", "visitor_key"],
                name="suolink_people_rvisitor_once",
            ),
        )
        indexes = (models.Index(fields=["visitor_key"], name="suolink_people_rv_visitor"),)

    def __str__(self) -> str:
        return str(self.visitor_key)
