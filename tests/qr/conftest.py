"""Fixtures for the QR tests: the generated corpus (once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("qrcode")
pytest.importorskip("PIL")
pytest.importorskip("zxingcpp")

import qr_corpus
from tests.shared_files import shared_directory


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[qr_corpus.Sample]:
    """The labelled corpus, written once per run (shared by the xdist workers)."""
    directory: Path
    with shared_directory(tmp_path_factory, "qr-corpus") as (directory, ready):
        return qr_corpus.load(directory) if ready else qr_corpus.generate(directory)
