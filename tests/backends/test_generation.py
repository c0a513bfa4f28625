"""Generated codes over every backend: they skip taken codes and are never re-issued.

Issue 12 ("Codes and identity"): aliases share the generated-code space, a deleted code
could be claimed again, and a counter lost with the data restarted at 1.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suolink import Shortener
from suolink.backends import Storage
from suolink.errors import CodeSpaceExhausted, CodeTaken
from tests.backends.conftest import Backend, reset_counter


def shortener_over(storage: Storage, **options: object) -> Shortener:
    return Shortener(storage, secret="generation-tests", **options)  # type: ignore[arg-type]


def test_aliases_in_the_generated_code_space_do_not_fail_shorten(storage: Storage) -> None:
    # The finding: claiming the next hashids codes as aliases made four plain shorten()
    # calls fail with CodeTaken, a 409 for a user who chose no code.
    shortener = shortener_over(storage)
    squatted = {shortener.codes.codec.encode(n) for n in range(1, 5)}
    for code in squatted:
        shortener.shorten("https://example.com/alias", code=code)
    made = [shortener.shorten(f"https://example.com/{i}").code for i in range(4)]
    assert len(set(made)) == 4
    assert not squatted & set(made)
    for code in squatted:
        assert shortener.get(code).url == "https://example.com/alias"


def test_deleted_codes_are_skipped_by_generation(storage: Storage) -> None:
    shortener = shortener_over(storage)
    first = shortener.shorten("https://example.com/first")
    assert shortener.delete(first.code) is True
    reset_counter(storage)
    again = shortener.shorten("https://example.com/second")
    assert again.code != first.code
    assert shortener.storage.get(first.code) is None


def test_after_losing_the_counter_no_code_is_issued_twice(storage: Storage) -> None:
    # The finding: after Redis data loss the counter restarts and re-issues codes.
    shortener = shortener_over(storage)
    before = {shortener.shorten(f"https://example.com/old/{i}").code: i for i in range(6)}
    for code in list(before)[:2]:
        shortener.delete(code)
    reset_counter(storage)
    after = [shortener.shorten(f"https://example.com/new/{i}").code for i in range(6)]
    assert len(set(after)) == len(after)
    assert not set(after) & set(before)
    for code, i in list(before.items())[2:]:
        assert shortener.get(code).url == f"https://example.com/old/{i}"


def test_reuse_deleted_codes_frees_the_code(storage: Storage) -> None:
    shortener = shortener_over(storage, reuse_deleted_codes=True)
    link = shortener.shorten("https://example.com/a", code="reusable")
    assert shortener.delete(link.code) is True
    assert shortener.shorten("https://example.com/b", code="reusable").url == (
        "https://example.com/b"
    )


def test_a_full_code_space_is_a_clear_error(storage: Storage) -> None:
    shortener = shortener_over(storage)
    for n in range(1, 40):
        shortener.shorten("https://example.com/alias", code=shortener.codes.codec.encode(n))
    with pytest.raises(CodeSpaceExhausted, match="16 generated hashids codes"):
        shortener.shorten("https://example.com/x")


# One alias or one plain shorten per step; an alias names a code the counter will reach.
STEPS = st.lists(st.none() | st.integers(1, 24), min_size=1, max_size=24)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
def test_no_interleaving_of_aliases_makes_a_plain_shorten_raise(
    backend: Backend, storage_factory: Callable[[], Storage], steps: list[int | None]
) -> None:
    if backend.name not in {"memory", "sqlite"}:
        pytest.skip("a fresh store per example: run on the fast backends")
    shortener = shortener_over(storage_factory())
    issued: set[str] = set()
    for step in steps:
        if step is None:
            code = shortener.shorten("https://example.com/plain").code
        else:
            try:
                code = shortener.shorten(
                    "https://example.com/alias", code=shortener.codes.codec.encode(step)
                ).code
            except CodeTaken:
                continue  # the alias was taken: the one case CodeTaken is the answer
        assert code not in issued
        issued.add(code)
