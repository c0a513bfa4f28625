"""Decode rates on the generated corpus: overall, per family, per engine; never a wrong text."""

from __future__ import annotations

from collections import defaultdict

import pytest
from qr_corpus import FAMILIES, Sample
from qr_support import needs_pyzbar

from suolink.qr import decode

#: Every family must stay above this; the overall target from the issue is 95 %.
FAMILY_FLOOR = 0.80
OVERALL_TARGET = 0.95


def _rates(corpus: list[Sample], **options: object) -> tuple[dict[str, float], float, list[str]]:
    """Exact-read rate per family, overall, and every result that is present but wrong."""
    hits: dict[str, list[bool]] = defaultdict(list)
    wrong = []
    for sample in corpus:
        got = decode(sample.path, **options)  # type: ignore[arg-type]
        hits[sample.family].append(got == sample.expected)
        if got and got != sample.expected and set(got) - set(sample.expected):
            wrong.append(f"{sample.path.name}: {got!r} != {sample.expected!r}")
    per_family = {name: sum(v) / len(v) for name, v in hits.items()}
    overall = sum(sum(v) for v in hits.values()) / len(corpus)
    return per_family, overall, wrong


def test_corpus_has_every_family_and_several_hundred_images(corpus: list[Sample]) -> None:
    assert {s.family for s in corpus} == set(FAMILIES)
    assert len(corpus) >= 300
    assert all(s.path.exists() for s in corpus)


def test_default_engines_meet_the_target(corpus: list[Sample]) -> None:
    per_family, overall, wrong = _rates(corpus)
    report = ", ".join(f"{k} {v:.0%}" for k, v in per_family.items())
    assert not wrong, wrong
    assert overall >= OVERALL_TARGET, f"overall {overall:.1%}: {report}"
    weak = {k: v for k, v in per_family.items() if v < FAMILY_FLOOR}
    assert not weak, report


def test_clean_and_cjk_families_are_perfect(corpus: list[Sample]) -> None:
    for sample in corpus:
        if sample.family in ("clean", "cjk", "rgba", "palette", "two_codes", "logo"):
            assert decode(sample.path) == sample.expected, sample.path.name


def test_retry_passes_add_reads(corpus: list[Sample]) -> None:
    _, single, _ = _rates(corpus, engines="zxing-cpp", retry=False)
    _, retried, _ = _rates(corpus, engines="zxing-cpp", retry=True)
    assert retried > single


@needs_pyzbar
def test_pyzbar_alone_reads_exactly_or_not_at_all(corpus: list[Sample]) -> None:
    per_family, overall, wrong = _rates(corpus, engines="pyzbar")
    assert not wrong, wrong  # in particular no Shift-JIS mojibake of UTF-8 payloads
    assert per_family["cjk"] == 1.0
    # zbar reports no error-correction margin, so a read from a retry pass counts only
    # when a second pass reads the same text (issue 12): 96.4 % before that rule, 85.5 %
    # with it; inverted codes, which only the invert pass shows it, are the family lost.
    assert overall >= 0.85
    _, single, _ = _rates(corpus, engines="pyzbar", retry=False)
    assert overall > single


@pytest.mark.parametrize("family", ["rgba", "inverted", "low_contrast"])
def test_zxing_alone_handles_the_families_the_issue_measured(
    corpus: list[Sample], family: str
) -> None:
    samples = [s for s in corpus if s.family == family]
    read = sum(decode(s.path, engines="zxing-cpp") == s.expected for s in samples)
    assert read / len(samples) >= FAMILY_FLOOR
