"""Nudge records and runs behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from store.db import Store
from store.nudges import SENT, UNCONFIRMED, NudgeKey, NudgeStore
from tests.conftest import fresh_pg_database

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
KEY = NudgeKey("okta", "00u1", "2024-12-03T09:00:00.000000+00:00", 14)


@pytest.fixture(params=["sqlite", "postgresql"])
async def nudges(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[NudgeStore]:
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path}/state/helpdesk.sqlite3"
        else:
            url = await stack.enter_async_context(fresh_pg_database())
        store = await Store.open(url)
        stack.push_async_callback(store.close)
        yield NudgeStore(store.engine)


async def _claim(store: NudgeStore, key: NudgeKey = KEY, run: str = "r1") -> bool:
    return await store.claim(
        key, run_id=run, slack_user="U1", expires_at=NOW + timedelta(days=14), now=NOW
    )


async def test_a_key_is_claimed_once_even_by_racing_sweepers(nudges: NudgeStore) -> None:
    results = await asyncio.gather(*(_claim(nudges, run=f"r{i}") for i in range(8)))
    assert sorted(results) == [False] * 7 + [True]
    # Another threshold, or another password, is another key.
    assert await _claim(nudges, NudgeKey(KEY.provider, KEY.user_id, KEY.password_version, 7))
    assert await _claim(nudges, NudgeKey(KEY.provider, KEY.user_id, "later", 14))
    assert await nudges.existing([KEY, NudgeKey("okta", "00u2", "v", 14)]) == {KEY}


async def test_sent_unconfirmed_released(nudges: NudgeStore) -> None:
    assert await _claim(nudges)
    assert [c.key for c in await nudges.sending_claims(exclude_run="other")] == [KEY]
    assert await nudges.sending_claims(exclude_run="r1") == []
    assert await nudges.mark_sent(KEY, channel="D1", ts="1.0", now=NOW)
    assert not await nudges.mark_sent(KEY, channel="D1", ts="1.0", now=NOW)  # once
    assert not await nudges.release(KEY)  # a sent row stays
    [row] = await nudges.records()
    assert (row.state, row.channel, row.ts) == (SENT, "D1", "1.0")
    other = NudgeKey("okta", "00u9", "v", 3)
    assert await _claim(nudges, other)
    assert await nudges.mark_unconfirmed(other, now=NOW)
    assert {r.state for r in await nudges.records()} == {SENT, UNCONFIRMED}
    third = NudgeKey("okta", "00u8", "v", 3)
    assert await _claim(nudges, third) and await nudges.release(third)
    assert third not in await nudges.existing([third])


async def test_runs_by_slot_and_interruption(nudges: NudgeStore) -> None:
    await nudges.start_run(run_id="r1", trigger="schedule", slot=NOW, holder="h", now=NOW)
    await nudges.start_run(run_id="r2", trigger="schedule", slot=NOW, holder="h", now=NOW)
    assert await nudges.interrupt_others(except_run="r2", now=NOW) == ["r1"]
    await nudges.finish_run("r2", status="completed", counts={"nudged": 3}, now=NOW)
    runs = {r.id: r for r in await nudges.runs_for_slot(NOW)}
    assert runs["r1"].status == "interrupted" and runs["r2"].status == "completed"
    assert runs["r2"].counts == {"nudged": 3} and runs["r2"].slot == NOW
    assert await nudges.run_holders(["r1", "nope"]) == {"r1": "h"}
    assert [r.id for r in await nudges.recent_runs()] in (["r1", "r2"], ["r2", "r1"])
