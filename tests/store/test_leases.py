"""The one lease, on SQLite and PostgreSQL: one holder at a time, on the database's clock."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from store.db import Store
from store.leases import db_now, new_holder


@pytest.fixture
async def store(url: str) -> AsyncIterator[Store]:
    s = await Store.open(url)
    try:
        yield s
    finally:
        await s.close()


async def test_one_holder_at_a_time_even_when_racing(store: Store) -> None:
    holders = [new_holder() for _ in range(8)]
    taken = await asyncio.gather(
        *(store.leases.take("sweep", h, timedelta(minutes=1)) for h in holders)
    )
    assert sorted(taken) == [False] * 7 + [True]
    winner = holders[taken.index(True)]
    state = await store.leases.state("sweep")
    assert state is not None and state.holder == winner and state.live
    # Not re-entrant: the holder renews, it does not take again.
    assert not await store.leases.take("sweep", winner, timedelta(minutes=1))
    assert await store.leases.renew("sweep", winner, timedelta(minutes=2))
    loser = holders[taken.index(False)]
    assert not await store.leases.renew("sweep", loser, timedelta(minutes=2))
    assert not await store.leases.release("sweep", loser)
    assert await store.leases.release("sweep", winner)
    assert await store.leases.take("sweep", loser, timedelta(minutes=1))


async def test_holders_with_the_same_host_and_pid_are_still_two(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two containers with one hostname, each pid 1, on one database: one lease holder."""
    monkeypatch.setattr(socket, "gethostname", lambda: "helpdesk-0")
    monkeypatch.setattr(os, "getpid", lambda: 1)
    first, second = new_holder(), new_holder()
    assert first != second and first.startswith("helpdesk-0:1:")
    stores = [await Store.open(url), await Store.open(url)]
    try:
        taken = await asyncio.gather(
            stores[0].leases.take("sweep", first, timedelta(minutes=1)),
            stores[1].leases.take("sweep", second, timedelta(minutes=1)),
        )
        assert sorted(taken) == [False, True]
        holder, other = (first, second) if taken[0] else (second, first)
        for store in stores:
            assert not await store.leases.take("sweep", other, timedelta(minutes=1))
            assert not await store.leases.renew("sweep", other, timedelta(minutes=1))
        state = await stores[1].leases.state("sweep")
        assert state is not None and state.holder == holder
    finally:
        for store in stores:
            await store.close()


async def test_a_lease_expires_by_the_database_clock(store: Store) -> None:
    async with store.engine.connect() as conn:
        before = (await conn.execute(select(db_now(store.dialect)))).scalar_one()
    assert await store.leases.take("action", "crashed", timedelta(milliseconds=300))
    async with store.engine.connect() as conn:
        after = (await conn.execute(select(db_now(store.dialect)))).scalar_one()
    state = await store.leases.state("action")
    assert state is not None and state.live
    # The expiry is the database's time plus the TTL, not this process's.
    ttl = timedelta(milliseconds=300)
    slack = timedelta(milliseconds=2)  # SQLite keeps milliseconds
    assert before.replace(tzinfo=None) + ttl - slack <= state.expires_at.replace(tzinfo=None)
    assert state.expires_at.replace(tzinfo=None) <= after.replace(tzinfo=None) + ttl + slack
    assert not await store.leases.take("action", "next", timedelta(minutes=1))
    await asyncio.sleep(0.4)
    lapsed = await store.leases.state("action")
    assert lapsed is not None and not lapsed.live
    assert await store.leases.take("action", "next", timedelta(minutes=1))
    # The crashed holder cannot renew what is no longer theirs.
    assert not await store.leases.renew("action", "crashed", timedelta(minutes=1))


async def test_a_lease_named_after_work_is_taken_again_by_that_work(store: Store) -> None:
    leases = store.leases
    ttl = timedelta(minutes=5)
    holder = "request:action:U1:1700000000.000100"
    assert await leases.take("reset:U1", holder, ttl)
    # The process died holding it; the same request, run again, takes it back at once.
    assert not await leases.take("reset:U1", holder, ttl)  # not re-entrant by default
    assert await leases.take("reset:U1", holder, ttl, again=True)
    # Another request waits it out.
    assert not await leases.take("reset:U1", "request:action:U1:1700000009.000100", ttl,
                                 again=True)
