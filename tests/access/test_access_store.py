"""The access-request state machine in the store, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from store.db import Store
from store.models import AccessRequest, AuditRecord
from tests.conftest import fresh_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path}/state.sqlite3"
        else:
            url = await stack.enter_async_context(fresh_pg_database())
        s = await Store.open(url)
        stack.push_async_callback(s.close)
        yield s


NOW = datetime.now(UTC)


def _row(requester: str = "U1", group: str = "figma", required: int = 1) -> AccessRequest:
    return AccessRequest(
        id=secrets.token_hex(8),
        requester=requester,
        requester_email="a@example.com",
        directory_user_id="mem1",
        group_key=group,
        group_name=group.title(),
        provider="mem",
        provider_group=group,
        provider_group_id="g1",
        justification=None,
        duration_seconds=None,
        state="pending",
        approvals_required=required,
        approvals=0,
        channels=[],
        correlation_id="c1",
        created_at=NOW,
        updated_at=NOW,
        expires_at=NOW + timedelta(days=1),
    )


def _audit(action: str) -> AuditRecord:
    return AuditRecord(at=NOW, correlation_id="c1", actor="U1", action=action, result="submitted",
                       detail={})


def _factory(action: str) -> Any:
    def make(result: str, detail: dict[str, Any]) -> AuditRecord:
        return AuditRecord(at=NOW, correlation_id="c1", actor="U9", action=action, result=result,
                           detail=detail)

    return make


async def _new(store: Store, **kw: Any) -> AccessRequest:
    row = _row(**kw)
    assert await store.access.create(row, ["A1", "A2", "A3"], [("expire", row.expires_at)],
                                     _audit("access_request"))
    return row


async def test_one_open_request_per_person_and_group(store: Store) -> None:
    rows = [_row() for _ in range(5)]
    made = await asyncio.gather(
        *(store.access.create(r, ["A1"], [], _audit("access_request")) for r in rows)
    )
    assert sorted(made) == [False] * 4 + [True]
    winner = rows[made.index(True)]
    found = await store.access.open_request("U1", "figma")
    assert found is not None and found.id == winner.id
    assert await store.access.create(_row(group="vpn"), ["A1"], [], _audit("access_request"))
    assert len(await store.list_audit(action="access_request")) == 2
    # Once the request is over, the same group can be requested again.
    assert await store.access.cancel(winner.id, "U1", NOW, _factory("access_cancel"))
    assert await store.access.open_request("U1", "figma") is None
    assert await store.access.create(_row(), ["A1"], [], _audit("access_request"))


async def test_two_distinct_approvals_race(store: Store) -> None:
    row = await _new(store, required=2)
    votes = await asyncio.gather(
        *(store.access.approve(row.id, a, NOW, _factory("access_approve"))
          for a in ("A1", "A2", "A3", "A1", "A2"))
    )
    outcomes = sorted(v.outcome for v in votes)
    assert outcomes.count("approved") == 1
    assert outcomes.count("recorded") == 1
    assert set(outcomes) <= {"approved", "recorded", "duplicate", "not_pending"}
    snap = await store.access.snapshot(row.id)
    assert snap is not None and snap.request.state == "approved"
    assert snap.request.approvals == 2 and len(set(snap.approved_by)) == 2
    jobs = await store.access.jobs_of(row.id)
    assert [j.kind for j in jobs].count("fulfil") == 1
    audits = await store.list_audit(action="access_approve")
    assert sorted(a.result for a in audits) == ["approved", "recorded"]


async def test_same_approver_twice_counts_once(store: Store) -> None:
    row = await _new(store, required=2)
    first = await store.access.approve(row.id, "A1", NOW, _factory("access_approve"))
    again = await store.access.approve(row.id, "A1", NOW, _factory("access_approve"))
    assert (first.outcome, again.outcome) == ("recorded", "duplicate")
    # An approver who approved cannot then deny.
    deny = await store.access.deny(row.id, "A1", "no", NOW, _factory("access_deny"))
    assert deny.outcome == "duplicate"
    done = await store.access.approve(row.id, "A2", NOW, _factory("access_approve"))
    assert done.outcome == "approved" and done.job_id is not None


async def test_deny_and_late_clicks(store: Store) -> None:
    row = await _new(store)
    assert (await store.access.deny(row.id, "A1", "not needed", NOW,
                                    _factory("access_deny"))).outcome == "denied"
    late = await store.access.approve(row.id, "A2", NOW, _factory("access_approve"))
    assert late.outcome == "not_pending"
    snap = await store.access.snapshot(row.id)
    assert snap is not None
    assert (snap.request.state, snap.request.decided_by, snap.request.reason) == (
        "denied", "A1", "not needed")
    assert snap.denied_by == "A1" and snap.approved_by == ()
    assert not await store.access.cancel(row.id, "U1", NOW, _factory("access_cancel"))


async def test_expiry_is_conditional(store: Store) -> None:
    row = await _new(store)
    assert not await store.access.expire(row.id, NOW, _factory("access_expire"))
    later = NOW + timedelta(days=2)
    assert (await store.access.approve(row.id, "A1", later,
                                       _factory("access_approve"))).outcome == "not_pending"
    assert await store.access.expire(row.id, later, _factory("access_expire"))
    assert not await store.access.expire(row.id, later, _factory("access_expire"))
    snap = await store.access.snapshot(row.id)
    assert snap is not None and snap.request.state == "expired"


async def test_waiting_for_and_requests_of(store: Store) -> None:
    a = await _new(store, group="figma")
    b = await _new(store, group="vpn")
    await _new(store, requester="A1", group="github")  # A1's own request: not for A1 to decide
    await store.access.approve(a.id, "A1", NOW, _factory("access_approve"))
    waiting = await store.access.waiting_for("A1", NOW)
    assert [r.id for r in waiting] == [b.id]
    assert {r.id for r in await store.access.waiting_for("A2", NOW)} >= {b.id}
    assert {r.group_key for r in await store.access.requests_of("U1")} == {"figma", "vpn"}


async def test_jobs_are_claimed_once_and_leases_expire(store: Store) -> None:
    row = await _new(store)
    vote = await store.access.approve(row.id, "A1", NOW, _factory("access_approve"))
    assert vote.job_id is not None
    claims = await asyncio.gather(
        *(store.access.claim_job(vote.job_id, f"w{i}", NOW, timedelta(seconds=30))
          for i in range(6))
    )
    held = [c for c in claims if c is not None]
    assert len(held) == 1 and held[0].attempts == 1
    assert vote.job_id not in await store.access.due_jobs(NOW)
    # The holder crashed: after its lease, another worker takes the job over.
    later = NOW + timedelta(seconds=31)
    assert vote.job_id in await store.access.due_jobs(later)
    taken = await store.access.claim_job(vote.job_id, "w-new", later, timedelta(seconds=30))
    assert taken is not None and taken.attempts == 2
    # The old holder can no longer finish it; the new one can.
    assert not await store.access.finish_job(held[0], later)
    assert await store.access.fulfil(row.id, taken, later, None, [], _audit("access_grant"))
    assert await store.access.due_jobs(later + timedelta(days=2)) == [
        j.id for j in await store.access.jobs_of(row.id) if j.kind == "expire"
    ]
    snap = await store.access.snapshot(row.id)
    assert snap is not None and snap.request.state == "fulfilled" and snap.request.open_key is None


async def test_retry_releases_the_lease(store: Store) -> None:
    row = await _new(store)
    vote = await store.access.approve(row.id, "A1", NOW, _factory("access_approve"))
    assert vote.job_id is not None
    job = await store.access.claim_job(vote.job_id, "w1", NOW, timedelta(seconds=30))
    assert job is not None
    assert await store.access.retry_job(job, NOW + timedelta(seconds=5), "directory down")
    assert await store.access.claim_job(vote.job_id, "w2", NOW, timedelta(seconds=30)) is None
    again = await store.access.claim_job(vote.job_id, "w2", NOW + timedelta(seconds=6),
                                         timedelta(seconds=30))
    assert again is not None and again.attempts == 2 and again.last_error == "directory down"
    assert await store.access.fail(row.id, again, NOW, "gone", _audit("access_grant"))
    assert [j.state for j in await store.access.jobs_of(row.id) if j.kind == "fulfil"] == ["dead"]
