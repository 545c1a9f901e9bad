"""The durable job runner: claimed once across replicas, leases kept, retries, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from actions.jobs import Handler, JobLease, JobRunner, RetryPolicy
from store.db import Store
from store.jobs import JobState, NewJob
from store.models import Job
from tests.conftest import fresh_pg_database
from tests.jobs.helpers import two_stores

RETRY = RetryPolicy(timedelta(seconds=30), timedelta(minutes=2), max_attempts=3)


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            yield f"sqlite:///{tmp_path}/jobs.sqlite3"
        else:
            yield await stack.enter_async_context(fresh_pg_database())


@pytest.fixture
async def stores(url: str) -> AsyncIterator[list[Store]]:
    """Two stores on one database: two replicas, each with its own connection pool."""
    async with two_stores(url) as opened:
        yield opened


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _runner(store: Store, handlers: dict[str, Handler], clock: Callable[[], datetime],
            lease: timedelta = timedelta(seconds=30), **kw: Any) -> JobRunner:
    return JobRunner(store.jobs, store.leases, handlers, lease=lease, retry=RETRY,
                     clock=clock, **kw)


async def _enqueue(store: Store, kind: str, keys: list[str], at: datetime) -> None:
    for key in keys:
        assert await store.jobs.enqueue(NewJob(kind, key, at), at)


async def test_two_replicas_never_run_a_job_twice(stores: list[Store]) -> None:
    """The job claim under two replicas: each job runs once, whoever claims it."""
    clock = Clock()
    ran: Counter[str] = Counter()

    async def count(job: Job, _lease: JobLease) -> None:
        ran[job.key] += 1
        await asyncio.sleep(0.005)

    keys = [f"count:{i}" for i in range(60)]
    await _enqueue(stores[0], "count", keys, clock())
    assert not await stores[1].jobs.enqueue(NewJob("count", keys[0], clock()), clock())
    runners = [_runner(s, {"count": Handler(count)}, clock) for s in stores for _ in range(2)]
    rounds = [r.run_due(limit=25, concurrency=4) for r in runners for _ in range(2)]
    counted = sum(await asyncio.gather(*rounds))
    while counted < len(keys):  # anything a round's limit left over
        counted += sum(await asyncio.gather(*(r.run_due() for r in runners)))
    assert counted == len(keys)
    assert set(ran) == set(keys) and set(ran.values()) == {1}
    assert await stores[0].jobs.due(["count"], clock()) == []


async def test_failures_back_off_then_dead_letter(stores: list[Store]) -> None:
    clock = Clock()
    attempts: list[int] = []

    async def broken(job: Job, _lease: JobLease) -> None:
        attempts.append(job.attempts)
        raise RuntimeError("bug")

    runner = _runner(stores[0], {"broken": Handler(broken)}, clock)
    await _enqueue(stores[0], "broken", ["broken:1"], clock())
    assert await runner.run_due() == 1
    job = await stores[0].jobs.get(1)
    assert job is not None and job.state == JobState.QUEUED and job.last_error == "RuntimeError"
    assert job.run_at == clock() + timedelta(seconds=30)
    assert await runner.run_due() == 0  # not due yet
    clock.now += timedelta(seconds=30)
    assert await runner.run_due() == 1
    again = await stores[0].jobs.get(1)
    assert again is not None and again.run_at == clock() + timedelta(seconds=60)  # doubled
    clock.now += timedelta(minutes=5)
    assert await runner.run_due() == 1
    dead = await stores[0].jobs.get(1)
    assert dead is not None and dead.state == JobState.DEAD and attempts == [1, 2, 3]
    clock.now += timedelta(days=1)
    assert await runner.run_due() == 0
    assert RETRY.delay(9) == timedelta(minutes=2)  # capped
    assert RETRY.delay(1, hint=90) == timedelta(seconds=90)  # a Retry-After wins


async def test_a_running_job_keeps_its_lease_and_a_lost_one_is_noticed(
    stores: list[Store],
) -> None:
    clock = Clock()
    lease = timedelta(milliseconds=600)
    seen: list[str] = []
    steps = asyncio.Event()

    async def slow(job: Job, held: JobLease) -> None:
        seen.append(job.key)
        await asyncio.sleep(1.5)  # well past one lease: renewed meanwhile
        held.check()
        steps.set()
        # Now a renewal finds the job taken: the next check says so.
        while True:
            await asyncio.sleep(0.05)
            held.check()

    first = _runner(stores[0], {"slow": Handler(slow)}, clock, lease=lease)
    other = _runner(stores[1], {"slow": Handler(slow)}, clock, lease=lease)
    await _enqueue(stores[0], "slow", ["slow:1"], clock())
    running = asyncio.create_task(first.run_due())
    await asyncio.sleep(1.0)
    assert await other.run_due() == 0  # renewed: not up for grabs
    await steps.wait()

    async def taken(job: Job, ttl: timedelta) -> bool:
        return False

    first.jobs.renew = taken  # type: ignore[method-assign, assignment]
    assert await asyncio.wait_for(running, 5) == 1  # LeaseLost ended the handler
    assert seen == ["slow:1"]
    job = await stores[0].jobs.get(1)
    assert job is not None and job.state == JobState.QUEUED  # left for whoever holds it now


async def test_an_exclusive_kind_runs_one_job_at_a_time(stores: list[Store]) -> None:
    clock = Clock()
    inside = 0
    most = 0
    release = asyncio.Event()

    async def sweep(job: Job, _lease: JobLease) -> None:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        await release.wait()
        inside -= 1

    runners = [_runner(s, {"sweep": Handler(sweep, exclusive=True)}, clock) for s in stores]
    first = asyncio.create_task(runners[0].run_now(NewJob("sweep", "sweep:a", clock())))
    await asyncio.sleep(0.2)
    # Another key, another replica: still refused while the first sweep runs.
    assert not await runners[1].run_now(NewJob("sweep", "sweep:b", clock()))
    release.set()
    assert await first
    assert await runners[1].run_now(NewJob("sweep", "sweep:b", clock()))
    assert most == 1
    # The same key again: a finished job is armed again, from attempt one.
    assert await runners[1].run_now(NewJob("sweep", "sweep:a", clock()))
    rows = [await stores[0].jobs.get(i) for i in (1, 2)]
    assert [(j.key, j.state, j.attempts) for j in rows if j is not None] == [
        ("sweep:a", JobState.DONE, 1), ("sweep:b", JobState.DONE, 1)
    ]


async def test_the_worker_wakes_on_demand(stores: list[Store]) -> None:
    clock = Clock()
    done = asyncio.Event()

    async def note(job: Job, _lease: JobLease) -> None:
        done.set()

    runner = _runner(stores[0], {"note": Handler(note)}, clock,
                     poll_interval=timedelta(hours=1))
    worker = asyncio.create_task(runner.worker())
    try:
        await asyncio.sleep(0.1)  # its first round found nothing; now it sleeps for an hour
        assert await runner.enqueue(NewJob("note", "note:1", clock()))
        await asyncio.wait_for(done.wait(), 5)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
