"""Never twice, never lost: crash leftovers, unclear deliveries, 429s, a lost lease."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from actions.nudges import (
    LEASE_NAME,
    Delivered,
    DeliveryFailed,
    Nudge,
    NudgeSource,
    NudgeTransport,
    assess,
)
from bot.nudges import SlackNudgeTransport
from connectors.base import ExpiringUser
from connectors.errors import Unavailable
from sandboxes.slack import Limit, Rule
from store.leases import new_holder
from store.nudges import SENT, UNCONFIRMED
from tests.nudges.helpers import IT_CHANNEL, NUDGED, PEOPLE, World, make_world

SLACK_OF = {p.key: p.slack for p in PEOPLE}
# A crashed sweeper's requests are waited out (nobody guesses it is dead): keep it short.
QUICK: dict[str, Any] = {"request_timeout": "2s"}


async def _nudge_for(world: World, key: str) -> Nudge:
    user = world.user(key)
    status = await world.directory.password_status(user)
    source = NudgeSource("mem", "memory", "mem", world.directory, offer_reset=True)
    found = assess(ExpiringUser(user, status), source, world.cfg.nudges, datetime.now(UTC))
    assert isinstance(found, Nudge)
    return found


def _transport(world: World) -> SlackNudgeTransport:
    runner = world.runner()
    transport = runner.transport_factory()
    assert isinstance(transport, SlackNudgeTransport)
    return transport


async def _crashed_run(world: World, *, posted: str, claimed_only: str) -> None:
    """What a sweep killed mid-way leaves: one nudge posted but not marked, one only claimed."""
    now = datetime.now(UTC)
    await world.nudges.start_run(run_id="dead", trigger="manual", slot=None,
                                 holder=new_holder(), now=now)
    transport = _transport(world)
    for key in (posted, claimed_only):
        nudge = await _nudge_for(world, key)
        slack_id = SLACK_OF[key]
        assert slack_id is not None
        assert await world.nudges.claim(nudge.key, run_id="dead", slack_user=slack_id,
                                        expires_at=nudge.expires_at, now=now)
        if key == posted:
            await transport.deliver(nudge, slack_id)
    await transport.aclose()


async def test_a_crashed_runs_leftovers_are_settled_with_slack(tmp_path: Path) -> None:
    async with make_world(tmp_path, **QUICK) as world:
        await _crashed_run(world, posted="ada", claimed_only="bob")
        summary = await world.runner().run()
        assert summary is not None and summary.status == "completed"
        assert summary.recovered == {"confirmed_sent": 1, "not_sent": 1}
        for key in NUDGED:
            assert len(world.nudges_to(SLACK_OF[key] or "")) == 1, key
        assert {r.state for r in await world.nudges.records()} == {SENT}
        assert summary.nudged == len(NUDGED) - 1  # Ada's was already out
        runs = {r.id: r.status for r in await world.nudges.recent_runs()}
        assert runs["dead"] == "interrupted"


async def test_without_history_a_leftover_counts_as_sent(tmp_path: Path) -> None:
    async with make_world(tmp_path, history=False, **QUICK) as world:
        await _crashed_run(world, posted="ada", claimed_only="bob")
        summary = await world.runner().run()
        assert summary is not None and summary.recovered == {"unconfirmed": 2}
        assert len(world.nudges_to(SLACK_OF["ada"] or "")) == 1  # never twice
        assert world.nudges_to(SLACK_OF["bob"] or "") == []  # the price of never twice
        states = {r.user_id: r.state for r in await world.nudges.records()}
        assert states[world.user("bob").id] == UNCONFIRMED


async def test_resend_policy_prefers_none_lost(tmp_path: Path) -> None:
    async with make_world(tmp_path, history=False, unconfirmed="resend", **QUICK) as world:
        await _crashed_run(world, posted="ada", claimed_only="bob")
        summary = await world.runner().run()
        assert summary is not None and summary.recovered == {"resend_unconfirmed": 2}
        assert len(world.nudges_to(SLACK_OF["bob"] or "")) == 1
        assert len(world.nudges_to(SLACK_OF["ada"] or "")) == 2  # the price of none lost


async def test_a_live_holders_claims_are_settled_after_the_request_timeout(
    tmp_path: Path,
) -> None:
    async with make_world(tmp_path, request_timeout="2s") as world:
        await _crashed_run(world, posted="ada", claimed_only="bob")
        started = time.monotonic()
        summary = await world.runner().run()
        assert time.monotonic() - started >= 1.5  # waited for its last request to end
        assert summary is not None and summary.recovered == {"confirmed_sent": 1, "not_sent": 1}
        assert len(world.nudges_to(SLACK_OF["bob"] or "")) == 1


class Flaky:
    """A transport whose first delivery to each of ``who`` fails in an unclear way."""

    def __init__(self, inner: NudgeTransport, who: dict[str, bool]) -> None:
        self.inner = inner
        self.who = dict(who)  # slack id -> whether the message went out before the "timeout"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def deliver(self, nudge: Nudge, recipient: str) -> Delivered:
        if recipient in self.who:
            went_out = self.who.pop(recipient)
            if went_out:
                await self.inner.deliver(nudge, recipient)
            raise DeliveryFailed("slack_TimeoutError", maybe_sent=True)
        return await self.inner.deliver(nudge, recipient)


async def test_an_unclear_delivery_is_checked_before_sending_again(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        runner = world.runner()
        make = runner.transport_factory
        runner.transport_factory = lambda: Flaky(
            make(), {SLACK_OF["ada"] or "": True, SLACK_OF["bob"] or "": False}
        )
        summary = await runner.run()
        assert summary is not None and summary.nudged == len(NUDGED)
        for key in NUDGED:
            assert len(world.nudges_to(SLACK_OF[key] or "")) == 1, key
        calls = summary.stats["slack"]["calls"]
        assert calls["conversations.history"] == 2


async def test_429s_are_waited_out_and_nothing_is_lost(tmp_path: Path) -> None:
    # Slack allows 2 messages a second with no burst; the client is told 100 a second,
    # so Slack answers 429 + Retry-After and the sweep must wait and resend.
    tiers = {"chat.postMessage": Rule(Limit(120, burst=1))}  # workspace-wide
    fast = {"per_minute": 6000, "burst": 100}
    async with make_world(tmp_path, tiers=tiers,
                          rate_limits={"post_message": fast, "headroom": 0}) as world:
        started = time.monotonic()
        summary = await world.runner().run()
        elapsed = time.monotonic() - started
        assert summary is not None and summary.status == "completed"
        assert summary.nudged == len(NUDGED) and summary.failed_total == 0
        slack = summary.stats["slack"]
        assert slack["rate_limited"]["chat.postMessage"] >= 1
        assert set(slack["failures"]) <= {"users.lookupByEmail users_not_found"}
        for key in NUDGED:
            assert len(world.nudges_to(SLACK_OF[key] or "")) == 1
        # Five DMs at 2 a second after the first, and the summary.
        assert elapsed >= 2.0
        rejected = [
            c for c in world.slack.calls("chat.postMessage")
            if c.status == 429 and c.params["channel"] != IT_CHANNEL
        ]
        assert len(rejected) == slack["rate_limited"]["chat.postMessage"]
        assert len(world.slack.messages_to(IT_CHANNEL)) == 1


async def test_users_list_429s_are_waited_out(tmp_path: Path) -> None:
    fast = {"per_minute": 6000, "burst": 100}
    async with make_world(tmp_path, tiers={"users.list": Limit(60, burst=1)},
                          rate_limits={"users_list": fast, "headroom": 0},
                          slack_lookup="users_list", users_list_page_size=3) as world:
        summary = await world.runner().run()
        assert summary is not None and summary.nudged == len(NUDGED)
        assert summary.stats["slack"]["rate_limited"]["users.list"] >= 1
        assert summary.stats["slack"]["users_list_pages"] == 4  # 9 people and the bot, 3 a page


async def test_a_lost_lease_stops_the_sweep(tmp_path: Path) -> None:
    async with make_world(tmp_path, lease="3s", workers=1) as world:
        runner = world.runner()
        make = runner.transport_factory

        class Slow(Flaky):
            async def deliver(self, nudge: Nudge, recipient: str) -> Delivered:
                await asyncio.sleep(0.8)
                return await self.inner.deliver(nudge, recipient)

        runner.transport_factory = lambda: Slow(make(), {})
        # Half a second in, the database stops answering this replica's renewals: its
        # lease cannot be vouched for past its 3 seconds, and runs out for the others.
        outage = asyncio.Event()
        renew = runner.jobs.jobs.renew

        async def unreachable(*args: Any) -> bool:
            if outage.is_set():
                raise ConnectionError("the store is unreachable")
            return await renew(*args)

        runner.jobs.jobs.renew = unreachable  # type: ignore[method-assign, assignment]
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(0.5)
        outage.set()
        thief, deadline = new_holder(), time.monotonic() + 10
        while not await world.store.leases.take(LEASE_NAME, thief, timedelta(minutes=1)):
            assert time.monotonic() < deadline, "the lease never ran out"
            await asyncio.sleep(0.1)
        summary = await task
        assert summary is not None and summary.status == "aborted"
        assert 0 < summary.nudged < len(NUDGED)
        assert len(world.all_nudges()) == summary.nudged
        assert {r.status for r in await world.nudges.recent_runs()} == {"aborted"}


async def test_api_counts_429_per_method(tmp_path: Path) -> None:
    async with make_world(tmp_path, tiers={"users.lookupByEmail": Limit(120, burst=1)},
                          slack_lookup="lookup_by_email",
                          rate_limits={"users_lookup_by_email": {"per_minute": 6000}}) as world:
        summary = await world.runner().run()
        assert summary is not None and summary.nudged == len(NUDGED)
        api_stats = summary.stats["slack"]
        assert api_stats["rate_limited"]["users.lookupByEmail"] >= 1


async def test_a_rate_limited_group_check_is_asked_again(tmp_path: Path) -> None:
    async with make_world(tmp_path, workers=1) as world:
        # The directory refuses twice (rate limited past its own retries), then answers.
        world.directory.fail_next(Unavailable("mem", "rate limited", retry_after=0.1), times=2)
        summary = await world.runner().run()
        assert summary is not None and summary.failed_total == 0
        assert summary.nudged == len(NUDGED)
