"""Reading and pruning the audit trail in bulk, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config.audit import AuditSettings
from store.audit import (
    AuditFilter,
    count_audit,
    iter_audit,
    latest_audit,
    oldest_audit,
    prune_audit,
)
from store.db import Store
from store.models import AuditRecord
from tests.conftest import fresh_pg_database

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path}/audit.sqlite3"
        else:
            url = await stack.enter_async_context(fresh_pg_database())
        s = await Store.open(url)
        stack.push_async_callback(s.close)
        yield s


def record(
    at: datetime,
    *,
    actor: str = "U0ALICE001",
    email: str = "Alice@Example.com",
    action: str = "unlock",
    result: str = "success",
    target: str | None = "alice@example.com",
    provider: str = "okta",
    cid: str = "c1",
) -> AuditRecord:
    return AuditRecord(
        at=at,
        correlation_id=cid,
        actor=actor,
        actor_email=email,
        action=action,
        provider=provider,
        target_user_id="00u1" if target else None,
        target=target,
        result=result,
        detail={"reason": "test"},
    )


async def test_iteration_pages_by_time_then_id(store: Store) -> None:
    # Several records share a timestamp: paging by (at, id) neither skips nor repeats.
    for i in range(23):
        await store.add_audit(record(NOW + timedelta(minutes=i // 4), cid=f"c{i:02d}"))
    rows = [r.correlation_id async for r in iter_audit(store, page_size=5)]
    assert rows == [f"c{i:02d}" for i in range(23)]
    limited = [r.correlation_id async for r in iter_audit(store, limit=7, page_size=3)]
    assert limited == [f"c{i:02d}" for i in range(7)]
    latest = [r.correlation_id for r in await latest_audit(store, limit=3)]
    assert latest == ["c20", "c21", "c22"]


async def test_filters(store: Store) -> None:
    await store.add_audit(record(NOW - timedelta(days=3)))
    await store.add_audit(record(NOW - timedelta(days=2), action="password_reset"))
    await store.add_audit(
        record(
            NOW - timedelta(days=1),
            actor="U0BOB00002",
            email="bob@example.com",
            target="carol@example.com",
            result="refused",
        )
    )
    await store.add_audit(record(NOW, provider="ad", target=None))

    async def count(**kw: object) -> int:
        return await count_audit(store, AuditFilter(**kw))  # type: ignore[arg-type]

    assert await count() == 4
    assert await count(user="alice@example.com") == 3  # actor email, any case
    assert await count(user="carol@example.com") == 1  # as a target
    assert await count(user="U0BOB00002") == 1
    assert await count(actor="bob@example.com") == 1
    assert await count(target="00u1") == 3
    assert await count(actions=("unlock", "password_reset")) == 4
    assert await count(actions=("password_reset",)) == 1
    assert await count(results=("refused",)) == 1
    assert await count(provider="ad") == 1
    assert await count(since=NOW - timedelta(days=2)) == 3  # inclusive
    assert await count(until=NOW - timedelta(days=1)) == 2  # exclusive
    paris = NOW.astimezone(ZoneInfo("Europe/Paris"))
    assert await count(since=paris) == 1  # any zone, compared in UTC
    assert await oldest_audit(store) == NOW - timedelta(days=3)


async def test_prune_in_batches(store: Store) -> None:
    for days in range(10):
        await store.add_audit(record(NOW - timedelta(days=days), cid=f"d{days}"))
    assert await prune_audit(store, NOW - timedelta(days=4, hours=12), batch=2) == 5
    left = sorted([r.correlation_id async for r in iter_audit(store)])
    assert left == ["d0", "d1", "d2", "d3", "d4"]
    assert await prune_audit(store, NOW - timedelta(days=100)) == 0


def test_retention_setting() -> None:
    assert AuditSettings().retention == timedelta(days=365)
    assert AuditSettings.model_validate({"retention": "400d"}).retention == timedelta(days=400)
    assert AuditSettings.model_validate({"retention": "forever"}).retention is None
    assert AuditSettings.model_validate({"retention": None}).retention is None
    with pytest.raises(ValueError, match="at least 1d"):
        AuditSettings.model_validate({"retention": "3h"})
    with pytest.raises(ValueError):
        AuditSettings.model_validate({"retention": "soon"})
    with pytest.raises(ValueError):
        AuditSettings.model_validate({"prune_batch": 1})
