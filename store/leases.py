"""The one lease: a named, expiring hold taken, renewed and released on the database's clock.

A lease is one row of ``leases`` (``name``, ``holder``, ``expires_at``). Taking it is
one conditional upsert that inserts the row, or takes over a row whose time is up,
or changes nothing; so of two callers exactly one holds it, on SQLite and on
PostgreSQL alike.

Two rules make it safe across replicas:

* every expiry is computed and compared by the database (``clock_timestamp()`` on
  PostgreSQL, ``strftime('now')`` on SQLite), never by a replica's clock, so a
  replica whose clock runs ahead cannot take a lease that is still held;
* the holder is an opaque token made by :func:`new_holder` (random), never a
  hostname or pid: two live processes with the same hostname and pid (two
  containers, each pid 1) are two holders, and nobody guesses whether a holder is
  alive. A holder that dies simply stops renewing, and its lease runs out.

:func:`db_now` and :func:`db_later` are the same clock for other tables (the jobs'
per-row leases).
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, delete, func, literal, or_, select, type_coerce, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Interval

from store.models import Lease

# SQLite keeps DateTime columns as text in this layout; the database's clock is written
# in it too (milliseconds, which the layout's parser accepts), so the two compare as text.
_SQLITE_LAYOUT = "%Y-%m-%d %H:%M:%f"


def new_holder() -> str:
    """A fresh holder token: readable (host and pid, for people) and unique (random).

    Nothing reads the host or pid back: two processes with the same ones still get
    different tokens, and only the token decides who holds a lease.
    """
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{secrets.token_hex(8)}"


def db_now(dialect: str) -> ColumnElement[datetime]:
    """The database's current time, as an SQL expression."""
    if dialect == "postgresql":
        return func.clock_timestamp()
    return type_coerce(func.strftime(_SQLITE_LAYOUT, "now"), DateTime(timezone=True))


def db_later(dialect: str, delta: timedelta) -> ColumnElement[datetime]:
    """The database's current time plus ``delta``, as an SQL expression."""
    if dialect == "postgresql":
        return func.clock_timestamp() + literal(delta, Interval())
    seconds = f"{delta.total_seconds():+.6f} seconds"
    return type_coerce(func.strftime(_SQLITE_LAYOUT, "now", seconds), DateTime(timezone=True))


def aware(value: datetime) -> datetime:
    """``value`` with UTC attached (SQLite hands back naive datetimes)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LeaseState:
    """Who holds (or last held) a lease, until when, and whether that is still ahead."""

    holder: str
    expires_at: datetime
    live: bool


class Leases:
    """Named leases over the store's engine; each method is one short transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.dialect = engine.dialect.name
        self._session = async_sessionmaker(engine, expire_on_commit=False)

    async def take(
        self, name: str, holder: str, ttl: timedelta, *, again: bool = False
    ) -> bool:
        """Hold ``name`` for ``ttl`` unless someone holds it now; True when taken.

        Not re-entrant: a holder whose lease is still running does not take it again
        (it renews), unless ``again`` (a holder named after a piece of work, run again after
        the process doing it died: it is that work's lease still). A lease whose time is up
        is free to anyone, its last holder too.
        """
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        until = db_later(self.dialect, ttl)
        free = Lease.expires_at < db_now(self.dialect)
        statement = (
            insert(Lease)
            .values(name=name, holder=holder, expires_at=until)
            .on_conflict_do_update(
                index_elements=[Lease.name],
                set_={"holder": holder, "expires_at": until},
                where=or_(free, Lease.holder == holder) if again else free,
            )
        )
        async with self._session.begin() as s:
            result = await s.execute(statement)
            return _rowcount(result) == 1

    async def renew(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Extend ``holder``'s lease to ``ttl`` from now; False when it is no longer theirs."""
        async with self._session.begin() as s:
            result = await s.execute(
                update(Lease)
                .where(Lease.name == name, Lease.holder == holder)
                .values(expires_at=db_later(self.dialect, ttl))
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1

    async def release(self, name: str, holder: str) -> bool:
        """Give the lease up at once, if ``holder`` still holds it."""
        async with self._session.begin() as s:
            result = await s.execute(
                delete(Lease).where(Lease.name == name, Lease.holder == holder)
            )
            return _rowcount(result) == 1

    async def state(self, name: str) -> LeaseState | None:
        """The lease's row, if any, and whether it is live by the database's clock."""
        async with self._session() as s:
            row = (
                await s.execute(
                    select(
                        Lease.holder, Lease.expires_at, Lease.expires_at > db_now(self.dialect)
                    ).where(Lease.name == name)
                )
            ).first()
            if row is None:
                return None
            return LeaseState(str(row[0]), aware(row[1]), bool(row[2]))


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0)
