"""Where a database stands against this version's migrations (``helpdesk migrate``).

``schema_state(url)`` only reads: it creates no table, and no file for a SQLite database
that does not exist yet. ``upgrade(url)`` is what every bot does at start-up
(``Store.open``: the migrations under PostgreSQL's advisory lock, so replicas and a
migration job starting together migrate once), returning the state before and after.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from store.db import MIGRATIONS, Store, normalise_url


@dataclass(frozen=True)
class SchemaState:
    """The revisions stamped in a database next to this version's heads."""

    current: tuple[str, ...]  # empty: never migrated (or no database yet)
    heads: tuple[str, ...]
    unknown: tuple[str, ...] = ()  # stamped by a newer version of the bot

    @property
    def at_head(self) -> bool:
        return set(self.current) == set(self.heads)

    def describe(self) -> str:
        """One line: at head, behind (from what to what), or ahead of this version."""
        now = ", ".join(self.current) or "empty"
        head = ", ".join(self.heads)
        if self.unknown:
            return (
                f"the database is at {now}, which this version does not know (a newer "
                f"version migrated it; this version's head is {head})"
            )
        if self.at_head:
            return f"at head ({head})"
        return f"behind: at {now}, head is {head}"


@functools.cache
def _scripts() -> ScriptDirectory:
    # Read once per process: the migrations on disk are this version's, they do not change.
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg)


def _state(current: tuple[str, ...]) -> SchemaState:
    scripts = _scripts()
    unknown = []
    for rev in current:
        try:
            scripts.get_revision(rev)
        except CommandError:
            unknown.append(rev)
    return SchemaState(current, tuple(scripts.get_heads()), tuple(unknown))


def _read_current(sync_conn: Connection) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(sync_conn).get_current_heads())


def shown_url(url: str) -> str:
    """The URL as it may be printed: password hidden."""
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


async def schema_state(url: str) -> SchemaState:
    """Read the database's revisions (connection errors propagate to the caller)."""
    url = normalise_url(url)
    if url.startswith("sqlite+aiosqlite:///") and ":memory:" not in url:
        path = Path(url.removeprefix("sqlite+aiosqlite:///").split("?", 1)[0])
        if not await asyncio.to_thread(path.exists):
            return _state(())
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(_read_current)
    finally:
        await engine.dispose()
    return _state(current)


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


async def engine_state(engine: AsyncEngine) -> SchemaState:
    """``schema_state`` over an engine already open (readiness checks, every few seconds)."""
    async with engine.connect() as conn:
        current = await conn.run_sync(_read_current)
    return _state(current)
