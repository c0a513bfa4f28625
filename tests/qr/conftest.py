"""Fixtures for the QR tests: the generated corpus (once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("qrcode")
pytest.importorskip("PIL")
pytest.importorskip("zxingcpp")

import qr_corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[qr_corpus.Sample]:
    """The labelled corpus, written once per session into a temporary directory."""
    directory: Path = tmp_path_factory.mktemp("qr-corpus")
    return qr_corpus.generate(directory)
