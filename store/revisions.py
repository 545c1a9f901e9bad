"""Where a database stands against this version's migrations (``helpdesk migrate``).

``schema_state(url)`` only reads: it creates no table, and no file for a SQLite database
that does not exist yet. ``upgrade(url)`` is what every bot does at start-up
(``Store.open``: the migrations under PostgreSQL's advisory lock, so replicas and a
migration job starting together migrate once), returning the state before and after.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from store.db import Store, normalise_url
from store.schema import SchemaState, engine_state, read_current, state_of

__all__ = ["SchemaState", "engine_state", "schema_state", "shown_url", "upgrade"]


def shown_url(url: str) -> str:
    """The URL as it may be printed: password hidden."""
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


async def schema_state(url: str) -> SchemaState:
    """Read the database's revisions (connection errors propagate to the caller)."""
    url = normalise_url(url)
    if url.startswith("sqlite+aiosqlite:///") and ":memory:" not in url:
        path = Path(url.removeprefix("sqlite+aiosqlite:///").split("?", 1)[0])
        if not await asyncio.to_thread(path.exists):
            return state_of(())
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(read_current)
    finally:
        await engine.dispose()
    return state_of(current)


async def upgrade(url: str) -> tuple[SchemaState, SchemaState]:
    """Migrate to head as the bot does at start-up; the states before and after.

    A database stamped by a newer version is left alone (``before.unknown`` is set and
    ``after`` is ``before``): migrating it is that version's job.
    """
    before = await schema_state(url)
    if before.unknown:
        return before, before
    store = await Store.open(url)
    await store.close()
    return before, await schema_state(url)
