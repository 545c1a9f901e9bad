"""Approval cards through the outbox: a card Slack fails to take arrives later, once.

The real bot (``slack_surface``, its HTTP endpoint, its outbox worker) against the Slack
fake at Slack's published tiers. A card whose post fails once is sent again and kept with
its request when it lands (so the approver's click on it decides, and the card shows the
decision); a card posted whose answer was lost is found in the conversation's history, not
posted twice, and kept once; a card no destination can take is audited and reported to
the IT channel, the request still waiting for its other approvers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.slack.surface import SlackSurface
from connectors.memory import MemoryDirectory
from sandboxes.slack import Message, SlackEventSender, SlackState, Workspace
from store.jobs import JobState
from store.models import AccessMessage, AuditRecord, Job
from store.outbox import KIND
from tests.bot.helpers import make_directory
from tests.faults.outbox_bot import running_bot, settled, slack_user

ADA, ANNA = "U0ADA00001", "U0ANNA0001"
BOT = "U0HELPBOT1"
IT = "C0ITHELP01"
GONE = "C0GONE0001"  # an approval channel that does not exist (deleted, or a typo)
TO_ANNA = f'"channel": "{ANNA}"'  # a fault for the post to Anna only (not the channel's)

CATALOGUE: list[dict[str, Any]] = [
    {"key": "figma-editors", "display_name": "Figma (editor)", "aliases": ["figma"],
     "provider_group": "figma-editors", "approvers": [ANNA, GONE]},
]


def _workspace() -> Workspace:
    return Workspace.from_dict(
        {
            "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
            "users": [slack_user(ADA, "ada@example.com"), slack_user(ANNA, "anna@example.com")],
            "channels": [{"id": IT, "name": "it-help", "members": [BOT]}],
        }
    )


@dataclass
class World:
    """Ada asks, Anna approves; the Slack fake, the bot and the directory behind it."""

    directory: MemoryDirectory
    state: SlackState
    surface: SlackSurface
    sender: SlackEventSender

    def cards(self, where: str) -> list[Message]:
        return [m for m in self.state.messages_to(where) if "Access request" in m.text]

    def member(self) -> bool:
        gid = next(g.id for g in self.directory.groups.values() if g.name == "figma-editors")
        return "mem00001" in self.directory.members[gid]  # ada

    async def rows(self, model: Any) -> list[Any]:
        async with self.surface.runtime.store._session() as s:
            return list((await s.scalars(select(model))).all())

    async def card_jobs(self) -> list[Job]:
        jobs = [j for j in await self.rows(Job) if j.kind == KIND]
        return [j for j in jobs if (j.payload or {}).get("kind") == "card"]

    async def request(self) -> None:
        await self.sender.dm(ADA, "I need Figma")
        prompt = await self.state.wait_for_message(ADA, "Request access to *Figma (editor)*")
        await self.sender.block_action(ADA, "hd_access_request.0")
        await self.state.wait_for(lambda st: "Sent: your request" in prompt.visible_text or None)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    state = SlackState(_workspace())
    directory = make_directory()
    async with running_bot(
        state, directory, tmp_path, organisation={"it_channel": IT}, catalogue=CATALOGUE
    ) as (sender, surface):
        yield World(directory, state, surface, sender)


async def test_a_card_whose_post_fails_once_arrives_once_and_decides(world: World) -> None:
    w = world
    w.state.fail_next("chat.postMessage", "internal_error", matching=TO_ANNA)
    await w.request()
    card = await w.state.wait_for_message(ANNA, "Access request", timeout=20)
    jobs = await settled(w.card_jobs)
    assert len(w.cards(ANNA)) == 1
    by_state = sorted(j.state for j in jobs)
    assert by_state == sorted([JobState.DONE, JobState.DEAD])  # Anna's, and the gone channel's
    # Kept with the request where it landed: the click on it decides, and it shows so.
    kept = await w.rows(AccessMessage)
    assert [(m.recipient, m.channel, m.ts) for m in kept] == [(ANNA, card.channel, card.ts)]
    await w.sender.block_action(ANNA, "hd_access_approve.0")
    await w.state.wait_for_message(ADA, "You're now a member of *Figma (editor)*")
    assert w.member()
    await w.state.wait_for(lambda st: "access granted" in card.visible_text or None)
    assert card.action_ids() == []


async def test_a_card_posted_whose_answer_was_lost_is_not_posted_again(world: World) -> None:
    w = world
    w.state.fail_next("chat.postMessage", "internal_error", after_processing=True,
                      matching=TO_ANNA)
    await w.request()
    await w.state.wait_for_message(ANNA, "Access request", timeout=20)
    await settled(w.card_jobs)
    await asyncio.sleep(0.3)
    assert len(w.cards(ANNA)) == 1
    assert w.state.calls("conversations.history")  # read before trying again
    assert len(await w.rows(AccessMessage)) == 1


async def test_a_card_nobody_can_receive_is_audited_and_reported(world: World) -> None:
    w = world
    await w.request()
    report = await w.state.wait_for_message(IT, "approval request", timeout=20)
    await settled(w.card_jobs)
    [request_id] = {m.request_id for m in await w.rows(AccessMessage)}
    assert request_id in report.text and GONE in report.text
    assert "channel_not_found" in report.text
    records = [r for r in await w.rows(AuditRecord) if r.action == "slack_message"]
    assert [r.result for r in records] == ["undeliverable"]
    # Anna's card still came: she can decide it.
    assert len(w.cards(ANNA)) == 1
