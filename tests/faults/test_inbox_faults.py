"""Faults on the receiving side: every request Slack got an ack for is answered exactly once.

Real ``helpdesk run`` processes (a work process and its HTTP ingress child each), on
SQLite or on PostgreSQL at 127.0.0.1:5432 for two replicas; Okta is the sandbox (each
call answered after ``OKTA_LATENCY``, so work is still running when a fault strikes)
and Slack the fake (its rate limits off: this suite is about the inbox, not Slack's
tiers). Employees ask "when does my password expire?", which is answered with one DM.

Each class counts what it tried and prints one ``FAULTS {json}`` line: ``sent`` (distinct
requests), ``deliveries`` (including Slack's retries), ``acknowledged`` (distinct
requests with a 2xx), ``answered`` (answers posted), ``duplicates`` and ``lost``; every
class asserts ``lost == duplicates == 0`` over what was acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from sandboxes.okta import DEMO_SEED, DEMO_TOKEN, OktaSandbox, load_seed, run_okta_sandbox
from sandboxes.slack import SlackEventSender, SlackState, Workspace, run_slack_fake
from sandboxes.slack.events import Delivery
from sandboxes.slack.ratelimit import RateLimits
from tests.access.replicas import Replica, running_replicas
from tests.conftest import fresh_pg_database

SECRET = "faults-signing-secret-000001"
QUESTION = "when does my password expire?"
OKTA_LATENCY = 0.4  # seconds per Okta call: a turn takes a few of them
PEOPLE = {
    "U0ADA00001": "ada.lovelace@example.com",
    "U0GRACE001": "grace.hopper@example.com",
    "U0ALAN0001": "alan.turing@example.com",
    "U0BARBARA1": "barbara.liskov@example.com",
    "U0EDSGER01": "edsger.dijkstra@example.com",
    "U0FRANCES1": "frances.allen@example.com",
}


def _workspace() -> Workspace:
    return Workspace.from_dict({
        "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
        "users": [
            {"id": uid, "name": uid.lower(), "profile": {"email": email, "real_name": uid}}
            for uid, email in PEOPLE.items()
        ],
    })


def _config(db_url: str, okta: OktaSandbox, slack_url: str, **inbox: Any) -> dict[str, Any]:
    return {
        "database_url": db_url,
        "log_level": "INFO",
        "organisation": {"it_channel": "#it-help"},
        "slack": {"api_base_url": slack_url, "bot_token": {"env": "SLACK_BOT_TOKEN"},
                  "signing_secret": {"env": "SLACK_SIGNING_SECRET"},
                  "inbox": {"lease": "3s", **inbox}},
        "connectors": {"okta": {"kind": "okta", "org_url": okta.url,
                                "api_token": {"env": "OKTA_TOKEN"}, "ca_file": str(okta.ca_path)}},
        "capabilities": {"password_expiry": "okta"},
    }


@dataclass
class Tally:
    """What one fault class tried, and what came of it."""

    name: str
    deliveries: int = 0
    unreachable: int = 0  # deliveries whose connection was refused or cut: never acknowledged
    statuses: list[int] = field(default_factory=list)
    history: dict[str, list[int | None]] = field(default_factory=dict)  # event id -> statuses
    acknowledged: set[str] = field(default_factory=set)  # event ids with a 2xx
    sent: list[tuple[str, str]] = field(default_factory=list)  # (event id, user)

    def note(self, event_id: str, user: str, delivery: Delivery | None) -> None:
        self.deliveries += 1
        self.history.setdefault(event_id, []).append(
            None if delivery is None else delivery.status_code
        )
        if (event_id, user) not in self.sent:
            self.sent.append((event_id, user))
        if delivery is not None:
            self.statuses.append(delivery.status_code)
            if delivery.response.is_success:
                self.acknowledged.add(event_id)

    def expected(self) -> dict[str, int]:
        """Answers each user should get: one per request acknowledged."""
        counts = dict.fromkeys(PEOPLE, 0)
        for event_id, user in self.sent:
            if event_id in self.acknowledged:
                counts[user] += 1
        return counts


@dataclass
class Rig:
    state: SlackState
    okta: OktaSandbox
    slack_url: str
    environ: dict[str, str]
    folder: Path

    def answers(self) -> dict[str, int]:
        return {
            uid: sum("expire" in m.visible_text.lower() for m in self.state.messages_to(uid))
            for uid in PEOPLE
        }

    async def settled(self, want: dict[str, int], limit: float = 60.0) -> dict[str, int]:
        """The answers once they reach ``want`` (then a little longer, to catch extras)."""
        deadline = asyncio.get_running_loop().time() + limit
        while asyncio.get_running_loop().time() < deadline:
            if all(self.answers()[u] >= n for u, n in want.items()):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(2 * OKTA_LATENCY + 1.0)
        return self.answers()

    def report(self, tally: Tally, got: dict[str, int], **more: int) -> dict[str, int]:
        want = tally.expected()
        figures = {
            "sent": len(tally.sent),
            "deliveries": tally.deliveries + tally.unreachable,
            "acknowledged": len(tally.acknowledged),
            "refused": sum(1 for s in tally.statuses if s >= 300) + tally.unreachable,
            "answered": sum(got.values()),
            "duplicates": sum(max(0, got[u] - want[u]) for u in PEOPLE),
            "lost": sum(max(0, want[u] - got[u]) for u in PEOPLE),
            **more,
        }
        print("FAULTS " + json.dumps({"class": tally.name, **figures}))
        return figures


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    state = SlackState(_workspace())
    async with contextlib.AsyncExitStack() as stack:
        okta = await stack.enter_async_context(
            run_okta_sandbox(load_seed(DEMO_SEED), latency=OKTA_LATENCY)
        )
        fake = await stack.enter_async_context(
            run_slack_fake(state, tiers=RateLimits.unlimited())
        )
        environ = {"SLACK_BOT_TOKEN": fake.token, "SLACK_SIGNING_SECRET": SECRET,
                   "OKTA_TOKEN": DEMO_TOKEN}
        yield Rig(state, okta, fake.base_url, environ, tmp_path)


@contextlib.asynccontextmanager
async def _replicas(
    rig: Rig, db_url: str, count: int, name: str, **inbox: Any
) -> AsyncIterator[list[Replica]]:
    folder = rig.folder / name
    folder.mkdir()
    config = _config(db_url, rig.okta, rig.slack_url, **inbox)
    async with running_replicas(count, config, rig.environ, folder) as replicas:
        yield replicas


def _event_id(delivery: Delivery) -> str:
    assert delivery.payload is not None
    return str(delivery.payload["event_id"])


async def _dm(sender: SlackEventSender, user: str) -> Delivery | None:
    """One DM; None when the connection was refused or cut (a replica going away)."""
    try:
        return await sender.dm(user, QUESTION)
    except httpx.TransportError:
        return None


async def _redeliver(sender: SlackEventSender, first: Delivery, retry: int) -> Delivery | None:
    """Slack's retry ``retry`` of ``first`` (same body, fresh signature), to ``sender``'s app:
    behind a load balancer a retry may reach any replica."""
    try:
        again = await sender.post(
            first.body, url=sender.events_url, content_type=first.headers.get("Content-Type"),
            retry_num=retry, retry_reason="http_error",
        )
    except httpx.TransportError:
        return None
    again.payload = first.payload
    return again


def _users(n: int) -> list[str]:
    people = list(PEOPLE)
    return [people[i % len(people)] for i in range(n)]


# -- the classes -------------------------------------------------------------------------------


async def test_sigkill_after_the_ack_is_answered_once_after_the_restart(rig: Rig) -> None:
    """``kill -9`` of the work process right after 24 acks (its ingress child goes with it):
    the bot started again on the same database answers each of them, once."""
    db = f"sqlite:///{rig.folder / 'bot.sqlite3'}"
    tally = Tally("sigkill_after_ack")
    async with _replicas(rig, db, 1, "first") as (replica,):
        async with SlackEventSender(SECRET, replica.events_url, state=rig.state) as sender:
            sent = await asyncio.gather(*(_dm(sender, u) for u in _users(24)))
            replica.kill()
            await replica.process.wait()
        for user, delivery in zip(_users(24), sent, strict=True):
            assert delivery is not None
            tally.note(_event_id(delivery), user, delivery)
    answered_before = sum(rig.answers().values())
    async with _replicas(rig, db, 1, "restarted"):
        got = await rig.settled(tally.expected())
    figures = rig.report(tally, got)
    assert figures["acknowledged"] == 24
    assert answered_before < 24, "the kill came too late to test anything"
    assert figures["lost"] == 0 and figures["duplicates"] == 0


@pytest.mark.postgres
async def test_a_store_that_cannot_record_is_a_503_and_slacks_retry_is_answered_once(
    rig: Rig,
) -> None:
    """The inbox table locked (the store unusable for writes) while 6 events arrive: each gets
    503, not an ack; Slack's retries after the store is back are answered once each, also
    when the blocked write commits late."""
    tally = Tally("store_down_at_ack")
    async with contextlib.AsyncExitStack() as stack:
        db = await stack.enter_async_context(fresh_pg_database())
        (replica,) = await stack.enter_async_context(_replicas(rig, db, 1, "pg"))
        sender = await stack.enter_async_context(
            SlackEventSender(SECRET, replica.events_url, state=rig.state)
        )
        locker = await asyncpg.connect(db)
        try:
            lock = locker.transaction()
            await lock.start()
            await locker.execute("LOCK TABLE inbox_events IN ACCESS EXCLUSIVE MODE")
            started = asyncio.get_running_loop().time()
            refused = await asyncio.gather(*(_dm(sender, u) for u in _users(6)))
            took = asyncio.get_running_loop().time() - started
            await lock.rollback()
        finally:
            await locker.close()
        firsts: list[Delivery] = []
        for user, delivery in zip(_users(6), refused, strict=True):
            assert delivery is not None
            tally.note(_event_id(delivery), user, delivery)
            firsts.append(delivery)
        assert [d.status_code for d in firsts] == [503] * 6 and took < 3.0
        # Slack retries (twice here: the second finds the first's row).
        for retry in (1, 2):
            again = await asyncio.gather(*(_redeliver(sender, d, retry) for d in firsts))
            for user, delivery in zip(_users(6), again, strict=True):
                assert delivery is not None
                tally.note(_event_id(delivery), user, delivery)
        got = await rig.settled(tally.expected())
    figures = rig.report(tally, got)
    assert figures["acknowledged"] == 6
    assert figures["lost"] == 0 and figures["duplicates"] == 0


async def test_a_locked_sqlite_store_is_a_503_too(rig: Rig) -> None:
    """SQLite locked by another writer past the record's time: 503, then the retry, once."""
    path = rig.folder / "locked.sqlite3"
    tally = Tally("sqlite_locked_at_ack")
    async with (
        _replicas(rig, f"sqlite:///{path}", 1, "sqlite") as (replica,),
        SlackEventSender(SECRET, replica.events_url, state=rig.state) as sender,
    ):
        holder = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            refused = await asyncio.gather(*(_dm(sender, u) for u in _users(3)))
            holder.execute("COMMIT")
        finally:
            holder.close()
        for user, delivery in zip(_users(3), refused, strict=True):
            assert delivery is not None and delivery.status_code == 503
            tally.note(_event_id(delivery), user, delivery)
            again = await _redeliver(sender, delivery, 1)
            tally.note(_event_id(delivery), user, again)
        got = await rig.settled(tally.expected())
    figures = rig.report(tally, got)
    assert figures["acknowledged"] == 3
    assert figures["lost"] == 0 and figures["duplicates"] == 0


@pytest.mark.postgres
async def test_sigterm_mid_burst_every_ack_is_answered_once_by_the_replica_that_stays(
    rig: Rig,
) -> None:
    """Two replicas on PostgreSQL; a burst of 60 DMs to the first, SIGTERM to it half-way.

    What it refuses (503, or a refused connection) Slack sends again, to the other replica
    here (as a load balancer would); what it acknowledged it finishes within its grace or
    hands back, and the other replica answers. Every acknowledged DM: one answer.
    """
    tally = Tally("sigterm_mid_burst")
    async with contextlib.AsyncExitStack() as stack:
        db = await stack.enter_async_context(fresh_pg_database())
        # A short grace, so that some work is handed back rather than finished.
        going, staying = await stack.enter_async_context(
            _replicas(rig, db, 2, "two", grace="1s", capacity=8)
        )
        to_going = await stack.enter_async_context(
            SlackEventSender(SECRET, going.events_url, state=rig.state)
        )
        to_staying = await stack.enter_async_context(
            SlackEventSender(SECRET, staying.events_url, state=rig.state)
        )

        async def one(i: int, user: str) -> None:
            await asyncio.sleep(i * 0.03)
            first = await _dm(to_going, user)
            if first is None:
                # Never reached the app: Slack's retry is a new delivery of the same event,
                # which this test cannot rebuild; count it as sent to the staying replica.
                tally.unreachable += 1
                first = await _dm(to_staying, user)
                assert first is not None
            tally.note(_event_id(first), user, first)
            # Slack's retries (up to three) of what was not acknowledged, to the replica
            # that stays, as a load balancer would route them.
            retry = 0
            last: Delivery | None = first
            while not (last is not None and last.response.is_success) and retry < 3:
                retry += 1
                last = await _redeliver(to_staying, first, retry)
                tally.note(_event_id(first), user, last)
        burst = [asyncio.create_task(one(i, u)) for i, u in enumerate(_users(60))]
        await asyncio.sleep(30 * 0.03)
        going.process.send_signal(signal.SIGTERM)
        await asyncio.gather(*burst)
        code = await asyncio.wait_for(going.process.wait(), 60)
        got = await rig.settled(tally.expected(), limit=90)
        log = going.log.read_text(errors="replace")
    handed = [json.loads(line) for line in log.splitlines() if "inbox_handed_back" in line]
    figures = rig.report(tally, got, handed_back=sum(int(e["requests"]) for e in handed))
    assert code == 0
    unacknowledged = {e: h for e, h in tally.history.items() if e not in tally.acknowledged}
    assert figures["acknowledged"] == 60, unacknowledged
    assert figures["refused"] > 0, "the stop came too late to refuse anything"
    assert figures["lost"] == 0 and figures["duplicates"] == 0
    assert SECRET not in log


@pytest.mark.postgres
async def test_duplicate_deliveries_across_replicas_are_answered_once(rig: Rig) -> None:
    """Each of 18 DMs delivered three times at once (the first delivery and Slack's two
    retries), spread over two replicas on PostgreSQL: one answer each."""
    tally = Tally("duplicate_deliveries")
    async with contextlib.AsyncExitStack() as stack:
        db = await stack.enter_async_context(fresh_pg_database())
        replicas = await stack.enter_async_context(_replicas(rig, db, 2, "dups"))
        senders: Sequence[SlackEventSender] = [
            await stack.enter_async_context(
                SlackEventSender(SECRET, r.events_url, state=rig.state)
            )
            for r in replicas
        ]

        async def one(i: int, user: str) -> None:
            first = await _dm(senders[i % 2], user)
            assert first is not None
            tally.note(_event_id(first), user, first)
            again = await asyncio.gather(
                _redeliver(senders[(i + 1) % 2], first, 1), _redeliver(senders[i % 2], first, 2)
            )
            for delivery in again:
                tally.note(_event_id(first), user, delivery)

        await asyncio.gather(*(one(i, u) for i, u in enumerate(_users(18))))
        got = await rig.settled(tally.expected())
    figures = rig.report(tally, got)
    assert figures["acknowledged"] == 18 and figures["deliveries"] == 54
    assert figures["lost"] == 0 and figures["duplicates"] == 0


@pytest.mark.postgres
async def test_a_replica_killed_holding_requests_leaves_them_to_the_other(rig: Rig) -> None:
    """Two replicas on PostgreSQL; 24 DMs acknowledged by the first, which is killed (-9)
    once it has claimed them: the second claims them when their lease runs out (3 s here)
    and answers each once."""
    tally = Tally("replica_killed_holding")
    async with contextlib.AsyncExitStack() as stack:
        db = await stack.enter_async_context(fresh_pg_database())
        dying, staying = await stack.enter_async_context(_replicas(rig, db, 2, "kill"))
        sender = await stack.enter_async_context(
            SlackEventSender(SECRET, dying.events_url, state=rig.state)
        )
        sent = await asyncio.gather(*(_dm(sender, u) for u in _users(24)))
        held = await asyncpg.connect(db)
        try:
            # Killed once it holds some: claimed, leased to it, not finished.
            for _ in range(100):
                claimed = await held.fetchval(
                    "SELECT count(*) FROM inbox_events WHERE owner IS NOT NULL"
                    " AND state = 'queued'"
                )
                if claimed:
                    break
                await asyncio.sleep(0.02)
            dying.kill()
            await dying.process.wait()
        finally:
            await held.close()
        for user, delivery in zip(_users(24), sent, strict=True):
            assert delivery is not None
            tally.note(_event_id(delivery), user, delivery)
        answered_before = sum(rig.answers().values())
        got = await rig.settled(tally.expected())
        assert staying.process.returncode is None
    figures = rig.report(tally, got, held_when_killed=int(claimed))
    assert figures["acknowledged"] == 24 and claimed > 0
    assert answered_before < 24, "the kill came too late to test anything"
    assert figures["lost"] == 0 and figures["duplicates"] == 0


@pytest.mark.postgres
async def test_the_ingress_connections_dropped_server_side_lose_nothing(rig: Rig) -> None:
    """The ingress's PostgreSQL connections closed by the server (``pg_terminate_backend``)
    every 10 ms for 2 seconds while 24 DMs arrive: what could not be recorded is a 503,
    Slack's retries (up to three, a second apart) are recorded, and every acknowledged DM
    is answered once."""
    tally = Tally("pg_connections_terminated")
    async with contextlib.AsyncExitStack() as stack:
        db = await stack.enter_async_context(fresh_pg_database())
        (replica,) = await stack.enter_async_context(_replicas(rig, db, 1, "terminated"))
        sender = await stack.enter_async_context(
            SlackEventSender(SECRET, replica.events_url, state=rig.state)
        )
        admin = await asyncpg.connect(db)
        stop = asyncio.Event()
        terminated = 0

        async def terminate() -> None:
            nonlocal terminated
            until = asyncio.get_running_loop().time() + 2.0
            while not stop.is_set() and asyncio.get_running_loop().time() < until:
                terminated += len(await admin.fetch(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name = $1",
                    "helpdesk-ingress",
                ))
                await asyncio.sleep(0.01)

        async def one(i: int, user: str) -> None:
            await asyncio.sleep(i * 0.05)
            first = await _dm(sender, user)
            assert first is not None
            tally.note(_event_id(first), user, first)
            retry = 0
            last: Delivery | None = first
            while not (last is not None and last.response.is_success) and retry < 3:
                retry += 1
                await asyncio.sleep(1.0)
                last = await _redeliver(sender, first, retry)
                tally.note(_event_id(first), user, last)

        terminating = asyncio.create_task(terminate())
        try:
            await asyncio.gather(*(one(i, u) for i, u in enumerate(_users(24))))
        finally:
            stop.set()
            await terminating
            await admin.close()
        got = await rig.settled(tally.expected())
    figures = rig.report(tally, got, connections_terminated=terminated)
    assert terminated > 0
    assert figures["acknowledged"] == 24, {
        e: h for e, h in tally.history.items() if e not in tally.acknowledged
    }
    assert figures["lost"] == 0 and figures["duplicates"] == 0
