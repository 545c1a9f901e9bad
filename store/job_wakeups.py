"""Wake the job runners when a job is queued, instead of waiting for their next poll.

On PostgreSQL a job queued by :func:`store.jobs.queue_jobs` (or ``JobStore.enqueue``)
sends ``pg_notify('helpdesk_jobs', kinds)`` in the transaction that writes it, so the
notification is delivered at commit, to every replica, and never for a rollback.
:class:`JobWakeups` holds one connection of its own that ``LISTEN``\\ s on the channel
and calls its callback with the kinds named; the connection is opened again (with a
capped backoff) when it is lost, and the callback is called once after every reconnect,
since notifications sent meanwhile are gone.

On SQLite there is only this process: a queued job's commit sets the in-process wakeup
of every runner on the same database file (:func:`wake_local`).

The poll stays, as the fallback: a notification lost with its connection, a job whose
``run_at`` comes later, or a lease that runs out are found by the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import Connection, Engine, event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from config.logging import get_logger

log = get_logger("helpdesk.jobs")

CHANNEL = "helpdesk_jobs"
#: Called with the kinds a wakeup names (empty: any kind, after a reconnect).
OnWake = Callable[[frozenset[str]], None]

_local: dict[str, set[OnWake]] = {}


def database_key(engine: Engine | Connection | AsyncEngine) -> str:
    """The database an engine is on, as the in-process wakeups know it."""
    if isinstance(engine, Connection):
        engine = engine.engine
    return engine.url.render_as_string(hide_password=False)


def wake_local(key: str, kinds: Collection[str]) -> None:
    """Call every in-process listener on database ``key`` (SQLite's wakeup)."""
    named = frozenset(kinds)
    for callback in list(_local.get(key, ())):
        try:
            callback(named)
        except Exception as exc:  # a listener's bug must not undo the caller's commit
            log.warning("job_wakeup_failed", error=type(exc).__name__)


async def notify_in(session: AsyncSession, kinds: Collection[str]) -> None:
    """Send the wakeup for ``kinds`` with the caller's transaction (PostgreSQL)."""
    await session.execute(select(func.pg_notify(CHANNEL, ",".join(sorted(kinds)))))


def wake_after_commit(session: AsyncSession, kinds: Collection[str]) -> None:
    """Wake this process's runners on the session's database once it commits (SQLite)."""
    key = database_key(session.get_bind())
    named = frozenset(kinds)
    event.listen(session.sync_session, "after_commit",
                 lambda _s: wake_local(key, named), once=True)


class JobWakeups:
    """Listens for queued jobs on the store's database; see the module docstring."""

    def __init__(self, engine: AsyncEngine, *, retry_cap: float = 5.0) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.key = database_key(engine)
        self.retry_cap = retry_cap
        self._callback: OnWake | None = None
        self._task: asyncio.Task[None] | None = None
        self._connection: Any = None
        self.listening = asyncio.Event()  # set while a LISTEN connection is open (tests)

    async def start(self, on_wake: OnWake) -> None:
        """Call ``on_wake`` for every wakeup from now on (returns once listening, or trying)."""
        self._callback = on_wake
        if self.dialect != "postgresql":
            _local.setdefault(self.key, set()).add(on_wake)
            self.listening.set()
            return
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="job-wakeups")
            # The first connection, briefly: a caller that queues right after start() is
            # heard; if the server is slow, the poll covers what comes before.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.listening.wait(), 5)

    async def stop(self) -> None:
        if self._callback is not None:
            _local.get(self.key, set()).discard(self._callback)
        if self._task is not None:
            self._task.cancel()
            # Its CancelledError is not ours: a cancellation of the caller still goes through.
            await asyncio.wait([self._task])
            self._task = None
        self.listening.clear()

    def _heard(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if self._callback is not None:
            self._callback(frozenset(k for k in payload.split(",") if k))

    async def _listen(self) -> None:
        import asyncpg

        dsn = self.key.replace("postgresql+asyncpg://", "postgresql://", 1)
        delay = 0.1
        first = True
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(
                    dsn, timeout=10, server_settings={"application_name": "helpdesk-wakeups"}
                )
                lost = asyncio.Event()
                conn.add_termination_listener(_setter(lost))
                await conn.add_listener(CHANNEL, self._heard)
                self._connection = conn
                self.listening.set()
                if not first and self._callback is not None:
                    self._callback(frozenset())  # what was sent while we were away
                first, delay = False, 0.1
                while not lost.is_set():
                    # A dead peer is noticed by a cheap query now and then, not only by TCP.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), 30)
                    if not lost.is_set():
                        await asyncio.wait_for(conn.execute("SELECT 1"), 10)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("job_wakeups_lost", error=type(exc).__name__)
            finally:
                self.listening.clear()
                self._connection = None
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_cap)


def _setter(flag: asyncio.Event) -> Callable[[Any], None]:
    return lambda _conn: flag.set()


__all__ = [
    "CHANNEL",
    "JobWakeups",
    "OnWake",
    "database_key",
    "notify_in",
    "wake_after_commit",
    "wake_local",
]
