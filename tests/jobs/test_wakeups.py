"""Runners woken when a job is queued: PostgreSQL LISTEN/NOTIFY across engines, SQLite in-process.

Each runner polls once an hour here, so a job run within the test's generous bound was
woken, not polled for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from actions.jobs import Handler, JobLease, JobRunner, RetryPolicy
from store.db import Store
from store.job_wakeups import JobWakeups
from store.jobs import NewJob, queue_jobs
from store.models import Job
from tests.conftest import fresh_pg_database
from tests.jobs.helpers import two_stores

RETRY = RetryPolicy(timedelta(seconds=30), timedelta(minutes=2), max_attempts=3)
HOUR = timedelta(hours=1)
BOUND = 10.0  # seconds: far under the poll interval, far over any wakeup's real time


@contextlib.asynccontextmanager
async def _listening(store: Store, ran: asyncio.Event) -> AsyncIterator[JobRunner]:
    """A runner polling hourly, with the store's wakeups, its worker running."""

    async def note(job: Job, _lease: JobLease) -> None:
        ran.set()

    runner = JobRunner(store.jobs, store.leases, {"note": Handler(note)}, lease=HOUR,
                       retry=RETRY, poll_interval=HOUR, wakeups=JobWakeups(store.engine))
    worker = asyncio.create_task(runner.worker())
    try:
        assert runner.wakeups is not None
        await asyncio.wait_for(runner.wakeups.listening.wait(), BOUND)
        await asyncio.sleep(0.2)  # its first round (nothing due) is over: it sleeps
        yield runner
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker


async def test_postgres_notify_wakes_a_runner_on_another_engine() -> None:
    async with fresh_pg_database() as url, two_stores(url) as (writer, reader):
        ran = asyncio.Event()
        async with _listening(reader, ran):
            now = datetime.now(UTC)
            # Queued in a transaction of the writer's own, with other rows (as a decision is).
            async with writer.jobs._session.begin() as s:
                assert await queue_jobs(s, [NewJob("note", "note:1", now)], now)
            await asyncio.wait_for(ran.wait(), BOUND)
            # The plain enqueue wakes the other engine too.
            ran.clear()
            assert await writer.jobs.enqueue(NewJob("note", "note:2", now), now)
            await asyncio.wait_for(ran.wait(), BOUND)


async def test_postgres_wakeups_come_back_after_the_connection_is_lost() -> None:
    async with fresh_pg_database() as url, two_stores(url) as (writer, reader):
        ran = asyncio.Event()
        async with _listening(reader, ran) as runner:
            assert runner.wakeups is not None
            admin = await asyncpg.connect(url.replace("+asyncpg", ""))
            try:
                killed = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'helpdesk-wakeups' AND datname = current_database()"
                )
            finally:
                await admin.close()
            assert killed == 1
            for _ in range(200):  # the listener notices, and connects again
                if not runner.wakeups.listening.is_set():
                    break
                await asyncio.sleep(0.05)
            await asyncio.wait_for(runner.wakeups.listening.wait(), BOUND)
            now = datetime.now(UTC)
            assert await writer.jobs.enqueue(NewJob("note", "note:after", now), now)
            await asyncio.wait_for(ran.wait(), BOUND)


async def test_a_rolled_back_queue_wakes_nobody_and_adds_nothing() -> None:
    async with fresh_pg_database() as url, two_stores(url) as (writer, reader):
        heard: list[frozenset[str]] = []
        wakeups = JobWakeups(reader.engine)
        await wakeups.start(heard.append)
        try:
            now = datetime.now(UTC)
            with contextlib.suppress(RuntimeError):
                async with writer.jobs._session.begin() as s:
                    await queue_jobs(s, [NewJob("note", "note:gone", now)], now)
                    raise RuntimeError("the decision failed")
            # A committed one after it: once it is heard, the rolled-back one would have been.
            assert await writer.jobs.enqueue(NewJob("other", "other:1", now), now)
            for _ in range(200):
                if heard:
                    break
                await asyncio.sleep(0.05)
            assert heard == [frozenset({"other"})]
            assert await writer.jobs.due(["note"], now) == []
        finally:
            await wakeups.stop()


async def test_sqlite_wakes_runners_in_the_process(tmp_path: Path) -> None:
    async with two_stores(f"sqlite:///{tmp_path}/jobs.sqlite3") as (writer, reader):
        ran = asyncio.Event()
        async with _listening(reader, ran):
            now = datetime.now(UTC)
            assert await writer.jobs.queue([NewJob("note", "note:1", now)], now)
            await asyncio.wait_for(ran.wait(), BOUND)


async def test_jobs_not_yet_due_wake_nobody(tmp_path: Path) -> None:
    async with two_stores(f"sqlite:///{tmp_path}/jobs.sqlite3") as (writer, reader):
        heard: list[frozenset[str]] = []
        wakeups = JobWakeups(reader.engine)
        await wakeups.start(heard.append)
        try:
            now = datetime.now(UTC)
            assert await writer.jobs.queue([NewJob("note", "note:later", now + HOUR)], now)
            assert heard == []
            assert await writer.jobs.queue([NewJob("note", "note:now", now)], now)
            assert heard == [frozenset({"note"})]
        finally:
            await wakeups.stop()


async def test_a_runner_ignores_kinds_it_does_not_serve(tmp_path: Path) -> None:
    async with two_stores(f"sqlite:///{tmp_path}/jobs.sqlite3") as (_, reader):
        runner = JobRunner(reader.jobs, reader.leases, {"note": Handler(_nothing)},
                           lease=HOUR, retry=RETRY, poll_interval=HOUR)
        runner._woken(frozenset({"other"}))
        assert not runner._wake.is_set()
        runner._woken(frozenset({"note"}))
        assert runner._wake.is_set()


async def _nothing(job: Job, _lease: JobLease) -> None:
    return None
