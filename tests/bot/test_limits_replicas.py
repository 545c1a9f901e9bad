"""Per-employee limits hold across replicas: two bot processes on one PostgreSQL, each
with its own self-service, confirming the same person's MFA reset at the same instant.

The directory is shared (one in-memory directory, as both replicas would reach the same
Okta); each replica has its own store connection pool and its own in-process locks, so
only the store's lease can make them take turns.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from actions.audit import Actor
from actions.errors import Refusal
from actions.self_service import SelfService, action_lease
from connectors.base import DirectoryUser
from store.db import Store
from store.leases import new_holder
from tests.bot.helpers import RecordingNotifier, make_config, make_directory, providers_for

pytestmark = pytest.mark.postgres

PHONE = Actor("U3", "phone@example.com", "Phone")


async def test_two_replicas_cannot_both_pass_a_one_per_day_limit(pg_url: str) -> None:
    cfg = make_config(pg_url)
    directory = make_directory()
    resets = 0
    original = directory.reset_factors

    async def slow_reset(user: DirectoryUser, factor_id: str | None = None) -> int:
        nonlocal resets
        resets += 1
        await asyncio.sleep(0.3)  # the directory call: long enough for the other to arrive
        return await original(user, factor_id)

    directory.reset_factors = slow_reset  # type: ignore[method-assign]
    stores = [await Store.open(pg_url), await Store.open(pg_url)]
    try:
        replicas = [
            SelfService(cfg, providers_for(directory, cfg), store, RecordingNotifier())
            for store in stores
        ]
        outcomes: list[Any] = await asyncio.gather(
            *(r.reset_mfa(PHONE) for r in replicas), return_exceptions=True
        )
        rows = await stores[0].list_audit(actor="U3")
    finally:
        for store in stores:
            await store.close()
    refused = [o for o in outcomes if isinstance(o, Refusal)]
    assert len(refused) == 1 and refused[0].code == "rate_limited", outcomes
    assert resets == 1
    assert sorted(r.result for r in rows if r.action == "mfa_reset") == ["refused", "success"]


async def test_a_lease_left_by_a_crashed_replica_expires(pg_url: str) -> None:
    store = await Store.open(pg_url)
    lease = action_lease("U3", "mfa_reset")
    try:
        assert await store.leases.take(lease, "crashed", timedelta(milliseconds=200))
        assert not await store.leases.take(lease, "other", timedelta(minutes=5))
        await asyncio.sleep(0.3)
        assert await store.leases.take(lease, "other", timedelta(minutes=5))
        assert not await store.leases.release(lease, "crashed")  # not theirs any more
        assert not await store.leases.take(lease, "third", timedelta(minutes=5))
        assert await store.leases.release(lease, "other")
        assert await store.leases.take(lease, "third", timedelta(minutes=5))
    finally:
        await store.close()


async def test_two_replicas_that_look_alike_do_not_share_the_lease(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two containers, same hostname, both pid 1: still two holders, one lease."""
    import os
    import socket

    monkeypatch.setattr(socket, "gethostname", lambda: "helpdesk-7d9f")
    monkeypatch.setattr(os, "getpid", lambda: 1)
    stores = [await Store.open(pg_url), await Store.open(pg_url)]
    lease = action_lease("U3", "mfa_reset")
    try:
        first, second = new_holder(), new_holder()
        assert first.rsplit(":", 1)[0] == second.rsplit(":", 1)[0] == "helpdesk-7d9f:1"
        taken = await asyncio.gather(
            *(s.leases.take(lease, h, timedelta(minutes=5))
              for s, h in ((stores[0], first), (stores[1], second)))
        )
        assert sorted(taken) == [False, True]
        loser = second if taken[0] else first
        assert not await stores[1].leases.renew(lease, loser, timedelta(minutes=5))
        assert not await stores[1].leases.release(lease, loser)
    finally:
        for store in stores:
            await store.close()
