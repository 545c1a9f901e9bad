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
from actions.self_service import SelfService
from connectors.base import DirectoryUser
from store.db import Store
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
    try:
        assert await store.take_lease("U3:mfa_reset", "crashed", timedelta(milliseconds=200))
        assert not await store.take_lease("U3:mfa_reset", "other", timedelta(minutes=5))
        await asyncio.sleep(0.3)
        assert await store.take_lease("U3:mfa_reset", "other", timedelta(minutes=5))
        await store.release_lease("U3:mfa_reset", "crashed")  # not theirs any more: no effect
        assert not await store.take_lease("U3:mfa_reset", "third", timedelta(minutes=5))
        await store.release_lease("U3:mfa_reset", "other")
        assert await store.take_lease("U3:mfa_reset", "third", timedelta(minutes=5))
    finally:
        await store.close()
