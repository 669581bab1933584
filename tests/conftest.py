"""Shared fixtures: one real index, built once per test session from the real corpus."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.config import Settings  # noqa: E402
from qa.index import Index, build  # noqa: E402
from qa.search import Searcher  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """Settings over the real corpus, with an index folder of the session's own."""
    index_dir = tmp_path_factory.mktemp("index")
    return replace(Settings.from_env(env={}), corpus_dir=CORPUS, index_dir=index_dir)


@pytest.fixture(scope="session")
def index(settings) -> Index:
    built, _ = build(settings)
    built.save(settings.index_dir)
    return Index.load(settings.index_dir)


@pytest.fixture(scope="session")
def searcher(index, settings) -> Searcher:
    return Searcher(index, settings)
