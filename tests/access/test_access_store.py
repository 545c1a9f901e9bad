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

from actions.access.jobs import access_job
from actions.access.model import TRANSITIONS, AccessSnapshot, Action, JobKind, RequestState
from store.access import Vote, VoteResult
from store.db import Store
from store.jobs import JobState
from store.models import AccessRequest, AuditRecord
from tests.conftest import fresh_pg_database

APPROVE, DENY = TRANSITIONS[Action.APPROVE], TRANSITIONS[Action.DENY]
CANCEL, EXPIRE = TRANSITIONS[Action.CANCEL], TRANSITIONS[Action.EXPIRE]
FULFIL, FAIL = TRANSITIONS[Action.FULFIL], TRANSITIONS[Action.FAIL]


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
        state=RequestState.PENDING,
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
    assert await store.access.create(row, ["A1", "A2", "A3"],
                                     [access_job(JobKind.EXPIRE, row.id, row.expires_at)],
                                     _audit("access_request"))
    return row


async def _approve(store: Store, request_id: str, approver: str,
                   now: datetime = NOW) -> Vote:
    return await store.access.approve(request_id, approver, APPROVE, now,
                                      _factory("access_approve"),
                                      then=[access_job(JobKind.FULFIL, request_id, now)])


async def _deny(store: Store, request_id: str, approver: str, reason: str) -> Vote:
    return await store.access.deny(request_id, approver, reason, DENY, NOW,
                                   _factory("access_deny"))


async def _cancel(store: Store, request_id: str, requester: str) -> bool:
    return await store.access.transition(request_id, CANCEL, NOW, _audit("access_cancel"),
                                         requester=requester)


async def _expire(store: Store, request_id: str, now: datetime) -> bool:
    return await store.access.transition(request_id, EXPIRE, now, _audit("access_expire"),
                                         lapsed=True)


async def _snap(store: Store, request_id: str) -> AccessSnapshot:
    record = await store.access.snapshot(request_id)
    assert record is not None
    return AccessSnapshot.of(record)


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
    assert await _cancel(store, winner.id, "U1")
    assert await store.access.open_request("U1", "figma") is None
    assert await store.access.create(_row(), ["A1"], [], _audit("access_request"))


async def test_two_distinct_approvals_race(store: Store) -> None:
    row = await _new(store, required=2)
    votes = await asyncio.gather(*(_approve(store, row.id, a)
                                   for a in ("A1", "A2", "A3", "A1", "A2")))
    outcomes = [v.result for v in votes]
    assert outcomes.count(VoteResult.DECIDED) == 1
    assert outcomes.count(VoteResult.RECORDED) == 1
    assert set(outcomes) <= set(VoteResult)
    snap = await _snap(store, row.id)
    assert snap.request.state == RequestState.APPROVED
    assert snap.request.approvals == 2 and len(set(snap.approved_by)) == 2
    jobs = await store.jobs.of_request(row.id)
    assert [j.kind for j in jobs].count(JobKind.FULFIL) == 1
    audits = await store.list_audit(action="access_approve")
    assert sorted(a.result for a in audits) == ["approved", "recorded"]


async def test_same_approver_twice_counts_once(store: Store) -> None:
    row = await _new(store, required=2)
    first = await _approve(store, row.id, "A1")
    again = await _approve(store, row.id, "A1")
    assert (first.result, again.result) == (VoteResult.RECORDED, VoteResult.DUPLICATE)
    # An approver who approved cannot then deny.
    deny = await _deny(store, row.id, "A1", "no")
    assert deny.result is VoteResult.DUPLICATE
    done = await _approve(store, row.id, "A2")
    assert done.result is VoteResult.DECIDED and done.job_id is not None


async def test_deny_and_late_clicks(store: Store) -> None:
    row = await _new(store)
    assert (await _deny(store, row.id, "A1", "not needed")).result is VoteResult.DECIDED
    late = await _approve(store, row.id, "A2")
    assert late.result is VoteResult.CLOSED
    snap = await _snap(store, row.id)
    assert (snap.request.state, snap.request.decided_by, snap.request.reason) == (
        RequestState.DENIED, "A1", "not needed")
    assert snap.denied_by == "A1" and snap.approved_by == ()
    assert not await _cancel(store, row.id, "U1")
    assert [a.result for a in await store.list_audit(action="access_deny")] == ["denied"]


async def test_expiry_is_conditional(store: Store) -> None:
    row = await _new(store)
    assert not await _expire(store, row.id, NOW)
    later = NOW + timedelta(days=2)
    assert (await _approve(store, row.id, "A1", later)).result is VoteResult.CLOSED
    assert await _expire(store, row.id, later)
    assert not await _expire(store, row.id, later)
    snap = await _snap(store, row.id)
    assert snap.request.state == RequestState.EXPIRED and snap.request.open_key is None


async def test_waiting_for_and_requests_of(store: Store) -> None:
    a = await _new(store, group="figma")
    b = await _new(store, group="vpn")
    await _new(store, requester="A1", group="github")  # A1's own request: not for A1 to decide
    await _approve(store, a.id, "A1")
    pending = [RequestState.PENDING]
    waiting = await store.access.waiting_for("A1", NOW, pending)
    assert [r.id for r in waiting] == [b.id]
    assert {r.id for r in await store.access.waiting_for("A2", NOW, pending)} >= {b.id}
    assert {r.group_key for r in await store.access.requests_of("U1")} == {"figma", "vpn"}


async def test_jobs_are_claimed_once_and_leases_expire(store: Store) -> None:
    row = await _new(store)
    vote = await _approve(store, row.id, "A1")
    assert vote.job_id is not None
    short = timedelta(milliseconds=400)
    claims = await asyncio.gather(
        *(store.jobs.claim(vote.job_id, f"w{i}", NOW, short) for i in range(6))
    )
    held = [c for c in claims if c is not None]
    assert len(held) == 1 and held[0].attempts == 1
    assert vote.job_id not in await store.jobs.due([JobKind.FULFIL], NOW)
    # The holder crashed: once its lease runs out (database clock), another takes it over.
    await asyncio.sleep(0.5)
    assert vote.job_id in await store.jobs.due([JobKind.FULFIL], NOW)
    taken = await store.jobs.claim(vote.job_id, "w-new", NOW, timedelta(seconds=30))
    assert taken is not None and taken.attempts == 2
    # The old holder can no longer finish it; the new one can.
    assert not await store.jobs.finish(held[0])
    assert await store.access.transition(row.id, FULFIL, NOW, _audit("access_grant"), job=taken)
    later = NOW + timedelta(days=2)
    assert await store.jobs.due([JobKind.EXPIRE, JobKind.FULFIL], later) == [
        j.id for j in await store.jobs.of_request(row.id) if j.kind == JobKind.EXPIRE
    ]
    snap = await _snap(store, row.id)
    assert snap.request.state == RequestState.FULFILLED and snap.request.open_key is None


async def test_retry_releases_the_lease(store: Store) -> None:
    row = await _new(store)
    vote = await _approve(store, row.id, "A1")
    assert vote.job_id is not None
    job = await store.jobs.claim(vote.job_id, "w1", NOW, timedelta(seconds=30))
    assert job is not None
    assert await store.jobs.retry(job, NOW + timedelta(seconds=5), "directory down")
    assert await store.jobs.claim(vote.job_id, "w2", NOW, timedelta(seconds=30)) is None
    again = await store.jobs.claim(vote.job_id, "w2", NOW + timedelta(seconds=6),
                                   timedelta(seconds=30))
    assert again is not None and again.attempts == 2 and again.last_error == "directory down"
    assert await store.access.transition(row.id, FAIL, NOW, _audit("access_grant"), job=again,
                                         job_state=JobState.DEAD)
    fulfil = [j.state for j in await store.jobs.of_request(row.id) if j.kind == JobKind.FULFIL]
    assert fulfil == [JobState.DEAD]
