"""The durable inbox, on SQLite and PostgreSQL: recorded once, claimed once, taken over after a
crash, handed back on a stop; and the work side's Inbox recording and claiming through it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bot.slack.inbox import Inbox, Recorder
from bot.slack.server import Accepted
from store.db import Store
from store.inbox import InboxState, Incoming
from store.leases import new_holder


@pytest.fixture
async def store(url: str) -> AsyncIterator[Store]:
    s = await Store.open(url)
    try:
        yield s
    finally:
        await s.close()


def _in(n: int, text: str = "x\x00y") -> Incoming:
    return Incoming(f"event:Ev{n}", "event", json.dumps({"n": n, "text": text}))


async def test_recorded_once_whatever_the_redeliveries(store: Store) -> None:
    first = await store.inbox.record([_in(1), _in(2), _in(1)])
    assert first == [True, True, False]  # the same key twice in one batch: one row
    again = await asyncio.gather(*(store.inbox.record([_in(2), _in(3)]) for _ in range(4)))
    assert sorted(a[1] for a in again) == [False, False, False, True]
    assert all(a[0] is False for a in again)
    rows = {r["key"]: r for r in await store.inbox.rows()}
    assert sorted(rows) == ["event:Ev1", "event:Ev2", "event:Ev3"]
    assert rows["event:Ev2"]["deliveries"] == 5 and rows["event:Ev1"]["deliveries"] == 1
    # A NUL inside the payload's JSON text is kept as its escape: PostgreSQL takes it.
    (claimed,) = [c for c in await store.inbox.claim(new_holder(), timedelta(minutes=1), 10)
                  if c.key == "event:Ev1"]
    assert json.loads(claimed.payload)["text"] == "x\x00y"


async def test_claimers_racing_take_different_rows(store: Store) -> None:
    await store.inbox.record([_in(i) for i in range(40)])
    owners = [new_holder() for _ in range(6)]
    got = await asyncio.gather(
        *(store.inbox.claim(o, timedelta(minutes=1), 10) for o in owners)
    )
    ids = [c.id for batch in got for c in batch]
    assert len(ids) == len(set(ids)) == 40
    assert await store.inbox.claim(new_holder(), timedelta(minutes=1), 10) == []


async def test_a_dead_owners_rows_are_taken_over_when_the_lease_runs_out(store: Store) -> None:
    await store.inbox.record([_in(1), _in(2)])
    dead, alive = new_holder(), new_holder()
    held = await store.inbox.claim(dead, timedelta(seconds=1), 10)
    assert len(held) == 2
    assert await store.inbox.claim(alive, timedelta(minutes=1), 10) == []
    await asyncio.sleep(1.3)
    taken = await store.inbox.claim(alive, timedelta(minutes=1), 10)
    assert [c.key for c in taken] == ["event:Ev1", "event:Ev2"]
    assert [c.attempts for c in taken] == [2, 2]
    # The dead owner (back from a pause) can neither finish nor renew what it lost.
    assert await store.inbox.finish(dead, [c.id for c in held]) == 0
    assert await store.inbox.renew(dead, [c.id for c in held], timedelta(minutes=1)) == 0
    assert await store.inbox.finish(alive, [c.id for c in taken]) == 2
    assert await store.inbox.waiting() == 0


async def test_handed_back_rows_are_claimed_at_once_by_another(store: Store) -> None:
    await store.inbox.record([_in(1)])
    stopping, other = new_holder(), new_holder()
    (row,) = await store.inbox.claim(stopping, timedelta(minutes=5), 10)
    assert await store.inbox.hand_back(stopping, [row.id]) == 1
    (again,) = await store.inbox.claim(other, timedelta(minutes=5), 10)
    assert again.id == row.id and again.attempts == 1  # a hand-back is not a failed attempt


async def test_finished_rows_still_drop_redeliveries_until_pruned(store: Store) -> None:
    await store.inbox.record([_in(1)])
    owner = new_holder()
    (row,) = await store.inbox.claim(owner, timedelta(minutes=1), 10)
    await store.inbox.finish(owner, [row.id])
    assert await store.inbox.record([_in(1)]) == [False]
    assert await store.inbox.claim(owner, timedelta(minutes=1), 10) == []
    from datetime import UTC, datetime

    assert await store.inbox.prune(datetime.now(UTC) + timedelta(minutes=1)) == 1
    assert await store.inbox.record([_in(1)]) == [True]


# -- the work side ------------------------------------------------------------------------


class Runs:
    """What an Inbox ran, and a gate to hold runs until the test lets them go."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, payload: dict[str, Any]) -> None:
        await self.gate.wait()
        self.payloads.append(payload)


def _body(n: int) -> bytes:
    return json.dumps({"n": n}).encode()


async def test_accepted_requests_run_once_after_the_burst(store: Store) -> None:
    runs = Runs()
    inbox = Inbox(store.inbox, runs, quiet=0.05, max_wait=0.3)
    outcomes = await asyncio.gather(
        *(inbox.accept(f"event:Ev{i % 30}", _body(i % 30)) for i in range(60))
    )
    assert outcomes.count(Accepted.NEW) == 30 and outcomes.count(Accepted.DUPLICATE) == 30
    assert runs.payloads == []  # the claim waits for the burst to be over
    await inbox.drain(10)
    assert sorted(p["n"] for p in runs.payloads) == list(range(30))
    assert {r["state"] for r in await store.inbox.rows()} == {InboxState.DONE}


async def test_a_store_that_cannot_record_in_time_fails_the_accept(store: Store) -> None:
    runs = Runs()
    inbox = Inbox(store.inbox, runs, record_timeout=0.3)
    real = store.inbox.record

    async def stuck(incoming: Any) -> list[bool]:
        await asyncio.sleep(1.0)
        return await real(incoming)

    store.inbox.record = stuck  # type: ignore[method-assign]
    assert await inbox.accept("event:Ev1", _body(1)) is Accepted.FAILED
    store.inbox.record = real  # type: ignore[method-assign]
    await asyncio.sleep(1.0)  # the late write commits after all
    # Slack's retry of the refused request finds it recorded: it runs once.
    assert await inbox.accept("event:Ev1", _body(1), retry=1) is Accepted.DUPLICATE
    inbox.claim_now()
    await inbox.drain(10)
    assert runs.payloads == [{"n": 1}]


async def test_a_stop_hands_back_what_does_not_finish_and_another_runs_it(store: Store) -> None:
    slow, other = Runs(), Runs()
    slow.gate.clear()  # never finishes on its own
    first = Inbox(store.inbox, slow, capacity=4)
    for i in range(6):
        assert await first.accept(f"event:Ev{i}", _body(i)) is Accepted.NEW
    first.claim_now()
    for _ in range(100):
        if first.held == 4:
            break
        await asyncio.sleep(0.02)
    assert first.held == 4
    await first.stop(grace=0.2)
    assert slow.payloads == []
    second = Inbox(store.inbox, other)
    second.claim_now()
    await second.drain(10)
    assert sorted(p["n"] for p in other.payloads) == list(range(6))
    assert await store.inbox.waiting() == 0


async def test_requests_behind_a_stuck_batch_fail_within_their_own_time(store: Store) -> None:
    """A batch stuck on the store: the requests queued behind it are refused within the
    record timeout of their own arrival, not after the stuck batch's time and then theirs."""
    inbox = Inbox(store.inbox, Runs(), record_timeout=0.5)
    real = store.inbox.record
    release = asyncio.Event()

    async def stuck(incoming: Any) -> list[bool]:
        await release.wait()
        return await real(incoming)

    store.inbox.record = stuck  # type: ignore[method-assign]
    first = asyncio.create_task(inbox.accept("event:Ev1", _body(1)))
    await asyncio.sleep(0.3)  # the first batch is stuck; these queue behind it
    loop = asyncio.get_running_loop()
    started = loop.time()
    behind = await asyncio.gather(*(inbox.accept(f"event:Ev{i}", _body(i)) for i in (2, 3)))
    took = loop.time() - started
    assert behind == [Accepted.FAILED, Accepted.FAILED] and took < 0.5 + 0.2
    assert await first is Accepted.FAILED
    release.set()
    store.inbox.record = real  # type: ignore[method-assign]
    await inbox.recorder.settle(5)
    # Written late after all: Slack's retries find them and nothing runs twice.
    retried = [await inbox.accept(f"event:Ev{i}", _body(i), retry=1) for i in (1, 2, 3)]
    assert retried == [Accepted.DUPLICATE] * 3


async def test_a_recorded_click_is_claimed_at_once(store: Store) -> None:
    """Recorded by the HTTP ingress process: a batch with a click says so, and is claimed
    without the burst's wait (an hour here: only the click's own claim can run it)."""
    ran: list[Any] = []

    async def run(payload: dict[str, Any]) -> None:
        ran.append(payload["n"])

    inbox = Inbox(store.inbox, run, quiet=3600, max_wait=3600, poll=3600)
    told: list[str] = []
    recorder = Recorder(store.inbox, lambda: told.append("new"),
                        on_click=lambda: told.append("click"))
    click = Incoming("action:U1:1.000001", "action", json.dumps({"n": 1}))
    assert await recorder.accept(click.key, click.payload.encode()) is Accepted.NEW
    assert await recorder.accept("event:Ev2", json.dumps({"n": 2}).encode()) is Accepted.NEW
    assert told == ["click", "new"]
    inbox.arrived(True)  # the event: after the burst (an hour here)
    inbox.arrived(True, click=True)  # the click: now
    for _ in range(200):
        if ran:
            break
        await asyncio.sleep(0.02)
    assert 1 in ran
    await inbox.stop(grace=1)
