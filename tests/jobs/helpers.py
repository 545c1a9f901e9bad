"""What the job tests share: two stores on one database (two replicas' connection pools)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from store.db import Store


@contextlib.asynccontextmanager
async def two_stores(url: str) -> AsyncIterator[list[Store]]:
    """Two stores on one database: two replicas, each with its own connection pool."""
    opened = [await Store.open(url), await Store.open(url)]
    try:
        yield opened
    finally:
        for store in opened:
            await store.close()
