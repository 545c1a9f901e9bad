"""The store behaves the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from store.db import Store
from store.models import AuditRecord, ConfirmationState
from tests.conftest import fresh_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path}/state/helpdesk.sqlite3"
        else:
            url = await stack.enter_async_context(fresh_pg_database())
        s = await Store.open(url)
        stack.push_async_callback(s.close)
        assert s.dialect == request.param
        yield s


def _audit(
    actor: str, action: str, result: str = "success", at: datetime | None = None
) -> AuditRecord:
    return AuditRecord(
        at=at or datetime.now(UTC),
        correlation_id="c1",
        actor=actor,
        actor_email=None,
        action=action,
        provider="okta",
        target_user_id="00u1",
        target="a@example.com",
        result=result,
        detail={},
    )


async def test_migrations_are_idempotent(store: Store) -> None:
    await store.migrate()
    await store.migrate()
    assert await store.mark_event_processed("Ev1")


async def test_event_dedupe(store: Store) -> None:
    assert await store.mark_event_processed("Ev123")
    assert not await store.mark_event_processed("Ev123")
    results = await asyncio.gather(*(store.mark_event_processed("EvRace") for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]


async def test_count_actions_window(store: Store) -> None:
    now = datetime.now(UTC)
    await store.add_audit(_audit("U1", "password_reset", at=now - timedelta(hours=2)))
    await store.add_audit(_audit("U1", "password_reset", at=now - timedelta(minutes=5)))
    await store.add_audit(_audit("U1", "password_reset", result="refused"))
    await store.add_audit(_audit("U2", "password_reset"))
    assert await store.count_actions("U1", "password_reset", now - timedelta(hours=1)) == 1
    assert await store.count_actions("U1", "password_reset", now - timedelta(hours=3)) == 2
    rows = await store.list_audit(actor="U1")
    assert [r.result for r in rows] == ["success", "success", "refused"]


async def test_claim_pending_once(store: Store) -> None:
    token = await store.create_pending("U1", "password_reset", {"x": 1}, timedelta(minutes=5))
    assert await store.claim_pending(token, "U2") is None  # not theirs
    winners = await asyncio.gather(*(store.claim_pending(token, "U1") for _ in range(6)))
    got = [w for w in winners if w is not None]
    assert len(got) == 1 and got[0].payload == {"x": 1} and got[0].kind == "password_reset"
    assert await store.claim_pending(token, "U1") is None


async def test_a_request_run_again_gets_its_own_claim_back(store: Store) -> None:
    token = await store.create_pending("U1", "password_reset", {"x": 1}, timedelta(minutes=5))
    click = "action:U1:1700000000.000100"
    first = await store.claim_pending(token, "U1", by=click)
    assert first is not None
    # The process died before the outcome was stored; the inbox runs the same click again.
    again = await store.claim_pending(token, "U1", by=click)
    assert again is not None and again.payload == first.payload
    # Any other request (a second click, another person, no request at all) does not.
    assert await store.claim_pending(token, "U1", by="action:U1:1700000001.000100") is None
    assert await store.claim_pending(token, "U2", by=click) is None
    assert await store.claim_pending(token, "U1") is None
    # Cancelled by one request: not claimable as confirmed by it afterwards.
    other = await store.create_pending("U1", "unlock", {}, timedelta(minutes=5))
    cancel = "action:U1:1700000002.000100"
    assert await store.claim_pending(
        other, "U1", state=ConfirmationState.CANCELLED, by=cancel
    ) is not None
    assert await store.claim_pending(other, "U1", by=cancel) is None


async def test_expired_pending_cannot_be_claimed(store: Store) -> None:
    token = await store.create_pending("U1", "unlock", {}, timedelta(seconds=-1))
    assert await store.claim_pending(token, "U1") is None


async def test_secret_messages(store: Store) -> None:
    now = datetime.now(UTC)
    mid = await store.remember_secret_message("D1", "1.1", now - timedelta(seconds=1), "hidden")
    await store.remember_secret_message("D1", "1.2", now + timedelta(hours=1), "hidden")
    due = await store.due_secret_messages()
    assert [m.ts for m in due] == ["1.1"]
    assert await store.mark_secret_hidden(mid)
    assert not await store.mark_secret_hidden(mid)
    assert await store.due_secret_messages() == []
