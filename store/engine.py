"""Engines on the store's database, and nothing else: light enough for the HTTP ingress process.

``normalise_url`` accepts plain ``postgresql://`` and ``sqlite:///`` URLs; ``open_engine``
makes an async engine with the store's settings (SQLite in WAL mode, one connection; a
pool on PostgreSQL whose connections are checked as they are taken: ``_watch_pool``).
Migrations are ``store.db``'s.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError, InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; NORMAL syncs at checkpoints, not every
    # commit (still durable across a crash of the process, which is what matters here).
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


#: A pooled PostgreSQL connection idle for longer than this is pinged before it is used.
PING_AFTER_IDLE = 10.0
_IDLE_SINCE = "helpdesk_idle_since"


def _watch_pool(engine: AsyncEngine) -> None:
    """Check a PostgreSQL connection as the pool hands it out, without a round trip when it
    was used a moment ago.

    SQLAlchemy's ``pool_pre_ping`` costs three round trips on asyncpg (``BEGIN``, ``;``,
    ``ROLLBACK``) at every checkout, several per click. Instead: a connection the server
    closed (a restart, ``pg_terminate_backend``, an idle timeout) is known closed to asyncpg
    as soon as the loop has read the server's goodbye, so it is replaced at once, as a failed
    ping would have it (the pool's older connections with it); one idle for over
    ``PING_AFTER_IDLE`` seconds (a connection a firewall may have dropped silently) is still
    pinged first.
    """
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_conn, "driver_connection", None)
        if driver is not None and driver.is_closed():
            raise InvalidatePoolError("connection closed by the server")
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_IDLE:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # As the pre-ping decides (asyncpg's ``is_disconnect``): a closed connection.
            if isinstance(exc, DisconnectionError) or (driver is not None and driver.is_closed()):
                raise InvalidatePoolError(f"ping failed: {type(exc).__name__}") from exc
            raise


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
        kwargs.update(pool_size=3, max_overflow=2)
    else:
        kwargs.update(pool_size=10, max_overflow=10)
    if url.startswith("postgresql+asyncpg"):
        kwargs["connect_args"] = {"server_settings": {"application_name": name}}
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        _watch_pool(engine)
    return engine
