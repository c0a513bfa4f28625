"""``KeepsDomains`` on every backend that claims it: add, list in order, change
atomically, remove; and the rows of the SQL stores (``suolink.backends.domain_rows``)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from suolink.backends import Storage
from suolink.backends.base import KeepsDomains
from suolink.backends.domain_rows import domain_data, domain_of
from suolink.domains import Domain, DomainSettings, Health, with_state
from suolink.errors import DomainNotFound, DomainTaken

from .conftest import claiming

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def _store(storage: Storage) -> KeepsDomains:
    assert isinstance(storage, KeepsDomains)
    return storage


def _domain(name: str, minutes: int = 0, **kwargs: object) -> Domain:
    return Domain(name, added_at=T0 + timedelta(minutes=minutes), **kwargs)  # type: ignore[arg-type]


@claiming("keeps_domains")
def test_add_list_remove(storage: Storage) -> None:
    store = _store(storage)
    assert store.list_domains() == []
    s2 = store.add_domain(_domain("s2.example", 1, pool="main"))
    s1 = store.add_domain(_domain("s1.example", 0, default=True))
    s3 = store.add_domain(
        _domain(
            "xn--fiq228c.example",
            2,
            pool="promo",
            scheme="http",
            settings=DomainSettings(
                anti_block=frozenset({"wechat"}),
                allow=frozenset({"ios"}),
                not_found_url="https://example.com/404",
                language="zh-CN",
            ),
        )
    )
    assert store.list_domains() == [s1, s2, s3]  # oldest first, every field kept
    with pytest.raises(DomainTaken):
        store.add_domain(_domain("s1.example", 5))
    assert store.remove_domain("s2.example") is True
    assert store.remove_domain("s2.example") is False
    assert [d.name for d in store.list_domains()] == ["s1.example", "xn--fiq228c.example"]


@claiming("keeps_domains")
def test_change_is_applied_and_returns_both_versions(storage: Storage) -> None:
    store = _store(storage)
    store.add_domain(_domain("s1.example"))
    before, after = store.change_domain(
        "s1.example", lambda d: with_state(d, ["wechat", "qq"], Health.BLOCKED, "page", T0)
    )
    assert before.states == {}
    assert after.health("wechat") is Health.BLOCKED
    assert after.health("qq") is Health.BLOCKED
    assert store.list_domains() == [after]
    # the name never changes, whatever the function returns
    _, renamed = store.change_domain("s1.example", lambda d: replace(d, name="x.example"))
    assert renamed.name == "s1.example"
    checked = T0 + timedelta(hours=1)
    _, later = store.change_domain("s1.example", lambda d: replace(d, last_check=checked))
    assert store.list_domains()[0].last_check == checked == later.last_check
    with pytest.raises(DomainNotFound):
        store.change_domain("nope.example", lambda d: d)


@claiming("keeps_domains")
def test_concurrent_changes_are_not_lost(storage: Storage) -> None:
    """Eight threads each mark their own platform: every mark survives (no lost update)."""
    store = _store(storage)
    store.add_domain(_domain("s1.example"))
    platforms = ["wechat", "qq", "weibo", "alipay", "dingtalk", "douyin", "feishu", "line"]
    errors: list[BaseException] = []

    def mark(platform: str) -> None:
        try:
            store.change_domain(
                "s1.example", lambda d: with_state(d, [platform], Health.BLOCKED, "", T0)
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=mark, args=(p,)) for p in platforms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert set(store.list_domains()[0].states) == set(platforms)


def test_row_data_round_trips() -> None:
    domain = with_state(_domain("s1.example", pool="p1"), ["wechat"], Health.SUSPECT, "slow", T0)
    assert domain_of(domain_data(domain)) == domain
    assert domain_of(domain_data(domain).encode()) == domain
