"""Two bot processes on one PostgreSQL: each outcome message is posted once, by one of them.

The replicas (``helpdesk run``) share the store and the outbox key; Slack is the fake in
this process, failing some posts once (``internal_error``) or answering them slowly, so
that a replica is SIGKILLed while it holds messages it is sending: the other one takes
them over once their lease runs out, reads what Slack already shows, and posts what is
missing. Needs PostgreSQL at 127.0.0.1:5432 (skipped without it, failed under CI=true).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandboxes.slack import Message, SlackEventSender, SlackState, Workspace, run_slack_fake
from tests.access.replicas import Replica, running_replicas
from tests.bot.helpers import BASE_CONFIG
from tests.conftest import fresh_pg_database

pytestmark = pytest.mark.postgres

SECRET = "outbox-replicas-signing-secret-01"
PEOPLE = [f"U0EMP{i:05d}" for i in range(12)]
PROMPT, LINK = "Go ahead?", "password reset link"


def _workspace() -> Workspace:
    return Workspace.from_dict(
        {
            "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
            "users": [{"id": uid, "name": uid.lower(),
                       "profile": {"email": f"{uid.lower()}@example.com"}} for uid in PEOPLE],
            "channels": [{"id": "C0ITHELP01", "name": "it-help", "members": ["U0HELPBOT1"]}],
        }
    )


def _config(db_url: str, slack_url: str) -> dict[str, Any]:
    return {
        **BASE_CONFIG,
        "database_url": db_url,
        "log_level": "WARNING",
        "organisation": {"it_channel": "C0ITHELP01"},
        "connectors": {"mem": {"kind": "memory",
                               "users": [{"email": f"{uid.lower()}@example.com"}
                                         for uid in PEOPLE]}},
        "verification": {"password_reset": ["none"], "unlock": ["none"], "mfa_reset": ["none"]},
        "limits": {"password_reset": {"count": 10, "per": "1h"}},
        "slack": {"api_base_url": slack_url, "bot_token": {"env": "SLACK_BOT_TOKEN"},
                  "signing_secret": {"env": "SLACK_SIGNING_SECRET"},
                  # Short leases: a killed replica's requests and messages move within the test.
                  "inbox": {"lease": "3s"}, "outbox": {"lease": "3s"}},
    }


@dataclass
class World:
    state: SlackState
    replicas: list[Replica]
    senders: list[SlackEventSender]

    def count(self, uid: str, marker: str) -> int:
        """Messages in ``uid``'s DM that said ``marker`` at some point (edits included)."""
        return sum(
            marker in m.visible_text or any(marker in r.text for r in m.revisions)
            for m in self.state.messages_to(uid, include_deleted=True)
        )


@contextlib.asynccontextmanager
async def _world(
    tmp_path: Path, latency: Callable[[str], float] | float = 0.0
) -> AsyncIterator[World]:
    state = SlackState(_workspace())
    async with contextlib.AsyncExitStack() as stack:
        db_url = await stack.enter_async_context(fresh_pg_database())
        fake = await stack.enter_async_context(run_slack_fake(state, latency=latency))
        environ = {"SLACK_BOT_TOKEN": fake.token, "SLACK_SIGNING_SECRET": SECRET}
        replicas = await stack.enter_async_context(
            running_replicas(2, _config(db_url, fake.base_url), environ, tmp_path)
        )
        senders = [
            await stack.enter_async_context(SlackEventSender(SECRET, r.events_url, state=state))
            for r in replicas
        ]
        yield World(state, replicas, senders)


async def _reset(w: World, uid: str, ask: int, click: int) -> Message:
    await w.senders[ask].dm(uid, "I forgot my password")
    await w.state.wait_for_message(uid, PROMPT, timeout=30)
    await w.senders[click].block_action(uid, "hd_confirm.0")
    return await w.state.wait_for_message(uid, LINK, timeout=30)


async def test_each_message_is_posted_once_by_one_of_two_replicas(tmp_path: Path) -> None:
    async with _world(tmp_path) as w:
        # Every other link post fails once: some replica's worker sends it again.
        for _ in range(len(PEOPLE) // 2):
            w.state.fail_next("chat.postMessage", "internal_error", matching=LINK)
        await asyncio.gather(
            *(_reset(w, uid, i % 2, (i + 1) % 2) for i, uid in enumerate(PEOPLE))
        )
        await asyncio.sleep(2.0)  # anything sent twice would be there by now
        assert [w.count(uid, PROMPT) for uid in PEOPLE] == [1] * len(PEOPLE)
        assert [w.count(uid, LINK) for uid in PEOPLE] == [1] * len(PEOPLE)
        assert sum(not c.ok for c in w.state.calls("chat.postMessage")) == len(PEOPLE) // 2


async def test_a_replica_killed_holding_messages_leaves_them_to_the_other(
    tmp_path: Path,
) -> None:
    slow = {"on": False}

    def latency(method: str) -> float:
        return 2.0 if slow["on"] and method == "chat.postMessage" else 0.0

    async with _world(tmp_path, latency) as w:
        first, rest = PEOPLE[0], PEOPLE[1:6]
        await _reset(w, first, 0, 0)  # both replicas are up and answering
        slow["on"] = True
        # Replica 0 takes the DMs and sends their prompts, slowly; it dies holding them.
        for uid in rest:
            await w.senders[0].dm(uid, "I forgot my password")
        await asyncio.sleep(1.0)
        w.replicas[0].kill()
        await w.replicas[0].process.wait()
        slow["on"] = False
        for uid in rest:
            await w.state.wait_for_message(uid, PROMPT, timeout=60)
            await w.senders[1].block_action(uid, "hd_confirm.0")
            await w.state.wait_for_message(uid, LINK, timeout=60)
        await asyncio.sleep(2.0)
        assert [w.count(uid, PROMPT) for uid in [first, *rest]] == [1] * 6
        assert [w.count(uid, LINK) for uid in [first, *rest]] == [1] * 6
        # The survivor looked at what Slack showed before sending the dead one's messages.
        assert w.state.calls("conversations.history")
