"""The access workflow on the in-memory directory: request, decide, jobs, time-bound access."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from actions.access import (
    TRANSITIONS,
    AccessService,
    Action,
    DecisionOutcome,
    Event,
    JobKind,
    NullAccessNotifier,
    RequestState,
)
from actions.access.jobs import access_job
from actions.audit import Actor
from actions.errors import Refusal
from connectors.errors import PermissionDenied, Unavailable
from connectors.memory import MemoryDirectory
from store.access import VoteResult
from store.db import Store
from tests.access.helpers import (
    APPROVER_A,
    APPROVER_B,
    MANAGER,
    REQUESTER,
    STRANGER,
    Clock,
    access_directory,
    build_service,
)
from tests.conftest import fresh_pg_database


@dataclass
class World:
    service: AccessService
    notifier: NullAccessNotifier
    directory: MemoryDirectory
    store: Store
    clock: Clock

    def member(self, group: str, email: str = "ada@example.com") -> bool:
        gid = next(g.id for g in self.directory.groups.values() if g.name == group)
        uid = next(a.user.id for a in self.directory.accounts.values() if a.user.email == email)
        return uid in self.directory.members[gid]

    def told(self, request_id: str) -> list[str]:
        return [v for kind, rid, v in self.notifier.sent if kind == "tell" and rid == request_id]


@pytest.fixture(params=["sqlite"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path}/a.sqlite3"
        else:
            url = await stack.enter_async_context(fresh_pg_database())
        store = await Store.open(url)
        stack.push_async_callback(store.close)
        directory = access_directory()
        clock = Clock()
        service, notifier = build_service(store, directory, clock)
        yield World(service, notifier, directory, store, clock)


async def test_request_approve_fulfil(world: World) -> None:
    w = world
    prepared = await w.service.prepare(REQUESTER, "figma-editors")
    assert not prepared.already_member and prepared.existing is None
    sub = await w.service.submit(REQUESTER, "figma-editors")
    req = sub.snapshot.request
    assert sub.created and req.state == "pending"
    assert set(sub.notified) == {APPROVER_A.slack_user_id, "#it-approvals"}  # no Slack here
    assert ("post", req.id, "#it-approvals") in w.notifier.sent
    decision = await w.service.decide(APPROVER_A, req.id, approve=True)
    assert decision.outcome is DecisionOutcome.APPROVED
    assert decision.snapshot is not None and decision.snapshot.request.state == "fulfilled"
    assert w.member("figma-editors")
    assert w.directory.calls.count("add_to_group") == 1
    assert w.told(req.id) == [Event.FULFILLED.value]
    updates = [v for kind, rid, v in w.notifier.sent if kind == "update" and rid == req.id]
    assert updates == ["fulfilled", "fulfilled"]  # the DM and the channel message
    grants = await w.store.list_audit(action="access_grant")
    assert [(g.result, g.actor, g.detail["change"]) for g in grants] == [
        ("success", APPROVER_A.slack_user_id, "added")
    ]
    assert [a.result for a in await w.store.list_audit(action="access_request")] == ["submitted"]
    # Clicking again on the decided request changes nothing and says who decided.
    late = await w.service.decide(APPROVER_A, req.id, approve=False, reason="oops")
    assert late.outcome is DecisionOutcome.ALREADY_DECIDED
    assert late.snapshot is not None
    assert late.snapshot.request.decided_by == APPROVER_A.slack_user_id
    # Now a member: nothing to request.
    assert (await w.service.prepare(REQUESTER, "figma-editors")).already_member
    with pytest.raises(Refusal) as refused:
        await w.service.submit(REQUESTER, "figma-editors")
    assert refused.value.code == "already_member"


async def test_pending_request_is_pointed_to(world: World) -> None:
    first = await world.service.submit(REQUESTER, "figma-editors")
    again = await world.service.submit(REQUESTER, "figma-editors")
    assert not again.created and again.snapshot.request.id == first.snapshot.request.id
    prepared = await world.service.prepare(REQUESTER, "figma-editors")
    assert prepared.existing is not None
    assert prepared.existing.request.id == first.snapshot.request.id


async def test_only_approvers_decide_and_never_their_own(world: World) -> None:
    w = world
    sub = await w.service.submit(REQUESTER, "vpn-users", justification="Working from home")
    rid = sub.snapshot.request.id
    # The requester is in the approver group but may not approve their own request.
    assert REQUESTER.slack_user_id in sub.snapshot.approvers
    with pytest.raises(Refusal) as own:
        await w.service.decide(REQUESTER, rid, approve=True)
    assert own.value.code == "own_request"
    with pytest.raises(Refusal) as other:
        await w.service.decide(STRANGER, rid, approve=True)
    assert other.value.code == "not_approver"
    assert other.value.user_message == "You are not an approver for this group."
    snap = await w.service.snapshot(rid)
    assert snap is not None and snap.request.state == "pending" and snap.decisions == ()
    refused = await w.store.list_audit(action="access_decide")
    assert sorted(r.detail["reason"] for r in refused) == ["not_approver", "own_request"]
    # Unknown and malformed ids change nothing.
    assert (await w.service.decide(APPROVER_A, "x" * 16, True)).outcome is DecisionOutcome.UNKNOWN
    assert (await w.service.decide(APPROVER_A, "../../etc", True)).outcome is (
        DecisionOutcome.UNKNOWN
    )


async def test_justification_and_duration_are_checked(world: World) -> None:
    with pytest.raises(Refusal) as why:
        await world.service.submit(REQUESTER, "vpn-users", justification="   short ")
    assert why.value.code == "justification_required"
    with pytest.raises(Refusal) as how_long:
        await world.service.submit(REQUESTER, "github-org", duration=timedelta(days=365))
    assert how_long.value.code == "duration_required"
    assert world.service.durations_for(world.service.catalogue["github-org"]) == (
        timedelta(days=1), timedelta(days=7), timedelta(days=30)
    )
    with pytest.raises(Refusal) as unknown:
        await world.service.submit(REQUESTER, "salesforce")
    assert unknown.value.code == "not_requestable"


async def test_two_approvals_from_two_people(world: World) -> None:
    w = world
    sub = await w.service.submit(REQUESTER, "github-org", duration=timedelta(days=7))
    rid = sub.snapshot.request.id
    first = await w.service.decide(APPROVER_A, rid, approve=True)
    assert first.outcome is DecisionOutcome.RECORDED
    again = await w.service.decide(APPROVER_A, rid, approve=True)
    assert again.outcome is DecisionOutcome.ALREADY_VOTED
    assert not w.member("github-org")
    second = await w.service.decide(APPROVER_B, rid, approve=True)
    assert second.outcome is DecisionOutcome.APPROVED and w.member("github-org")
    assert w.told(rid) == [Event.APPROVAL_RECORDED.value, Event.FULFILLED.value]


async def test_concurrent_clicks_add_once(world: World) -> None:
    w = world
    sub = await w.service.submit(REQUESTER, "vpn-users", justification="Working from home")
    rid = sub.snapshot.request.id
    clicks = [APPROVER_A, APPROVER_B] * 4
    results = await asyncio.gather(*(w.service.decide(a, rid, True) for a in clicks))
    outcomes = [r.outcome for r in results]
    assert outcomes.count(DecisionOutcome.APPROVED) == 1
    assert w.directory.calls.count("add_to_group") == 1
    assert len(await w.store.list_audit(action="access_grant")) == 1


async def test_deny_with_reason(world: World) -> None:
    w = world
    sub = await w.service.submit(REQUESTER, "figma-editors")
    rid = sub.snapshot.request.id
    d = await w.service.decide(APPROVER_A, rid, approve=False, reason="Use the viewer licence")
    assert d.outcome is DecisionOutcome.DENIED and d.snapshot is not None
    assert d.snapshot.request.reason == "Use the viewer licence"
    assert w.told(rid) == [Event.DENIED.value]
    assert not w.member("figma-editors")
    # A denied request is closed: a new one may be made.
    assert (await w.service.submit(REQUESTER, "figma-editors")).created


async def test_cancel_while_pending(world: World) -> None:
    w = world
    sub = await w.service.submit(REQUESTER, "figma-editors")
    rid = sub.snapshot.request.id
    stranger = await w.service.cancel(STRANGER, rid)
    assert stranger.outcome is DecisionOutcome.UNKNOWN
    done = await w.service.cancel(REQUESTER, rid)
    assert done.outcome is DecisionOutcome.CANCELLED
    late = await w.service.decide(APPROVER_A, rid, approve=True)
    assert late.outcome is DecisionOutcome.ALREADY_DECIDED
    assert (await w.service.cancel(REQUESTER, rid)).outcome is DecisionOutcome.ALREADY_DECIDED
    assert w.directory.calls.count("add_to_group") == 0


async def test_reminders_then_expiry(world: World) -> None:
    w = world
    sub = await w.service.submit(REQUESTER, "figma-editors")
    rid = sub.snapshot.request.id
    assert await w.service.run_due_jobs() == 0
    w.clock.advance(timedelta(days=1, seconds=1))
    assert await w.service.run_due_jobs() == 1
    reminded = [v for kind, r, v in w.notifier.sent if kind == "remind" and r == rid]
    assert sorted(reminded) == sorted([APPROVER_A.slack_user_id, "#it-approvals"])
    w.clock.advance(timedelta(days=1))
    assert await w.service.run_due_jobs() == 1  # the second reminder
    w.clock.advance(timedelta(days=1))
    await w.service.run_due_jobs()
    snap = await w.service.snapshot(rid)
    assert snap is not None and snap.request.state == "expired"
    assert w.told(rid) == ["reminded", "reminded", "expired"]
    late = await w.service.decide(APPROVER_A, rid, approve=True)
    assert late.outcome is DecisionOutcome.ALREADY_DECIDED
    assert [a.result for a in await w.store.list_audit(action="access_expire")] == ["expired"]


async def test_click_after_expiry_time_expires_it(world: World) -> None:
    w = world
    sub = await w.service.submit(REQUESTER, "figma-editors")
    w.clock.advance(timedelta(days=4))
    late = await w.service.decide(APPROVER_A, sub.snapshot.request.id, approve=True)
    assert late.outcome is DecisionOutcome.ALREADY_DECIDED
    assert late.snapshot is not None and late.snapshot.request.state == "expired"
    assert w.directory.calls.count("add_to_group") == 0


async def test_directory_down_then_back(world: World) -> None:
    w = world
    sub = await w.service.submit(REQUESTER, "figma-editors")
    rid = sub.snapshot.request.id
    w.directory.fail_next(Unavailable("mem", "timeout"), times=2)
    d = await w.service.decide(APPROVER_A, rid, approve=True)
    assert d.outcome is DecisionOutcome.APPROVED
    assert d.snapshot is not None and d.snapshot.request.state == "approved"
    assert w.told(rid) == [Event.RETRYING.value]
    w.clock.advance(timedelta(seconds=31))
    await w.service.run_due_jobs()  # fails again (second injected fault); backs off 60 s
    assert not w.member("figma-editors")
    w.clock.advance(timedelta(seconds=61))
    await w.service.run_due_jobs()
    assert w.member("figma-editors")
    assert w.told(rid) == [Event.RETRYING.value, Event.FULFILLED.value]
    assert [g.result for g in await w.store.list_audit(action="access_grant")] == ["success"]


async def test_permanent_directory_refusal_fails_the_request(world: World) -> None:
    w = world
    sub = await w.service.submit(REQUESTER, "figma-editors")
    rid = sub.snapshot.request.id
    w.directory.fail_next(PermissionDenied("mem", "not allowed"))
    await w.service.decide(APPROVER_A, rid, approve=True)
    snap = await w.service.snapshot(rid)
    assert snap is not None and snap.request.state == "failed"
    assert w.told(rid) == [Event.FAILED.value]
    assert [g.result for g in await w.store.list_audit(action="access_grant")] == ["failed"]


async def test_crash_between_approval_and_add_is_finished_by_another_worker(
    world: World,
) -> None:
    w = world
    sub = await w.service.submit(REQUESTER, "figma-editors")
    rid = sub.snapshot.request.id
    # The approving process records the approval (and its job) and dies before the add.
    snap = await w.service.snapshot(rid)
    assert snap is not None
    vote = await w.store.access.approve(
        rid, APPROVER_A.slack_user_id, TRANSITIONS[Action.APPROVE], w.clock(),
        w.service.trail.factory(APPROVER_A, "x", snap.request, {}),
        then=[access_job(JobKind.FULFIL, rid, w.clock())],
    )
    assert vote.result is VoteResult.DECIDED and vote.job_id is not None
    dead = await w.store.jobs.claim(vote.job_id, "dead-process", w.clock(),
                                    timedelta(milliseconds=500))
    assert dead is not None
    # Another replica's worker: nothing while the lease holds, the add once it ran out
    # (by the database's clock: the application's clock has no say in it).
    other, _ = build_service(w.store, w.directory, w.clock, owner="w2")
    assert await other.run_due_jobs() == 0
    w.clock.advance(timedelta(hours=1))
    assert await other.run_due_jobs() == 0
    await asyncio.sleep(0.6)
    assert await other.run_due_jobs() == 1
    assert w.member("figma-editors")
    assert w.directory.calls.count("add_to_group") == 1


async def test_time_bound_access_is_removed(world: World) -> None:
    w = world
    sub = await w.service.submit(REQUESTER, "github-org", duration=timedelta(days=7))
    rid = sub.snapshot.request.id
    await w.service.decide(APPROVER_A, rid, approve=True)
    await w.service.decide(APPROVER_B, rid, approve=True)
    snap = await w.service.snapshot(rid)
    assert snap is not None and snap.request.access_until is not None
    assert w.member("github-org")
    w.clock.advance(timedelta(days=6, hours=1))
    await w.service.run_due_jobs()
    assert w.told(rid)[-1] == Event.ENDING_SOON.value and w.member("github-org")
    # A restart in between: a new service instance on the same store does the removal.
    restarted, notifier = build_service(w.store, w.directory, w.clock, owner="after-restart")
    w.directory.fail_next(Unavailable("mem", "timeout"))
    w.clock.advance(timedelta(days=1))
    await restarted.run_due_jobs()
    assert w.member("github-org")  # directory down: retried later
    w.clock.advance(timedelta(minutes=1))
    await restarted.run_due_jobs()
    assert not w.member("github-org")
    assert [v for k, _, v in notifier.sent if k == "tell"] == [Event.REVOKED.value]
    final = await w.service.snapshot(rid)
    assert final is not None and final.request.state == "revoked"
    assert [a.result for a in await w.store.list_audit(action="access_revoke")] == ["success"]
    # Access ended: it can be requested again.
    assert (await w.service.prepare(REQUESTER, "github-org")).existing is None


async def test_auto_approve(world: World) -> None:
    sub = await world.service.submit(REQUESTER, "wiki")
    assert sub.created and sub.snapshot.request.state == "fulfilled"
    assert world.member("wiki") and sub.notified == ()
    assert [a.result for a in await world.store.list_audit(action="access_request")] == [
        "auto_approved"
    ]


async def test_manager_approves(world: World) -> None:
    sub = await world.service.submit(REQUESTER, "design")
    assert sub.snapshot.approvers == (MANAGER,) and sub.notified == (MANAGER,)
    manager = Actor(MANAGER, "boss@example.com")
    assert (await world.service.decide(manager, sub.snapshot.request.id, True)).outcome is (
        DecisionOutcome.APPROVED
    )


async def test_no_approver_found_refuses(world: World) -> None:
    # Someone without a manager attribute: nobody can approve "design" for them.
    locked = Actor("U0LOCKED01", "locked@example.com")
    with pytest.raises(Refusal) as refused:
        await world.service.submit(locked, "design")
    assert refused.value.code == "no_approvers"


async def test_protected_accounts_are_refused(world: World) -> None:
    with pytest.raises(Refusal) as refused:
        await world.service.prepare(Actor("U0GUARD001", "guard@example.com"), "figma-editors")
    assert refused.value.code == "protected"


async def test_directory_outage_while_requesting(world: World) -> None:
    world.directory.fail_next(Unavailable("mem", "timeout"))
    with pytest.raises(Refusal) as refused:
        await world.service.prepare(REQUESTER, "figma-editors")
    assert refused.value.code == "unavailable"


async def test_a_slow_grant_keeps_its_lease(world: World) -> None:
    w = world
    real_add = w.directory.add_to_group

    async def slow_add(*args: Any) -> Any:
        await asyncio.sleep(1.6)
        return await real_add(*args)

    w.directory.add_to_group = slow_add  # type: ignore[method-assign, assignment]
    now = lambda: datetime.now(UTC)  # noqa: E731 - real time: the lease must really run out
    first, _ = build_service(w.store, w.directory, now, owner="slow", lease=0.6)
    other, _ = build_service(w.store, w.directory, now, owner="other", lease=0.6)
    sub = await first.submit(REQUESTER, "figma-editors")
    deciding = asyncio.create_task(first.decide(APPROVER_A, sub.snapshot.request.id, True))
    await asyncio.sleep(1.0)  # past the first lease: renewed meanwhile, so not up for grabs
    assert await other.run_due_jobs() == 0
    assert (await deciding).outcome is DecisionOutcome.APPROVED
    assert w.directory.calls.count("add_to_group") == 1 and w.member("figma-editors")


async def test_worker_drains_a_burst_and_survives_a_bad_round(world: World) -> None:
    w = world
    for key in ("figma-editors", "design"):
        await w.service.submit(REQUESTER, key)
    w.clock.advance(timedelta(days=4))
    calls = 0
    real = w.service.jobs.runner.run_due

    async def flaky(limit: int = 50, concurrency: int = 8) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("store hiccup")
        return await real(limit=1, concurrency=concurrency)  # tiny rounds: always "full"

    runner = w.service.jobs.runner
    runner.run_due = flaky  # type: ignore[method-assign]
    runner.poll_interval = timedelta(0)
    worker = asyncio.create_task(w.service.worker())
    for _ in range(200):
        states = {r.state for r in await w.store.access.requests_of(REQUESTER.slack_user_id)}
        if states == {RequestState.EXPIRED}:
            break
        await asyncio.sleep(0.01)
    worker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await worker
    assert states == {RequestState.EXPIRED}
