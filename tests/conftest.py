"""Shared test setup: keep compiled-database caches out of the user's home."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def private_database_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Subprocesses (the CLI tests) inherit it too.
    os.environ["AVGATE_CACHE_DIR"] = str(tmp_path_factory.mktemp("avgate-cache"))
