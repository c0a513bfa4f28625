"""What only the Redis backend promises: URLs, prefixes, scripts, id blocks, TTLs,
retention, one round trip per redirect, and coming back after the server died.
What its capabilities promise (``get_and_record``, ``rate_limit_url``) is checked on
every backend claiming them, in ``test_capabilities.py``.

Every test runs against real servers (see ``redis_servers.py``); nothing is faked.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from suolink.backends import open_storage
from suolink.backends.base import RecordsInOneTrip, SharesRateLimits
from suolink.backends.redis import RedisStorage, parse_url, time_key
from suolink.backends.redis._options import rate_limit_url
from suolink.errors import BackendUnavailable, ConfigurationError, LinkNotFound
from suolink.models import Conversion, Link, Visit
from suolink.stats import aggregate, link_stats

from .redis_servers import Server, count_round_trips
from .redis_servers import own_server as own_server  # the fixture

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def _redis_for(store: RedisStorage) -> redis.Redis:
    host, port = store.options.hosts[0]
    return redis.Redis(host=host, port=port, db=store.options.db)


# ------------------------------------------------------------------ URLs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://localhost", {"kind": "tcp", "hosts": (("localhost", 6379),), "db": 0}),
        ("redis://h:6380/3", {"hosts": (("h", 6380),), "db": 3}),
        ("rediss://u:p%40ss@h:6390/1", {"ssl": True, "username": "u", "password": "p@ss"}),
        ("redis://:secret@h", {"username": None, "password": "secret"}),
        ("redis://[::1]:7000", {"hosts": (("::1", 7000),)}),
        (
            "redis://h/0?prefix=app1:&pool_size=7&socket_timeout=0.5&block_size=1000",
            {"prefix": "app1:", "pool_size": 7, "socket_timeout": 0.5, "block_size": 1000},
        ),
        (
            "redis://h?retries=0&keep_expired=60&visit_cap=10&visit_days=30&connect_timeout=1",
            {"retries": 0, "keep_expired": 60, "visit_cap": 10, "visit_days": 30},
        ),
        ("redis+unix:///run/redis.sock?db=2", {"kind": "unix", "path": "/run/redis.sock", "db": 2}),
        (
            "redis+cluster://a:7000,b:7001,[::1]:7002?prefix=x:",
            {"kind": "cluster", "hosts": (("a", 7000), ("b", 7001), ("::1", 7002)), "prefix": "x:"},
        ),
    ],
)
def test_urls_are_parsed(url: str, expected: dict[str, object]) -> None:
    options = parse_url(url)
    for name, value in expected.items():
        assert getattr(options, name) == value, name


@pytest.mark.parametrize(
    "url",
    [
        "http://h",
        "redis://",
        "redis://h:0",
        "redis://h:99999",
        "redis://h:port",
        "redis://h/x",
        "redis://a:1,b:2",
        "redis://h?nope=1",
        "redis://h?pool_size=0",
        "redis://h?socket_timeout=-1",
        "redis://h?block_size=lots",
        "redis://h?a",
        "redis+unix://host/x.sock",
        "redis+unix://",
        "redis+cluster://",
        "redis+cluster://a:1/2",
        "rediss://h?ssl_cert_reqs=maybe",
    ],
)
def test_bad_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        RedisStorage(url)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_url_parses_or_raises_configuration_error(tail: str) -> None:
    for scheme in ("redis://", "redis+cluster://", "redis+unix://"):
        with contextlib.suppress(ConfigurationError):
            parse_url(scheme + tail)


def test_the_password_never_shows(redis_url_factory: Callable[..., str]) -> None:
    store = RedisStorage("redis://user:hunter2@127.0.0.1:1/0?connect_timeout=0.2")
    try:
        assert "hunter2" not in store.url
        assert "hunter2" not in repr(store)
        with pytest.raises(BackendUnavailable) as caught:
            store.check()
        assert "hunter2" not in str(caught.value)
    finally:
        store.close()


def test_open_storage_picks_the_redis_backend(redis_url_factory: Callable[..., str]) -> None:
    store = open_storage(redis_url_factory())
    try:
        assert isinstance(store, RedisStorage)
        assert isinstance(store, RecordsInOneTrip)
        assert isinstance(store, SharesRateLimits)
        store.check()
    finally:
        store.close()


# ------------------------------------------------------------------ rate-limit URLs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://h", "redis://h:6379/0"),
        ("redis://:p%40ss@h:6380/2?prefix=x:", "redis://:p%40ss@h:6380/2"),
        ("redis://u%3A1:p%2Fw%3A@h/3", "redis://u%3A1:p%2Fw%3A@h:6379/3"),
        ("redis://user@h", "redis://:user@h:6379/0"),  # a lone userinfo is a password
        ("redis://[::1]:7000/1", "redis://[::1]:7000/1"),
        ("rediss://u:p@h:6390/1", "rediss://u:p@h:6390/1?ssl_cert_reqs=required"),
        (
            "rediss://h?ssl_cert_reqs=none&ssl_ca_certs=/etc/ca%20x.pem",
            "rediss://h:6379/0?ssl_cert_reqs=none&ssl_ca_certs=%2Fetc%2Fca+x.pem",
        ),
        ("redis+unix:///run/redis.sock?db=2", "redis+unix:///run/redis.sock?db=2"),
        ("redis+unix://:pw@/run/my%20redis.sock", "redis+unix://:pw@/run/my%20redis.sock?db=0"),
        ("redis+cluster://:s%40@a:7000,[::1]:7002", "redis+cluster://:s%40@a:7000,[::1]:7002"),
    ],
)
def test_the_rate_limit_url_reaches_the_same_server(url: str, expected: str) -> None:
    assert rate_limit_url(parse_url(url)) == expected
    if not url.startswith("redis+cluster"):  # a cluster client connects at once
        store = RedisStorage(url)
        try:
            assert store.rate_limit_url == expected
        finally:
            store.close()


def test_the_rate_limit_url_carries_a_quoted_password(own_server: Server) -> None:
    """``limits`` logs in with the store's own credentials, odd characters and all."""
    pytest.importorskip("limits")
    from limits import parse
    from limits.storage import storage_from_string
    from limits.strategies import FixedWindowRateLimiter

    secret = "p@ss:w/rd %?#"
    admin = redis.Redis(port=own_server.port)
    admin.config_set("requirepass", secret)
    admin.close()
    quoted = "p%40ss%3Aw%2Frd%20%25%3F%23"
    store = RedisStorage(f"redis://:{quoted}@127.0.0.1:{own_server.port}/0")
    try:
        store.check()
        assert quoted in store.rate_limit_url
        limiter = FixedWindowRateLimiter(storage_from_string(store.rate_limit_url))
        assert limiter.storage.check()
        assert limiter.hit(parse("1/minute"), "k")
        assert not limiter.hit(parse("1/minute"), "k")
    finally:
        store.close()


# ------------------------------------------------------------------ keys and prefixes


def test_two_apps_with_their_own_prefix_do_not_see_each_other(
    redis_url_factory: Callable[..., str],
) -> None:
    one, two = RedisStorage(redis_url_factory()), RedisStorage(redis_url_factory())
    try:
        one.create(Link(code="same", url="https://one.example/", tags=("t",)))
        two.create(Link(code="same", url="https://two.example/", tags=("t",)))
        one.record_visit(Visit(code="same", at=T0))
        assert (got := two.get("same")) is not None
        assert (got.url, got.visits) == ("https://two.example/", 0)
        assert [link.url for link in one.list(tag="t").links] == ["https://one.example/"]
        assert [one.next_id(), two.next_id()] == [1, 1]
        assert two.delete("same")
        assert one.get("same") is not None
        client = _redis_for(one)
        assert client.keys(one.prefix + "*")
        assert client.keys(two.prefix + "*")
        assert not client.keys("suolink:*")  # nothing under the default prefix
    finally:
        one.close()
        two.close()


@pytest.mark.parametrize("code", ["a}b", "{x}", "}", "%7D", "a{b", "码{}"])
def test_codes_with_braces_keep_their_keys_in_one_slot(
    redis_cluster_url_factory: Callable[..., str], code: str
) -> None:
    store = RedisStorage(redis_cluster_url_factory())
    try:
        store.create(Link(code=code, url="https://e.com"))
        assert store.record_visit(Visit(code=code, at=T0)).visits == 1
        assert [link.code for link in store.list().links] == [code]
        assert store.delete(code)
        assert store.get(code) is None
    finally:
        store.close()


# ------------------------------------------------------------------ scripts


def test_scripts_are_loaded_again_after_script_flush(redis_url_factory: Callable[..., str]) -> None:
    store = RedisStorage(redis_url_factory())
    try:
        store.create(Link(code="s", url="https://e.com"))
        store.record_visit(Visit(code="s", at=T0))
        client = _redis_for(store)
        client.script_flush()
        assert client.script_exists(store._scripts["visit"].sha) == [False]
        assert store.record_visit(Visit(code="s", at=T0)).visits == 2
        assert client.script_exists(store._scripts["visit"].sha) == [True]
        store.create(Link(code="t", url="https://e.com"))
        assert store.update("t", {"title": "x"}).title == "x"
        assert store.delete("t")
    finally:
        store.close()


# ------------------------------------------------------------------ ids


def test_id_blocks_are_unique_across_instances_and_restarts(
    redis_url_factory: Callable[..., str],
) -> None:
    url = redis_url_factory(block_size=7)
    seen: list[int] = []
    for _ in range(3):  # three "restarts" of two app processes
        a, b = RedisStorage(url), RedisStorage(url)
        try:
            for _ in range(10):
                seen += [a.next_id(), b.next_id()]
        finally:
            a.close()
            b.close()
    assert len(seen) == len(set(seen)) == 60
    assert min(seen) == 1
    client = redis.Redis.from_url(url.split("?")[0])
    prefix = url.split("prefix=")[1].split("&")[0]
    assert int(client.get(f"{prefix}ids") or 0) == 3 * 2 * 14  # 2 blocks of 7 per store


# ------------------------------------------------------------------ expiry and retention


def test_expiring_links_expire_in_redis_too(redis_url_factory: Callable[..., str]) -> None:
    store = RedisStorage(redis_url_factory(keep_expired=60))
    try:
        expires = datetime.now(UTC) + timedelta(hours=1)
        store.create(Link(code="e", url="https://e.com", expires_at=expires))
        store.record_visit(Visit(code="e", at=T0, visitor_id="v"))
        conversion = Conversion(click_id="c", code="e", kind="sale", at=T0, clicked_at=T0)
        store.record_conversion(conversion)  # now every key exists
        client = _redis_for(store)
        want = int(expires.timestamp() * 1000) + 60_000
        for key in store._keys("e"):
            assert abs(client.pexpiretime(key) - want) <= 1, key
        later = expires + timedelta(days=1)
        store.update("e", {"expires_at": later})
        assert abs(client.pexpiretime(store._keys("e")[0]) - (want + 86_400_000)) <= 1
        store.update("e", {"expires_at": None})
        assert all(client.pexpiretime(key) == -1 for key in store._keys("e"))
        store.create(Link(code="forever", url="https://e.com"))
        assert client.pexpiretime(store._keys("forever")[0]) == -1
    finally:
        store.close()


def test_an_expired_link_disappears_and_leaves_the_listing(
    redis_url_factory: Callable[..., str],
) -> None:
    store = RedisStorage(redis_url_factory(keep_expired=0))
    try:
        store.create(Link(code="brief", url="https://e.com", tags=("t",)))
        store.update("brief", {"expires_at": datetime.now(UTC) + timedelta(milliseconds=300)})
        store.create(Link(code="stays", url="https://e.com", tags=("t",)))
        assert len(store.list(tag="t").links) == 2
        deadline = time.monotonic() + 10
        while store.get("brief") is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.get("brief") is None
        assert [link.code for link in store.list(tag="t").links] == ["stays"]
        store.create(Link(code="later", url="https://e.com"))  # sweeps the index
        members = _redis_for(store).zrange(f"{store.prefix}{{idx}}:a", 0, -1)
        assert not any(m.endswith(b"brief") for m in members)
    finally:
        store.close()


def test_raw_visits_are_capped_and_day_counts_kept(redis_url_factory: Callable[..., str]) -> None:
    store = RedisStorage(redis_url_factory(visit_cap=5))
    try:
        store.create(Link(code="r", url="https://e.com"))
        for i in range(8):
            visit = Visit(code="r", at=T0 + timedelta(hours=6 * i), app="wechat", os="ios")
            store.record_visit(visit)
        got = store.get("r")
        assert got is not None
        assert got.visits == 8
        kept = [v.at for v in store.visits("r")]
        assert kept == [T0 + timedelta(hours=6 * i) for i in range(3, 8)]
        days = store.day_counts("r")
        assert sum(counts["visits"] for counts in days.values()) == 8
        assert sum(counts["app:wechat"] for counts in days.values()) == 8
        assert days[T0.date()] == {"visits": 2, "app:wechat": 2, "os:ios": 2}
    finally:
        store.close()


def test_day_counts_follow_each_visit_s_own_day_whatever_the_order(
    redis_url_factory: Callable[..., str],
) -> None:
    # The day (and a visitor's day cells) are kept from the last visit: a visit a
    # microsecond either side of midnight, or back on an earlier day, still counts on its own.
    store = RedisStorage(redis_url_factory())
    midnight = datetime(2026, 3, 2, tzinfo=UTC)
    tick = timedelta(microseconds=1)
    try:
        store.create(Link(code="d", url="https://e.com"))
        for at in (midnight - tick, midnight, midnight - tick, midnight + timedelta(days=1) - tick):
            store.record_visit(Visit(code="d", at=at, app="wechat"))
        days = store.day_counts("d")
        assert {day: counts["app:wechat"] for day, counts in days.items()} == {
            midnight.date() - timedelta(days=1): 2,
            midnight.date(): 2,
        }
    finally:
        store.close()


def test_raw_visits_older_than_the_retention_are_dropped(
    redis_url_factory: Callable[..., str],
) -> None:
    store = RedisStorage(redis_url_factory(visit_days=2))
    try:
        store.create(Link(code="d", url="https://e.com"))
        for day in range(6):
            store.record_visit(Visit(code="d", at=T0 + timedelta(days=day)))
        assert [v.at for v in store.visits("d")] == [T0 + timedelta(days=d) for d in (3, 4, 5)]
        assert len(store.day_counts("d")) == 6
    finally:
        store.close()


def test_links_visited_before_the_counts_were_kept_fold_raw_visits(
    redis_url_factory: Callable[..., str],
) -> None:
    store = RedisStorage(redis_url_factory())
    try:
        store.create(Link(code="old", url="https://e.com"))
        store.record_visit(Visit(code="old", at=T0, visitor_id="a", app="wechat"))
        # What an older suolink left behind: the link, raw visits, day counts, no stats.
        _redis_for(store).delete(*store._keys("old")[3:])
        assert store.counts("old") is None
        store.record_visit(Visit(code="old", at=T0 + timedelta(days=1), visitor_id="b"))
        assert store.counts("old") is None  # still missing the first visit
        stats = link_stats(store, "old")
        assert stats == aggregate("old", store.visits("old"))
        assert stats.total == 2
        store.create(Link(code="new", url="https://e.com"))
        assert store.counts("new") is not None
    finally:
        store.close()


def test_time_keys_sort_like_the_numbers() -> None:
    values = [-(2**63) + 1, -5, -1, 0, 1, 255, 256, 2**53 + 1, 2**63 - 1]
    keys = [time_key(v) for v in values]
    assert keys == sorted(keys)
    assert all(len(k) == 16 for k in keys)


# ------------------------------------------------------------------ the visit path


@pytest.fixture(params=["redis", "redis-cluster"])
def any_url(request: pytest.FixtureRequest) -> str:
    name = "redis_url_factory" if request.param == "redis" else "redis_cluster_url_factory"
    factory: Callable[..., str] = request.getfixturevalue(name)
    return factory()


def _ports(store: RedisStorage) -> list[int]:
    if not store.cluster:
        return [store.options.hosts[0][1]]
    return [node.port for node in store._client.get_primaries()]


def test_a_redirect_costs_one_round_trip(any_url: str) -> None:
    store = RedisStorage(any_url)
    try:
        store.create(Link(code="fast", url="https://e.com", max_visits=1000))
        store.get_and_record(Visit(code="fast", at=T0))  # loads the script once

        def resolve_many() -> None:
            for _ in range(50):
                link, result = store.get_and_record(Visit(code="fast", at=T0))
                assert link is not None
                assert result is not None
                assert result.allowed

        assert count_round_trips(_ports(store), resolve_many) == 50
        assert store.get("fast").visits == 51  # type: ignore[union-attr]
    finally:
        store.close()


# ------------------------------------------------------------------ failures


def test_an_unreachable_server_is_backend_unavailable() -> None:
    store = RedisStorage("redis://127.0.0.1:1/0?connect_timeout=0.2&retries=0")
    try:
        for call in (
            store.check,
            lambda: store.get("x"),
            lambda: store.create(Link(code="x", url="https://e.com")),
            lambda: store.record_visit(Visit(code="x", at=T0)),
            store.next_id,
            lambda: list(store.visits("x")),
        ):
            with pytest.raises(BackendUnavailable) as caught:
                call()
            assert isinstance(caught.value.original, redis.ConnectionError)
    finally:
        store.close()


def test_a_read_only_replica_is_backend_unavailable(
    own_server: Server, redis_url_factory: Callable[..., str]
) -> None:
    primary = redis_url_factory().split("?")[0].removeprefix("redis://").split("/")[0]
    host, port = primary.split(":")
    client = redis.Redis(port=own_server.port)
    client.replicaof(host, port)
    store = RedisStorage(f"{own_server.url}?prefix=ro:")
    try:
        with pytest.raises(BackendUnavailable) as caught:
            store.create(Link(code="x", url="https://e.com"))
        assert isinstance(caught.value.original, redis.exceptions.ReadOnlyError)
        assert "read only replica" in str(caught.value)
    finally:
        client.replicaof("NO", "ONE")
        client.close()
        store.close()


def test_killing_the_server_mid_run_then_restarting_it(own_server: Server) -> None:
    """Resolves (the one-trip visit path) fail as 503s while Redis is gone, then recover."""
    store = RedisStorage(f"{own_server.url}?socket_timeout=2&connect_timeout=0.5")
    store.create(Link(code="k", url="https://e.com/k"))
    outcomes: list[str] = []
    stop = threading.Event()

    def resolve_forever() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                link, result = store.get_and_record(Visit(code="k", user_agent=f"ua-{i}"))
                ok = link is not None and result is not None and result.allowed
                outcomes.append("ok" if ok else "refused")
            except BackendUnavailable as exc:
                outcomes.append("down" if exc.http_status == 503 else "odd")
                time.sleep(0.005)
            except BaseException as exc:  # surfaces in the assertions below
                outcomes.append(f"error:{type(exc).__name__}:{exc}")
                return

    worker = threading.Thread(target=resolve_forever)
    worker.start()
    mark = 0
    try:
        deadline = time.monotonic() + 10
        while outcomes.count("ok") < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        own_server.kill()
        deadline = time.monotonic() + 10
        while outcomes.count("down") < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        own_server.start()  # same port, same append-only file, same storage object
        mark = len(outcomes)
        deadline = time.monotonic() + 10
        while outcomes[mark:].count("ok") < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        worker.join(timeout=30)
    assert set(outcomes) <= {"ok", "down"}, sorted(set(outcomes))
    assert outcomes.count("down") >= 20, "resolves did not fail while Redis was down"
    assert outcomes[mark:].count("ok") >= 20, "resolves did not come back after the restart"
    link = store.get("k")
    assert link is not None
    agents = [v.user_agent for v in store.visits("k")]
    assert len(agents) == len(set(agents)), "a visit was recorded twice"
    assert link.visits == len(agents)
    # Every acknowledged visit is there; at most the one in flight at the kill was
    # recorded without its answer reaching us.
    assert outcomes.count("ok") <= link.visits <= outcomes.count("ok") + 1
    store.close()


def test_closed_store_raises_backend_unavailable_and_update_missing_raises(
    redis_url_factory: Callable[..., str],
) -> None:
    store = RedisStorage(redis_url_factory())
    with pytest.raises(LinkNotFound):
        store.update("missing", {"title": "x"})
    store.close()
    with pytest.raises(BackendUnavailable):
        store.get_and_record(Visit(code="x", at=T0))


def test_shortener_redirect_costs_one_round_trip(any_url: str) -> None:
    """Through Shortener.resolve, a person's redirect is one network trip to Redis."""
    from suolink import Shortener, Visitor

    chrome = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36"
    )
    wechat = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0.42"
    with Shortener(any_url, secret="s", base_url="https://s.example") as shortener:
        code = shortener.shorten("https://example.com/", max_visits=1000).code
        shortener.resolve(code, Visitor(user_agent=chrome))  # loads the script once

        def resolve_many() -> None:
            for _ in range(20):
                assert shortener.resolve(code, Visitor(user_agent=chrome)).status == 302

        assert count_round_trips(_ports(shortener.storage), resolve_many) == 20  # type: ignore[arg-type]
        assert shortener.get(code).visits == 21
        # A guide view in WeChat takes the normal path and is recorded, not counted.
        assert shortener.resolve(code, Visitor(user_agent=wechat)).status == 200
        assert shortener.get(code).visits == 21
        assert shortener.stats(code).by_outcome == {"redirect": 21, "guide": 1}


# ------------------------------------------------------------------ links held in process


def _visits_of(store: RedisStorage, code: str) -> list[Visit]:
    return list(store.visits(code))


def test_a_pipeline_of_one_links_visits_records_as_one_by_one(any_url: str) -> None:
    """One script for a link's visits of a batch: statuses, counts, raw visits and stats
    as if each had had its own script (``max_visits`` refusing the third counted)."""
    store = RedisStorage(any_url)
    try:
        for code in ("batch", "single"):
            store.create(Link(code=code, url="https://e.com", max_visits=2))
        templates = [
            Visit(code="", at=T0, os="ios", device="mobile", visitor_id="v1", browser="safari"),
            Visit(code="", at=T0 + timedelta(days=1), referer="example.org", visitor_id="v2"),
            Visit(code="", at=T0, is_bot=True, outcome="bot", app="slack"),
            Visit(code="", at=T0 + timedelta(hours=2), visitor_id="v1", country="CN"),
        ]
        counted = [True, True, False, True]
        calls = [
            (store._keys("batch"), store._visit_args(replace(v, code="batch"), c, "0"), None)
            for v, c in zip(templates, counted, strict=True)
        ]
        batched = store._run_visits(calls)
        single = [
            store.record_visit(replace(v, code="single"), count=c)
            for v, c in zip(templates, counted, strict=True)
        ]
        assert [(r[0] == 1, int(r[1])) for r in batched] == [(s.allowed, s.visits) for s in single]
        assert [replace(v, code="") for v in _visits_of(store, "batch")] == [
            replace(v, code="") for v in _visits_of(store, "single")
        ]
        assert store.counts("batch") == store.counts("single")
        assert store.day_counts("batch") == store.day_counts("single")
        assert store.get("batch").visits == store.get("single").visits == 2  # type: ignore[union-attr]
    finally:
        store.close()


def test_a_link_changed_elsewhere_records_nothing_and_is_read_again(any_url: str) -> None:
    """``peek`` may hold a link another process changed: the append's script sees the
    version moved, records nothing (None), and hands back the new link."""
    here, there = RedisStorage(any_url), RedisStorage(any_url)
    try:
        here.create(Link(code="held", url="https://e.com/one"))
        first = here.peek("held")
        assert first is not None
        assert here.peek("held") is first
        there.update("held", {"url": "https://e.com/two"})
        assert here.peek("held") is first  # no network trip: not seen yet
        record = Visit(code="held", at=T0).to_record()
        assert here.append_visit(record) is None
        assert here.get("held").visits == 0  # type: ignore[union-attr]
        second = here.peek("held")
        assert second is not None
        assert second.url == "https://e.com/two"
        assert here.append_visit(record) is True
        assert here.get("held").visits == 1  # type: ignore[union-attr]
        there.delete("held", tombstone=False)
        assert here.append_visit(record) is None
    finally:
        here.close()
        there.close()


def test_a_held_link_costs_no_fields_in_get_and_record(any_url: str) -> None:
    """Once held, the one-trip script answers without the link's fields; the link comes
    back with its new count."""
    store = RedisStorage(any_url)
    try:
        store.create(Link(code="lean", url="https://e.com", title="t"))
        link, _ = store.get_and_record(Visit(code="lean", at=T0))
        assert link is not None
        assert link.visits == 1
        keys = store._keys("lean")
        reply = store._run_visits(
            [
                (
                    keys,
                    store._visit_args(
                        Visit(code="lean", at=T0), True, "o" + store._held["lean"][0]
                    ),
                    None,
                )
            ]
        )[0]
        assert reply[2] == 0
        again, result = store.get_and_record(Visit(code="lean", at=T0))
        assert again is not None
        assert result is not None
        assert (again.visits, again.title, result.visits) == (3, "t", 3)
    finally:
        store.close()


def test_the_asgi_app_follows_a_link_changed_by_another_process(
    redis_url_factory: Callable[..., str],
) -> None:
    """A worker resolves a held link on its event loop; a change made elsewhere is caught
    by the visit's script, and the request is answered from the new link, counted once."""
    from starlette.testclient import TestClient

    from suolink.adapters.asgi import create_app

    url = redis_url_factory()
    chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0.0.0 Safari/537.36"
    other = RedisStorage(url)
    try:
        other.create(Link(code="moved", url="https://e.com/one"))
        app = create_app(url, secret="s", allowed_hosts="localhost")
        with TestClient(app, base_url="http://localhost") as client:
            for expected in ("https://e.com/one", "https://e.com/one"):
                answer = client.get(
                    "/moved", headers={"user-agent": chrome}, follow_redirects=False
                )
                assert (answer.status_code, answer.headers["location"]) == (302, expected)
            other.update("moved", {"url": "https://e.com/two"})
            for _ in range(2):
                answer = client.get(
                    "/moved", headers={"user-agent": chrome}, follow_redirects=False
                )
                assert (answer.status_code, answer.headers["location"]) == (
                    302,
                    "https://e.com/two",
                )
        assert other.get("moved").visits == 4  # type: ignore[union-attr]
        assert len(list(other.visits("moved"))) == 4
    finally:
        other.close()
