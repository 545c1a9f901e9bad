"""The outbox against Slack failing: every outcome arrives once, or is given up, audited.

The real bot (``slack_surface``, its HTTP endpoint, its outbox worker) against the Slack
fake at Slack's published tiers, with faults injected into the fake (``fail_next``): an
``internal_error`` once on the post carrying a reset link or on the edit of the clicked
prompt, a storm of 429s, an answer lost after Slack posted (the retry finds the message
in the conversation's history by its metadata), a replica that dies between Slack's
answer and the store's update, an edit hiding the secret that fails, a message that
expires. The secret is never in a log line, an exception, or the store in clear.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.slack.outbox.message import POST, OutboxMessage
from bot.slack.outbox.sender import Outbox
from bot.slack.surface import SlackSurface
from config.clock import utc_now
from sandboxes.slack import SlackEventSender, SlackState, Workspace
from store.jobs import JobState
from store.models import AuditRecord, Job, SecretMessage
from store.outbox import KIND
from tests.bot.helpers import make_directory
from tests.faults.outbox_bot import running_bot, settled

ADA = "U0ADA00001"
BOT = "U0HELPBOT1"
IT = "C0ITHELP01"
LINK = re.compile(r"https?://\S+")


def _workspace() -> Workspace:
    return Workspace.from_dict(
        {
            "team": {"id": "T0ACME0001", "name": "Acme", "domain": "acme"},
            "users": [{"id": ADA, "name": "ada",
                       "profile": {"email": "ada@example.com", "real_name": "Ada"}}],
            "channels": [{"id": IT, "name": "it-help", "members": [BOT]}],
        }
    )


@dataclass
class Bot:
    state: SlackState
    sender: SlackEventSender
    surface: SlackSurface

    @property
    def outbox(self) -> Outbox:
        return self.surface.outbox

    def links(self) -> list[str]:
        """Reset-link messages the fake holds in Ada's DM (deleted ones too)."""
        return [m.text for m in self.state.messages_to(ADA, include_deleted=True)
                if "password reset link" in m.text]

    async def jobs(self) -> list[Job]:
        async with self.surface.runtime.store._session() as s:
            rows = await s.scalars(select(Job).where(Job.kind == KIND).order_by(Job.id))
            return list(rows.all())

    async def audit(self, action: str) -> list[AuditRecord]:
        async with self.surface.runtime.store._session() as s:
            rows = await s.scalars(select(AuditRecord).where(AuditRecord.action == action))
            return list(rows.all())

    async def offer(self) -> None:
        await self.sender.dm(ADA, "I forgot my password")
        await self.state.wait_for_message(ADA, "Go ahead?")

    async def reset(self) -> str:
        """Ada asks for a reset and confirms; the link as it arrived."""
        await self.offer()
        await self.sender.block_action(ADA, "hd_confirm.0")
        found = await self.state.wait_for_message(ADA, "password reset link", timeout=20)
        match = LINK.search(found.text)
        assert match is not None
        return match.group(0)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    state = SlackState(_workspace())
    async with running_bot(
        state, make_directory(), tmp_path, organisation={"it_channel": IT}
    ) as (sender, surface):
        yield Bot(state, sender, surface)


def _failed(state: SlackState, method: str) -> int:
    return sum(1 for c in state.calls(method) if not c.ok)


async def test_a_link_whose_post_fails_once_arrives_exactly_once(bot: Bot) -> None:
    await bot.offer()
    bot.state.fail_next("chat.postMessage", "internal_error", matching="reset link")
    await bot.sender.block_action(ADA, "hd_confirm.0")
    await bot.state.wait_for_message(ADA, "password reset link", timeout=20)
    jobs = await settled(bot.jobs)
    assert len(bot.links()) == 1
    assert _failed(bot.state, "chat.postMessage") == 1
    assert all(j.state == JobState.DONE for j in jobs)
    # Sent again after a failure: what Slack shows was read first.
    assert bot.state.calls("conversations.history")


async def test_a_prompt_whose_edit_fails_once_is_edited_and_the_link_still_arrives(
    bot: Bot,
) -> None:
    await bot.offer()
    offer = bot.state.messages_to(ADA)[-1]
    bot.state.fail_next("response_url", "internal_error")
    bot.state.fail_next("chat.update", "internal_error")
    await bot.sender.block_action(ADA, "hd_confirm.0")
    await bot.state.wait_for_message(ADA, "password reset link", timeout=20)
    await bot.state.wait_for(lambda st: "Confirmed" in offer.visible_text or None, timeout=20)
    await settled(bot.jobs)
    assert len(bot.links()) == 1
    assert _failed(bot.state, "chat.update") == 1


async def test_a_storm_of_429s_delays_the_link_but_loses_and_doubles_nothing(bot: Bot) -> None:
    await bot.offer()
    bot.state.fail_next("chat.postMessage", count=3, status=429, retry_after=1,
                        matching="reset link")
    await bot.sender.block_action(ADA, "hd_confirm.0")
    await bot.state.wait_for_message(ADA, "password reset link", timeout=30)
    await settled(bot.jobs)
    assert len(bot.links()) == 1
    assert sum(1 for c in bot.state.calls("chat.postMessage") if c.status == 429) == 3


async def test_an_answer_lost_after_slack_posted_is_not_posted_again(bot: Bot) -> None:
    await bot.offer()
    # Slack posts the link, and the answer saying so is lost: the bot sees internal_error.
    bot.state.fail_next("chat.postMessage", "internal_error", after_processing=True,
                        matching="reset link")
    await bot.sender.block_action(ADA, "hd_confirm.0")
    await bot.state.wait_for_message(ADA, "password reset link", timeout=20)
    jobs = await settled(bot.jobs)
    await asyncio.sleep(0.5)
    assert len(bot.links()) == 1
    assert bot.state.calls("conversations.history")
    # Found in the history: remembered as a secret message, so the janitor hides it.
    async with bot.surface.runtime.store._session() as s:
        secrets_shown = list((await s.scalars(select(SecretMessage))).all())
    assert len(secrets_shown) == 1
    assert all(j.state == JobState.DONE for j in jobs)


async def test_a_replica_dying_between_slacks_answer_and_the_store_posts_nothing_twice(
    bot: Bot,
) -> None:
    outbox = bot.outbox
    settings = outbox.settings.model_copy(update={"lease": timedelta(seconds=1)})
    dying = Outbox(outbox.client, outbox.store, settings, outbox.sealer, owner="dying")

    async def crash(*_args: Any, **_kwargs: Any) -> bool:
        raise ConnectionError("the process died here")

    dying.rows.settle = crash  # type: ignore[method-assign]
    message = OutboxMessage(POST, bot.state.dm_id(ADA), outbox.expiry(), text="Unlocked.",
                            user=ADA)
    bot.state.open_dm(ADA)
    await dying.send(message)
    assert [m.text for m in bot.state.messages_to(ADA)] == ["Unlocked."]
    # The survivor's worker claims it once the lease has run out, and finds it in Slack.
    jobs = await settled(bot.jobs)
    assert [m.text for m in bot.state.messages_to(ADA)] == ["Unlocked."]
    assert [j.state for j in jobs] == [JobState.DONE]
    assert jobs[0].attempts == 2 and jobs[0].owner == outbox.owner


async def test_done_hide_it_is_retried_until_slack_confirms(bot: Bot) -> None:
    link = await bot.reset()
    await settled(bot.jobs)
    bot.state.fail_next("response_url", "internal_error", count=3)
    bot.state.fail_next("chat.update", "internal_error", count=2)
    await bot.sender.block_action(ADA, "hd_secret_done.0")
    shown = next(m for m in bot.state.messages_to(ADA) if link in m.visible_text)

    async def hidden() -> bool:
        async with bot.surface.runtime.store._session() as s:
            row = await s.scalar(select(SecretMessage))
            return row is not None and row.hidden

    assert not await hidden()
    await bot.state.wait_for(lambda st: link not in shown.visible_text or None, timeout=20)
    await settled(bot.jobs)
    assert await hidden()
    assert _failed(bot.state, "chat.update") == 2


async def test_the_janitor_hides_through_the_outbox_and_marks_only_when_confirmed(
    bot: Bot,
) -> None:
    link = await bot.reset()
    await settled(bot.jobs)
    shown = next(m for m in bot.state.messages_to(ADA) if link in m.visible_text)
    async with bot.surface.runtime.store._session.begin() as s:
        await s.execute(update(SecretMessage).values(hide_at=utc_now() - timedelta(seconds=1)))
    bot.state.fail_next("chat.update", "internal_error", count=2)
    assert await bot.surface.hide_due_secrets() == 0  # failed: left to the outbox
    assert len(await bot.surface.runtime.store.due_secret_messages()) == 1  # not hidden yet
    await bot.state.wait_for(lambda st: link not in shown.visible_text or None, timeout=20)
    jobs = await settled(bot.jobs)
    assert await bot.surface.runtime.store.due_secret_messages() == []
    assert [(j.payload or {}).get("op") for j in jobs].count("hide") == 1  # one job
    assert _failed(bot.state, "chat.update") == 2


async def test_an_expired_link_is_audited_reported_and_wiped(
    bot: Bot, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="helpdesk")
    await bot.offer()
    bot.state.fail_next("chat.postMessage", "internal_error", count=1000,
                        matching="reset link")
    await bot.sender.block_action(ADA, "hd_confirm.0")
    for _ in range(400):
        jobs = await bot.jobs()
        if jobs and any(j.attempts >= 2 for j in jobs):
            break
        await asyncio.sleep(0.05)
    # While it waits, the store holds the link sealed only.
    stored = [j for j in await bot.jobs() if (j.payload or {}).get("kind") == "reset"]
    assert len(stored) == 1 and "sealed" in (stored[0].payload or {})
    text = bot.outbox.sealer.open(stored[0].payload["sealed"])["text"]  # type: ignore[index]
    link = LINK.search(text)
    assert link is not None
    assert link.group(0) not in json.dumps(stored[0].payload)
    # Time passes beyond the secret's lifetime; Slack answers again.
    later = utc_now() + timedelta(hours=2)
    bot.outbox.clock = lambda: later
    bot.state.clear_faults()
    report = await bot.state.wait_for_message(IT, "password reset", timeout=20)
    assert f"<@{ADA}>" in report.text and link.group(0) not in report.text
    jobs = await settled(bot.jobs)
    assert bot.links() == []
    given_up = [j for j in jobs if (j.payload or {}).get("kind") == "reset"]
    assert [j.state for j in given_up] == [JobState.DEAD]
    assert "sealed" not in (given_up[0].payload or {})
    assert "content" not in (given_up[0].payload or {})
    records = await bot.audit("slack_message")
    assert [(r.result, r.actor) for r in records] == [("expired", ADA)]
    # The secret was never written to a log line or an exception's message.
    out, err = capfd.readouterr()
    assert link.group(0) not in out + err + caplog.text


async def test_a_message_sealed_with_another_key_is_given_up_audited(bot: Bot) -> None:
    from bot.slack.outbox.sealing import Sealer
    from config.secrets import Secret

    other = Outbox(bot.outbox.client, bot.outbox.store, bot.outbox.settings,
                   Sealer(Secret("another key entirely")), owner="other")
    message = OutboxMessage(POST, ADA, bot.outbox.expiry(), text="secret",
                            secret=True, kind="reset", user=ADA)
    assert await other.enqueue(message)
    jobs = await settled(bot.jobs)
    assert [(j.payload or {}).get("kind") for j in jobs] == ["reset", "report"]
    assert [j.state for j in jobs] == [JobState.DEAD, JobState.DONE]
    assert [r.result for r in await bot.audit("slack_message")] == ["undeliverable"]
    await bot.state.wait_for_message(IT, "password reset", timeout=20)
