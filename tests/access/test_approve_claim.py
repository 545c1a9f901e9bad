"""The deciding vote and its fulfilment job's claim, in one transaction, on two replicas.

Two services on one database (two replicas: two engines, two job owners) take
concurrent clicks on the same requests. Whatever the interleaving: one decision per
request, its fulfilment job written already held by the replica that decided (never
queued unclaimed for a worker to race for), and one group add.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from actions.access import TRANSITIONS, AccessService, Action, DecisionOutcome, JobKind
from actions.access.jobs import access_job
from store.access import Vote, VoteResult
from store.db import Store
from store.jobs import Claim, JobState
from tests.access.helpers import (
    APPROVER_A,
    APPROVER_B,
    REQUESTER,
    Clock,
    access_directory,
    build_service,
)
from tests.conftest import fresh_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            yield f"sqlite:///{tmp_path}/claim.sqlite3"
        else:
            yield await stack.enter_async_context(fresh_pg_database())


async def _approved(service: AccessService, claim: Claim) -> Vote:
    """A new VPN request, and the approval that decides it with ``claim`` (the store's call)."""
    sub = await service.submit(REQUESTER, "vpn-users", justification="remote work")
    rid = sub.snapshot.request.id
    now = service.clock()
    vote = await service.store.access.approve(
        rid, APPROVER_A.slack_user_id, TRANSITIONS[Action.APPROVE], now,
        service.trail.factory(APPROVER_A, "access_approve", sub.snapshot.request, {}),
        then=[access_job(JobKind.FULFIL, rid, now)], claim=claim,
    )
    assert vote.result is VoteResult.DECIDED
    return vote


async def test_the_deciding_vote_writes_its_job_already_claimed(url: str) -> None:
    store = await Store.open(url)
    try:
        directory = access_directory()
        clock = Clock()
        service, _ = build_service(store, directory, clock, owner="replica-1")
        vote = await _approved(service, Claim("replica-1", service.jobs.runner.lease))
        assert vote.result is VoteResult.DECIDED and vote.job is not None
        assert vote.job.id == vote.job_id
        # Held from the start: no worker (of this replica or another) can claim it.
        row = await store.jobs.get(vote.job.id)
        assert row is not None and row.owner == "replica-1" and row.attempts == 1
        assert row.lease_until is not None and row.state == JobState.QUEUED
        other, _ = build_service(store, directory, clock, owner="replica-2")
        assert await other.run_due_jobs() == 0
        # Only its owner runs it, once.
        assert not await other.jobs.runner.run_claimed(vote.job)
        assert await service.jobs.runner.run_claimed(vote.job)
        done = await store.jobs.get(vote.job.id)
        assert done is not None and done.state == JobState.DONE and done.attempts == 1
        assert directory.calls.count("add_to_group") == 1
    finally:
        await store.close()


async def test_concurrent_clicks_on_two_replicas_decide_once_and_add_once(url: str) -> None:
    stores = [await Store.open(url), await Store.open(url)]
    try:
        directory = access_directory()
        clock = Clock()
        replicas = [
            build_service(stores[0], directory, clock, owner="replica-1")[0],
            build_service(stores[1], directory, clock, owner="replica-2")[0],
        ]
        sub = await replicas[0].submit(REQUESTER, "vpn-users", justification="remote work")
        rid = sub.snapshot.request.id
        # Both approvers at once, each on both replicas (double clicks, racing replicas).
        clicks = [
            replica.decide(approver, rid, approve=True)
            for approver in (APPROVER_A, APPROVER_B) for replica in replicas
        ]
        decisions = await asyncio.gather(*clicks)
        outcomes = sorted(d.outcome.value for d in decisions)
        assert outcomes.count(DecisionOutcome.APPROVED.value) == 1, outcomes
        assert directory.calls.count("add_to_group") == 1
        jobs = [j for j in await stores[0].jobs.of_request(rid) if j.kind == JobKind.FULFIL]
        assert len(jobs) == 1
        fulfil = jobs[0]
        assert fulfil.state == JobState.DONE and fulfil.attempts == 1
        assert fulfil.owner in {"replica-1", "replica-2"}
        snap = await replicas[1].snapshot(rid)
        assert snap is not None and snap.request.state == "fulfilled"
        grants = await stores[0].list_audit(action="access_grant")
        assert [g.result for g in grants] == ["success"]
    finally:
        for store in stores:
            await store.close()


async def test_a_replica_that_dies_after_deciding_leaves_a_held_job_another_finishes(
    url: str,
) -> None:
    store = await Store.open(url)
    try:
        directory = access_directory()
        clock = Clock()
        dying, _ = build_service(store, directory, clock, owner="replica-1")
        # The decision commits with its job held for half a second, and the process dies.
        vote = await _approved(dying, Claim("replica-1", timedelta(milliseconds=500)))
        assert vote.job is not None
        other, _ = build_service(store, directory, clock, owner="replica-2")
        assert await other.run_due_jobs() == 0  # held: nothing yet
        await asyncio.sleep(0.7)
        assert await other.run_due_jobs() == 1
        assert directory.calls.count("add_to_group") == 1
        fulfil = await store.jobs.get(vote.job.id)
        assert fulfil is not None and fulfil.owner == "replica-2" and fulfil.attempts == 2
    finally:
        await store.close()
