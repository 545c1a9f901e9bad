"""The PostgreSQL pool's checks at checkout: a closed connection replaced, an idle one pinged."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from store import engine as engine_module
from store.engine import open_engine

pytestmark = pytest.mark.postgres


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


def _count_pings(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pings the engine's dialect sends from now on, as a one-item counter."""
    pings = [0]
    real = engine.dialect.do_ping

    def counted(conn: Any) -> bool:
        pings[0] += 1
        return bool(real(conn))

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


async def test_a_connection_the_server_closed_is_replaced_at_checkout(pg_url: str) -> None:
    engine = open_engine(pg_url, small=True, name="helpdesk-engine-test")
    admin = await asyncpg.connect(pg_url)
    try:
        first = await _backend_pid(engine)
        await admin.execute("SELECT pg_terminate_backend($1)", first)
        await asyncio.sleep(0.2)  # the server's goodbye reaches the pooled connection
        # No error for the caller: the closed connection is replaced, as a failed ping was.
        assert await _backend_pid(engine) != first
    finally:
        await admin.close()
        await engine.dispose()


async def test_a_connection_used_a_moment_ago_is_not_pinged(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = open_engine(pg_url, small=True)
    try:
        await _backend_pid(engine)
        pings = _count_pings(engine, monkeypatch)
        for _ in range(5):
            await _backend_pid(engine)
        assert pings == [0]
    finally:
        await engine.dispose()


async def test_a_connection_idle_for_long_is_pinged_first(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 0.0)
    engine = open_engine(pg_url, small=True)
    try:
        await _backend_pid(engine)
        pings = _count_pings(engine, monkeypatch)
        await asyncio.sleep(0.01)
        await _backend_pid(engine)
        assert pings == [1]
    finally:
        await engine.dispose()
