"""The store's tests: most run on a SQLite file and on a PostgreSQL database each."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import fresh_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database: a SQLite file, then a PostgreSQL database."""
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            yield f"sqlite:///{tmp_path}/store.sqlite3"
        else:
            yield await stack.enter_async_context(fresh_pg_database())
