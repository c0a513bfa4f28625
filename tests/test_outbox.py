"""The outbox's values and the retry schedule (the backends' part is tests/backends/test_outbox.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from suolink.outbox import Endpoint, Message, RetryPolicy, from_micros, micros, new_id

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def test_the_schedule_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base=5, factor=2, cap=60, jitter=0, max_attempts=6)
    assert policy.schedule() == [5, 10, 20, 40, 60]
    assert [policy.delay(n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


@given(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=2**32))
def test_jitter_stays_within_its_fraction(failures: int, seed: int) -> None:
    policy = RetryPolicy(rng=random.Random(seed))
    raw = min(policy.cap, policy.base * policy.factor ** (failures - 1))
    assert raw * 0.8 <= policy.delay(failures) <= raw * 1.2


def test_giving_up_by_attempts_or_age() -> None:
    policy = RetryPolicy(max_attempts=3, max_age=timedelta(hours=1))
    message = Message(id="m", endpoint_id="e", event="link.created", body="{}", created_at=T0)
    assert not policy.gives_up(message, 2, T0)
    assert policy.gives_up(message, 3, T0)
    assert policy.gives_up(message, 1, T0 + timedelta(hours=1))
    assert message.next_at == T0 == message.due()


def test_endpoint_json_round_trip_and_the_secret_shown_only_when_asked() -> None:
    endpoint = Endpoint(new_id("ep"), "https://h.example/x", ("link.created",), "whsec_x", T0)
    assert Endpoint.from_json(endpoint.to_json()) == endpoint
    assert "secret" not in endpoint.to_dict()
    assert endpoint.to_dict(with_secret=True)["secret"] == "whsec_x"
    assert endpoint.wants("link.created")
    assert not endpoint.wants("link.deleted")


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)))
def test_micros_round_trip(moment: datetime) -> None:
    aware = moment.replace(tzinfo=UTC)
    assert from_micros(micros(aware)) == aware


def test_ids_are_unique_and_prefixed() -> None:
    ids = {new_id("msg") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("msg_") for i in ids)
