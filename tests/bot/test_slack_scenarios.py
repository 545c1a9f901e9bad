"""Scenarios over a real socket: signed requests into the running bot, answers to the Slack fake.

Each test starts the bot's HTTP endpoint on 127.0.0.1 (port 0) with its Web API
client pointed at the local Slack fake, and an in-memory directory behind it
(the Okta-backed end-to-end runs are in ``tests/okta``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from connectors.errors import Unavailable
from sandboxes.slack import SlackState, Workspace
from tests.bot.slack_world import ORGANISATION, SlackWorld, acme, slack_user, slack_world

ADA, LOCKED, GUEST, GONE, NOMAIL, BOT, GHOST, PHONE = (
    "U0ADA00001", "U0LOCKED01", "U0GUEST001", "U0GONE0001", "U0NOMAIL01", "U0OTHERBOT",
    "U0GHOST001", "U0PHONE001",
)
# Slack Connect: someone in another organisation whose profile claims Ada's email, and
# someone from another workspace not even flagged external.
EXTERNAL, STRANGER = "U0EXTERNAL", "U0STRANGER"


def _workspace() -> Workspace:
    return acme([
        slack_user(ADA, "ada@example.com"),
        slack_user(LOCKED, "locked@example.com"),
        slack_user(PHONE, "phone@example.com"),
        slack_user(GUEST, "guest@partner.example", is_restricted=True),
        slack_user(GONE, "gone@example.com", deleted=True),
        slack_user(NOMAIL, None),
        slack_user(BOT, "bot@example.com", is_bot=True),
        slack_user(GHOST, "ghost@example.com"),
        slack_user(EXTERNAL, "ada@example.com", team_id="T0OTHERORG", is_external=True),
        slack_user(STRANGER, "locked@example.com", team_id="T0OTHERORG"),
    ])


class Scenario(SlackWorld):
    """The people above, the memory directory, and the organisation's IT desk."""


@pytest.fixture
async def scenario(tmp_path: Path) -> AsyncIterator[Scenario]:
    async with slack_world(Scenario, tmp_path, _workspace(), organisation=ORGANISATION) as s:
        yield s


async def _settle(state: SlackState, delay: float = 0.3) -> None:
    """Give background listener work time to (not) happen."""
    await asyncio.sleep(delay)


async def test_password_reset_end_to_end(scenario: Scenario) -> None:
    s = scenario
    d = await s.sender.dm(ADA, "I forgot my password")
    assert d.status_code == 200 and d.acked_in_time
    offer = await s.state.wait_for_message(ADA, "Go ahead?")
    click = await s.sender.block_action(ADA, "hd_confirm.0")
    assert click.status_code == 200 and click.acked_in_time
    link_msg = await s.state.wait_for_message(ADA, "password reset link")
    assert "https://memory.invalid/reset/" in link_msg.visible_text
    # The prompt was updated in place: its buttons are gone.
    await s.state.wait_for(lambda st: "Confirmed" in offer.visible_text or None)
    # "Done, hide it" removes the link from the screen.
    await s.sender.block_action(ADA, "hd_secret_done.0")
    await s.state.wait_for(lambda st: "have been removed" in link_msg.visible_text or None)
    assert "memory.invalid/reset" not in s.state.visible_text(ADA)
    # A double click on the used confirmation changes nothing.
    assert await s.surface.hide_due_secrets() == 0


async def _reset_link(s: Scenario, text: str = "reset my password") -> Any:
    """Ada asks for a reset and confirms; the message holding her reset link."""
    await s.sender.dm(ADA, text)
    await s.state.wait_for_message(ADA, "Go ahead?")
    await s.sender.block_action(ADA, "hd_confirm.0")
    return await s.state.wait_for_message(ADA, "password reset link")


async def test_secret_hidden_when_due(scenario: Scenario) -> None:
    s = scenario
    link_msg = await _reset_link(s)
    later = datetime.now(UTC) + timedelta(hours=1)
    for _ in range(100):  # the row is written right after the message is posted
        if await s.surface.runtime.store.due_secret_messages(later):
            break
        await asyncio.sleep(0.02)
    assert len(await s.surface.runtime.store.due_secret_messages(later)) == 1
    # Nothing is due yet; then move the row's due time into the past.
    assert await s.surface.hide_due_secrets() == 0
    async with s.surface.runtime.store.engine.begin() as conn:
        await conn.execute(text("UPDATE secret_messages SET hide_at = '2000-01-01 00:00:00'"))
    assert await s.surface.hide_due_secrets() == 1
    assert "memory.invalid/reset" not in s.state.visible_text(ADA)
    assert "have been removed" in link_msg.visible_text


async def test_redelivered_event_processed_once(scenario: Scenario) -> None:
    s = scenario
    first = await s.sender.dm(LOCKED, "I'm locked out")
    again = await s.sender.redeliver(first, retry_num=1, reason="http_timeout")
    third = await s.sender.redeliver(first, retry_num=2, reason="http_error")
    assert {first.status_code, again.status_code, third.status_code} == {200}
    await s.state.wait_for_message(LOCKED, "is unlocked")
    await _settle(s.state)
    # One answer, and the one change notice of the one unlock.
    texts = [m.text for m in s.state.messages_to(LOCKED)]
    assert len(texts) == 2 and sum("Security notice" in t for t in texts) == 1, texts
    rows = await s.surface.runtime.store.list_audit(action="unlock")
    assert len(rows) == 1


async def test_forged_and_stale_requests_are_rejected(scenario: Scenario) -> None:
    s = scenario
    forged = await s.sender.post(
        {"type": "event_callback", "event_id": "Ev1", "event": {"type": "message"}},
        headers={"X-Slack-Signature": "v0=" + "0" * 64},
    )
    assert forged.status_code == 401
    unsigned = await s.sender.post({"type": "event_callback"}, sign=False)
    assert unsigned.status_code == 401

    stale = await s.sender.post(
        {"type": "event_callback", "event_id": "Ev2"}, timestamp=int(time.time()) - 301
    )
    assert stale.status_code == 401
    forged_garbage = await s.sender.post(b"{not json", headers={"X-Slack-Signature": "v0=00"},
                                         content_type="application/json")
    assert forged_garbage.status_code == 401
    await _settle(s.state)
    assert s.state.calls("chat.postMessage") == []


async def test_malformed_bodies_get_400_and_service_continues(scenario: Scenario) -> None:
    s = scenario
    for body, ctype in (
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
    ):
        bad = await s.sender.post(body, content_type=ctype)
        assert bad.status_code == 400, body
    ok = await s.sender.dm(ADA, "help")
    assert ok.status_code == 200
    await s.state.wait_for_message(ADA, "Here's what I can do")


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (GUEST, "Guest accounts can't use"),
        (NOMAIL, "has no email address"),
        (BOT, "only help people"),
        (GHOST, "couldn't find an account for ghost@example.com"),
        (EXTERNAL, "in another organisation's Slack"),
        (STRANGER, "in another organisation's Slack"),
    ],
)
async def test_refusals_are_polite(scenario: Scenario, user: str, expected: str) -> None:
    s = scenario
    await s.sender.dm(user, "reset my password")
    msg = await s.state.wait_for_message(user, expected)
    assert "#it-help" in msg.visible_text or user in (BOT, EXTERNAL, STRANGER)
    assert not msg.blocks or all(b.get("type") != "actions" for b in msg.blocks)


async def test_deleted_user_is_refused(scenario: Scenario) -> None:
    s = scenario
    await s.sender.dm(GONE, "reset my password")
    await _settle(s.state)
    assert all("reset link" not in t for t in s.texts_to(GONE))
    assert await s.surface.runtime.store.list_audit(action="password_reset") == []


async def test_directory_outage(scenario: Scenario) -> None:
    s = scenario
    s.directory.fail_next(Unavailable("mem", "timeout"), times=3)
    await s.sender.dm(ADA, "reset my password")
    msg = await s.state.wait_for_message(ADA, "not answering; nothing was changed")
    assert "try again in a few minutes" in msg.visible_text


async def test_slash_command_and_home(scenario: Scenario) -> None:
    s = scenario
    d = await s.sender.slash_command(LOCKED, "/helpdesk", "unlock")
    assert d.status_code == 200 and "direct messages" in d.response.text
    await s.state.wait_for_message(LOCKED, "is unlocked")
    await s.sender.app_home_opened(ADA)
    await s.state.wait_for(lambda st: st.home_view(ADA))


async def test_mfa_reset_notifies_security_channel(scenario: Scenario) -> None:
    s = scenario
    await s.sender.dm(PHONE, "new phone, reset my mfa")
    await s.state.wait_for_message(PHONE, "Go ahead?")
    await s.sender.block_action(PHONE, "hd_confirm.0")
    await s.state.wait_for_message(PHONE, "removed 2 MFA factor")
    notice = await s.state.wait_for_message("C0SECURITY1", "MFA reset")
    assert "phone@example.com" in notice.visible_text


async def test_double_click_confirms_once(scenario: Scenario) -> None:
    s = scenario
    await s.sender.dm(ADA, "password reset please")
    await s.state.wait_for_message(ADA, "Go ahead?")
    clicks = await asyncio.gather(*(s.sender.block_action(ADA, "hd_confirm.0") for _ in range(3)))
    assert all(c.status_code == 200 for c in clicks)
    await s.state.wait_for_message(ADA, "password reset link")
    await _settle(s.state)
    rows = await s.surface.runtime.store.list_audit(action="password_reset")
    assert [r.result for r in rows] == ["success"]
    links = [t for t in s.texts_to(ADA) if "memory.invalid/reset" in t]
    assert len(links) == 1


async def test_no_secret_in_recorded_non_dm_calls(scenario: Scenario) -> None:
    s = scenario
    await s.sender.dm(ADA, "forgot password")
    await s.state.wait_for_message(ADA, "Go ahead?")
    await s.sender.block_action(ADA, "hd_confirm.0")
    link_msg = await s.state.wait_for_message(ADA, "password reset link")
    link = next(w for w in link_msg.visible_text.split() if "memory.invalid" in w)
    for call in s.state.calls():
        if call.method == "chat.postMessage" and call.params.get("channel") != link_msg.channel:
            assert link not in json.dumps(call.params)


async def test_the_running_bot_applies_the_audit_retention(scenario: Scenario) -> None:
    from store.audit import count_audit
    from store.models import AuditRecord

    store = scenario.surface.runtime.store
    now = datetime.now(UTC)
    for age in (400, 366, 10):
        await store.add_audit(
            AuditRecord(at=now - timedelta(days=age), correlation_id=f"c{age}", actor=ADA,
                        actor_email="ada@example.com", action="unlock", provider="mem",
                        target_user_id=None, target="ada@example.com", result="success",
                        detail={})
        )
    before = await count_audit(store)
    assert await scenario.surface.prune_audit() == 2  # default retention: 365 days
    assert await count_audit(store) == before - 2
    assert await scenario.surface.prune_audit() == 0


async def test_secret_messages_are_posted_without_previews(scenario: Scenario) -> None:
    s = scenario
    await _reset_link(s, "I forgot my password")
    [call] = [
        c for c in s.state.calls("chat.postMessage")
        if "password reset link" in str(c.params.get("text", ""))
    ]
    for flag in ("unfurl_links", "unfurl_media"):
        assert str(call.params.get(flag)).lower() in ("false", "0"), call.params


async def test_processed_event_ids_are_forgotten_after_a_day(scenario: Scenario) -> None:
    store = scenario.surface.runtime.store
    assert await store.mark_event_processed("Ev0OLD00001")
    assert await store.mark_event_processed("Ev0NEW00001")
    async with store.engine.begin() as conn:
        await conn.execute(text(
            "UPDATE processed_events SET received_at = '2000-01-01 00:00:00' "
            "WHERE event_id = 'Ev0OLD00001'"
        ))
    assert await scenario.surface.prune_events() == 1
    assert not await store.mark_event_processed("Ev0NEW00001")  # still remembered


async def test_drain_waits_for_acknowledged_work_to_finish(scenario: Scenario) -> None:
    """A shutdown after the ack waits for the whole conversation, not just its start."""
    s = scenario
    conv = s.surface.runtime.conversation
    started = asyncio.Event()
    original = conv.on_message

    async def slow(actor: Any, text: str) -> Any:
        started.set()
        await asyncio.sleep(0.5)
        return await original(actor, text)

    conv.on_message = slow  # type: ignore[method-assign]
    await s.sender.dm(LOCKED, "I'm locked out")
    await asyncio.wait_for(started.wait(), 5)
    await s.surface.drain()
    assert any("is unlocked" in t for t in s.texts_to(LOCKED))


async def test_a_slack_connect_user_claiming_an_employee_email_gets_nothing(
    scenario: Scenario,
) -> None:
    """Another organisation vouches for its users' emails, not ours: no prompt, no reset."""
    s = scenario
    await s.sender.dm(EXTERNAL, "I forgot my password")
    await s.state.wait_for_message(EXTERNAL, "another organisation's Slack")
    await s.sender.dm(EXTERNAL, "I'm locked out")
    await _settle(s.state)
    assert all("Go ahead?" not in t for t in s.texts_to(EXTERNAL))
    assert await s.surface.runtime.store.list_audit(action="password_reset") == []
    assert await s.surface.runtime.store.list_audit(action="unlock") == []
