"""Engines on the store's database, and nothing else: light enough for the HTTP ingress process.

``normalise_url`` accepts plain ``postgresql://`` and ``sqlite:///`` URLs; ``open_engine``
makes an async engine with the store's settings (SQLite in WAL mode, one connection; a
pool with pre-ping on PostgreSQL). Migrations are ``store.db``'s.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; NORMAL syncs at checkpoints, not every
    # commit (still durable across a crash of the process, which is what matters here).
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` and ``sqlite:///`` URLs; use the async drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def open_engine(url: str, *, small: bool = False, name: str = "helpdesk") -> AsyncEngine:
    """An engine on ``url`` (normalised) with this store's settings; no migration.

    ``small``: a few connections, for one job (the inbox's records), beside the main pool.
    ``name``: PostgreSQL's ``application_name`` for its connections (``pg_stat_activity``
    then says which part of the bot holds which connection).
    """
    url = normalise_url(url)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # SQLite has one writer at a time: more connections only add waiting threads.
        kwargs.update(connect_args={"timeout": 30}, pool_size=1, max_overflow=0)
    elif small:
        kwargs.update(pool_pre_ping=True, pool_size=3, max_overflow=2)
    else:
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=10)
    if url.startswith("postgresql+asyncpg"):
        kwargs["connect_args"] = {"server_settings": {"application_name": name}}
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine
