"""``redis://`` and ``redis+cluster://``: the scale-out store (extra ``redis``, redis-py).

Each link lives in three keys that share one hash tag, so every script touches one
cluster slot: ``<prefix>{<code>}:l`` (a hash: the link's fields as JSON text, its count,
its visit sequence), ``…:v`` (raw visits, a sorted set read in time order) and ``…:d``
(per-day counts); a deleted code keeps a tombstone ``…:x`` in the same slot, which the
create script checks. Every change is one Lua script, loaded once and run with EVALSHA (sent
again in full after a ``NOSCRIPT``), so each method is atomic and the visit path is one
round trip. Two global keys: ``<prefix>ids`` (the id counter, touched once per block of
ids) and the listing index ``<prefix>{idx}:*``. On one server the index is written by
the same script as the link; on a cluster it is a second, versioned step that
``list()`` double-checks against the links. ``docs/redis.md`` has the full design.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.retry import Retry

from ...domains import Domain
from ...domains import domain_from_json as domain_of
from ...domains import domain_to_json as domain_data
from ...errors import (
    BackendError,
    BackendUnavailable,
    CodeTaken,
    DomainNotFound,
    DomainTaken,
    LinkNotFound,
)
from ...fields import LINK_FIELDS, dumps, link_from_json
from ...models import Conversion, Link, LinkPage, Visit, VisitRecord, VisitResult
from ...people import EVERY, counts_for_people, is_people_link, scope_of, scopes
from .._common import DAY_US as _DAY_US
from .._common import (
    check_list_args,
    check_read_args,
    code_ok,
    encode_cursor,
    normalise_changes,
    normalise_conversion,
    normalise_link,
    normalise_visit,
    to_micros,
    visit_dimensions,
    visitor_key,
)
from ..base import DEFAULT_PAGE_SIZE, DIMENSIONS, TOP, PeopleTotals, PersonRow, StatsCounts, When
from ..batching import BACKGROUND, CommitWouldWait, GroupCommit, deferred_commits
from ._options import RedisOptions, parse_url, rate_limit_url, shown_url
from ._outbox import RedisOutbox

__all__ = ["RedisStorage", "parse_url", "time_key"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
#: One visit script to run: its keys, its arguments, and what turns its reply into the
#: caller's result (None: the raw reply), run by the thread that wrote the batch.
_VisitCall = tuple[tuple[str, ...], builtins.list[str], Callable[[Any], Any] | None]
#: A visit script's campaign or recipient JSON when the link has none.
_NO_PERSON = frozenset({b"", b"null", "", "null"})
#: Links held in this process (``peek``) before the whole cache is dropped.
_HELD = 65_536
_OFFSET = 2**63
_VISIT_CHUNK = 500
_MAX_PENDING = 10_000
#: Error words Redis uses for "not now": the server is loading, read-only, down or busy.
_UNAVAILABLE_WORDS = (
    "LOADING",
    "READONLY",
    "MASTERDOWN",
    "CLUSTERDOWN",
    "TRYAGAIN",
    "BUSY",
    "OOM",
    "NOREPLICAS",
    "MISCONF",
)
#: Driver errors: redis-py's cluster errors do not all derive from RedisError.
_DRIVER_ERRORS = (RedisError, RedisClusterException)
#: Answers that mean "not now" rather than "broken".
_UNAVAILABLE_ERRORS = (
    ReadOnlyError,
    ClusterDownError,
    TryAgainError,
    BusyLoadingError,
    OutOfMemoryError,
)
#: Every stored field of a link, each as its JSON text in a hash field of its name; the
#: visit count lives in its own hash field ("v"), counted by the scripts.
_STORED = tuple(f for f in LINK_FIELDS if f.name != "visits")
_LINK_FIELDS = tuple(f.name for f in _STORED)


def time_key(micros: int) -> str:
    """``micros`` as 16 hex digits that sort like the number (Redis compares bytes)."""
    return format(micros + _OFFSET, "016x")


def _hash_tag(code: str) -> str:
    # Braces would end the hash tag early; escaping keeps the tag non-empty and unique.
    return code.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def _field_values(link: Link) -> dict[str, str]:
    """Every stored field of ``link`` as JSON text (the form the scripts compare)."""
    return {f.name: dumps(f.codec.to_json(getattr(link, f.name))) for f in _STORED}


def _to_conversion(stored: bytes | str) -> tuple[int, Conversion]:
    """A conversions hash value: its order (16 hex digits) and the conversion."""
    text = _text(stored)
    return int(text[:16], 16), Conversion.from_dict(json.loads(text[16:]))


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _to_link(flat: Sequence[bytes] | Mapping[bytes, bytes]) -> Link:
    """The link in a hash, read by HGETALL (a dict) or returned by a script (a flat list)."""
    return _link_of(_hash_fields(flat))


def _hash_fields(flat: Sequence[bytes] | Mapping[bytes, bytes]) -> dict[str, str]:
    if isinstance(flat, Mapping):
        return {_text(k): _text(v) for k, v in flat.items()}
    return {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}


_LINK_SLOTS: tuple[str, ...] = Link.__slots__
#: A visit's fields after its code and time, in the order of a ``VisitRecord``'s tail.
_VISIT_REST = tuple(f.name for f in dataclasses.fields(Visit))[2:]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _visit_parts(rest: tuple[Any, ...]) -> tuple[str, builtins.list[str], str, builtins.list[str]]:
    """What a visit's script arguments hold apart from its time: the stored JSON after
    ``"at"`` (every other field but the code, text, None or a bool already), the
    day-count cells, the visitor counted ('' none) and the stats cells."""
    visit = Visit.from_record(("", _EPOCH, *rest))
    tail = dumps(dict(zip(_VISIT_REST, rest, strict=True)))[1:]
    dims = [f"{dim}|{value}" for dim, value in _dims(visit)]
    who = ("" if visit.is_bot else visitor_key(visit)) or ""
    cells = [f"{dim}|{value}" for dim, value in visit_dimensions(visit)]
    return tail, dims, who, cells


class _Parts:
    """What a visit's script arguments hold apart from its time (see ``_visit_parts``),
    and its day-count cells for the last day asked (``(day, cells)``)."""

    __slots__ = ("cells", "day_cells", "dim_count", "dims", "tail", "who")

    def __init__(
        self, tail: str, dims: builtins.list[str], who: str, cells: builtins.list[str]
    ) -> None:
        self.tail = tail
        self.dims = dims
        self.dim_count = str(len(dims))
        self.who = who
        self.cells = cells
        self.day_cells: tuple[str, builtins.list[str]] = ("", [])


def _with_visits(link: Link, visits: int) -> Link:
    """``link`` with another count: a plain copy of its slots (``replace`` runs every
    field's default machinery and costs several times more)."""
    if link.visits == visits:
        return link
    copy = object.__new__(Link)
    for name in _LINK_SLOTS:
        object.__setattr__(copy, name, getattr(link, name))
    object.__setattr__(copy, "visits", visits)
    return copy


def _link_of(fields: Mapping[str, str]) -> Link:
    # Hashes written before ``targets`` was shown as a mapping hold a list of pairs;
    # the field's JSON codec reads both.
    data = {name: json.loads(fields[name]) for name in _LINK_FIELDS if name in fields}
    data["visits"] = int(fields.get("v", "0"))
    return link_from_json(data)


class _Script:
    """One Lua file (with the shared library in front), run by EVALSHA."""

    def __init__(self, name: str, library: str) -> None:
        body = resources.files(__package__).joinpath("lua", f"{name}.lua").read_text("utf-8")
        self.name = name
        self.source = f"{library}\n{body}"
        self.sha = hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()

    def __call__(self, client: Any, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            # After SCRIPT FLUSH, a restart or a failover: EVAL runs and caches it again.
            return client.eval(self.source, len(keys), *keys, *args)


def _load_scripts() -> dict[str, _Script]:
    library = resources.files(__package__).joinpath("lua", "lib.lua").read_text("utf-8")
    outbox = tuple(f"outbox_{op}" for op in ("enqueue", "claim", "settle", "remove", "prune"))
    names = (
        "create",
        "update",
        "delete",
        "visit",
        "index",
        "counts",
        "people",
        "conversion",
        *outbox,
    )
    return {name: _Script(name, library) for name in names}


class RedisStorage(RedisOutbox):
    """A ``Storage`` in Redis or a Redis Cluster; ``RedisStorage("redis://localhost/0")``.

    Connections are made lazily and come back on their own after an outage. Writes are
    never retried automatically (a lost reply must not record a visit twice); reads are
    retried ``retries`` times on a dropped connection.
    """

    def __init__(self, url: str = "redis://localhost:6379/0") -> None:
        self.options: RedisOptions = parse_url(url)
        self.url = shown_url(url)
        opts = self.options
        self.prefix = opts.prefix
        self.cluster = opts.kind == "cluster"
        self._index_base = f"{opts.prefix}{{idx}}"
        self._ids_key = f"{opts.prefix}ids"
        #: One hash, name -> domain JSON (``KeepsDomains``): one key, so one cluster slot.
        self._domains_key = f"{opts.prefix}domains"
        self._scripts = _load_scripts()
        self._lock = threading.Lock()
        self._closed = False
        self._pid = os.getpid()
        self._block_next = 0
        self._block_end = -1
        self._pending: list[tuple[str, str, str, str, str]] = []
        #: Links held in this process (``peek``): code -> (the hash's ``ver``, link).
        self._held: dict[str, tuple[str, Link]] = {}
        #: A visit's arguments that do not depend on its time, by its other fields, and
        #: the last day's count cells of them (see ``_args``).
        self._parts: dict[tuple[Any, ...], _Parts] = {}
        #: A link's keys, by code (``_keys``: eight f-strings per visit otherwise).
        self._key_cache: dict[str, tuple[str, ...]] = {}
        #: The UTC day of the last visit: its first and last microsecond, and its date.
        self._day: tuple[int, int, str] = (0, 0, "")
        self._client: Any = self._connect()
        #: Concurrent visit scripts sent together in one pipeline (one round trip).
        self._visit_batches: GroupCommit[_VisitCall, Any] = GroupCommit(
            self._run_visits, opts.batch, name=f"Redis visits ({self.url})"
        )

    def __repr__(self) -> str:
        return f"RedisStorage({self.url!r})"

    @property
    def rate_limit_url(self) -> str:
        """The ``limits`` storage URL (with credentials) for this server: shared counters."""
        return rate_limit_url(self.options)

    # -- connection -----------------------------------------------------------------

    def _connect(self) -> Any:
        opts = self.options
        no_retry = Retry(NoBackoff(), 0)
        common: dict[str, Any] = {
            "username": opts.username,
            "password": opts.password,
            "socket_timeout": opts.socket_timeout,
            "socket_connect_timeout": opts.connect_timeout,
        }
        if opts.kind == "cluster":
            from redis.cluster import ClusterNode, RedisCluster

            try:
                return RedisCluster(
                    startup_nodes=[
                        ClusterNode(host, port)  # type: ignore[no-untyped-call]
                        for host, port in opts.hosts
                    ],
                    max_connections=opts.pool_size,
                    retry=no_retry,
                    require_full_coverage=True,
                    **common,
                )
            except _DRIVER_ERRORS as exc:
                raise BackendUnavailable(
                    f"cannot reach the Redis Cluster at {self.url}: {exc}", original=exc
                ) from exc
        kwargs: dict[str, Any] = {
            **common,
            "db": opts.db,
            "max_connections": opts.pool_size,
            "timeout": opts.socket_timeout,
            "retry": no_retry,
        }
        if opts.kind == "unix":
            kwargs["connection_class"] = redis.UnixDomainSocketConnection
            kwargs["path"] = opts.path
        else:
            host, port = opts.hosts[0]
            kwargs["host"], kwargs["port"] = host, port
            if opts.ssl:
                kwargs["connection_class"] = redis.SSLConnection
                kwargs["ssl_cert_reqs"] = opts.ssl_cert_reqs
                if opts.ssl_ca_certs:
                    kwargs["ssl_ca_certs"] = opts.ssl_ca_certs
        pool = redis.BlockingConnectionPool(**kwargs)  # type: ignore[no-untyped-call]
        return redis.Redis(connection_pool=pool)

    def _live(self) -> Any:
        if self._closed:
            raise BackendUnavailable(f"the storage {self.url} is closed")
        return self._client

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn redis-py exceptions into ``BackendUnavailable`` / ``BackendError``."""
        try:
            yield
        except _DRIVER_ERRORS as exc:
            raise self._wrap(exc, doing) from exc

    def _wrap(self, exc: Exception, doing: str) -> BackendError:
        message = f"Redis could not {doing} ({self.url}): {type(exc).__name__}: {exc}"
        if isinstance(exc, _UNAVAILABLE_ERRORS):
            return BackendUnavailable(message, original=exc)
        if isinstance(exc, ResponseError):
            text = str(exc).upper()
            if any(text.startswith(word) for word in _UNAVAILABLE_WORDS):
                return BackendUnavailable(message, original=exc)
            return BackendError(message, original=exc)
        # Connection refused or reset, timeouts, cluster down or moving, auth: not now.
        return BackendUnavailable(message, original=exc)

    def _read(self, doing: str, call: Callable[[Any], _T]) -> _T:
        """Run a read-only ``call``, retrying on a dropped connection (reads are safe)."""
        attempts = self.options.retries + 1
        for attempt in range(attempts):
            client = self._live()
            try:
                return call(client)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if attempt + 1 >= attempts:
                    raise self._wrap(exc, doing) from exc
            except _DRIVER_ERRORS as exc:
                raise self._wrap(exc, doing) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(self, doing: str, call: Callable[[Any], _T]) -> _T:
        """Run ``call`` once: a write whose reply was lost is never sent again."""
        client = self._live()
        with self._errors(doing):
            return call(client)

    # -- keys -----------------------------------------------------------------------

    def _keys(self, code: str) -> tuple[str, ...]:
        """Link hash, raw visits, day counts, the stats keys (see ``visit.lua``), then the
        conversions (a hash: kind and click id -> order and JSON).

        One hash tag, so a script may touch them all on a cluster; create, delete and
        expiry treat every one alike. Kept per code (a redirect asks each time).
        """
        keys = self._key_cache.get(code)
        if keys is None:
            base = f"{self.prefix}{{{_hash_tag(code)}}}"
            keys = tuple(f"{base}:{suffix}" for suffix in ("l", "v", "d", "a", "s", "p", "q", "c"))
            if len(self._key_cache) >= _HELD:
                self._key_cache.clear()
            self._key_cache[code] = keys
        return keys

    def _tombstone_key(self, code: str) -> str:
        """The key that retires a deleted code, in the slot of the link's own keys."""
        return f"{self.prefix}{{{_hash_tag(code)}}}:x"

    def _expire_ms(self, expires_at: datetime | None) -> str:
        """When Redis drops an expiring link: ``keep_expired`` after expiry (or from now)."""
        if expires_at is None:
            return ""
        keep = self.options.keep_expired * 1000
        now_ms = int(time.time() * 1000)
        at_ms = to_micros(expires_at) // 1000
        return str(max(at_ms, now_ms) + keep)

    # -- cluster index maintenance ----------------------------------------------------

    def _sync_index(self, client: Any, entry: tuple[str, str, str, str, str]) -> None:
        """Cluster only: apply one versioned index change; kept for later if it fails."""
        try:
            self._scripts["index"](client, [f"{self._index_base}:m"], [self._index_base, *entry])
        except _DRIVER_ERRORS as exc:
            log.warning("suolink: index update for %r postponed: %s", entry[0], exc)
            with self._lock:
                if len(self._pending) < _MAX_PENDING:
                    self._pending.append(entry)

    def _flush_pending(self, client: Any) -> None:
        if not self._pending:
            return
        with self._lock:
            pending, self._pending = self._pending, []
        for entry in pending:
            self._sync_index(client, entry)

    def _index_arg(self) -> str:
        """The index base for scripts that update the index themselves (one server)."""
        return "" if self.cluster else self._index_base

    # -- the Storage protocol -------------------------------------------------------

    def create(self, link: Link) -> Link:
        """Insert ``link`` if its code is free, in one script; ``CodeTaken`` if not."""
        stored = normalise_link(link)
        values = _field_values(stored)
        extra: list[str] = []
        if stored.expires_at is not None:
            extra += ["e", time_key(to_micros(stored.expires_at))]
        if stored.max_visits is not None:
            extra += ["m", str(stored.max_visits)]
        created = time_key(to_micros(stored.created_at))
        expire_ms = self._expire_ms(stored.expires_at)
        args: list[str] = [self._index_arg(), stored.code, created, expire_ms]
        for name, value in values.items():
            args += [name, value]
        args += extra

        def run(client: Any) -> Any:
            self._flush_pending(client)
            keys = [*self._keys(stored.code), self._tombstone_key(stored.code)]
            reply = self._scripts["create"](client, keys, args)
            if reply[0] == 1 and self.cluster:
                entry = (stored.code, _text(reply[1]), created, _text(reply[2]), expire_ms)
                self._sync_index(client, entry)
            return reply

        reply = self._write("create a link", run)
        self._held.pop(stored.code, None)
        if reply[0] == 0:
            raise CodeTaken(stored.code)
        if is_people_link(stored.campaign, stored.recipient):
            self._write("list a recipient", lambda client: self._join(client, stored))
        return stored

    def get(self, code: str) -> Link | None:
        """The link with this exact code, or None (one HGETALL)."""
        if not code_ok(code) or not code:
            return None
        if deferred_commits() is not None:
            raise CommitWouldWait  # a network read: not on an event loop
        key = self._keys(code)[0]
        flat = self._read("read a link", lambda c: c.execute_command("HGETALL", key))
        return _to_link(flat) if flat else None

    def update(self, code: str, changes: Mapping[str, Any]) -> Link:
        """Apply ``changes`` in one script; ``LinkNotFound`` if there is no such link."""
        checked = normalise_changes(changes)
        if not code_ok(code) or not code:
            raise LinkNotFound(str(code))
        probe = Link(code=code, url="").with_changes(checked)
        values = _field_values(probe)
        pairs: list[str] = []
        removed: list[str] = []
        for name in checked:
            pairs += [name, values[name]]
        expire_mode = ""
        if "expires_at" in checked:
            if probe.expires_at is None:
                removed.append("e")
                expire_mode = "P"
            else:
                pairs += ["e", time_key(to_micros(probe.expires_at))]
                expire_mode = self._expire_ms(probe.expires_at)
        if "max_visits" in checked:
            if probe.max_visits is None:
                removed.append("m")
            else:
                pairs += ["m", str(probe.max_visits)]
        args = [self._index_arg(), code, expire_mode, str(len(pairs) // 2), *pairs, *removed]
        listed = "tags" in checked or "expires_at" in checked

        def run(client: Any) -> Any:
            self._flush_pending(client)
            reply = self._scripts["update"](client, self._keys(code), args)
            if reply[0] == 1 and self.cluster and listed:
                entry = (code, *(_text(part) for part in reply[1:5]))
                self._sync_index(client, entry)  # type: ignore[arg-type]
            return reply

        self._held.pop(code, None)
        try:
            reply = self._write("update a link", run)
        finally:
            self._held.pop(code, None)
        if reply[0] == 0:
            raise LinkNotFound(code)
        return _to_link(reply[5])

    def delete(self, code: str, *, tombstone: bool = True) -> bool:
        """Remove the link, its visits and day counts (leaving a ``tombstone``) in one script.

        True if the link existed; only then is a tombstone left.
        """
        if not code_ok(code) or not code:
            return False
        keys = [*self._keys(code), self._tombstone_key(code)]
        deleted_at = str(int(time.time() * 1000)) if tombstone else ""

        def run(client: Any) -> Any:
            self._flush_pending(client)
            reply = self._scripts["delete"](client, keys, [self._index_arg(), code, deleted_at])
            if reply[0] == 1 and self.cluster:
                self._sync_index(client, (code, _text(reply[1]), "", "[]", ""))
            return reply

        try:
            return bool(self._write("delete a link", run)[0] == 1)
        finally:
            self._held.pop(code, None)

    def list(
        self, *, cursor: str | None = None, limit: int = DEFAULT_PAGE_SIZE, tag: str | None = None
    ) -> LinkPage:
        """Links newest first, ``limit`` at a time, only those tagged ``tag`` if given.

        Index entries whose link is gone (expired, or a cluster step still on its way)
        are skipped, so a page never shows a link that ``get`` would not return.
        """
        after = check_list_args(cursor, limit, tag)
        index = f"{self._index_base}:a" if tag is None else f"{self._index_base}:t:{tag}"
        upper = "+" if after is None else "(" + time_key(after[0]) + after[1]
        found: builtins.list[Link] = []
        batch = limit + 1
        while len(found) <= limit:
            members: builtins.list[bytes] = self._read(
                "list links", functools.partial(_range, "zrevrangebylex", index, upper, "-", batch)
            )
            if not members:
                break
            links = self._fetch([_text(m) for m in members])
            for member, link in zip(members, links, strict=True):
                text = _text(member)
                if link is None or time_key(to_micros(link.created_at)) != text[:16]:
                    continue
                if tag is not None and tag not in link.tags:
                    continue
                found.append(link)
            if len(members) < batch:
                break
            upper = "(" + _text(members[-1])
            batch = min(batch * 2, 2000)
        page = tuple(found[:limit])
        more = len(found) > limit
        return LinkPage(
            links=page,
            next_cursor=encode_cursor((to_micros(page[-1].created_at), page[-1].code))
            if more
            else None,
        )

    def _fetch(self, members: builtins.list[str]) -> builtins.list[Link | None]:
        """The links named by index members, in one pipeline (per node on a cluster)."""

        def run(client: Any) -> builtins.list[Any]:
            pipe = client.pipeline(transaction=False)
            for member in members:
                pipe.execute_command("HGETALL", self._keys(member[16:])[0])
            return list(pipe.execute())

        replies = self._read("list links", run)
        return [_to_link(flat) if flat else None for flat in replies]

    def next_id(self) -> int:
        """A number never handed out before: blocks of ``block_size`` ids from INCRBY."""
        with self._lock:
            if os.getpid() != self._pid:  # a forked child must not share the parent's block
                self._pid = os.getpid()
                self._block_next, self._block_end = 0, -1
            if self._block_next > self._block_end:
                size = self.options.block_size
                end = int(self._write("reserve ids", lambda c: c.incrby(self._ids_key, size)))
                self._block_next, self._block_end = end - size + 1, end
            value = self._block_next
            self._block_next += 1
            return value

    def _visit_args(self, visit: Visit, count: bool, mode: str) -> builtins.list[str]:
        """The visit script's arguments (``mode``: see ``visit.lua``)."""
        rest = tuple([getattr(visit, name) for name in _VISIT_REST])
        return self._args(visit.at, rest, count, mode)

    def _args(
        self, at: datetime, rest: tuple[Any, ...], count: bool, mode: str
    ) -> builtins.list[str]:
        """The arguments of a visit at ``at`` whose other fields (but the code) are
        ``rest``: all that does not depend on the time is kept per ``rest`` (the same
        visitor on the same kind of link repeats it), its count cells per day too."""
        parts = self._parts.get(rest)
        if parts is None:
            parts = _Parts(*_visit_parts(rest))
            if len(self._parts) >= _HELD:
                self._parts.clear()
            self._parts[rest] = parts
        at_us = to_micros(at)
        low, high, day = self._day
        if not low <= at_us < high:  # another day than the last visit's
            day = (at if at.tzinfo is UTC else at.astimezone(UTC)).date().isoformat()
            low = at_us - at_us % _DAY_US
            self._day = (low, low + _DAY_US, day)
        cells = parts.day_cells
        if cells[0] != day:  # one tuple, replaced whole: threads may share ``parts``
            cells = parts.day_cells = (day, [f"{day}|{dim}" for dim in parts.dims])
        opts = self.options
        cutoff = ""
        if opts.visit_days:
            cutoff = time_key(at_us - opts.visit_days * 86_400_000_000)
        return [
            "1" if count else "0",
            mode,
            time_key(at_us),
            f'{{"at":"{at.isoformat()}",{parts.tail}',
            day,
            str(opts.visit_cap),
            cutoff,
            parts.dim_count,
            *cells[1],
            parts.who,
            *parts.cells,
        ]

    def record_visit(self, visit: Visit, *, count: bool = True) -> VisitResult:
        """Check the limit, count and record ``visit`` in one script (one round trip).

        Concurrent calls share one pipeline. In background mode a visit that is not
        counted (bots, previews, guide views) is queued and answered at once.
        """
        visit = normalise_visit(visit)
        call = (self._keys(visit.code), self._visit_args(visit, count, "0"), None)
        batches = self._visit_batches
        if not count and batches.options.mode == BACKGROUND:
            self._live()
            batches.submit_later(call)
            return VisitResult(allowed=True, visits=0)
        if deferred_commits() is not None:
            raise CommitWouldWait  # its answer is waited for: not on an event loop
        reply = batches.submit(call)
        if reply[0] == -1:
            raise LinkNotFound(visit.code)
        if reply[0] == 1:
            self._count_person(visit, reply)
        return VisitResult(allowed=reply[0] == 1, visits=int(reply[1]))

    def get_and_record(
        self, visit: Visit, *, count: bool = True
    ) -> tuple[Link | None, VisitResult | None]:
        """A redirect in one round trip: read the link and record ``visit`` if it is open.

        The three answers are those of :class:`~suolink.backends.base.RecordsInOneTrip`;
        "open" is the link hash's ``o`` flag, kept by ``refresh_open`` in ``lib.lua``.
        Concurrent calls share one pipeline; the answer waits for its reply. A link
        held here (``peek``) at the hash's version comes back without its fields.
        """
        visit = normalise_visit(visit)
        if deferred_commits() is not None:
            raise CommitWouldWait  # its answer is waited for: not on an event loop
        code = visit.code
        held = self._held.get(code)
        mode = "o" if held is None else "o" + held[0]
        reply = self._visit_batches.submit(
            (self._keys(code), self._visit_args(visit, count, mode), None)
        )
        if reply[0] == -1:
            self._held.pop(code, None)
            return None, None
        link = self._link_in(code, reply, held)
        if reply[0] == 2:
            return link, None
        if reply[0] == 1:
            self._count_person(visit, reply)
        return link, VisitResult(allowed=reply[0] == 1, visits=int(reply[1]))

    def _link_in(self, code: str, reply: Sequence[Any], held: tuple[str, Link] | None) -> Link:
        """The link a visit script's reply describes, at its count: the held one if the
        script sent no fields (the version matched), else the fields, now held."""
        if reply[2] == 0 and held is not None:
            return _with_visits(held[1], int(reply[1]))
        # The fields are those after the whole batch: the count is this visit's own.
        return _with_visits(self._hold(code, reply[2]), int(reply[1]))

    def _hold(self, code: str, flat: Sequence[bytes] | Mapping[bytes, bytes]) -> Link:
        """The link in a hash's fields, kept for ``peek`` with the hash's version."""
        fields = _hash_fields(flat)
        link = _link_of(fields)
        held = self._held
        if len(held) >= _HELD:
            held.clear()
        held[code] = (fields.get("ver", ""), link)
        return link

    # -- HoldsLinksInProcess ----------------------------------------------------------

    def peek(self, code: str) -> Link | None:
        """The link as this process last read it: one object until it changes.

        A change made through this store is seen by the next call; one made elsewhere
        is caught by :meth:`append_visit`, whose script records only while the link is
        at the version the redirect was planned with (and hands back the new one).
        Inside :func:`~suolink.backends.batching.deferring` (an event loop), a link not
        held here raises ``CommitWouldWait``: reading it is a network round trip.
        """
        entry = self._held.get(code)
        if entry is not None:
            return entry[1]
        if not code_ok(code) or not code:
            self._live()
            return None
        if deferred_commits() is not None:
            raise CommitWouldWait
        key = self._keys(code)[0]
        flat = self._read("read a link", lambda c: c.execute_command("HGETALL", key))
        return self._hold(code, flat) if flat else None

    def append_visit(self, record: VisitRecord, *, count: bool = True) -> bool | None:
        """Record a visit suolink built for a redirect planned on :meth:`peek`'s link.

        One script, sent with the version of the held link: True if recorded, False if
        ``max_visits`` refused it, None if there is no such link or it changed since
        (nothing recorded; the caller asks the policy again). Inside ``deferring`` the
        durable write is queued and its future, settled with a ``VisitResult`` (or
        ``LinkNotFound`` for "gone or changed"), is awaited by the caller; True then.
        """
        code = record[0]
        held = self._held.get(code)
        batches = self._visit_batches
        background = batches.options.mode == BACKGROUND
        if background and (not count or (held is not None and held[1].max_visits is None)):
            self._live()  # answered before it is written: no version to hold it to
            args = self._args(record[1], record[2:], count, "0")
            batches.submit_later((self._keys(code), args, None))
            return True
        mode = "0" if held is None else "v" + held[0]
        args = self._args(record[1], record[2:], count, mode)
        deferred = deferred_commits()
        if deferred is not None:
            finish = functools.partial(self._appended, record, held)
            self._live()
            future = batches.submit_deferred((self._keys(code), args, finish), deferred.loop)
            deferred.pending.append(future)
            return True
        try:
            result = self._appended(record, held, batches.submit((self._keys(code), args, None)))
        except LinkNotFound:
            return None
        return result.allowed

    def _appended(
        self, record: VisitRecord, held: tuple[str, Link] | None, reply: Sequence[Any]
    ) -> VisitResult:
        """An append's reply as a ``VisitResult``; ``LinkNotFound`` if gone or changed."""
        status, code = reply[0], record[0]
        if status == -1:
            self._held.pop(code, None)
            raise LinkNotFound(code)
        if status == 3:
            self._hold(code, reply[2])
            raise LinkNotFound(code)
        if status == 1 and not (reply[3] in _NO_PERSON and reply[4] in _NO_PERSON):
            self._count_person(Visit.from_record(record), reply)
        return VisitResult(allowed=status == 1, visits=int(reply[1]))

    def _run_visits(self, calls: Sequence[_VisitCall]) -> builtins.list[Any]:
        """Run a batch of visits in one pipeline: one script per link, for all its visits.

        The script records them in order, each as a script of its own would (its own
        ``max_visits`` check and version check), summing their counters. A script the
        server has not cached (``NOSCRIPT``) is sent again in full on its own; a script
        that failed gives its error to its visits, the others get their replies (turned
        into results by their ``finish``, if they have one).
        """
        client = self._live()
        script = self._scripts["visit"]
        groups: dict[tuple[str, ...], builtins.list[int]] = {}
        for index, call in enumerate(calls):
            groups.setdefault(call[0], []).append(index)
        sends: builtins.list[tuple[tuple[str, ...], builtins.list[str]]] = []
        for keys, indexes in groups.items():
            args = [str(len(indexes))]
            for index in indexes:
                own = calls[index][1]
                args.append(str(len(own)))
                args += own
            sends.append((keys, args))
        if len(sends) == 1:
            keys, args = sends[0]
            with self._errors("record visits"):
                replies: builtins.list[Any] = [script(client, keys, args)]
        else:
            with self._errors("record visits"):
                pipe = client.pipeline(transaction=False)
                for keys, args in sends:
                    pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
                replies = builtins.list(pipe.execute(raise_on_error=False))
        out: builtins.list[Any] = [None] * len(calls)
        for (keys, args), indexes, reply in zip(sends, groups.values(), replies, strict=True):
            if isinstance(reply, NoScriptError):
                try:
                    with self._errors("record visits"):
                        reply = script(client, keys, args)
                except BackendError as exc:
                    reply = exc
            elif isinstance(reply, _DRIVER_ERRORS):
                reply = self._wrap(reply, "record visits")
            for place, index in enumerate(indexes):
                one = reply if isinstance(reply, BaseException) else reply[place]
                finish = calls[index][2]
                if finish is not None and not isinstance(one, BaseException):
                    one = _finished(finish, one)
                out[index] = one
        return out

    def visits(
        self, code: str, *, since: When = None, until: When = None, limit: int | None = None
    ) -> Iterator[Visit]:
        """Recorded visits of one link, oldest first, within ``[since, until)``.

        Read lazily, a few hundred at a time, so a link with many visits streams.
        """
        low, high = check_read_args(since, until, limit)
        self._live()
        if not code_ok(code) or not code:
            return iter(())
        lower = "-" if low is None else "[" + time_key(low)
        upper = "+" if high is None else "(" + time_key(high)
        return self._iter_visits(code, lower, upper, limit)

    def _iter_visits(self, code: str, lower: str, upper: str, limit: int | None) -> Iterator[Visit]:
        key = self._keys(code)[1]
        left = limit
        while left is None or left > 0:
            size = _VISIT_CHUNK if left is None else min(left, _VISIT_CHUNK)
            members: list[bytes] = self._read(
                "read visits", functools.partial(_range, "zrangebylex", key, lower, upper, size)
            )
            for member in members:
                data = json.loads(_text(member)[32:])
                data["code"] = code
                yield Visit.from_dict(data)
            if len(members) < size:
                return
            lower = "(" + _text(members[-1])
            if left is not None:
                left -= len(members)

    # -- conversions (RecordsConversions) ------------------------------------------------

    def record_conversion(self, conversion: Conversion) -> tuple[Conversion, bool]:
        """Store ``conversion`` unless its (click id, kind) is stored, in one script (the
        hash field is the unique key); ``(stored, new)``."""
        checked = normalise_conversion(conversion)
        if not code_ok(checked.code) or not checked.code:
            raise LinkNotFound(str(checked.code))
        keys = self._keys(checked.code)
        args = [f"{checked.kind}\n{checked.click_id}", dumps(checked.to_dict())]
        reply = self._write(
            "record a conversion",
            lambda c: self._scripts["conversion"](c, (keys[0], keys[7]), args),
        )
        if reply[0] == 0:
            raise LinkNotFound(checked.code)
        if reply[0] == 1:
            return checked, True
        return _to_conversion(reply[1])[1], False

    def conversions(
        self, code: str, *, since: When = None, until: When = None, limit: int | None = None
    ) -> Iterator[Conversion]:
        """A link's conversions, oldest first, within ``[since, until)`` (one HGETALL)."""
        low, high = check_read_args(since, until, limit)
        self._live()
        if not code_ok(code) or not code:
            return iter(())
        key = self._keys(code)[7]
        raw = self._read("read conversions", lambda c: c.hgetall(key))
        found = sorted(
            (to_micros(c.at), seq, c) for seq, c in (_to_conversion(v) for v in raw.values())
        )
        chosen = [
            c for at, _, c in found if (low is None or at >= low) and (high is None or at < high)
        ]
        return iter(chosen if limit is None else chosen[:limit])

    def day_counts(self, code: str) -> dict[date, dict[str, int]]:
        """Per-day counts, kept when raw visits are trimmed.

        ``{day: {"visits": n, "app:wechat": n, "os:ios": n, "device:…": n, "bot:1": n}}``.
        """
        if not code_ok(code) or not code:
            return {}
        key = self._keys(code)[2]
        raw = self._read("read day counts", lambda c: c.hgetall(key))
        out: dict[date, dict[str, int]] = {}
        for name, value in raw.items():
            day_text, _, rest = _text(name).partition("|")
            counts = out.setdefault(date.fromisoformat(day_text), {})
            counts[rest.replace("|", ":", 1) if rest else "visits"] = int(value)
        return dict(sorted(out.items()))

    def counts(
        self, code: str, *, since: date | None = None, until: date | None = None
    ) -> StatsCounts | None:
        """The stats counts ``visit.lua`` keeps, read in one script; None if incomplete.

        Links whose first visit was recorded before these counts existed lack the
        ``ok`` mark: None then, and their stats fold the raw visits as before.
        """
        if not code_ok(code) or not code:
            return StatsCounts()
        keys = self._keys(code)
        whole = since is None and until is None
        args = ["1" if whole else "0", str(TOP)]
        reply = self._read(
            "read visit counts",
            lambda c: self._scripts["counts"](c, (keys[0], *keys[3:]), args),
        )
        everything = _pairs(reply[1])
        if int(reply[0]) == 0:
            return StatsCounts()
        if "ok" not in everything:
            return None
        low, high = _day_bounds(since, until)
        by_day: dict[str, int] = {}
        dims: dict[str, dict[str, int]] = {}
        for name, n in everything.items():
            kind, _, rest = name.partition("|")
            if kind == "t" and low <= rest < high:
                by_day[rest] = n
        if whole:
            for name, n in everything.items():
                dim, _, value = name.partition("|")
                if dim in DIMENSIONS:
                    dims.setdefault(dim, {})[value] = n
            ranked = sorted(
                ((_text(who), int(float(n))) for who, n in _chunks(reply[3])),
                key=lambda item: (-item[1], item[0]),
            )
            ranked += [(_text(who), int(float(n))) for who, n in _chunks(reply[4])]
            return StatsCounts(by_day, dims, int(reply[2]), ranked[:TOP])
        for name, n in _pairs(reply[2]).items():
            day, _, cell = name.partition("|")
            if low <= day < high:
                dim, _, value = cell.partition("|")
                bucket = dims.setdefault(dim, {})
                bucket[value] = bucket.get(value, 0) + n
        people: dict[str, int] = {}
        for name, n in _pairs(reply[3]).items():
            day, _, who = name.partition("|")
            if low <= day < high:
                people[who] = people.get(who, 0) + n
        top = sorted(people.items(), key=lambda item: (-item[1], item[0]))[:TOP]
        return StatsCounts(by_day, dims, len(people), top)

    # -- people across links (TracksPeople) -----------------------------------------
    # Keys of one scope share the hash tag ``{p:<campaign>}`` (``{p:}``: every campaign),
    # so each scope's script runs on one slot; see ``people.lua`` for the layout. A click
    # is counted right after its visit, one script per scope: not in the visit's own
    # script, which runs on the link's slot.

    def _scope_keys(self, scope: str) -> tuple[str, ...]:
        base = f"{self.prefix}{{p:{_hash_tag(scope)}}}"
        return tuple(f"{base}:{s}" for s in ("vz", "vf", "vl", "rz", "rf", "rl", "rv", "t"))

    def _campaigns_key(self) -> str:
        return f"{self.prefix}{{p:}}:campaigns"

    def _recipient_links_key(self) -> str:
        return f"{self.prefix}{{p:}}:rc"

    def _join(self, client: Any, link: Link) -> None:
        """A new people link: its campaign listed, its recipient listed with no click."""
        if link.campaign is not None:
            client.sadd(self._campaigns_key(), link.campaign)
        if link.recipient is None:
            return
        client.sadd(self._recipient_links_key(), f"{link.recipient}|{link.code}")
        for scope in scopes(link.campaign):
            client.zadd(self._scope_keys(scope)[3], {link.recipient: 0}, nx=True)

    def _count_person(self, visit: Visit, reply: Sequence[Any]) -> None:
        """After a recorded visit: count it for people if it is a click on a people link."""
        if len(reply) < 5 or (reply[3] in _NO_PERSON and reply[4] in _NO_PERSON):
            return  # not a people link: the common case, told without parsing JSON
        if not counts_for_people(visit):
            return
        campaign = json.loads(reply[3]) if reply[3] else None
        recipient = json.loads(reply[4]) if reply[4] else None
        if not is_people_link(campaign, recipient):
            return
        args = [str(visit.visitor_id), visit.code, time_key(to_micros(visit.at)), recipient or ""]

        def run(client: Any) -> None:
            for scope in scopes(campaign):
                self._scripts["people"](client, self._scope_keys(scope), args)

        self._write("count a person", run)

    def _rows(
        self, scope: str, kind: str, limit: int | None, min_clicks: int
    ) -> builtins.list[PersonRow]:
        keys = self._scope_keys(scope)
        zset, fields = (keys[0], keys[1]) if kind == "visitor" else (keys[3], keys[4])

        def run(client: Any) -> tuple[builtins.list[Any], builtins.list[Any]]:
            found = client.zrangebyscore(
                zset,
                "-inf",
                -min_clicks,
                start=0,
                num=-1 if limit is None else limit,
                withscores=True,
            )
            names = [_text(who) for who, _ in found]
            wanted = [f"{who}|{f}" for who in names for f in ("l", "f", "z", "o", "r")]
            values: builtins.list[Any] = []
            for start in range(0, len(wanted), 5000):
                values += client.hmget(fields, wanted[start : start + 5000])
            return found, values

        found, values = self._read(f"read the top {kind}s", run)
        rows: builtins.list[PersonRow] = []
        for index, (who, score) in enumerate(found):
            links, first, last, own, reach = values[index * 5 : index * 5 + 5]
            recipient = kind == "recipient"
            rows.append(
                PersonRow(
                    id=_text(who),
                    clicks=-int(score),
                    links=int(links or 0),
                    first_seen=None if first is None else _from_time_key(_text(first)),
                    last_seen=None if last is None else _from_time_key(_text(last)),
                    reach=int(reach or 0) if recipient else 0,
                    visitor=(_text(own) or None) if recipient and own is not None else None,
                )
            )
        return rows

    def top_visitors(
        self, campaign: str | None, *, limit: int | None, min_clicks: int = 0
    ) -> builtins.list[PersonRow]:
        """Visitors of the campaign's links, most clicks first (a sorted set range)."""
        return self._rows(scope_of(campaign), "visitor", limit, min_clicks)

    def top_recipients(
        self, campaign: str | None, *, limit: int | None, min_clicks: int = 0
    ) -> builtins.list[PersonRow]:
        """Recipients of the campaign's links, most clicks first (a sorted set range)."""
        return self._rows(scope_of(campaign), "recipient", limit, min_clicks)

    def people_totals(self, campaign: str | None) -> PeopleTotals:
        """The campaign's recipients (ZCARD) and its kept click and reach sums."""
        keys = self._scope_keys(scope_of(campaign))

        def run(client: Any) -> tuple[int, list[Any]]:
            return int(client.zcard(keys[3])), client.hmget(keys[7], ["clicks", "reach"])

        count, (clicks, reach) = self._read("read a campaign's totals", run)
        return PeopleTotals(count, int(clicks or 0), int(reach or 0))

    def campaigns(self) -> dict[str, PeopleTotals]:
        """Every campaign with a recipient's link, and its totals."""
        names = self._read("list campaigns", lambda c: c.smembers(self._campaigns_key()))
        out = {}
        for name in sorted(_text(n) for n in names):
            totals = self.people_totals(name)
            if totals.recipients:
                out[name] = totals
        return out

    def _scopes(self) -> builtins.list[str]:
        names = self._read("list campaigns", lambda c: c.smembers(self._campaigns_key()))
        return [EVERY, *sorted(_text(n) for n in names)]

    def forget_visitor(self, visitor: str) -> bool:
        """Drop the visitor's rows and their place in reach, scope by scope.

        Their id stays on raw visits and per-link counts until those expire
        (``visit_days``): Redis keeps them per link, with no index by visitor.
        """
        found = False
        for scope in self._scopes():
            keys = self._scope_keys(scope)

            def run(client: Any, keys: tuple[str, ...] = keys) -> bool:
                hit = bool(client.zrem(keys[0], visitor))
                client.hdel(keys[1], *(f"{visitor}|{f}" for f in ("l", "f", "z")))
                for member in client.sscan_iter(keys[2], match=f"{_glob(visitor)}|*"):
                    client.srem(keys[2], member)
                for member in client.sscan_iter(keys[6], match=f"*|{_glob(visitor)}"):
                    recipient = _text(member).rsplit("|", 1)[0]
                    hit = True
                    if _text(client.hget(keys[4], f"{recipient}|o") or b"") == visitor:
                        client.hset(keys[4], f"{recipient}|o", "")
                    else:
                        client.hincrby(keys[4], f"{recipient}|r", -1)
                        client.hincrby(keys[7], "reach", -1)
                    client.srem(keys[6], member)
                return hit

            found = self._write("forget a visitor", run) or found
        return found

    def forget_recipient(self, recipient: str) -> bool:
        """Drop the recipient's rows in every scope and clear ``recipient`` on their links."""
        found = False
        for scope in self._scopes():
            keys = self._scope_keys(scope)

            def run(client: Any, keys: tuple[str, ...] = keys) -> bool:
                score = client.zscore(keys[3], recipient)
                if score is None:
                    return False
                reach = int(client.hget(keys[4], f"{recipient}|r") or 0)
                client.hincrby(keys[7], "clicks", int(score))
                client.hincrby(keys[7], "reach", -reach)
                client.zrem(keys[3], recipient)
                client.hdel(keys[4], *(f"{recipient}|{f}" for f in ("l", "f", "z", "o", "r")))
                for key in (keys[5], keys[6]):
                    for member in client.sscan_iter(key, match=f"{_glob(recipient)}|*"):
                        client.srem(key, member)
                return True

            found = self._write("forget a recipient", run) or found
        index = self._recipient_links_key()
        members = self._read(
            "find a recipient's links",
            lambda c: builtins.list(c.sscan_iter(index, match=f"{_glob(recipient)}|*")),
        )
        for member in members:
            code = _text(member).split("|", 1)[1]
            link = self.get(code)
            if link is not None and link.recipient == recipient:
                self.update(code, {"recipient": None})
                found = True

            def drop(client: Any, member: Any = member) -> Any:
                return client.srem(index, member)

            self._write("forget a recipient", drop)
        return found

    # -- KeepsDomains ----------------------------------------------------------------------

    def add_domain(self, domain: Domain) -> Domain:
        """``HSETNX`` the domain's JSON; ``DomainTaken`` if the name is there."""
        data = domain_data(domain)
        added = self._write(
            "add a domain", lambda c: c.hsetnx(self._domains_key, domain.name, data)
        )
        if not added:
            raise DomainTaken(domain.name)
        return domain

    def list_domains(self) -> builtins.list[Domain]:
        """Every domain, oldest first (``HGETALL`` of one hash)."""
        stored = self._read("list domains", lambda c: c.hgetall(self._domains_key))
        found = [domain_of(_text(value)) for value in stored.values()]
        return sorted(found, key=lambda d: (d.added_at, d.name))

    def change_domain(self, name: str, change: Callable[[Domain], Domain]) -> tuple[Domain, Domain]:
        """Read, apply ``change``, and write back only if the domain did not change
        meanwhile (a compare-and-set script on its hash field); again if it did."""
        while True:
            old = self._read("read a domain", lambda c: c.hget(self._domains_key, name))
            if old is None:
                raise DomainNotFound(name)
            old_text = _text(old)
            before = domain_of(old_text)
            after = replace(change(before), name=before.name)
            if after == before:
                return before, after
            args = (name, old_text, domain_data(after))

            def swap(client: Any, args: tuple[str, str, str] = args) -> Any:
                return client.eval(_COMPARE_AND_SET, 1, self._domains_key, *args)

            swapped = self._write("change a domain", swap)
            if int(swapped) == 1:
                return before, after
            if int(swapped) == -1:
                raise DomainNotFound(name)

    def remove_domain(self, name: str) -> bool:
        """``HDEL`` the domain; True if it was there."""
        return bool(self._write("remove a domain", lambda c: c.hdel(self._domains_key, name)))

    def check(self) -> None:
        """Raise ``BackendUnavailable`` unless Redis answers a PING now."""
        self._read("be reached", lambda c: c.ping())

    def close(self) -> None:
        """Send pending visits, close the connections; later calls: ``BackendUnavailable``."""
        if not self._closed:
            self._visit_batches.close()
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._client.close()
        except RedisError:  # pragma: no cover - closing a broken pool
            log.debug("suolink: error while closing %s", self.url, exc_info=True)


def _finished(finish: Callable[[Any], Any], reply: Any) -> Any:
    """``finish(reply)``, or the exception it raised (the batch's other items go on)."""
    try:
        return finish(reply)
    except Exception as exc:
        return exc


def _from_time_key(text: str) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(text, 16) - _OFFSET)


def _glob(text: str) -> str:
    """``text`` with the glob characters of SSCAN MATCH escaped."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


#: Set a hash field to ARGV[3] only if it still holds ARGV[2]: 1 done, 0 changed, -1 gone.
_COMPARE_AND_SET = """
local now = redis.call('HGET', KEYS[1], ARGV[1])
if not now then return -1 end
if now ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""


def _chunks(flat: Sequence[Any]) -> Iterator[tuple[Any, Any]]:
    """``[k1, v1, k2, v2, …]`` as pairs."""
    return zip(flat[::2], flat[1::2], strict=True)


def _pairs(flat: Sequence[Any]) -> dict[str, int]:
    """A flat HGETALL reply of counters as ``{field: n}``."""
    return {_text(name): int(value) for name, value in _chunks(flat)}


def _day_bounds(since: date | None, until: date | None) -> tuple[str, str]:
    return (
        "0000" if since is None else since.isoformat(),
        "9999-99-99" if until is None else until.isoformat(),
    )


def _range(method: str, key: str, start: str, stop: str, count: int, client: Any) -> Any:
    """One page of a lexicographic range (for ``functools.partial`` in the read helpers)."""
    return getattr(client, method)(key, start, stop, 0, count)


def _dims(visit: Visit) -> list[tuple[str, str]]:
    dims = [(name, getattr(visit, name)) for name in ("app", "os", "device")]
    out = [(name, value) for name, value in dims if value]
    if visit.is_bot:
        out.append(("bot", "1"))
    return out
